// Tests of the BoxInst projection loss (kernels/pairwise.h, projection_loss_*).
//  - Forward against a naive reference written from AdelaiDet's compute_project_term and
//    dice_coefficient (in double): the box bitmask built pixel by pixel, max over dim 2 and
//    dim 3, dice with eps 1e-5 and squared terms, mean over instances of the sum.
//  - Gradient by central differences in double (probabilities with distinct values per row and
//    column, so each max is differentiable); ties send the gradient to the first maximum.
//  - Empty boxes (zero target projections), K = 0.
//  - CUDA parity against the CPU twin on odd and empty sizes, with ties (skipped without a GPU).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "kernels/pairwise.h"
#include "tests/support/testing.h"

namespace wsvis {
namespace {

using testing::all_close;
using testing::uniform;

namespace kc = kernels::cpu;

// Rects (x0, y0, x1, y1) inclusive: interior, touching edges, whole map, empty.
std::vector<int32_t> random_rects(int64_t K, int64_t H, int64_t W, std::mt19937& rng) {
  std::vector<int32_t> r(4 * K);
  for (int64_t k = 0; k < K; ++k) {
    int32_t* b = r.data() + 4 * k;
    switch (k % 4) {
      case 0: b[0] = 0, b[1] = 0, b[2] = int32_t(W - 1), b[3] = int32_t(H - 1); break;
      case 1: b[0] = 0, b[1] = 0, b[2] = -1, b[3] = -1; break;  // empty
      default: {
        const int32_t x0 = int32_t(rng() % W), y0 = int32_t(rng() % H);
        b[0] = x0, b[1] = y0;
        b[2] = x0 + int32_t(rng() % (W - x0)), b[3] = y0 + int32_t(rng() % (H - y0));
      }
    }
  }
  return r;
}

double ref_dice(const std::vector<double>& x, const std::vector<double>& t) {
  double inter = 0, uni = 1e-5;
  for (size_t i = 0; i < x.size(); ++i) {
    inter += x[i] * t[i];
    uni += x[i] * x[i] + t[i] * t[i];
  }
  return 1.0 - 2.0 * inter / uni;
}

// AdelaiDet compute_project_term(mask_scores, gt_bitmasks).
double ref_projection(const std::vector<double>& probs, const std::vector<int32_t>& rects,
                      int64_t K, int64_t H, int64_t W) {
  if (K == 0) return 0;
  double total = 0;
  for (int64_t k = 0; k < K; ++k) {
    const int32_t* r = rects.data() + 4 * k;
    std::vector<double> bm(H * W);
    for (int64_t y = 0; y < H; ++y)
      for (int64_t x = 0; x < W; ++x) bm[y * W + x] = x >= r[0] && x <= r[2] && y >= r[1] && y <= r[3];
    std::vector<double> px(W, -1e300), tx(W, 0), py(H, -1e300), ty(H, 0);
    for (int64_t y = 0; y < H; ++y)
      for (int64_t x = 0; x < W; ++x) {
        const double p = probs[(k * H + y) * W + x], b = bm[y * W + x];
        px[x] = std::max(px[x], p);
        tx[x] = std::max(tx[x], b);
        py[y] = std::max(py[y], p);
        ty[y] = std::max(ty[y], b);
      }
    total += ref_dice(px, tx) + ref_dice(py, ty);
  }
  return total / double(K);
}

template <typename T>
struct ProjOut {
  T loss;
  std::vector<T> stats;
  std::vector<int32_t> ax, ay;
};

template <typename T>
ProjOut<T> run_forward(const std::vector<T>& probs, const std::vector<int32_t>& rects, int64_t K,
                       int64_t H, int64_t W) {
  ProjOut<T> o{T(-1), std::vector<T>(4 * K), std::vector<int32_t>(K * W, -1),
               std::vector<int32_t>(K * H, -1)};
  kc::projection_loss_forward(probs.data(), rects.data(), K, H, W, kernels::kProjectionDiceEps,
                              &o.loss, o.stats.data(), o.ax.data(), o.ay.data());
  return o;
}

TEST(ProjectionLoss, MatchesAdelaiDetReference) {
  std::mt19937 rng(21);
  struct Size { int64_t K, H, W; };
  for (const Size s : {Size{8, 17, 23}, Size{5, 1, 9}, Size{4, 12, 1}, Size{9, 50, 84}}) {
    SCOPED_TRACE(::testing::Message() << s.K << "x" << s.H << "x" << s.W);
    const std::vector<double> probs = uniform<double>(s.K * s.H * s.W, 0, 1, rng);
    const std::vector<int32_t> rects = random_rects(s.K, s.H, s.W, rng);
    const double ref = ref_projection(probs, rects, s.K, s.H, s.W);
    const ProjOut<double> o = run_forward(probs, rects, s.K, s.H, s.W);
    EXPECT_NEAR(o.loss, ref, 1e-13 * std::fabs(ref) + 1e-15);
    const std::vector<float> pf(probs.begin(), probs.end());
    const ProjOut<float> of = run_forward(pf, rects, s.K, s.H, s.W);
    EXPECT_NEAR(of.loss, ref, 1e-5 * std::fabs(ref) + 1e-7);  // float inputs, double sums
    // The argmaxes point at the maxima.
    for (int64_t k = 0; k < s.K; ++k) {
      for (int64_t x = 0; x < s.W; ++x) {
        double m = -1;
        for (int64_t y = 0; y < s.H; ++y) m = std::max(m, probs[(k * s.H + y) * s.W + x]);
        EXPECT_EQ(probs[(k * s.H + o.ax[k * s.W + x]) * s.W + x], m);
      }
      for (int64_t y = 0; y < s.H; ++y) {
        double m = -1;
        for (int64_t x = 0; x < s.W; ++x) m = std::max(m, probs[(k * s.H + y) * s.W + x]);
        EXPECT_EQ(probs[(k * s.H + y) * s.W + o.ay[k * s.H + y]], m);
      }
    }
  }
}

TEST(ProjectionLoss, EmptyBoxTargetsAreZeroAndKZeroGivesZero) {
  // A single instance with an empty box: both target profiles are 0, so dice = 1 - 0 = 1 each.
  const int64_t H = 3, W = 4;
  const std::vector<double> probs(H * W, 0.25);
  const std::vector<int32_t> empty = {2, 2, 1, 1};
  EXPECT_NEAR(run_forward(probs, empty, 1, H, W).loss, 2.0, 1e-15);
  // A rect entirely off the map is empty too.
  const std::vector<int32_t> off = {0, 5, 3, 7};
  EXPECT_NEAR(run_forward(probs, off, 1, H, W).loss, 2.0, 1e-15);
  double loss = -1;
  kc::projection_loss_forward<double>(nullptr, nullptr, 0, H, W, 1e-5, &loss, nullptr, nullptr,
                                      nullptr);
  EXPECT_EQ(loss, 0.0);
}

// Central differences of the forward against the raw-pointer backward, in double. Values are
// at least 1e-3 apart in every row and column (a shuffled ramp plus small noise), so eps 1e-7
// never changes an argmax and the loss is smooth around the point.
TEST(ProjectionLoss, GradientMatchesCentralDifferences) {
  std::mt19937 rng(22);
  const int64_t K = 6, H = 9, W = 11, plane = H * W;
  std::vector<double> probs(K * plane);
  for (int64_t k = 0; k < K; ++k) {
    std::vector<int> order(plane);
    for (int i = 0; i < int(plane); ++i) order[i] = i;
    std::shuffle(order.begin(), order.end(), rng);
    for (int64_t i = 0; i < plane; ++i)
      probs[k * plane + i] = 0.02 + 0.96 * order[size_t(i)] / double(plane);
  }
  const std::vector<int32_t> rects = random_rects(K, H, W, rng);
  const ProjOut<double> o = run_forward(probs, rects, K, H, W);
  const double gl = 0.8;
  std::vector<double> grad(K * plane, 99.0);
  kc::projection_loss_backward(probs.data(), rects.data(), K, H, W, o.stats.data(), o.ax.data(),
                               o.ay.data(), &gl, grad.data());
  const double eps = 1e-7;
  std::vector<double> p = probs, numeric(p.size());
  for (size_t i = 0; i < p.size(); ++i) {
    const double saved = p[i];
    p[i] = saved + eps;
    const double plus = run_forward(p, rects, K, H, W).loss;
    p[i] = saved - eps;
    const double minus = run_forward(p, rects, K, H, W).loss;
    p[i] = saved;
    numeric[i] = gl * (plus - minus) / (2 * eps);
  }
  EXPECT_TRUE(all_close(grad, numeric, 1e-8, 1e-6));
  // Only argmax pixels carry gradient.
  for (int64_t k = 0; k < K; ++k)
    for (int64_t y = 0; y < H; ++y)
      for (int64_t x = 0; x < W; ++x)
        if (o.ax[k * W + x] != y && o.ay[k * H + y] != x) {
          EXPECT_EQ(grad[(k * H + y) * W + x], 0.0);
        }
}

TEST(ProjectionLoss, TiesGoToTheFirstMaximum) {
  const int64_t H = 4, W = 5;
  const std::vector<double> probs(H * W, 0.5);  // every row and column is one big tie
  const std::vector<int32_t> rect = {1, 1, 3, 2};
  const ProjOut<double> o = run_forward(probs, rect, 1, H, W);
  for (int64_t x = 0; x < W; ++x) EXPECT_EQ(o.ax[x], 0);
  for (int64_t y = 0; y < H; ++y) EXPECT_EQ(o.ay[y], 0);
  const double gl = 1;
  std::vector<double> grad(H * W);
  kc::projection_loss_backward(probs.data(), rect.data(), 1, H, W, o.stats.data(), o.ax.data(),
                               o.ay.data(), &gl, grad.data());
  for (int64_t y = 0; y < H; ++y)
    for (int64_t x = 0; x < W; ++x)
      if (y != 0 && x != 0) {
        EXPECT_EQ(grad[y * W + x], 0.0) << y << "," << x;
      } else {
        EXPECT_NE(grad[y * W + x], 0.0) << y << "," << x;
      }
}

// ---- CUDA parity ----------------------------------------------------------------------------
#if WSVIS_WITH_CUDA
namespace kg = kernels::cuda;

template <typename T>
Tensor dev(std::vector<T> v, const ContextPtr& gpu) {
  if (v.empty()) v.resize(1);
  return Tensor::from_vector(v, {static_cast<int64_t>(v.size())}, gpu);
}
template <typename T>
std::vector<T> host(const Tensor& t, size_t n) {
  std::vector<T> v = t.to_vector<T>();
  v.resize(n);
  return v;
}

template <typename T>
void projection_parity(double atol, double rtol) {
  const ContextPtr gpu = Context::create(Device::cuda(0));
  cudaStream_t st = gpu->stream();
  std::mt19937 rng(41);
  struct Case { int64_t K, H, W; };
  for (const Case s : {Case{1, 1, 1}, Case{7, 23, 37}, Case{3, 50, 67}, Case{5, 200, 33},
                       Case{0, 4, 4}, Case{2, 0, 5}, Case{2, 5, 0}})
    for (bool ties : {false, true}) {
      SCOPED_TRACE(::testing::Message() << s.K << "x" << s.H << "x" << s.W << " ties " << ties);
      const int64_t n = s.K * s.H * s.W;
      std::vector<T> probs = uniform<T>(n, 0, 1, rng);
      if (ties)  // a handful of levels: many exact ties, the first must win on both twins
        for (auto& v : probs) v = T(std::floor(double(v) * 4) / 4);
      const std::vector<int32_t> rects =
          random_rects(s.K, std::max<int64_t>(s.H, 1), std::max<int64_t>(s.W, 1), rng);
      T loss;
      std::vector<T> stats(4 * s.K);
      std::vector<int32_t> ax(s.K * s.W), ay(s.K * s.H);
      kc::projection_loss_forward(probs.data(), rects.data(), s.K, s.H, s.W, 1e-5, &loss,
                                  stats.data(), ax.data(), ay.data());
      const T gl = T(1.3);
      std::vector<T> grad(n);
      kc::projection_loss_backward(probs.data(), rects.data(), s.K, s.H, s.W, stats.data(),
                                   ax.data(), ay.data(), &gl, grad.data());
      Tensor dp = dev(probs, gpu), dr = dev(rects, gpu), dloss = dev(std::vector<T>{T(-9)}, gpu);
      Tensor dstats = dev(std::vector<T>(stats.size(), T(-9)), gpu);
      Tensor dax = dev(std::vector<int32_t>(ax.size(), -9), gpu), day = dev(std::vector<int32_t>(ay.size(), -9), gpu);
      kg::projection_loss_forward(st, dp.data<T>(), dr.data<int32_t>(), s.K, s.H, s.W, 1e-5,
                                  dloss.data<T>(), dstats.data<T>(), dax.data<int32_t>(),
                                  day.data<int32_t>());
      EXPECT_TRUE(all_close(host<T>(dloss, 1), std::vector<T>{loss}, atol, rtol)) << "loss";
      EXPECT_TRUE(all_close(host<T>(dstats, stats.size()), stats, atol, rtol)) << "stats";
      EXPECT_EQ(host<int32_t>(dax, ax.size()), ax) << "column argmax";
      EXPECT_EQ(host<int32_t>(day, ay.size()), ay) << "row argmax";
      Tensor dgl = dev(std::vector<T>{gl}, gpu), dg = dev(std::vector<T>(n, T(-9)), gpu);
      kg::projection_loss_backward(st, dp.data<T>(), dr.data<int32_t>(), s.K, s.H, s.W,
                                   dstats.data<T>(), dax.data<int32_t>(), day.data<int32_t>(),
                                   dgl.data<T>(), dg.data<T>());
      EXPECT_TRUE(all_close(host<T>(dg, n), grad, atol, rtol)) << "gradient";
    }
}

// Sums of at most a few hundred squares in double on both sides, in different orders.
TEST(ProjectionLossCuda, ParityFloat) {
  WSVIS_REQUIRE_CUDA();
  projection_parity<float>(1e-6, 1e-5);
}
TEST(ProjectionLossCuda, ParityDouble) {
  WSVIS_REQUIRE_CUDA();
  projection_parity<double>(1e-13, 1e-12);
}
#endif

}  // namespace
}  // namespace wsvis
