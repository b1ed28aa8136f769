// flowIRN kernels: the exact percentile against a full sort (ties, negatives, constants,
// extremes) and the radix select's digit logic replayed on the host, f-CAM (amplified only
// strictly above the percentile), the flow gradient on linear flows, the flow-boundary loss over
// kernels/irn.h's pair set against a naive pair loop written here (with the pair set checked
// against an enumeration written here), its backward against central differences in double,
// the gradient in the boundary map through irn_affinity_forward/backward, and CUDA parity with
// the CPU twin (skipped without a GPU).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "engine/error.h"
#include "kernels/flowirn.h"
#include "kernels/irn.h"
#include "tests/support/testing.h"

#if WSVIS_WITH_CUDA
#include <cuda_runtime.h>

#include "engine/cuda_check.h"
#endif

namespace wsvis::kernels {
namespace {

namespace fm = flowirn_math;

// ---- references --------------------------------------------------------------------------------

struct Dir {
  int dy, dx, len;
};

// IRN's directions, enumerated here independently: path length by the floating-point test IRN
// uses (distance^2 / length^2 < 1), then a stable sort by length.
std::vector<Dir> reference_directions(int r) {
  std::vector<Dir> dirs;
  auto add = [&](int dy, int dx) {
    int len = 0;
    for (int y = std::min(0, dy); y <= std::max(0, dy); ++y)
      for (int x = std::min(0, dx); x <= std::max(0, dx); ++x) {
        const double c = double(dy * x - dx * y);
        if (c * c / double(dy * dy + dx * dx) < 1.0) ++len;
      }
    dirs.push_back({dy, dx, len});
  };
  for (int x = 1; x < r; ++x) add(0, x);
  for (int y = 1; y < r; ++y)
    for (int x = -r + 1; x < r; ++x)
      if (x * x + y * y < r * r) add(y, x);
  std::stable_sort(dirs.begin(), dirs.end(),
                   [](const Dir& a, const Dir& b) { return a.len < b.len; });
  return dirs;
}

// Forward differences with zero across the last column / row, times scale.
template <typename T>
std::vector<T> gradient_reference(const std::vector<T>& flow, int64_t N, int64_t H, int64_t W,
                                  T scale) {
  const int64_t P = H * W;
  std::vector<T> g(static_cast<size_t>(N * 4 * P), T(0));
  for (int64_t n = 0; n < N; ++n)
    for (int c = 0; c < 2; ++c)
      for (int64_t y = 0; y < H; ++y)
        for (int64_t x = 0; x < W; ++x) {
          const T* f = flow.data() + (n * 2 + c) * P;
          T* gx = g.data() + (n * 4 + 2 * c) * P;
          T* gy = g.data() + (n * 4 + 2 * c + 1) * P;
          if (x + 1 < W) gx[y * W + x] = (f[y * W + x + 1] - f[y * W + x]) * scale;
          if (y + 1 < H) gy[y * W + x] = (f[(y + 1) * W + x] - f[y * W + x]) * scale;
        }
  return g;
}

// L = mean over the pairs of ||G(i) - G(j)|| * a + lambda * |1 - a| with alpha (N, D, H, W):
// every source whose destination is inside, and with `crop` only IRN's training sources
// (rows < H - r + 1, r - 1 <= columns < W - r + 1).
double loss_reference(const std::vector<double>& G, const std::vector<double>& alpha, int64_t N,
                      int64_t H, int64_t W, int r, bool crop, double lambda) {
  const std::vector<Dir> dirs = reference_directions(r);
  const int64_t P = H * W, D = int64_t(dirs.size());
  double sum = 0;
  int64_t count = 0;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t d = 0; d < D; ++d)
      for (int64_t y = 0; y < H; ++y)
        for (int64_t x = 0; x < W; ++x) {
          const int64_t ty = y + dirs[size_t(d)].dy, tx = x + dirs[size_t(d)].dx;
          if (ty < 0 || ty >= H || tx < 0 || tx >= W) continue;
          if (crop && !(y < H - r + 1 && x >= r - 1 && x < W - r + 1)) continue;
          double s = 0;
          for (int c = 0; c < 4; ++c) {
            const double t =
                G[size_t((n * 4 + c) * P + y * W + x)] - G[size_t((n * 4 + c) * P + ty * W + tx)];
            s += t * t;
          }
          const double a = alpha[size_t((n * D + d) * P + y * W + x)];
          sum += std::sqrt(s) * a + lambda * std::fabs(1 - a);
          ++count;
        }
  return count ? sum / double(count) : 0.0;
}

template <typename T>
T select_cpu(const std::vector<T>& v, int64_t k) {
  std::vector<char> ws(cpu::select_kth_workspace_bytes(int64_t(v.size()), sizeof(T)) + 1);
  T out = T(-12345);
  cpu::select_kth(v.data(), int64_t(v.size()), k, &out, ws.data());
  return out;
}

template <typename T>
double loss_cpu(const std::vector<T>& G, const std::vector<T>& alpha, int64_t N, int64_t H,
                int64_t W, const IrnPairSet& set, bool crop, T lambda) {
  std::vector<char> ws(cpu::flow_boundary_loss_workspace_bytes(N, H, W, set) + 1);
  T loss = T(-1);
  cpu::flow_boundary_loss_forward(G.data(), alpha.data(), N, H, W, set, crop, lambda, &loss,
                                  ws.data());
  return double(loss);
}

template <typename T>
std::vector<T> uniform(std::mt19937_64& rng, size_t n, double lo, double hi) {
  std::uniform_real_distribution<double> u(lo, hi);
  std::vector<T> v(n);
  for (T& x : v) x = T(u(rng));
  return v;
}

// ---- the pair set ------------------------------------------------------------------------------

TEST(FlowIrn, PairSetIsIrnsAndCountsMatch) {
  for (int r : {2, 5, 10}) {
    const IrnPairSet set = irn_pair_set(r);
    const std::vector<Dir> want = reference_directions(r);
    ASSERT_EQ(set.num_directions, int(want.size()));
    for (int i = 0; i < set.num_directions; ++i) {
      EXPECT_EQ(set.dy[i], want[size_t(i)].dy) << i;
      EXPECT_EQ(set.dx[i], want[size_t(i)].dx) << i;
    }
  }
  const IrnPairSet set = irn_pair_set(kIrnTrainRadius);
  EXPECT_EQ(set.num_directions, 152);
  // Spec section 4: 119 x 110 training sources on a 128 x 128 grid, each with all 152 pairs.
  EXPECT_EQ(flow_boundary_pair_count(128, 128, set, true), 119 * 110 * 152);
  EXPECT_EQ(flow_boundary_pair_count(9, 40, set, true), 0);
  EXPECT_EQ(flow_boundary_pair_count(40, 18, set, true), 0);
  // Without the crop: every pair with both ends inside, counted by brute force.
  for (auto [H, W] : {std::pair<int64_t, int64_t>{1, 1}, {7, 30}, {23, 17}}) {
    int64_t brute = 0;
    for (int d = 0; d < set.num_directions; ++d)
      for (int64_t y = 0; y < H; ++y)
        for (int64_t x = 0; x < W; ++x)
          brute += y + set.dy[d] < H && x + set.dx[d] >= 0 && x + set.dx[d] < W;
    EXPECT_EQ(flow_boundary_pair_count(H, W, set, false), brute);
  }
}

// ---- percentile --------------------------------------------------------------------------------

TEST(FlowIrn, PercentileRankIsNumpyLower) {
  EXPECT_EQ(fm::percentile_rank(10, 0.8), 7);  // floor(0.8 * 9) = floor(7.2)
  EXPECT_EQ(fm::percentile_rank(10, 0.5), 4);  // floor(4.5)
  EXPECT_EQ(fm::percentile_rank(10, 0.0), 0);
  EXPECT_EQ(fm::percentile_rank(10, 1.0), 9);
  EXPECT_EQ(fm::percentile_rank(1, 0.8), 0);
  EXPECT_EQ(fm::percentile_rank(6, 0.8), 4);  // exactly 4 (0.8 * 5 rounds to 4.0 in double)
  EXPECT_EQ(fm::percentile_rank(921600, 0.8), 737279);
}

template <typename T>
void check_selection_against_sort(std::mt19937_64& rng) {
  std::vector<std::vector<T>> cases;
  cases.push_back({T(3)});
  cases.push_back(uniform<T>(rng, 1000, 0, 10));  // distinct magnitudes
  cases.push_back(uniform<T>(rng, 777, -5, 5));   // negatives
  std::vector<T> ties(4099);
  for (T& v : ties) v = T(int(rng() % 7)) * T(0.5);  // heavy ties
  cases.push_back(ties);
  cases.push_back(std::vector<T>(513, T(2.25)));      // constant
  std::vector<T> wide = uniform<T>(rng, 2000, 0, 1);  // many orders of magnitude, zeros
  for (size_t i = 0; i < wide.size(); ++i)
    wide[i] = i % 5 == 0 ? T(0) : T(std::pow(10.0, 30 * double(wide[i]) - 15));
  cases.push_back(wide);
  for (const std::vector<T>& v : cases) {
    std::vector<T> sorted(v);
    std::sort(sorted.begin(), sorted.end());
    const int64_t n = int64_t(v.size());
    for (int64_t k :
         {int64_t(0), n / 3, fm::percentile_rank(n, 0.5), fm::percentile_rank(n, 0.8), n - 1})
      EXPECT_EQ(select_cpu(v, k), sorted[size_t(k)]) << "n " << n << " k " << k;
  }
}

TEST(FlowIrn, SelectKthEqualsFullSort) {
  std::mt19937_64 rng(8);
  check_selection_against_sort<float>(rng);
  check_selection_against_sort<double>(rng);
}

// The keys the CUDA radix select works on: order-preserving and invertible.
template <typename T>
void check_radix_keys(std::mt19937_64& rng) {
  using K = typename fm::RadixKey<T>::K;
  std::vector<T> v = uniform<T>(rng, 3000, -1e3, 1e3);
  v.insert(v.end(), {T(0), T(-0.0), T(1e-30), T(-1e-30), std::numeric_limits<T>::max(),
                     std::numeric_limits<T>::lowest(), std::numeric_limits<T>::infinity(),
                     -std::numeric_limits<T>::infinity(), std::numeric_limits<T>::denorm_min()});
  for (T a : v) {
    const T back = fm::RadixKey<T>::from(fm::RadixKey<T>::to(a));
    EXPECT_EQ(std::memcmp(&back, &a, sizeof(T)), 0) << a;
  }
  std::sort(v.begin(), v.end());
  for (size_t i = 1; i < v.size(); ++i) {
    const K a = fm::RadixKey<T>::to(v[i - 1]), b = fm::RadixKey<T>::to(v[i]);
    if (v[i - 1] < v[i]) {
      EXPECT_LT(a, b) << v[i - 1] << " " << v[i];
    }
  }
}

// The CUDA select's digit logic, replayed on the host: per 8-bit digit from the top, count the
// candidates that agree with the prefix on the fixed digits, pick the bin holding the rank.
template <typename T>
T radix_select_host(const std::vector<T>& values, int64_t k) {
  using K = typename fm::RadixKey<T>::K;
  constexpr int kBits = fm::RadixKey<T>::kBits;
  K prefix = 0;
  uint64_t rank = uint64_t(k);
  for (int shift = kBits - fm::kRadixBits; shift >= 0; shift -= fm::kRadixBits) {
    const int fixed = kBits - (shift + fm::kRadixBits);
    const K high_mask = fixed == 0 ? K(0) : (~K(0) << (shift + fm::kRadixBits));
    std::vector<uint64_t> hist(fm::kRadixBins, 0);
    for (T v : values) {
      const K key = fm::RadixKey<T>::to(v);
      if (((key ^ prefix) & high_mask) == 0) ++hist[size_t((key >> shift) & (fm::kRadixBins - 1))];
    }
    uint64_t excl = 0;
    for (int b = 0; b < fm::kRadixBins; ++b) {
      if (excl <= rank && rank < excl + hist[size_t(b)]) {
        prefix |= K(b) << shift;
        rank -= excl;
        break;
      }
      excl += hist[size_t(b)];
    }
  }
  return fm::RadixKey<T>::from(prefix);
}

TEST(FlowIrn, RadixKeysAndDigitLogic) {
  std::mt19937_64 rng(31);
  check_radix_keys<float>(rng);
  check_radix_keys<double>(rng);
  for (int rep = 0; rep < 3; ++rep) {
    std::vector<float> f = uniform<float>(rng, 5001, -4, 9);
    for (size_t i = 0; i < f.size(); i += 3) f[i] = float(int(f[i]));  // ties
    std::vector<double> d(f.begin(), f.end());
    for (int64_t k : {int64_t(0), int64_t(17), fm::percentile_rank(5001, 0.8), int64_t(5000)}) {
      EXPECT_EQ(radix_select_host(f, k), select_cpu(f, k));
      EXPECT_EQ(radix_select_host(d, k), select_cpu(d, k));
    }
  }
}

TEST(FlowIrn, SelectKthRejectsBadArguments) {
  std::vector<float> v = {1, 2, std::nanf(""), 4};
  std::vector<char> ws(64);
  float out = 0;
  EXPECT_THROW(cpu::select_kth(v.data(), 4, 1, &out, ws.data()), Error);  // NaN
  EXPECT_THROW(cpu::select_kth(v.data(), 0, 0, &out, ws.data()), Error);  // empty
  EXPECT_THROW(cpu::select_kth(v.data(), 2, 2, &out, ws.data()), Error);  // rank out of range
}

// ---- f-CAM -------------------------------------------------------------------------------------

TEST(FlowIrn, FcamAmplifiesOnlyAboveThePercentile) {
  std::mt19937_64 rng(9);
  const int64_t N = 2, C = 3, H = 11, W = 13, P = H * W;
  // Flow on a coarse lattice so that many magnitudes tie with the percentile.
  std::vector<float> flow(size_t(N * 2 * P));
  for (float& v : flow) v = float(int(rng() % 5) - 2);
  std::vector<float> mag(size_t(N * P));
  cpu::flow_magnitude(flow.data(), N, H, W, mag.data());
  for (int64_t n = 0; n < N; ++n)
    for (int64_t p = 0; p < P; ++p) {
      const float u = flow[size_t(n * 2 * P + p)], v = flow[size_t(n * 2 * P + P + p)];
      EXPECT_EQ(mag[size_t(n * P + p)], std::sqrt(u * u + v * v));
    }
  // The 80th percentile over both frames (a dataset-level threshold), then A = 2.
  const float thr = select_cpu(mag, fm::percentile_rank(N * P, 0.8));
  const std::vector<float> cams = uniform<float>(rng, size_t(N * C * P), 0, 1);
  std::vector<float> out(cams.size(), -1.f);
  cpu::fcam_amplify(cams.data(), mag.data(), N, C, H, W, &thr, 2.0f, out.data());
  int64_t amplified = 0, at_threshold = 0;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t p = 0; p < P; ++p) {
        const size_t i = size_t((n * C + c) * P + p);
        const float m = mag[size_t(n * P + p)];
        EXPECT_EQ(out[i], m > thr ? 2.0f * cams[i] : cams[i]);
        amplified += m > thr;
        at_threshold += m == thr;
      }
  EXPECT_GT(amplified, 0);
  EXPECT_GT(at_threshold, 0);  // ties with the threshold exist and were left alone
  // At most 20% of the pixels lie strictly above the 80th percentile.
  EXPECT_LE(amplified, C * (N * P - fm::percentile_rank(N * P, 0.8) - 1));
}

