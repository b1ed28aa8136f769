// Dense CRF mean field: against pydensecrf's output, exactly against a brute-force loop in
// double driven by the same lattice operator (as a dense matrix), and loosely against one driven
// by exact Gaussian kernels; the energy of the labelling falls and noisy labels get cleaner;
// clean labels are kept; edge sizes; CUDA parity (skipped without a GPU). The lattice itself:
// test_crf_lattice.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "kernels/crf.h"
#include "tests/kernels/crf_testing.h"
#include "tests/support/testing.h"

#if WSVIS_WITH_CUDA
#include <cuda_runtime.h>

#include "engine/cuda_check.h"
#endif

namespace wsvis::kernels {
namespace {

namespace cm = crf_math;
using namespace crf_testing;  // NOLINT(google-build-using-namespace): the shared test helpers

// pydensecrf golden data (pydensecrf2 1.1, the lucasb-eyer/pydensecrf code, x86-64 build),
// from `python3 scripts/torch_bench/crf.py --fixture`: a 6x7 image with random colours (left
// three columns darkened), random labels over 3 classes. kSoftQ: Q after 5 iterations with
// gt_prob 0.6, compat 0.3 / 1.0 (soft marginals, 0.13..0.74); kIrnLabels: the argmax with IRN's
// parameters (gt_prob 0.7, compat 3 / 10, 10 iterations).
const uint8_t kImage[] = {
    72, 15, 2, 54, 31, 39, 6, 31, 54, 90, 212, 202, 180, 231, 184, 45, 219, 167, 25, 76, 42, 82,
    62, 78, 24, 54, 51, 64, 10, 43, 165, 211, 167, 114, 117, 86, 40, 71, 37, 57, 218, 134, 7, 36,
    23, 56, 70, 1, 39, 38, 84, 93, 42, 50, 122, 152, 83, 111, 169, 76, 246, 53, 239, 74, 81, 68,
    45, 51, 17, 29, 39, 80, 203, 144, 152, 110, 107, 230, 1, 81, 104, 178, 105, 80, 6, 22, 9, 59,
    36, 19, 46, 42, 40, 148, 160, 48, 39, 187, 248, 140, 115, 159, 8, 95, 91, 35, 63, 42, 73, 40,
    2, 57, 68, 49, 240, 106, 204, 0, 9, 203, 223, 132, 192, 83, 186, 127};
const int32_t kLabels[] = {
    0, 0, 0, 2, 1, 2, 1, 0, 0, 1, 2, 2, 2, 0, 1, 1, 1, 1, 0, 2, 1, 2, 2, 2, 2, 1, 0, 0, 0, 2, 0,
    0, 0, 0, 2, 0, 0, 2, 0, 1, 0, 0};
const float kSoftQ[] = {
    0.73937964f, 0.73851967f, 0.73781955f, 0.13663594f, 0.13753594f, 0.13531102f, 0.13649657f,
    0.73991126f, 0.73939723f, 0.13934791f, 0.13717218f, 0.13675372f, 0.14558776f, 0.73608935f,
    0.14007725f, 0.1399398f, 0.14562964f, 0.13997957f, 0.73940182f, 0.13755545f, 0.13904649f,
    0.13864185f, 0.13863292f, 0.1458071f, 0.13862781f, 0.14072381f, 0.74080312f, 0.74007976f,
    0.74100435f, 0.13908158f, 0.74258637f, 0.74256414f, 0.74225247f, 0.74177146f, 0.13887653f,
    0.72460389f, 0.74212009f, 0.13950464f, 0.74338502f, 0.14210117f, 0.74286956f, 0.74240816f,
    0.13004977f, 0.13020718f, 0.13031933f, 0.13248567f, 0.72659492f, 0.13260622f, 0.72776532f,
    0.12948704f, 0.12954974f, 0.72478998f, 0.13216819f, 0.13224758f, 0.13610651f, 0.13109563f,
    0.72430217f, 0.72411233f, 0.70574915f, 0.72378218f, 0.12921245f, 0.13213602f, 0.72505146f,
    0.13202108f, 0.13186865f, 0.14752656f, 0.13168874f, 0.72298747f, 0.12848116f, 0.12896559f,
    0.12835282f, 0.13164635f, 0.12738483f, 0.12737955f, 0.12763724f, 0.12802731f, 0.13217288f,
    0.13333017f, 0.12761101f, 0.13133785f, 0.12698102f, 0.72162795f, 0.12752666f, 0.12787363f,
    0.13057059f, 0.13127314f, 0.13186111f, 0.73087835f, 0.13586916f, 0.73208272f, 0.13573806f,
    0.13060164f, 0.13105299f, 0.13586216f, 0.7306596f, 0.73099869f, 0.71830577f, 0.13281497f,
    0.13562061f, 0.13594785f, 0.14862119f, 0.13623823f, 0.1313857f, 0.73030847f, 0.13590214f,
    0.72933704f, 0.72949845f, 0.70666635f, 0.72968346f, 0.13628878f, 0.13071573f, 0.13095467f,
    0.13064279f, 0.72927207f, 0.1300288f, 0.13005631f, 0.13011035f, 0.13020124f, 0.72895062f,
    0.14206597f, 0.13026887f, 0.72915751f, 0.1296339f, 0.13627085f, 0.12960377f, 0.1297182f};
const int32_t kIrnLabels[] = {
    0, 0, 0, 2, 1, 2, 1, 0, 0, 1, 2, 2, 2, 0, 1, 1, 1, 1, 0, 2, 1, 2, 2, 2, 2, 1, 0, 0, 0, 2, 0,
    0, 0, 0, 2, 0, 0, 2, 0, 1, 0, 0};

// The CPU twin against pydensecrf itself: same lattice, same float maths, so Q agrees to float
// rounding (1e-5; measured 4e-9 here and <= 4e-5 on images up to 120x160 with 21 labels).
TEST(CrfCpu, MatchesPydensecrf) {
  const int64_t H = 6, W = 7, N = H * W;
  const int L = 3;
  Image im{H, W, std::vector<uint8_t>(kImage, kImage + N * 3)};
  const std::vector<int32_t> lab(kLabels, kLabels + N);
  DenseCrfParams soft;
  soft.iterations = 5;
  soft.gaussian_compat = 0.3;
  soft.bilateral_compat = 1.0;
  const CrfRun r = run_cpu(im, unary_of(lab, H, W, L, 0.6), L, soft);
  for (int64_t k = 0; k < N * L; ++k) EXPECT_NEAR(r.Q[size_t(k)], kSoftQ[k], 1e-5) << k;
  const CrfRun irn = run_cpu(im, unary_of(lab, H, W, L), L, DenseCrfParams{});
  EXPECT_EQ(irn.labels, std::vector<int32_t>(kIrnLabels, kIrnLabels + N));
}

TEST(CrfCpu, UnaryFromLabelsIsPydensecrfs) {
  const std::vector<int32_t> labels = {0, 2, 1, 2, 0, 1};
  const int L = 3;
  const std::vector<float> u = unary_of(labels, 2, 3, L);
  const double p = -std::log(0.7), n = -std::log(0.3 / 2);
  for (int64_t i = 0; i < 6; ++i)
    for (int l = 0; l < L; ++l)
      EXPECT_NEAR(u[size_t(l * 6 + i)], l == labels[size_t(i)] ? p : n, 1e-6) << i << " " << l;
  // One label: every pixel gets -log(gt_prob), the only energy pydensecrf defines.
  const std::vector<float> one = unary_of({0, 0}, 1, 2, 1);
  EXPECT_NEAR(one[0], p, 1e-6);
  std::vector<float> bad(6);
  EXPECT_ANY_THROW(cpu::crf_unary_from_labels(labels.data(), 2, 3, 2, 0.7, bad.data()));
}

// The D+1 vertices of each point's simplex carry remainders 0..D, the weights are a partition
// of unity, nonnegative, and reconstruct the elevated point: sum_r w_r v_r = E f (computed here
// in double from the elevation's definition, with the implicit last coordinate -sum).
TEST(CrfCpu, MeanFieldMatchesBruteForceWithTheLatticeKernels) {
  const int64_t H = 5, W = 6, N = H * W;
  const int L = 3;
  const Image im = two_region_image(H, W, 3, 25.0, 3);
  std::mt19937_64 rng(4);
  std::vector<int32_t> lab(static_cast<size_t>(N));
  for (auto& x : lab) x = int32_t(rng() % L);
  const std::vector<float> unary = unary_of(lab, H, W, L);
  DenseCrfParams p;
  const Dense Ag = normalised(lattice_kernel(gaussian_features(H, W, p.gaussian_sxy), N, 2), N);
  const Dense Ab = normalised(
      lattice_kernel(bilateral_features(im, p.bilateral_sxy, p.bilateral_srgb), N, 5), N);
  for (int iters : {0, 1, 10}) {
    p.iterations = iters;
    const CrfRun r = run_cpu(im, unary, L, p);
    const std::vector<double> Q =
        brute_mean_field(unary, N, L, Ag, Ab, p.gaussian_compat, p.bilateral_compat, iters);
    double worst = 0;
    for (size_t k = 0; k < Q.size(); ++k) worst = std::max(worst, std::fabs(Q[k] - r.Q[k]));
    EXPECT_LT(worst, 2e-5) << iters << " iterations";
    EXPECT_EQ(r.labels, argmax_planes(Q, N, L)) << iters << " iterations";
  }
}

// Against the exact Gaussian kernels: the lattice approximation moves Q by at most 0.02 here
// (measured 4e-5 with IRN's compatibilities, which saturate Q, and 5e-3 with a tenth of them),
// and the labels agree wherever the exact marginals are not within 0.05 of a tie.
TEST(CrfCpu, MeanFieldAgreesWithExactGaussianKernels) {
  const int64_t H = 5, W = 6, N = H * W;
  const int L = 3;
  const Image im = two_region_image(H, W, 3, 25.0, 13);
  std::mt19937_64 rng(14);
  std::vector<int32_t> lab(static_cast<size_t>(N));
  for (auto& x : lab) x = int32_t(rng() % L);
  const std::vector<float> unary = unary_of(lab, H, W, L);
  // IRN's compatibilities saturate Q on this tiny image; a tenth of them leaves Q soft, where
  // the kernels' differences show.
  for (double strength : {1.0, 0.1}) {
    DenseCrfParams p;
    p.gaussian_compat *= strength;
    p.bilateral_compat *= strength;
    const Dense Ag = normalised(exact_kernel(gaussian_features(H, W, p.gaussian_sxy), N, 2), N);
    const Dense Ab = normalised(
        exact_kernel(bilateral_features(im, p.bilateral_sxy, p.bilateral_srgb), N, 5), N);
    const CrfRun r = run_cpu(im, unary, L, p);
    const std::vector<double> Q = brute_mean_field(unary, N, L, Ag, Ab, p.gaussian_compat,
                                                   p.bilateral_compat, p.iterations);
    double worst = 0;
    for (size_t k = 0; k < Q.size(); ++k) worst = std::max(worst, std::fabs(Q[k] - r.Q[k]));
    std::printf("  compat x%.1f: max |Q_lattice - Q_exact| = %.3e\n", strength, worst);
    EXPECT_LT(worst, 0.02);
    const std::vector<int32_t> x = argmax_planes(Q, N, L);
    for (int64_t i = 0; i < N; ++i) {
      double top = 0, second = 0;
      for (int l = 0; l < L; ++l) {
        const double q = Q[size_t(l * N + i)];
        if (q > top) {
          second = top;
          top = q;
        } else if (q > second) {
          second = q;
        }
      }
      if (top - second > 0.05) {
        EXPECT_EQ(r.labels[size_t(i)], x[size_t(i)]) << "pixel " << i;
      }
    }
  }
}

// "The CRF lowers its energy on a small image": labels of a two-region image with 25% of the
// pixels flipped at random; the energy (exact kernels) of the labelling after t iterations
// falls from t = 0 (the unary argmax) to t = 10, and the flipped pixels are mostly repaired.
TEST(CrfCpu, EnergyFallsAndNoiseIsRemoved) {
  const int64_t H = 14, W = 16, N = H * W;
  const int L = 3;
  const Image im = two_region_image(H, W, 7, 8.0, 21);
  std::mt19937_64 rng(22);
  std::vector<int32_t> truth(static_cast<size_t>(N)), noisy(static_cast<size_t>(N));
  for (int64_t i = 0; i < N; ++i) {
    truth[size_t(i)] = (i % W) < 7 ? 1 : 2;
    noisy[size_t(i)] = rng() % 4 == 0 ? int32_t(rng() % L) : truth[size_t(i)];
  }
  const std::vector<float> unary = unary_of(noisy, H, W, L);
  DenseCrfParams p;
  const Dense Ag = normalised(exact_kernel(gaussian_features(H, W, p.gaussian_sxy), N, 2), N);
  const Dense Ab = normalised(
      exact_kernel(bilateral_features(im, p.bilateral_sxy, p.bilateral_srgb), N, 5), N);
  std::vector<double> energy;
  std::vector<int64_t> wrong;
  for (int t = 0; t <= 10; ++t) {
    p.iterations = t;
    const CrfRun r = run_cpu(im, unary, L, p);
    energy.push_back(crf_energy(r.labels, unary, N, Ag, Ab, p.gaussian_compat, p.bilateral_compat));
    int64_t w = 0;
    for (int64_t i = 0; i < N; ++i) w += r.labels[size_t(i)] != truth[size_t(i)];
    wrong.push_back(w);
    std::printf("  t=%2d energy %.3f wrong %lld\n", t, energy.back(), static_cast<long long>(w));
  }
  EXPECT_LT(energy.back(), 0.8 * energy.front());
  for (int t = 1; t <= 10; ++t) EXPECT_LE(energy[size_t(t)], energy[size_t(t - 1)] + 1e-6) << t;
  EXPECT_GT(wrong.front(), N / 8);
  EXPECT_LT(wrong.back(), wrong.front() / 4);
}

// Labels that follow the image's regions are kept as they are.
TEST(CrfCpu, CleanLabelsArePreserved) {
  const int64_t H = 20, W = 24, N = H * W;
  const Image im = two_region_image(H, W, 10, 4.0, 31);
  std::vector<int32_t> lab(static_cast<size_t>(N));
  for (int64_t i = 0; i < N; ++i) lab[size_t(i)] = (i % W) < 10 ? 0 : 1;
  for (int L : {2, 4}) {
    const CrfRun r = run_cpu(im, unary_of(lab, H, W, L), L, DenseCrfParams{});
    EXPECT_EQ(r.labels, lab) << "L=" << L;
  }
}

TEST(CrfCpu, EdgeSizes) {
  DenseCrfParams p;
  // Empty images: nothing to do, nothing written.
  for (auto [H, W] : {std::pair<int64_t, int64_t>{0, 5}, {4, 0}}) {
    std::vector<char> ws(cpu::dense_crf_workspace_bytes(H, W, 3) + 1);
    cpu::dense_crf(nullptr, nullptr, H, W, 3, p, nullptr, nullptr, ws.data());
  }
  // One label: Q = 1, labels 0.
  const Image im = two_region_image(3, 4, 2, 5.0, 1);
  const CrfRun one = run_cpu(im, unary_of(std::vector<int32_t>(12, 0), 3, 4, 1), 1, p);
  for (float q : one.Q) EXPECT_FLOAT_EQ(q, 1.f);
  for (int32_t l : one.labels) EXPECT_EQ(l, 0);
  // One pixel: the pairwise messages come from the pixel itself only and favour its label.
  const Image px = two_region_image(1, 1, 1, 0.0, 1);
  const CrfRun single = run_cpu(px, unary_of({2}, 1, 1, 3), 3, p);
  EXPECT_EQ(single.labels[0], 2);
  EXPECT_NEAR(single.Q[0] + single.Q[1] + single.Q[2], 1.0, 1e-6);
}

#if WSVIS_WITH_CUDA
template <typename T>
T* to_device(const std::vector<T>& v) {
  T* d = nullptr;
  CUDA_CHECK(cudaMalloc(&d, v.size() * sizeof(T) + 1));
  if (!v.empty()) CUDA_CHECK(cudaMemcpy(d, v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice));
  return d;
}
template <typename T>
std::vector<T> to_host(const T* d, size_t n) {
  std::vector<T> v(n);
  if (n) CUDA_CHECK(cudaMemcpy(v.data(), d, n * sizeof(T), cudaMemcpyDeviceToHost));
  return v;
}

// Lattice filter parity: same lattice (the embedding is shared, rounded identically), sums in
// another order (atomicAdd in the splat), hence 1e-5 relative to the largest output.
TEST(CrfCuda, LatticeFilterParity) {
  WSVIS_REQUIRE_CUDA();
  std::mt19937_64 rng(41);
  std::uniform_real_distribution<double> u(-4, 4);
  for (int D : {2, 5})
    for (int64_t N : {int64_t(0), int64_t(1), int64_t(37), int64_t(1001)})
      for (int64_t C : {int64_t(1), int64_t(3)}) {
        std::vector<float> f(static_cast<size_t>(N * D)), in(static_cast<size_t>(C * N)), want(static_cast<size_t>(C * N));
        for (float& x : f) x = float(u(rng));
        for (float& x : in) x = float(u(rng));
        std::vector<char> ws(cpu::permutohedral_workspace_bytes(N, D, C) + 1);
        cpu::permutohedral_filter(f.data(), N, D, in.data(), C, want.data(), ws.data());
        float *df = to_device(f), *din = to_device(in), *dout = to_device(want);
        void* dws = nullptr;
        CUDA_CHECK(cudaMalloc(&dws, cuda::permutohedral_workspace_bytes(N, D, C) + 1));
        cuda::permutohedral_filter(nullptr, df, N, D, din, C, dout, dws);
        CUDA_CHECK(cudaDeviceSynchronize());
        const std::vector<float> got = to_host(dout, want.size());
        double scale = 0, worst = 0;
        for (size_t k = 0; k < want.size(); ++k) {
          scale = std::max(scale, double(std::fabs(want[k])));
          worst = std::max(worst, double(std::fabs(got[k] - want[k])));
        }
        EXPECT_LE(worst, 1e-5 * std::max(scale, 1.0)) << "D=" << D << " N=" << N << " C=" << C;
        for (void* ptr : {static_cast<void*>(df), static_cast<void*>(din), static_cast<void*>(dout), dws})
          CUDA_CHECK(cudaFree(ptr));
      }
}

// CRF parity on odd sizes: the same lattices, float sums reordered by the atomic splat; 10
// iterations with compatibilities 3 and 10 amplify rounding near decision boundaries (the CPU
// twin and pydensecrf, whose float details differ comparably, drift apart by up to 4e-5), so Q
// within 1e-3; labels equal except where the CPU's top two marginals are within 1e-3.
TEST(CrfCuda, DenseCrfParity) {
  WSVIS_REQUIRE_CUDA();
  struct Case { int64_t H, W; int L; };
  for (const Case c : {Case{0, 7, 3}, Case{1, 1, 2}, Case{17, 23, 3}, Case{31, 45, 21}, Case{64, 48, 1}}) {
    const int64_t N = c.H * c.W;
    const Image im = two_region_image(c.H, c.W, c.W / 2, 20.0, 51);
    std::mt19937_64 rng(52);
    std::vector<int32_t> lab(static_cast<size_t>(N));
    for (auto& x : lab) x = int32_t(rng() % c.L);
    const std::vector<float> unary = unary_of(lab, c.H, c.W, c.L);
    const CrfRun want = run_cpu(im, unary, c.L, DenseCrfParams{});
    uint8_t* dim = to_device(im.rgb);
    float* du = to_device(unary);
    float* dq = to_device(std::vector<float>(size_t(N * c.L), -7.f));
    int32_t* dl = to_device(std::vector<int32_t>(size_t(N), -7));
    int32_t* dlab = to_device(lab);
    void* dws = nullptr;
    CUDA_CHECK(cudaMalloc(&dws, cuda::dense_crf_workspace_bytes(c.H, c.W, c.L) + 1));
    // The device unary from labels equals the host one exactly.
    float* du2 = to_device(std::vector<float>(size_t(N * c.L), 0.f));
    cuda::crf_unary_from_labels(nullptr, dlab, c.H, c.W, c.L, 0.7, du2);
    cuda::dense_crf(nullptr, dim, du, c.H, c.W, c.L, DenseCrfParams{}, dq, dl, dws);
    CUDA_CHECK(cudaDeviceSynchronize());
    EXPECT_EQ(to_host(du2, unary.size()), unary);
    const std::vector<float> q = to_host(dq, want.Q.size());
    const std::vector<int32_t> l = to_host(dl, want.labels.size());
    double worst = 0;
    for (size_t k = 0; k < q.size(); ++k) worst = std::max(worst, double(std::fabs(q[k] - want.Q[k])));
    EXPECT_LE(worst, 1e-3) << c.H << "x" << c.W << " L=" << c.L;
    for (int64_t i = 0; i < N; ++i) {
      std::vector<float> col;
      for (int k = 0; k < c.L; ++k) col.push_back(want.Q[size_t(k * N + i)]);
      std::sort(col.rbegin(), col.rend());
      if (c.L == 1 || col[0] - col[1] > 1e-3f) {
        EXPECT_EQ(l[size_t(i)], want.labels[size_t(i)]) << i;
      }
    }
    for (void* ptr : {static_cast<void*>(dim), static_cast<void*>(du), static_cast<void*>(dq),
                      static_cast<void*>(dl), static_cast<void*>(dlab), static_cast<void*>(du2), dws})
      CUDA_CHECK(cudaFree(ptr));
  }
}
#else
TEST(CrfCuda, LatticeFilterParity) { GTEST_SKIP() << "built without CUDA"; }
TEST(CrfCuda, DenseCrfParity) { GTEST_SKIP() << "built without CUDA"; }
#endif

}  // namespace
}  // namespace wsvis::kernels
