// IRN / flowIRN training ops (engine/ops/irn.h): forward values against the raw kernel calls,
// gradients against central differences in double (path affinity, IRN loss total and terms,
// flow-boundary loss, and the chain boundary -> affinity -> loss), misuse errors, CUDA parity
// with the CPU (skipped without a GPU), and a tiny run where IRN's loss learns a boundary.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "engine/ops/elementwise.h"
#include "engine/ops/irn.h"
#include "tests/support/testing.h"

namespace wsvis {
namespace {

using kernels::IrnPairSet;
using testing::cpu_context;
using testing::gradcheck;
using testing::tensors_close;

// The ops call the same kernels as the references below, in the same order: equal to rounding.
constexpr double kSameKernelTol = 0;
// Path maxima and |.| are piecewise smooth; the inputs below keep every value at least ~1e-3
// from a kink, far beyond eps 1e-6, so central differences are exact to ~1e-10 there.
const testing::GradcheckOptions kPiecewise{1e-6, 1e-7, 1e-5, 7};
// f32 CUDA vs f32 CPU: path maxima are exact; the loss reductions add in another order in
// double and round once to f32 (a few ulps), gradients differ by atomics order (affinity) only.
constexpr double kParityAtol = 1e-5, kParityRtol = 1e-4;

// Boundary values (N, 1, H, W) in [0.05, 0.95] that are pairwise at least 0.9 / (N H W) apart
// (a shuffled ramp), so every path max has a unique arg-max with a margin.
Tensor ramp_boundary(int64_t N, int64_t H, int64_t W, uint64_t seed, const ContextPtr& ctx,
                     DType dtype = DType::f64) {
  const int64_t n = N * H * W;
  std::vector<double> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), 0.0);
  std::mt19937 rng(static_cast<unsigned>(seed));
  std::shuffle(v.begin(), v.end(), rng);
  for (double& x : v) x = 0.05 + 0.9 * x / double(n);
  return Tensor::from_vector<double>(v, {N, 1, H, W}, ctx, dtype);
}

// IR labels (N, H, W) u8 with background, two classes and ignored pixels: every pair kind.
Tensor mixed_labels(int64_t N, int64_t H, int64_t W, uint64_t seed, const ContextPtr& ctx) {
  Generator gen(seed);
  std::vector<uint8_t> v(static_cast<size_t>(N * H * W));
  for (int64_t n = 0; n < N; ++n)
    for (int64_t y = 0; y < H; ++y)
      for (int64_t x = 0; x < W; ++x) {
        // Blocks of classes so positive pairs are common, a sprinkle of ignore.
        uint8_t l = x < W / 3 ? 0 : (y < H / 2 ? 1 : 2);
        if (gen.uniform(0, 1) < 0.1) l = kernels::kIrnIgnoreLabel;
        v[static_cast<size_t>((n * H + y) * W + x)] = l;
      }
  return Tensor::from_vector<uint8_t>(v, {N, H, W}, ctx);
}

// Random displacements: the pair differences are random reals, so each lies within eps of its
// |.| kink (0, or the integer target) with probability ~1e-6; the fixed seeds pin the draw.
Tensor clear_displacement(int64_t N, int64_t H, int64_t W, uint64_t seed, const ContextPtr& ctx,
                          DType dtype = DType::f64) {
  Generator gen(seed);
  return Tensor::uniform({N, 2, H, W}, -3, 3, gen, ctx, dtype);
}

using testing::expect_error;

// ---- irn_path_affinity -------------------------------------------------------------------------

TEST(IrnPathAffinity, ForwardEqualsKernel) {
  const auto ctx = cpu_context();
  const IrnPairSet set = kernels::irn_pair_set(4);
  const Tensor b = ramp_boundary(2, 1, 9, 3, ctx).view({2, 1, 3, 3});  // tiny odd case
  const Tensor b2 = ramp_boundary(2, 7, 10, 4, ctx);
  for (const Tensor& boundary : {b, b2}) {
    const Tensor alpha = ops::irn_path_affinity(boundary, set);
    ASSERT_EQ(alpha.shape(), Shape({boundary.size(0), set.num_directions, boundary.size(2),
                                    boundary.size(3)}));
    std::vector<double> ref(static_cast<size_t>(alpha.numel()));
    kernels::cpu::irn_affinity_forward<double>(boundary.data<double>(), boundary.size(0),
                                               boundary.size(2), boundary.size(3), set, ref.data());
    EXPECT_TRUE(testing::all_close(alpha.to_vector<double>(), ref, kSameKernelTol, 0));
    EXPECT_FALSE(alpha.requires_grad());
  }
}