// ---- flow gradient -----------------------------------------------------------------------------

TEST(FlowIrn, FlowGradientOfLinearFlow) {
  const int64_t N = 2, H = 5, W = 7, P = H * W;
  std::vector<double> flow(size_t(N * 2 * P));
  for (int64_t n = 0; n < N; ++n)
    for (int64_t p = 0; p < P; ++p) {
      const double y = double(p / W), x = double(p % W);
      flow[size_t(n * 2 * P + p)] = 0.5 * x - 2.0 * y + double(n);  // u
      flow[size_t(n * 2 * P + P + p)] = 3.0 * x + 0.25 * y;         // v
    }
  std::vector<double> g(size_t(N * 4 * P), -9);
  cpu::flow_gradient(flow.data(), N, H, W, 0.25, g.data());
  for (int64_t n = 0; n < N; ++n)
    for (int64_t p = 0; p < P; ++p) {
      const bool right = p % W < W - 1, down = p / W < H - 1;
      const double* o = g.data() + n * 4 * P;
      EXPECT_EQ(o[p], right ? 0.125 : 0.0);
      EXPECT_EQ(o[P + p], down ? -0.5 : 0.0);
      EXPECT_EQ(o[2 * P + p], right ? 0.75 : 0.0);
      EXPECT_EQ(o[3 * P + p], down ? 0.0625 : 0.0);
    }
  std::mt19937_64 rng(10);
  const std::vector<float> f = uniform<float>(rng, size_t(3 * 2 * 9 * 4), -8, 8);
  std::vector<float> gf(size_t(3 * 4 * 9 * 4));
  cpu::flow_gradient(f.data(), 3, 9, 4, 0.25f, gf.data());
  EXPECT_EQ(gf, gradient_reference(f, 3, 9, 4, 0.25f));
}

