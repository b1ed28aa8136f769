// The permutohedral lattice of the dense CRF (kernels/crf.h): the embedding checked by its own
// definition (barycentric reconstruction), neighbour keys, and the lattice filter against the
// exact Gaussian filter (an approximation: tolerance explained below) and as a linear operator.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/crf.h"
#include "tests/kernels/crf_testing.h"
#include "tests/support/testing.h"

namespace wsvis::kernels {
namespace {

namespace cm = crf_math;
using namespace crf_testing;  // NOLINT(google-build-using-namespace): the shared test helpers

template <int D>
void check_embedding(uint64_t seed, double spread) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(-spread, spread);
  const cm::LatticeScale<D> sc = cm::lattice_scale<D>();
  for (int t = 0; t < 500; ++t) {
    float f[D];
    for (float& v : f) v = float(u(rng));
    uint64_t keys[D + 1];
    float w[D + 1];
    cm::lattice_embed<D>(f, sc, keys, w);
    // Elevation: E f has coordinate j = sum_{k >= j} c_k - j c_{j-1} (c_k = f_k s_k, c_{-1}=0).
    double e[D + 1];
    for (int j = 0; j <= D; ++j) {
      double s = 0;
      for (int k = j; k < D; ++k) s += double(f[k]) * sc.s[k];
      e[j] = s - (j > 0 ? j * double(f[j - 1]) * sc.s[j - 1] : 0.0);
    }
    double rec[D + 1] = {}, wsum = 0;
    bool seen[D + 1] = {};
    for (int r = 0; r <= D; ++r) {
      int k[D];
      const int rem = cm::unpack_key<D>(keys[r], k);
      ASSERT_EQ(rem, r);
      seen[rem] = true;
      int last = 0;
      for (int i = 0; i < D; ++i) {
        EXPECT_EQ(((k[i] - r) % (D + 1) + (D + 1)) % (D + 1), 0);
        rec[i] += w[r] * k[i];
        last -= k[i];
      }
      rec[D] += w[r] * last;
      EXPECT_GE(w[r], -1e-5f);
      wsum += w[r];
      EXPECT_EQ(cm::pack_key<D>(rem, k), keys[r]);
    }
    EXPECT_NEAR(wsum, 1.0, 1e-5);
    for (int j = 0; j <= D; ++j)
      EXPECT_NEAR(rec[j], e[j], 2e-4 * (1 + std::fabs(e[j]))) << "coordinate " << j;
    for (int r = 0; r <= D; ++r) EXPECT_TRUE(seen[r]);
  }
}
TEST(CrfCpu, EmbeddingReconstructsThePointD2) { check_embedding<2>(1, 50.0); }
TEST(CrfCpu, EmbeddingReconstructsThePointD5) { check_embedding<5>(2, 50.0); }

TEST(CrfCpu, NeighbourKeysStepAlongTheAxes) {
  // n1 along axis j is the vertex + (D+1) e_j - (1, ..., 1), n2 its opposite; n2(n1(v)) = v.
  const cm::LatticeScale<5> sc = cm::lattice_scale<5>();
  const float f[5] = {1.3f, -2.2f, 7.9f, 0.4f, -3.3f};
  uint64_t keys[6];
  float w[6];
  cm::lattice_embed<5>(f, sc, keys, w);
  for (int r = 0; r <= 5; ++r)
    for (int j = 0; j <= 5; ++j) {
      const uint64_t n1 = cm::neighbour_key<5>(keys[r], j, true);
      EXPECT_EQ(cm::neighbour_key<5>(n1, j, false), keys[r]);
      int k[5], kn[5];
      cm::unpack_key<5>(keys[r], k);
      EXPECT_EQ(cm::unpack_key<5>(n1, kn), (r + 5) % 6);
      for (int i = 0; i < 5; ++i) EXPECT_EQ(kn[i], k[i] - 1 + (i == j ? 6 : 0));
    }
}

// The lattice filter against the exact Gaussian filter, both symmetrically normalised (which
// cancels the lattice's overall scale). Splat-blur-slice through the vertices of the enclosing
// simplices is a piecewise-linear, slightly anisotropic stand-in for exp(-r^2/2) (Adams et al.
// 2010, section 4), so filtered values agree to a few per cent, not to rounding; the error grows
// with D (measured here: ~1.2% relative RMS at D = 2, ~6.5% at D = 5). Tolerances 3% and 10%.
// A wrong lattice scale (standard deviation) would show as a much larger error.
template <int D>
double lattice_vs_exact(const std::vector<float>& f, int64_t N, const std::vector<double>& v) {
  const Dense Al = normalised(lattice_kernel(f, N, D), N);
  const Dense Ae = normalised(exact_kernel(f, N, D), N);
  double num = 0, den = 0;
  for (int64_t i = 0; i < N; ++i) {
    double a = 0, e = 0;
    for (int64_t j = 0; j < N; ++j) {
      a += Al[size_t(i * N + j)] * v[size_t(j)];
      e += Ae[size_t(i * N + j)] * v[size_t(j)];
    }
    num += (a - e) * (a - e);
    den += e * e;
  }
  return std::sqrt(num / den);
}

TEST(CrfCpu, LatticeFilterApproximatesTheGaussian) {
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> u(0, 1);
  for (int D : {2, 5}) {
    const int64_t N = 150;
    std::vector<float> f(static_cast<size_t>(N * D));
    for (float& x : f) x = float(4.0 * u(rng));  // a cloud a few standard deviations across
    std::vector<double> v(static_cast<size_t>(N));
    for (int64_t i = 0; i < N; ++i) v[size_t(i)] = 1.0 + std::sin(f[size_t(i * D)]);
    const double err = D == 2 ? lattice_vs_exact<2>(f, N, v) : lattice_vs_exact<5>(f, N, v);
    std::printf("  D=%d: relative RMS error of the normalised lattice filter %.4f\n", D, err);
    EXPECT_LT(err, D == 2 ? 0.03 : 0.1) << "D=" << D;
  }
}

TEST(CrfCpu, LatticeFilterIsLinearAndMatchesItsMatrix) {
  const int64_t N = 40, C = 3;
  std::mt19937_64 rng(9);
  std::uniform_real_distribution<double> u(-3, 3);
  for (int D : {2, 5}) {
    std::vector<float> f(static_cast<size_t>(N * D)), in(static_cast<size_t>(C * N)),
        out(static_cast<size_t>(C * N));
    for (float& x : f) x = float(u(rng));
    for (float& x : in) x = float(u(rng));
    std::vector<char> ws(cpu::permutohedral_workspace_bytes(N, D, C));
    cpu::permutohedral_filter(f.data(), N, D, in.data(), C, out.data(), ws.data());
    const Dense K = lattice_kernel(f, N, D);
    for (int64_t c = 0; c < C; ++c)
      for (int64_t i = 0; i < N; ++i) {
        double s = 0;
        for (int64_t j = 0; j < N; ++j) s += K[size_t(i * N + j)] * in[size_t(c * N + j)];
        EXPECT_NEAR(out[size_t(c * N + i)], s, 1e-4 * (1 + std::fabs(s)));
      }
    // Points far apart (100 standard deviations) do not see each other: each gets the response
    // it has alone, which lies in (0, 1] (its own vertices' weights, blurred and sliced).
    std::vector<float> two(static_cast<size_t>(2 * D), 0.f);
    for (int k = 0; k < D; ++k) two[size_t(D + k)] = 100.f + 0.37f * float(k);
    std::vector<float> ones = {1.f, 1.f}, both(2), alone(1);
    std::vector<char> w2(cpu::permutohedral_workspace_bytes(2, D, 1));
    cpu::permutohedral_filter(two.data(), 2, D, ones.data(), 1, both.data(), w2.data());
    for (int k = 0; k < 2; ++k) {
      cpu::permutohedral_filter(two.data() + k * D, 1, D, ones.data(), 1, alone.data(), w2.data());
      EXPECT_GT(alone[0], 0.f);
      EXPECT_LE(alone[0], 1.f);
      EXPECT_FLOAT_EQ(both[size_t(k)], alone[0]) << "D=" << D << " point " << k;
    }
  }
}

// "Matches a brute-force mean field on a tiny one": dense_crf against the double loop driven
// by the same lattice operators (dense matrices): equal up to float rounding.

}  // namespace
}  // namespace wsvis::kernels