TEST(IrnPathAffinity, Gradcheck) {
  const auto ctx = cpu_context();
  const IrnPairSet set = kernels::irn_pair_set(3);
  Tensor boundary = ramp_boundary(2, 6, 7, 5, ctx);
  boundary.set_requires_grad(true);
  EXPECT_TRUE(gradcheck([&](const std::vector<Tensor>& xs) { return ops::irn_path_affinity(xs[0], set); },
                        {boundary}, kPiecewise));
}

TEST(IrnPathAffinity, Errors) {
  const auto ctx = cpu_context();
  const IrnPairSet set = kernels::irn_pair_set(3);
  expect_error([&] { ops::irn_path_affinity(Tensor::zeros({1, 2, 4, 4}, DType::f32, ctx), set); },
               "(N, 1, H, W)");
  expect_error([&] { ops::irn_path_affinity(Tensor::zeros({1, 4, 4}, DType::f32, ctx), set); },
               "(N, 1, H, W)");
  expect_error([&] { ops::irn_path_affinity(Tensor::zeros({1, 1, 4, 4}, DType::i32, ctx), set); },
               "f32 or f64");
  expect_error(
      [&] { ops::irn_path_affinity(Tensor::zeros({1, 1, 4, 4}, DType::f32, ctx), IrnPairSet{}); },
      "irn_pair_set");
}

// ---- irn_loss ----------------------------------------------------------------------------------

struct LossCase {
  int64_t N, H, W;
  int radius;
  bool crop;
};

TEST(IrnLoss, StatsEqualKernelAndTermsAreSlices) {
  const auto ctx = cpu_context();
  for (const LossCase& c : {LossCase{2, 8, 9, 3, false}, LossCase{2, 8, 9, 3, true},
                            LossCase{1, 12, 15, 5, true}}) {
    SCOPED_TRACE(::testing::Message() << "radius " << c.radius << " crop " << c.crop);
    const IrnPairSet set = kernels::irn_pair_set(c.radius);
    Generator gen(11);
    const Tensor aff = Tensor::uniform({c.N, set.num_directions, c.H, c.W}, 0.1, 0.9, gen, ctx,
                                       DType::f64);
    const Tensor disp = clear_displacement(c.N, c.H, c.W, 12, ctx);
    const Tensor lab = mixed_labels(c.N, c.H, c.W, 13, ctx);
    const ops::IrnLossTerms terms = ops::irn_loss(aff, disp, lab, set, c.crop);
    std::vector<double> ref(kernels::kIrnLossStats);
    kernels::cpu::irn_loss_forward<double>(aff.data<double>(), disp.data<double>(),
                                           lab.data<uint8_t>(), c.N, c.H, c.W, set, c.crop,
                                           ref.data(), nullptr, 0);
    EXPECT_TRUE(testing::all_close(terms.stats.to_vector<double>(), ref, kSameKernelTol, 0));
    // Every pair kind is present, so every term is exercised by the gradchecks.
    EXPECT_GT(ref[kernels::kIrnCountBgPos], 0);
    EXPECT_GT(ref[kernels::kIrnCountFgPos], 0);
    EXPECT_GT(ref[kernels::kIrnCountNeg], 0);
    EXPECT_EQ(terms.total.dim(), 0);
    EXPECT_DOUBLE_EQ(terms.total.item<double>(), ref[kernels::kIrnLossTotal]);
    EXPECT_DOUBLE_EQ(terms.term(kernels::kIrnLossNeg).item<double>(), ref[kernels::kIrnLossNeg]);
    EXPECT_FALSE(terms.stats.requires_grad());
  }
}