// ---- flow-boundary loss ------------------------------------------------------------------------

TEST(FlowIrn, FlowBoundaryLossMatchesNaivePairLoop) {
  std::mt19937_64 rng(11);
  struct Case {
    int64_t N, H, W;
    int r;
    bool crop;
  };
  for (const Case c :
       {Case{1, 12, 22, 10, true}, Case{2, 15, 25, 10, true}, Case{3, 9, 13, 5, true},
        Case{1, 10, 19, 10, true}, Case{2, 9, 30, 10, true}, Case{2, 8, 14, 10, false},
        Case{1, 6, 5, 5, false}, Case{1, 1, 1, 10, false}}) {
    SCOPED_TRACE(::testing::Message()
                 << c.N << "x" << c.H << "x" << c.W << " r " << c.r << " crop " << c.crop);
    const IrnPairSet set = irn_pair_set(c.r);
    const std::vector<double> G = uniform<double>(rng, size_t(c.N * 4 * c.H * c.W), -1, 1);
    const std::vector<double> alpha =
        uniform<double>(rng, size_t(c.N * set.num_directions * c.H * c.W), 0, 1.2);
    const double want = loss_reference(G, alpha, c.N, c.H, c.W, c.r, c.crop, 2.0);
    EXPECT_NEAR(loss_cpu(G, alpha, c.N, c.H, c.W, set, c.crop, 2.0), want,
                1e-13 * (1 + std::fabs(want)));
  }
  // Constant flow: F' = 0, the loss is lambda * mean |1 - alpha|.
  const IrnPairSet set = irn_pair_set(kIrnTrainRadius);
  const int64_t H = 12, W = 20;
  std::vector<double> G(size_t(4 * H * W), 0.0), alpha(size_t(152 * H * W), 0.25);
  EXPECT_DOUBLE_EQ(loss_cpu(G, alpha, 1, H, W, set, true, 2.0), 1.5);
}

