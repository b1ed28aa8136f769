// Tests of IRN's random walk and the hooks after it (kernels/irn.h).
//  - Issue 5 "Done when" 2: on 24x22 (and 17x23) images, the stencil walk of 256 steps equals
//    IRN's dense method rebuilt here in double the way misc/indexing.py's propagate_to_edge
//    builds it: B padded with 1 (left/right/bottom by the radius), PathIndex(5) sources and
//    paths on the padded grid, sparse (from, to) + self + (to, from) entries made dense, the
//    padding cropped away, A^beta column-normalised, squared 8 times, x . T, x = seeds (1 - B).
//    Tolerance 1e-5 (the issue's); both sides are double, so they agree to ~1e-13.
//  - Odd step counts against repeated single multiplications by the dense T.
//  - Labels (global max, background 0.25 in front, first maximum wins) and instance scores
//    against direct references.
//  - CUDA parity against the CPU twin on odd and empty sizes (skipped without a GPU).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <tuple>
#include <vector>

#include "kernels/components.h"
#include "kernels/irn.h"
#include "kernels/upsample.h"
#include "tests/support/testing.h"

namespace wsvis {
namespace {

namespace kc = kernels::cpu;
using kernels::IrnPairSet;

using Matrix = std::vector<double>;  // row-major n x n

// A boundary map with two crossing ridges and a ring (so the walk has regions to fill and
// walls to respect) plus noise; values in [0, 1].
std::vector<double> test_boundary(int64_t H, int64_t W, std::mt19937& rng) {
  std::uniform_real_distribution<double> noise(0, 0.08);
  std::vector<double> b(size_t(H * W));
  for (int64_t y = 0; y < H; ++y)
    for (int64_t x = 0; x < W; ++x) {
      const double r = std::hypot(y - H * 0.55, x - W * 0.45);
      double v = noise(rng);
      if (std::fabs(r - 0.3 * std::min(H, W)) < 1.0) v += 0.85;
      if (x == W / 4 || y == (2 * H) / 3) v += 0.6;
      b[size_t(y * W + x)] = std::min(1.0, v);
    }
  return b;
}

// IRN's direction list for a radius, enumerated here independently of the kernel (the dense
// matrix does not depend on the order of the directions).
std::vector<std::pair<int, int>> irn_directions(int r) {
  std::vector<std::pair<int, int>> dirs;
  for (int x = 1; x < r; ++x) dirs.push_back({0, x});
  for (int y = 1; y < r; ++y)
    for (int x = -r + 1; x < r; ++x)
      if (x * x + y * y < r * r) dirs.push_back({y, x});
  return dirs;
}

// The dense transition matrix of indexing.propagate_to_edge (before the squarings), N x N
// over the image pixels, T[i][j] = A_ij^beta / sum_k A_kj^beta.
Matrix irn_dense_transition(const std::vector<double>& edge, int64_t H, int64_t W, int radius,
                            double beta) {
  const int64_t Hp = H + radius, Wp = W + 2 * radius, Np = Hp * Wp;
  std::vector<double> padded(size_t(Np), 1.0);  // F.pad(edge, (r, r, 0, r), value=1)
  for (int64_t y = 0; y < H; ++y)
    for (int64_t x = 0; x < W; ++x) padded[size_t(y * Wp + x + radius)] = edge[size_t(y * W + x)];
  const int rf = radius - 1;  // PathIndex.radius_floor = ceil(r) - 1
  const int64_t ch = Hp - rf, cw = Wp - 2 * rf;
  Matrix dense(size_t(Np * Np), 0.0);
  for (int64_t v = 0; v < Np; ++v) dense[size_t(v * Np + v)] = 1.0;  // indices_id
  for (const auto& [dy, dx] : irn_directions(radius)) {
    for (int64_t sy = 0; sy < ch; ++sy)
      for (int64_t sx = rf; sx < rf + cw; ++sx) {
        double m = -1;
        for (int py = std::min(0, dy); py <= std::max(0, dy); ++py)
          for (int px = std::min(0, dx); px <= std::max(0, dx); ++px)
            if ((dy * px - dx * py) * (dy * px - dx * py) < dy * dy + dx * dx)
              m = std::max(m, padded[size_t((sy + py) * Wp + sx + px)]);
        const int64_t from = sy * Wp + sx, to = (sy + dy) * Wp + sx + dx;
        dense[size_t(from * Np + to)] += 1 - m;  // to_dense sums duplicates (there are none)
        dense[size_t(to * Np + from)] += 1 - m;
      }
  }
  // dense_aff[:-r, r:-r, :-r, r:-r]
  const int64_t N = H * W;
  Matrix a(size_t(N * N));
  for (int64_t i = 0; i < N; ++i)
    for (int64_t j = 0; j < N; ++j) {
      const int64_t pi = (i / W) * Wp + i % W + radius, pj = (j / W) * Wp + j % W + radius;
      a[size_t(i * N + j)] = std::pow(dense[size_t(pi * Np + pj)], beta);
    }
  for (int64_t j = 0; j < N; ++j) {
    double col = 0;
    for (int64_t i = 0; i < N; ++i) col += a[size_t(i * N + j)];
    for (int64_t i = 0; i < N; ++i) a[size_t(i * N + j)] /= col;
  }
  return a;
}

Matrix matmul(const Matrix& a, const Matrix& b, int64_t n) {
  Matrix c(size_t(n * n), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < n; ++k) {
      const double aik = a[size_t(i * n + k)];
      if (aik == 0) continue;
      const double* bk = b.data() + k * n;
      double* ci = c.data() + i * n;
      for (int64_t j = 0; j < n; ++j) ci[j] += aik * bk[j];
    }
  return c;
}

// rows (C x N) . T
std::vector<double> apply(const std::vector<double>& x, const Matrix& t, int64_t C, int64_t N) {
  std::vector<double> out(size_t(C * N), 0.0);
  for (int64_t c = 0; c < C; ++c)
    for (int64_t i = 0; i < N; ++i) {
      const double v = x[size_t(c * N + i)];
      for (int64_t j = 0; j < N; ++j) out[size_t(c * N + j)] += v * t[size_t(i * N + j)];
    }
  return out;
}

std::vector<double> masked_seeds(const std::vector<double>& seeds, const std::vector<double>& b,
                                 int64_t C, int64_t N) {
  std::vector<double> x(seeds);
  for (int64_t c = 0; c < C; ++c)
    for (int64_t i = 0; i < N; ++i) x[size_t(c * N + i)] *= 1 - b[size_t(i)];
  return x;
}

std::vector<double> stencil_walk(const std::vector<double>& b, const std::vector<double>& seeds,
                                 int64_t C, int64_t H, int64_t W, int steps, bool mask) {
  const IrnPairSet s = kernels::irn_pair_set(kernels::kIrnInferRadius);
  std::vector<unsigned char> ws(kc::irn_random_walk_workspace_bytes<double>(C, H, W, s));
  std::vector<double> out(size_t(C * H * W), -1);
  kc::irn_random_walk(b.data(), seeds.data(), C, H, W, s, 10.0, steps, mask, out.data(), ws.data(),
                      ws.size());
  return out;
}

struct WalkCase {
  int64_t C, H, W;
};

TEST(IrnRandomWalk, EqualsIrnDenseMatrixPower) {
  std::mt19937 rng(17);
  for (const WalkCase c : {WalkCase{3, 24, 22}, WalkCase{2, 17, 23}}) {
    SCOPED_TRACE(::testing::Message() << c.C << "x" << c.H << "x" << c.W);
    const int64_t N = c.H * c.W;
    const auto b = test_boundary(c.H, c.W, rng);
    std::vector<double> seeds(size_t(c.C * N));
    std::uniform_real_distribution<double> u(0, 1);
    for (auto& v : seeds) v = u(rng) < 0.05 ? u(rng) : 0.0;  // sparse seeds, as CAM peaks
    Matrix t = irn_dense_transition(b, c.H, c.W, kernels::kIrnInferRadius, 10.0);
    for (int e = 0; e < 8; ++e) t = matmul(t, t, N);  // exp_times = 8: T^256
    const auto ref = apply(masked_seeds(seeds, b, c.C, N), t, c.C, N);
    const auto got = stencil_walk(b, seeds, c.C, c.H, c.W, 256, true);
    double worst = 0, scale = 0;
    for (size_t i = 0; i < ref.size(); ++i) {
      worst = std::max(worst, std::fabs(got[i] - ref[i]));
      scale = std::max(scale, std::fabs(ref[i]));
    }
    std::printf(
        "[ walk    ] %lldx%lldx%lld: max |stencil - dense T^256| = %.3g (max |dense| %.3g)\n",
        static_cast<long long>(c.C), static_cast<long long>(c.H), static_cast<long long>(c.W),
        worst, scale);
    EXPECT_LE(worst, 1e-5) << "max |stencil - dense| (max |dense| " << scale << ")";
    EXPECT_GT(scale, 1e-3) << "the walk must carry mass";
  }
}

TEST(IrnRandomWalk, OddStepsAndNoMask) {
  std::mt19937 rng(19);
  const int64_t C = 2, H = 9, W = 13, N = H * W;
  const auto b = test_boundary(H, W, rng);
  std::vector<double> seeds(size_t(C * N));
  std::uniform_real_distribution<double> u(0, 1);
  for (auto& v : seeds) v = u(rng);
  const Matrix t = irn_dense_transition(b, H, W, kernels::kIrnInferRadius, 10.0);
  std::vector<double> x = seeds;
  for (int steps = 0; steps <= 3; ++steps) {
    SCOPED_TRACE(steps);
    const auto got = stencil_walk(b, seeds, C, H, W, steps, false);
    for (size_t i = 0; i < x.size(); ++i) ASSERT_NEAR(got[i], x[i], 1e-12);
    x = apply(x, t, C, N);
  }
  // mask_seeds with zero steps: seeds (1 - B).
  const auto m0 = stencil_walk(b, seeds, C, H, W, 0, true);
  const auto ref = masked_seeds(seeds, b, C, N);
  for (size_t i = 0; i < ref.size(); ++i) ASSERT_EQ(m0[i], ref[i]);
}

TEST(IrnRandomWalk, WeightsAreIrnColumns) {
  std::mt19937 rng(23);
  const int64_t H = 11, W = 8, N = H * W;
  const auto b = test_boundary(H, W, rng);
  const IrnPairSet s = kernels::irn_pair_set(5);
  const int K = 2 * s.num_directions + 1;
  std::vector<double> w(size_t(K * N));
  kc::irn_walk_weights(b.data(), H, W, s, 10.0, w.data());
  const Matrix t = irn_dense_transition(b, H, W, 5, 10.0);
  for (int64_t j = 0; j < N; ++j) {
    double sum = 0;
    for (int k = 0; k < K; ++k) {
      int oy, ox;
      kernels::irn_walk_offset(s, k, &oy, &ox);
      const int64_t y = j / W + oy, x = j % W + ox;
      const double wk = w[size_t(k * N + j)];
      sum += wk;
      if (y < 0 || y >= H || x < 0 || x >= W) {
        EXPECT_EQ(wk, 0.0);
        continue;
      }
      // T[i, j], i the neighbour; different summation order and pow: rounding only.
      EXPECT_NEAR(wk, t[size_t((y * W + x) * N + j)], 1e-13);
    }
    EXPECT_NEAR(sum, 1.0, 1e-14);
  }
}

// ---- labels and scores -----------------------------------------------------------------------

TEST(IrnWalkLabels, GlobalMaxBackgroundAndTies) {
  const int64_t C = 3, Hs = 4, Ws = 5, H = 3, W = 4;
  std::mt19937 rng(29);
  std::uniform_real_distribution<double> u(0, 2);
  std::vector<double> rw(size_t(C * Hs * Ws));
  for (auto& v : rw) v = u(rng);
  rw[size_t((1 * Hs + 3) * Ws + 4)] = 50;  // outside the window: must not set the max
  double m = 0;
  for (int64_t c = 0; c < C; ++c)
    for (int64_t y = 0; y < H; ++y)
      for (int64_t x = 0; x < W; ++x) m = std::max(m, rw[size_t((c * Hs + y) * Ws + x)]);
  // Pixel (0, 0): channel 0 exactly at the threshold, others below -> background.
  for (int64_t c = 0; c < C; ++c) rw[size_t(c * Hs * Ws)] = c == 0 ? 0.25 * m : 0.1 * m;
  // Pixel (0, 1): channels 1 and 2 tie above the threshold -> channel 1 (label 2).
  rw[size_t(1)] = 0.1 * m;
  rw[size_t(Hs * Ws + 1)] = 0.7 * m;
  rw[size_t(2 * Hs * Ws + 1)] = 0.7 * m;
  std::vector<int32_t> labels(size_t(H * W), -1);
  std::vector<double> norm(size_t(C * H * W));
  kc::irn_walk_labels(rw.data(), C, Hs, Ws, H, W, 0.25, labels.data(), norm.data(), nullptr);
  EXPECT_EQ(labels[0], 0);
  EXPECT_EQ(labels[1], 2);
  for (int64_t y = 0; y < H; ++y)
    for (int64_t x = 0; x < W; ++x) {
      double best = 0.25;
      int lab = 0;
      for (int64_t c = 0; c < C; ++c) {
        const double v = rw[size_t((c * Hs + y) * Ws + x)] / m;
        EXPECT_EQ(norm[size_t((c * H + y) * W + x)], v);
        if (v > best) best = v, lab = int(c + 1);
      }
      EXPECT_EQ(labels[size_t(y * W + x)], lab) << y << "," << x;
    }
  std::vector<uint8_t> masks(size_t(C * H * W));
  kc::irn_channel_masks(labels.data(), C, H, W, masks.data());
  for (int64_t c = 0; c < C; ++c)
    for (int64_t i = 0; i < H * W; ++i)
      EXPECT_EQ(masks[size_t(c * H * W + i)], labels[size_t(i)] == c + 1 ? 1 : 0);
}

// The whole post-walk chain as make_ins_seg_labels runs it: x4 bilinear upsample
// (kernels/upsample.h), crop to the image, divide by the global max, 0.25 background in front,
// argmax, split every channel into 4-connected components (kernels/components.h), score each.
// Reference: the torch/numpy/skimage steps written out here (bilinear with align_corners=False
// and scale 1/4, flood fill in raster order, np.max(score * mask), the 1% fragment rule).
TEST(IrnWalkLabels, InstanceChainAsIrn) {
  std::mt19937 rng(41);
  const int64_t C = 3, h = 7, w = 9, Hs = 4 * h, Ws = 4 * w, H = 26, W = 33;
  std::vector<double> rw(size_t(C * h * w));
  for (auto& v : rw) v = std::pow(std::uniform_real_distribution<double>(0, 1)(rng), 3);
  // Ours.
  std::vector<double> up(size_t(C * Hs * Ws));
  kc::upsample_bilinear2d_forward(rw.data(), C, h, w, Hs, Ws, false, up.data());
  std::vector<int32_t> labels(size_t(H * W));
  std::vector<double> norm(size_t(C * H * W));
  kc::irn_walk_labels(up.data(), C, Hs, Ws, H, W, 0.25, labels.data(), norm.data(), nullptr);
  std::vector<uint8_t> masks(size_t(C * H * W));
  kc::irn_channel_masks(labels.data(), C, H, W, masks.data());
  std::vector<int32_t> comp(static_cast<size_t>(C * H * W)), counts(static_cast<size_t>(C));
  kc::label_components(masks.data(), C, H, W, 4, comp.data(), counts.data(), nullptr);
  const int64_t K = 64;
  std::vector<double> scores(size_t(C * K));
  std::vector<int32_t> areas(size_t(C * K));
  kc::irn_instance_scores(norm.data(), comp.data(), counts.data(), C, H, W, K, 0.01, scores.data(),
                          areas.data());
  // Reference.
  auto src = [](int64_t o, int64_t in) {  // torch: (o + 0.5) * scale - 0.5, clamped at 0
    const double s = std::max(0.0, (o + 0.5) * 0.25 - 0.5);
    const int64_t i0 = std::min<int64_t>(static_cast<int64_t>(s), in - 1);
    const int64_t i1 = i0 + (i0 < in - 1 ? 1 : 0);
    return std::make_tuple(i0, i1, s - double(i0));
  };
  std::vector<double> ref(size_t(C * H * W));
  double m = -1;
  for (int64_t c = 0; c < C; ++c)
    for (int64_t y = 0; y < H; ++y)
      for (int64_t x = 0; x < W; ++x) {
        const auto [y0, y1, fy] = src(y, h);
        const auto [x0, x1, fx] = src(x, w);
        const double* p = rw.data() + c * h * w;
        const double v = (1 - fy) * ((1 - fx) * p[y0 * w + x0] + fx * p[y0 * w + x1]) +
                         fy * ((1 - fx) * p[y1 * w + x0] + fx * p[y1 * w + x1]);
        ref[size_t((c * H + y) * W + x)] = v;
        m = std::max(m, v);
      }
  for (auto& v : ref) v /= m;
  for (size_t i = 0; i < ref.size(); ++i) ASSERT_NEAR(norm[i], ref[i], 1e-12);
  int total_instances = 0;
  for (int64_t c = 0; c < C; ++c) {
    // Flood fill of channel c's argmax region in raster order of first pixels.
    std::vector<int> seen(size_t(H * W), 0);
    int k = 0;
    for (int64_t start = 0; start < H * W; ++start) {
      if (seen[size_t(start)] || labels[size_t(start)] != c + 1) continue;
      ++k;
      std::vector<int64_t> stack = {start};
      seen[size_t(start)] = 1;
      int area = 0;
      double best = 0;  // np.max(score * mask): the zeros outside count
      while (!stack.empty()) {
        const int64_t p = stack.back();
        stack.pop_back();
        ++area;
        best = std::max(best, ref[size_t(c * H * W + p)]);
        const int64_t y = p / W, x = p % W;
        const int64_t nb[4][2] = {{y - 1, x}, {y + 1, x}, {y, x - 1}, {y, x + 1}};
        for (const auto& q : nb) {
          if (q[0] < 0 || q[0] >= H || q[1] < 0 || q[1] >= W) continue;
          const int64_t qi = q[0] * W + q[1];
          if (seen[size_t(qi)] || labels[size_t(qi)] != c + 1) continue;
          seen[size_t(qi)] = 1;
          stack.push_back(qi);
        }
      }
      ASSERT_LE(k, K);
      EXPECT_EQ(areas[size_t(c * K + k - 1)], area) << c << " " << k;
      EXPECT_NEAR(scores[size_t(c * K + k - 1)], area < 0.01 * H * W ? 0.0 : best, 1e-12);
    }
    EXPECT_EQ(counts[size_t(c)], k);
    total_instances += k;
  }
  EXPECT_GT(total_instances, C) << "the test image should split some channel";
}

TEST(IrnInstanceScores, MaxInsideAndSmallFragments) {
  // 2 channels on 10x10: channel 0 has components 1 (30 px) and 2 (1 px, below 1% + 0.5 ...),
  // channel 1 has component 1 (5 px).
  const int64_t C = 2, H = 10, W = 10, P = H * W, K = 3;
  std::vector<double> norm(size_t(C * P));
  for (size_t i = 0; i < norm.size(); ++i) norm[i] = double((i * 37) % 101) / 100.0;
  std::vector<int32_t> comp(size_t(C * P), 0);
  for (int i = 0; i < 30; ++i) comp[size_t(i)] = 1;
  comp[size_t(55)] = 2;
  for (int i = 0; i < 5; ++i) comp[size_t(P + 70 + i)] = 1;
  const std::vector<int32_t> counts = {2, 1};
  std::vector<double> scores(size_t(C * K), -1);
  std::vector<int32_t> areas(size_t(C * K), -1);
  kc::irn_instance_scores(norm.data(), comp.data(), counts.data(), C, H, W, K, 0.02, scores.data(),
                          areas.data());
  double m1 = 0, m3 = 0;
  for (int i = 0; i < 30; ++i) m1 = std::max(m1, norm[size_t(i)]);
  for (int i = 0; i < 5; ++i) m3 = std::max(m3, norm[size_t(P + 70 + i)]);
  EXPECT_EQ(areas, (std::vector<int32_t>{30, 1, 0, 5, 0, 0}));
  // Area 1 < 0.02 * 100: score 0.
  EXPECT_EQ(scores, (std::vector<double>{m1, 0.0, 0.0, m3, 0.0, 0.0}));
}

// ---- CUDA parity -----------------------------------------------------------------------------

#if WSVIS_WITH_CUDA
template <typename T>
Tensor dev(const std::vector<T>& v, const ContextPtr& gpu) {
  return Tensor::from_vector(v, {static_cast<int64_t>(v.size())}, gpu);
}

TEST(IrnRandomWalkCuda, WalkParity) {
  WSVIS_REQUIRE_CUDA();
  const ContextPtr gpu = Context::create(Device::cuda(0));
  const cudaStream_t st = gpu->stream();
  std::mt19937 rng(31);
  struct Case {
    int64_t C, H, W;
    int steps;
  };
  const IrnPairSet s = kernels::irn_pair_set(5);
  for (const Case c :
       {Case{21, 47, 61, 256}, Case{5, 1, 1, 3}, Case{3, 9, 130, 255}, Case{1, 24, 22, 1},
        Case{2, 5, 7, 0}, Case{0, 8, 8, 256}, Case{3, 0, 8, 256}}) {
    SCOPED_TRACE(::testing::Message() << c.C << "x" << c.H << "x" << c.W << " steps " << c.steps);
    const int64_t P = c.H * c.W;
    const auto bd = test_boundary(c.H, c.W, rng);
    std::vector<float> b(bd.begin(), bd.end()), seeds(size_t(c.C * P));
    for (auto& v : seeds) v = std::uniform_real_distribution<float>(0, 1)(rng);
    std::vector<float> ref(seeds.size());
    std::vector<unsigned char> hws(kc::irn_random_walk_workspace_bytes<float>(c.C, c.H, c.W, s));
    kc::irn_random_walk(b.data(), seeds.data(), c.C, c.H, c.W, s, 10.0f, c.steps, true, ref.data(),
                        hws.data(), hws.size());
    const size_t wsb = kernels::cuda::irn_random_walk_workspace_bytes<float>(c.C, c.H, c.W, s);
    Tensor ws = Tensor::zeros({int64_t(wsb) + 1}, DType::u8, gpu);
    Tensor db = dev(b, gpu), ds = dev(seeds, gpu);
    Tensor dout = Tensor::zeros({c.C * P + 1}, DType::f32, gpu);
    kernels::cuda::irn_random_walk(st, db.data<float>(), ds.data<float>(), c.C, c.H, c.W, s, 10.0f,
                                   c.steps, true, dout.data<float>(), ws.raw_data(), wsb);
    gpu->synchronize();
    const auto got = dout.to_vector<float>();
    // Each step is a convex combination of 69 values: float rounding (FMA on the GPU, not on
    // the CPU) adds a few ulp per step and does not grow; 256 steps stay well inside 2e-4.
    for (size_t i = 0; i < ref.size(); ++i)
      ASSERT_NEAR(got[i], ref[i], 1e-5 + 2e-4 * std::fabs(ref[i])) << "element " << i;
  }
}

TEST(IrnRandomWalkCuda, LabelsAndScoresParity) {
  WSVIS_REQUIRE_CUDA();
  const ContextPtr gpu = Context::create(Device::cuda(0));
  const cudaStream_t st = gpu->stream();
  std::mt19937 rng(37);
  struct Case {
    int64_t C, Hs, Ws, H, W;
  };
  for (const Case c : {Case{4, 37, 41, 35, 40}, Case{1, 1, 1, 1, 1}, Case{21, 500, 380, 500, 375},
                       Case{3, 5, 5, 0, 5}}) {
    SCOPED_TRACE(::testing::Message() << c.C << "x" << c.H << "x" << c.W);
    std::vector<float> rw(size_t(c.C * c.Hs * c.Ws));
    for (auto& v : rw) v = std::uniform_real_distribution<float>(0, 3)(rng);
    const int64_t P = c.H * c.W;
    std::vector<int32_t> lab(static_cast<size_t>(P));
    std::vector<float> norm(size_t(c.C * P));
    kc::irn_walk_labels(rw.data(), c.C, c.Hs, c.Ws, c.H, c.W, 0.25f, lab.data(), norm.data(),
                        nullptr);
    std::vector<uint8_t> masks(size_t(c.C * P));
    kc::irn_channel_masks(lab.data(), c.C, c.H, c.W, masks.data());
    // Components: stripes of 7 rows per channel, numbered per channel (any labelling works).
    const int64_t K = 8;
    std::vector<int32_t> comp(size_t(c.C * P)), counts(size_t(c.C), 0);
    for (int64_t ch = 0; ch < c.C; ++ch)
      for (int64_t i = 0; i < P; ++i) {
        const int32_t k = masks[size_t(ch * P + i)] ? int32_t((i / c.W) / 7 + 1) : 0;
        comp[size_t(ch * P + i)] = k;
        counts[size_t(ch)] = std::max(counts[size_t(ch)], k);
      }
    std::vector<float> scores(size_t(c.C * K));
    std::vector<int32_t> areas(size_t(c.C * K));
    kc::irn_instance_scores(norm.data(), comp.data(), counts.data(), c.C, c.H, c.W, K, 0.01,
                            scores.data(), areas.data());
    namespace kg = kernels::cuda;
    Tensor drw = dev(rw, gpu), dcomp = dev(comp, gpu), dcounts = dev(counts, gpu);
    Tensor dlab = Tensor::zeros({P + 1}, DType::i32, gpu);
    Tensor dnorm = Tensor::zeros({c.C * P + 1}, DType::f32, gpu);
    Tensor dmasks = Tensor::zeros({c.C * P + 1}, DType::u8, gpu);
    Tensor dscores = Tensor::zeros({c.C * K + 1}, DType::f32, gpu);
    Tensor dareas = Tensor::zeros({c.C * K + 1}, DType::i32, gpu);
    Tensor ws = Tensor::zeros({int64_t(kg::irn_walk_labels_workspace_bytes())}, DType::u8, gpu);
    kg::irn_walk_labels(st, drw.data<float>(), c.C, c.Hs, c.Ws, c.H, c.W, 0.25f,
                        dlab.data<int32_t>(), dnorm.data<float>(), ws.raw_data());
    kg::irn_channel_masks(st, dlab.data<int32_t>(), c.C, c.H, c.W, dmasks.data<uint8_t>());
    kg::irn_instance_scores(st, dnorm.data<float>(), dcomp.data<int32_t>(), dcounts.data<int32_t>(),
                            c.C, c.H, c.W, K, 0.01, dscores.data<float>(), dareas.data<int32_t>());
    gpu->synchronize();
    // Same float division and comparisons: exact.
    const auto glab = dlab.to_vector<int32_t>();
    const auto gnorm = dnorm.to_vector<float>();
    const auto gmasks = dmasks.to_vector<uint8_t>();
    const auto gscores = dscores.to_vector<float>();
    const auto gareas = dareas.to_vector<int32_t>();
    for (int64_t i = 0; i < P; ++i) ASSERT_EQ(glab[size_t(i)], lab[size_t(i)]) << i;
    for (int64_t i = 0; i < c.C * P; ++i) {
      ASSERT_EQ(gnorm[size_t(i)], norm[size_t(i)]) << i;
      ASSERT_EQ(gmasks[size_t(i)], masks[size_t(i)]) << i;
    }
    for (int64_t i = 0; i < c.C * K; ++i) {
      ASSERT_EQ(gscores[size_t(i)], scores[size_t(i)]) << i;
      ASSERT_EQ(gareas[size_t(i)], areas[size_t(i)]) << i;
    }
  }
}
#endif

}  // namespace
}  // namespace wsvis