TEST(IrnLoss, GradcheckTotalAndTerms) {
  const auto ctx = cpu_context();
  for (const LossCase& c : {LossCase{2, 7, 8, 3, false}, LossCase{2, 7, 8, 3, true}}) {
    SCOPED_TRACE(::testing::Message() << "crop " << c.crop);
    const IrnPairSet set = kernels::irn_pair_set(c.radius);
    Generator gen(21);
    Tensor aff = Tensor::uniform({c.N, set.num_directions, c.H, c.W}, 0.1, 0.9, gen, ctx,
                                 DType::f64);
    Tensor disp = clear_displacement(c.N, c.H, c.W, 22, ctx);
    const Tensor lab = mixed_labels(c.N, c.H, c.W, 23, ctx);
    aff.set_requires_grad(true);
    disp.set_requires_grad(true);
    EXPECT_TRUE(gradcheck(
        [&](const std::vector<Tensor>& xs) { return ops::irn_loss(xs[0], xs[1], lab, set, c.crop).total; },
        {aff, disp}, kPiecewise));
    // All nine slots under one random projection: the five terms and the total get their own
    // upstream gradients (the counts are constants: 0 both ways).
    EXPECT_TRUE(gradcheck(
        [&](const std::vector<Tensor>& xs) { return ops::irn_loss(xs[0], xs[1], lab, set, c.crop).terms; },
        {aff, disp}, kPiecewise));
    EXPECT_TRUE(gradcheck(
        [&](const std::vector<Tensor>& xs) {
          return ops::irn_loss(xs[0], xs[1], lab, set, c.crop).term(kernels::kIrnLossDpFg);
        },
        {aff, disp}, kPiecewise));
  }
}

TEST(IrnLoss, GradcheckThroughPathAffinity) {
  const auto ctx = cpu_context();
  const IrnPairSet set = kernels::irn_pair_set(3);
  Tensor boundary = ramp_boundary(1, 7, 8, 31, ctx);
  boundary.set_requires_grad(true);
  const Tensor disp = clear_displacement(1, 7, 8, 32, ctx);
  const Tensor lab = mixed_labels(1, 7, 8, 33, ctx);
  EXPECT_TRUE(gradcheck(
      [&](const std::vector<Tensor>& xs) {
        return ops::irn_loss(ops::irn_path_affinity(xs[0], set), disp, lab, set, false).total;
      },
      {boundary}, kPiecewise));
}

TEST(IrnLoss, Errors) {
  const auto ctx = cpu_context();
  const IrnPairSet set = kernels::irn_pair_set(3);
  const int64_t D = set.num_directions;
  const Tensor aff = Tensor::full({1, D, 5, 6}, 0.5, DType::f32, ctx);
  const Tensor disp = Tensor::zeros({1, 2, 5, 6}, DType::f32, ctx);
  const Tensor lab = Tensor::zeros({1, 5, 6}, DType::u8, ctx);
  expect_error([&] { ops::irn_loss(Tensor::full({1, D + 1, 5, 6}, 0.5, DType::f32, ctx), disp, lab, set, false); },
               "directions");
  expect_error([&] { ops::irn_loss(aff, Tensor::zeros({1, 2, 5, 5}, DType::f32, ctx), lab, set, false); },
               "displacement");
  expect_error([&] { ops::irn_loss(aff, disp.to_dtype(DType::f64), lab, set, false); }, "dtype");
  expect_error([&] { ops::irn_loss(aff, disp, Tensor::zeros({1, 5, 6}, DType::i32, ctx), set, false); },
               "u8");
  expect_error([&] { ops::irn_loss(aff, disp, Tensor::zeros({1, 6, 5}, DType::u8, ctx), set, false); },
               "(N, H, W)");
  const ops::IrnLossTerms t = ops::irn_loss(aff, disp, lab, set, false);
  expect_error([&] { t.term(kernels::kIrnCountNeg); }, "not a loss term");
}

// ---- flow_boundary_loss ------------------------------------------------------------------------

TEST(FlowBoundaryLoss, ForwardEqualsKernelAndGradcheck) {
  const auto ctx = cpu_context();
  for (const bool crop : {false, true}) {
    const IrnPairSet set = kernels::irn_pair_set(crop ? 3 : 4);
    const int64_t N = 2, H = 7, W = 9, D = set.num_directions;
    Generator gen(41);
    // alpha away from 1 (the |1 - alpha| kink).
    Tensor alpha = Tensor::uniform({N, D, H, W}, 0.05, 0.95, gen, ctx, DType::f64);
    const Tensor fg = Tensor::uniform({N, 4, H, W}, -2, 2, gen, ctx, DType::f64);
    const Tensor loss = ops::flow_boundary_loss(fg, alpha, set, crop, 2.0);
    EXPECT_EQ(loss.dim(), 0);
    std::vector<double> ws(kernels::cpu::flow_boundary_loss_workspace_bytes(N, H, W, set) / 8 + 1);
    double ref = 0;
    kernels::cpu::flow_boundary_loss_forward<double>(fg.data<double>(), alpha.data<double>(), N, H,
                                                     W, set, crop, 2.0, &ref, ws.data());
    EXPECT_EQ(loss.item<double>(), ref);
    EXPECT_GT(ref, 0);
    alpha.set_requires_grad(true);
    EXPECT_TRUE(gradcheck(
        [&](const std::vector<Tensor>& xs) { return ops::flow_boundary_loss(fg, xs[0], set, crop, 2.0); },
        {alpha}, kPiecewise));
  }
}