// Central differences of L(alpha) against the analytic backward.
void check_alpha_gradient(std::mt19937_64& rng, int64_t N, int64_t H, int64_t W, int r, bool crop) {
  SCOPED_TRACE(::testing::Message() << N << "x" << H << "x" << W << " r " << r << " crop " << crop);
  const IrnPairSet set = irn_pair_set(r);
  const size_t n_alpha = size_t(N * set.num_directions * H * W);
  ASSERT_GT(flow_boundary_pair_count(H, W, set, crop), 0);
  const std::vector<double> G = uniform<double>(rng, size_t(N * 4 * H * W), -1, 1);
  // Away from the kink of |1 - alpha| at 1 (its one-sided convention is checked separately).
  std::vector<double> alpha = uniform<double>(rng, n_alpha, 0.02, 0.98);
  for (size_t i = 0; i < alpha.size(); i += 7) alpha[i] = 1.02 + 0.1 * double(i % 3);  // > 1
  const double g = 0.7, lambda = 2.0;
  std::vector<double> grad(n_alpha, -1);
  cpu::flow_boundary_loss_backward(G.data(), alpha.data(), N, H, W, set, crop, lambda, &g,
                                   grad.data());
  // The loss is piecewise linear in alpha: central differences are exact up to rounding
  // (about 1e-16 * |L| / eps = 1e-10 here, against gradients of about 1 / P = 1e-4).
  const double eps = 1e-6;
  for (size_t i = 0; i < alpha.size(); ++i) {
    const double saved = alpha[i];
    alpha[i] = saved + eps;
    const double plus = loss_cpu(G, alpha, N, H, W, set, crop, lambda);
    alpha[i] = saved - eps;
    const double minus = loss_cpu(G, alpha, N, H, W, set, crop, lambda);
    alpha[i] = saved;
    const double numeric = g * (plus - minus) / (2 * eps);
    ASSERT_NEAR(grad[i], numeric, 1e-9 + 1e-6 * std::fabs(numeric)) << "alpha element " << i;
  }
}

TEST(FlowIrn, FlowBoundaryGradientMatchesCentralDifferences) {
  std::mt19937_64 rng(12);
  check_alpha_gradient(rng, 1, 11, 21, 10, true);
  check_alpha_gradient(rng, 2, 8, 11, 5, true);
  check_alpha_gradient(rng, 1, 7, 9, 5, false);
}

// L(B) = flow_boundary(irn_affinity_forward(B)): the gradient in the boundary map is
// irn_affinity_backward(flow_boundary_backward), against central differences. The path max is
// differentiable where the maximum is unique, which random boundaries give almost surely; the
// step stays far below the gap between distinct values (about 1e-4 for 300 uniforms).
TEST(FlowIrn, FlowBoundaryGradientThroughIrnAffinity) {
  std::mt19937_64 rng(13);
  const IrnPairSet set = irn_pair_set(5);
  const int64_t N = 1, H = 9, W = 12, P = H * W, D = set.num_directions;
  const std::vector<double> G = uniform<double>(rng, size_t(N * 4 * P), -1, 1);
  std::vector<double> B = uniform<double>(rng, size_t(N * P), 0.01, 0.99);
  const double lambda = 2.0, g = 1.0;
  auto loss_of = [&](const std::vector<double>& b) {
    std::vector<double> alpha(size_t(N * D * P));
    cpu::irn_affinity_forward(b.data(), N, H, W, set, alpha.data());
    return loss_cpu(G, alpha, N, H, W, set, true, lambda);
  };
  std::vector<double> alpha(size_t(N * D * P)), galpha(alpha.size()), gB(B.size(), -1);
  cpu::irn_affinity_forward(B.data(), N, H, W, set, alpha.data());
  cpu::flow_boundary_loss_backward(G.data(), alpha.data(), N, H, W, set, true, lambda, &g,
                                   galpha.data());
  cpu::irn_affinity_backward(galpha.data(), B.data(), N, H, W, set, gB.data());
  const double eps = 1e-7;
  int nonzero = 0;
  for (size_t i = 0; i < B.size(); ++i) {
    const double saved = B[i];
    B[i] = saved + eps;
    const double plus = loss_of(B);
    B[i] = saved - eps;
    const double minus = loss_of(B);
    B[i] = saved;
    const double numeric = (plus - minus) / (2 * eps);
    nonzero += numeric != 0.0;
    ASSERT_NEAR(gB[i], numeric, 1e-8 + 1e-5 * std::fabs(numeric)) << "boundary pixel " << i;
  }
  EXPECT_GT(nonzero, 10);
}