TEST(FlowBoundaryLoss, Errors) {
  const auto ctx = cpu_context();
  const IrnPairSet set = kernels::irn_pair_set(3);
  const int64_t D = set.num_directions;
  const Tensor alpha = Tensor::full({1, D, 5, 6}, 0.5, DType::f32, ctx);
  Tensor fg = Tensor::zeros({1, 4, 5, 6}, DType::f32, ctx);
  expect_error([&] { ops::flow_boundary_loss(Tensor::zeros({1, 2, 5, 6}, DType::f32, ctx), alpha, set, true); },
               "(N, 4, H, W)");
  expect_error([&] { ops::flow_boundary_loss(fg, alpha, set, true, -1.0); }, "lambda");
  fg.set_requires_grad(true);
  expect_error([&] { ops::flow_boundary_loss(fg, alpha, set, true); }, "treats it as data");
}

// ---- IRN learns a boundary ---------------------------------------------------------------------

// Free boundary logits (1, 1, 16, 16), labels: class 1 in columns 0..7, background in 8..15;
// displacement fixed at 0. 50 plain SGD steps on IRN's total loss must make the affinity of
// every pair crossing the border fall below 0.5 and keep every pair inside one region above 0.5.
// The learnt boundary sits on the two border columns 7 and 8, so "inside" means both ends (and
// so the whole path) off those columns: pairs running along a border column cross its high
// boundary pixels and rightly get a low affinity. At the start (boundary ~0.5) every affinity
// is 0.5 +- 0.03, so both conditions fail without learning.
double affinity_loss(const ops::IrnLossTerms& t) {
  const std::vector<double> s = t.stats.to_vector<double>();
  return (s[kernels::kIrnLossBgPos] + s[kernels::kIrnLossFgPos]) / 4 + s[kernels::kIrnLossNeg] / 2;
}

TEST(IrnLoss, LearnsATwoRegionBoundary) {
  const auto ctx = cpu_context();
  const IrnPairSet set = kernels::irn_pair_set(5);
  constexpr int64_t S = 16, kBorder = 8;  // columns < 8: class 1
  std::vector<uint8_t> lab_v(S * S);
  for (int64_t y = 0; y < S; ++y)
    for (int64_t x = 0; x < S; ++x) lab_v[static_cast<size_t>(y * S + x)] = x < kBorder ? 1 : 0;
  const Tensor lab = Tensor::from_vector<uint8_t>(lab_v, {1, S, S}, ctx);
  const Tensor disp = Tensor::zeros({1, 2, S, S}, DType::f32, ctx);
  Generator gen(51);
  Tensor logits = Tensor::uniform({1, 1, S, S}, -0.1, 0.1, gen, ctx, DType::f32);
  logits.set_requires_grad(true);
  // The loss is a mean over ~10^4 pairs and each pixel is the path max of a few of them, so
  // per-pixel gradients are ~1e-3: lr 50 moves the logits by O(0.1) per step (measured: lr 10
  // to 100 all pass, with margins growing with lr).
  constexpr double kLr = 50.0;
  double first_loss = 0, last_loss = 0;
  for (int step = 0; step < 50; ++step) {
    logits.zero_grad();
    const Tensor alpha = ops::irn_path_affinity(ops::sigmoid(logits), set);
    const ops::IrnLossTerms terms = ops::irn_loss(alpha, disp, lab, set, false);
    terms.total.backward();
    (step == 0 ? first_loss : last_loss) = affinity_loss(terms);
    float* w = logits.data<float>();
    const float* g = logits.grad().data<float>();
    for (int64_t i = 0; i < logits.numel(); ++i) w[i] -= static_cast<float>(kLr * g[i]);
  }
  EXPECT_LT(last_loss, 0.5 * first_loss);
  NoGradGuard no_grad;
  const std::vector<float> alpha = ops::irn_path_affinity(ops::sigmoid(logits), set).to_vector<float>();
  int64_t crossing = 0, within = 0;
  float worst_crossing = 0, worst_within = 1;
  for (int d = 0; d < set.num_directions; ++d)
    for (int64_t y = 0; y < S; ++y)
      for (int64_t x = 0; x < S; ++x) {
        const int64_t ty = y + set.dy[d], tx = x + set.dx[d];
        if (!kernels::irn_inside(ty, tx, S, S)) continue;
        const float a = alpha[static_cast<size_t>((d * S + y) * S + x)];
        if ((x < kBorder) != (tx < kBorder)) {
          ++crossing;
          worst_crossing = std::max(worst_crossing, a);
        } else if ((x < kBorder - 1 && tx < kBorder - 1) || (x > kBorder && tx > kBorder)) {
          ++within;
          worst_within = std::min(worst_within, a);
        }
      }
  ASSERT_GT(crossing, 0);
  ASSERT_GT(within, 0);
  EXPECT_LT(worst_crossing, 0.5f) << "max affinity over " << crossing << " crossing pairs";
  EXPECT_GT(worst_within, 0.5f) << "min affinity over " << within << " within-region pairs";
}