TEST(FlowIrn, FlowBoundaryGradientAtAlphaOneIsTheLeftDerivative) {
  const IrnPairSet set = irn_pair_set(kIrnTrainRadius);
  const int64_t H = 10, W = 19, P = H * W;
  const int64_t pairs = flow_boundary_pair_count(H, W, set, true);
  std::vector<double> G(size_t(4 * P), 0.0), alpha(size_t(152 * P), 1.0), grad(alpha.size(), -1);
  const double g = 1.0;
  cpu::flow_boundary_loss_backward(G.data(), alpha.data(), 1, H, W, set, true, 2.0, &g,
                                   grad.data());
  int64_t on_pairs = 0;
  for (double v : grad) {
    if (v != 0.0) {
      EXPECT_DOUBLE_EQ(v, -2.0 / double(pairs));
      ++on_pairs;
    }
  }
  EXPECT_EQ(on_pairs, pairs);  // every other element of grad_alpha is overwritten with 0
  // No pairs (H <= r - 1): zero loss, zero gradient.
  std::vector<double> G9(size_t(4 * 9 * 19), 0.0), a9(size_t(152 * 9 * 19), 0.5), g9(a9.size(), 7);
  EXPECT_EQ(loss_cpu(G9, a9, 1, 9, 19, set, true, 2.0), 0.0);
  cpu::flow_boundary_loss_backward(G9.data(), a9.data(), 1, 9, 19, set, true, 2.0, &g, g9.data());
  for (double v : g9) EXPECT_EQ(v, 0.0);
}

// ---- CUDA parity -------------------------------------------------------------------------------

#if WSVIS_WITH_CUDA
template <typename U>
struct DeviceArray {
  U* ptr = nullptr;
  size_t n = 0;
  explicit DeviceArray(size_t count) : n(count) {
    CUDA_CHECK(cudaMalloc(&ptr, sizeof(U) * (n + 1)));
  }
  explicit DeviceArray(const std::vector<U>& host) : DeviceArray(host.size()) {
    if (n) CUDA_CHECK(cudaMemcpy(ptr, host.data(), sizeof(U) * n, cudaMemcpyHostToDevice));
  }
  ~DeviceArray() { CUDA_CHECK_PRINT(cudaFree(ptr)); }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  std::vector<U> host(size_t count) const {
    std::vector<U> out(count);
    if (count) CUDA_CHECK(cudaMemcpy(out.data(), ptr, sizeof(U) * count, cudaMemcpyDeviceToHost));
    return out;
  }
};

template <typename T>
T select_cuda(const std::vector<T>& v, int64_t k) {
  DeviceArray<T> d(v), out(1);
  DeviceArray<char> ws(cuda::select_kth_workspace_bytes(int64_t(v.size()), sizeof(T)));
  cuda::select_kth(nullptr, d.ptr, int64_t(v.size()), k, out.ptr, ws.ptr);
  CUDA_CHECK(cudaDeviceSynchronize());
  return out.host(1)[0];
}

template <typename T>
void select_parity(std::mt19937_64& rng) {
  for (int64_t n : {int64_t(1), int64_t(2), int64_t(255), int64_t(4097), int64_t(1280 * 720)}) {
    std::vector<T> mags = uniform<T>(rng, size_t(n), 0, 20);
    std::vector<T> ties(static_cast<size_t>(n));
    for (T& x : ties) x = T(int(rng() % 9)) * T(0.25);
    std::vector<T> signed_values = uniform<T>(rng, size_t(n), -3, 3);
    for (const std::vector<T>* v : {&mags, &ties, &signed_values})
      for (double q : {0.0, 0.5, 0.8, 1.0}) {
        const int64_t k = fm::percentile_rank(n, q);
        EXPECT_EQ(select_cuda(*v, k), select_cpu(*v, k)) << "n " << n << " q " << q;
      }
  }
}

TEST(FlowIrnCuda, SelectKthEqualsCpuTwinExactly) {
  WSVIS_REQUIRE_CUDA();
  std::mt19937_64 rng(21);
  select_parity<float>(rng);
  select_parity<double>(rng);
}