// ---- CUDA parity -------------------------------------------------------------------------------

TEST(IrnOpsCuda, PathAffinityParity) {
  WSVIS_REQUIRE_CUDA();
  const auto ctx = cpu_context();
  const IrnPairSet set = kernels::irn_pair_set(5);
  for (const Shape& s : {Shape{1, 1, 3, 5}, Shape{2, 1, 17, 23}, Shape{1, 1, 40, 31}}) {
    Tensor b = ramp_boundary(s[0], s[2], s[3], 61, ctx, DType::f32);
    b.set_requires_grad(true);
    EXPECT_TRUE(testing::cuda_parity(
        [&](const std::vector<Tensor>& xs) { return ops::irn_path_affinity(xs[0], set); }, {b},
        kParityAtol, kParityRtol))
        << "shape " << shape_str(s);
  }
}

TEST(IrnOpsCuda, LossParity) {
  WSVIS_REQUIRE_CUDA();
  const auto ctx = cpu_context();
  for (const LossCase& c : {LossCase{2, 9, 11, 3, false}, LossCase{2, 32, 30, 10, true},
                            LossCase{1, 20, 20, 5, false}}) {
    const IrnPairSet set = kernels::irn_pair_set(c.radius);
    Generator gen(71);
    Tensor aff = Tensor::uniform({c.N, set.num_directions, c.H, c.W}, 0.05, 0.95, gen, ctx);
    Tensor disp = clear_displacement(c.N, c.H, c.W, 72, ctx, DType::f32);
    aff.set_requires_grad(true);
    disp.set_requires_grad(true);
    const Tensor lab = mixed_labels(c.N, c.H, c.W, 73, ctx);
    const auto gpu = Context::create(Device::cuda(0));
    const Tensor lab_gpu = lab.to(gpu);
    EXPECT_TRUE(testing::cuda_parity(
        [&](const std::vector<Tensor>& xs) {
          const Tensor& l = xs[0].device().is_cpu() ? lab : lab_gpu;
          return ops::irn_loss(xs[0], xs[1], l, set, c.crop).terms;
        },
        {aff, disp}, kParityAtol, kParityRtol))
        << "radius " << c.radius << " crop " << c.crop;
  }
}

TEST(IrnOpsCuda, FlowBoundaryLossParity) {
  WSVIS_REQUIRE_CUDA();
  const auto ctx = cpu_context();
  const auto gpu = Context::create(Device::cuda(0));
  for (const bool crop : {false, true}) {
    const IrnPairSet set = kernels::irn_pair_set(10);
    const int64_t N = 2, H = 24, W = 27;
    Generator gen(81);
    Tensor alpha = Tensor::uniform({N, set.num_directions, H, W}, 0.05, 0.95, gen, ctx);
    const Tensor fg = Tensor::uniform({N, 4, H, W}, -2, 2, gen, ctx);
    const Tensor fg_gpu = fg.to(gpu);
    alpha.set_requires_grad(true);
    EXPECT_TRUE(testing::cuda_parity(
        [&](const std::vector<Tensor>& xs) {
          return ops::flow_boundary_loss(xs[0].device().is_cpu() ? fg : fg_gpu, xs[0], set, crop);
        },
        {alpha}, kParityAtol, kParityRtol))
        << "crop " << crop;
  }
}

}  // namespace
}  // namespace wsvis