TEST(FlowIrnCuda, MagnitudeFcamGradientEqualCpuTwin) {
  WSVIS_REQUIRE_CUDA();
  std::mt19937_64 rng(22);
  for (auto [N, C, H, W] : {std::tuple<int64_t, int64_t, int64_t, int64_t>{0, 2, 5, 5},
                            {1, 0, 3, 3},
                            {1, 3, 1, 1},
                            {2, 5, 37, 53},
                            {1, 40, 180, 320}}) {
    SCOPED_TRACE(::testing::Message() << N << "x" << C << "x" << H << "x" << W);
    const int64_t P = H * W;
    const std::vector<float> flow = uniform<float>(rng, size_t(N * 2 * P), -12, 12);
    const std::vector<float> cams = uniform<float>(rng, size_t(N * C * P), 0, 1);
    std::vector<float> mag(size_t(N * P)), out(size_t(N * C * P)), grad(size_t(N * 4 * P));
    cpu::flow_magnitude(flow.data(), N, H, W, mag.data());
    const float thr = N * P > 0 ? select_cpu(mag, fm::percentile_rank(N * P, 0.8)) : 0.0f;
    cpu::fcam_amplify(cams.data(), mag.data(), N, C, H, W, &thr, 2.0f, out.data());
    cpu::flow_gradient(flow.data(), N, H, W, 0.25f, grad.data());
    DeviceArray<float> d_flow(flow), d_cams(cams), d_mag(mag.size()), d_out(out.size()),
        d_grad(grad.size()), d_thr(std::vector<float>{thr});
    cuda::flow_magnitude(nullptr, d_flow.ptr, N, H, W, d_mag.ptr);
    cuda::fcam_amplify(nullptr, d_cams.ptr, d_mag.ptr, N, C, H, W, d_thr.ptr, 2.0f, d_out.ptr);
    cuda::flow_gradient(nullptr, d_flow.ptr, N, H, W, 0.25f, d_grad.ptr);
    CUDA_CHECK(cudaDeviceSynchronize());
    // All exact: the magnitude avoids FMA contraction, the rest is one rounding per value.
    EXPECT_EQ(d_mag.host(mag.size()), mag);
    EXPECT_EQ(d_out.host(out.size()), out);
    EXPECT_EQ(d_grad.host(grad.size()), grad);
  }
}

TEST(FlowIrnCuda, FlowBoundaryLossEqualsCpuTwin) {
  WSVIS_REQUIRE_CUDA();
  std::mt19937_64 rng(23);
  const IrnPairSet set = irn_pair_set(kIrnTrainRadius);
  const int64_t D = set.num_directions;
  for (auto [N, H, W] : {std::tuple<int64_t, int64_t, int64_t>{0, 20, 30},
                         {1, 9, 30},
                         {1, 11, 21},
                         {3, 37, 53},
                         {2, 94, 125},
                         {1, 180, 320}}) {
    for (bool crop : {true, false}) {
      SCOPED_TRACE(::testing::Message() << N << "x" << H << "x" << W << " crop " << crop);
      const size_t n_alpha = size_t(N * D * H * W);
      const std::vector<float> G = uniform<float>(rng, size_t(N * 4 * H * W), -1, 1);
      const std::vector<float> alpha = uniform<float>(rng, n_alpha, 0, 1);
      const float g = 1.3f;
      std::vector<float> grad(n_alpha);
      const double want = loss_cpu(G, alpha, N, H, W, set, crop, 2.0f);
      cpu::flow_boundary_loss_backward(G.data(), alpha.data(), N, H, W, set, crop, 2.0f, &g,
                                       grad.data());
      DeviceArray<float> d_G(G), d_alpha(alpha), d_loss(1), d_g(std::vector<float>{g}),
          d_grad(n_alpha);
      CUDA_CHECK(cudaMemset(d_grad.ptr, 0x7f, sizeof(float) * n_alpha));  // must be overwritten
      DeviceArray<char> ws(cuda::flow_boundary_loss_workspace_bytes(N, H, W, set));
      cuda::flow_boundary_loss_forward(nullptr, d_G.ptr, d_alpha.ptr, N, H, W, set, crop, 2.0f,
                                       d_loss.ptr, ws.ptr);
      cuda::flow_boundary_loss_backward(nullptr, d_G.ptr, d_alpha.ptr, N, H, W, set, crop, 2.0f,
                                        d_g.ptr, d_grad.ptr);
      CUDA_CHECK(cudaDeviceSynchronize());
      // Both sum in double; the float per-pair norms may differ by an FMA contraction inside
      // the norm (an ulp), hence 1e-6 relative on the mean and 1e-5 on each gradient element.
      EXPECT_NEAR(double(d_loss.host(1)[0]), want, 1e-6 * (1 + std::fabs(want)));
      const std::vector<float> got = d_grad.host(n_alpha);
      for (size_t i = 0; i < got.size(); ++i)
        ASSERT_NEAR(got[i], grad[i], 1e-12 + 1e-5 * std::fabs(grad[i])) << i;
    }
  }
}
#else
TEST(FlowIrnCuda, SelectKthEqualsCpuTwinExactly) { GTEST_SKIP() << "built without CUDA"; }
#endif

}  // namespace
}  // namespace wsvis::kernels
