// Tests of models/fcos_loss.h: GIoU values worked out by hand and its gradient against central
// differences in double; the three FCOS losses on three hand-made locations (two positives, one
// negative) against values computed here from the spec's formulas; the cross-rank hook; an
// image without positives; the positives handed to CondInst (rows, levels, locations, quality,
// controller rows with gradient); and CPU / CUDA agreement where a GPU is present.
#include <cmath>
#include <vector>

#include "engine/ops/reduce.h"
#include "models/fcos_loss.h"
#include "tests/support/testing.h"

namespace wsvis {
namespace {

using models::FcosFlatPredictions;
using models::FcosLayout;
using models::FcosTargets;
using testing::cpu_context;

double softplus(double x) { return std::log1p(std::exp(x)); }
double sigmoid(double x) { return 1 / (1 + std::exp(-x)); }

TEST(FcosGiouLoss, HandComputedValues) {
  const auto ctx = cpu_context();
  // Row 0: pred (1, 1, 1, 1), target (2, 2, 2, 2): I = 2 * 2 = 4, U = 16 + 4 - 4 = 16,
  //   iou = 5 / 17, C = 16 = U, giou = 5 / 17, loss 12 / 17.
  // Row 1: pred (1, 2, 3, 1), target (2, 1, 1, 2): I = (1 + 1)(1 + 1) = 4, A_p = 4 * 3 = 12,
  //   A_t = 3 * 3 = 9, U = 17, iou = 5 / 18, C = (2 + 3)(2 + 2) = 20,
  //   giou = 5 / 18 - 3 / 20, loss 1 - 5 / 18 + 3 / 20.
  // Row 2: pred (0, 0, 0, 0) (a ReLU'd prediction), target (1, 1, 1, 1): I = 0, U = 4,
  //   iou = 1 / 5, C = 4, giou = 1 / 5, loss 4 / 5.
  const Tensor pred = Tensor::from_vector<float>({1, 1, 1, 1, 1, 2, 3, 1, 0, 0, 0, 0}, {3, 4}, ctx);
  const Tensor target =
      Tensor::from_vector<float>({2, 2, 2, 2, 2, 1, 1, 2, 1, 1, 1, 1}, {3, 4}, ctx);
  EXPECT_TRUE(testing::all_close(models::fcos_giou_loss(pred, target).to_vector<double>(),
                                 std::vector<double>{12.0 / 17, 1 - 5.0 / 18 + 3.0 / 20, 0.8},
                                 1e-6, 1e-6));
  // Identical boxes: giou = 1, loss 0. No rows: an empty result.
  EXPECT_NEAR(models::fcos_giou_loss(target, target).to_vector<float>()[0], 0.0, 1e-7);
  EXPECT_EQ(models::fcos_giou_loss(Tensor::zeros({0, 4}, DType::f32, ctx),
                                   Tensor::zeros({0, 4}, DType::f32, ctx))
                .shape(),
            Shape({0}));
  EXPECT_THROW(models::fcos_giou_loss(pred, Tensor::zeros({3, 3}, DType::f32, ctx)), Error);
}

TEST(FcosGiouLoss, GradcheckInDouble) {
  const auto ctx = cpu_context();
  Generator gen(3);
  // Values in [0.2, 3]: boxes of every overlap kind, no exact ties between pred and target.
  Tensor pred = Tensor::uniform({6, 4}, 0.2, 3.0, gen, ctx, DType::f64).set_requires_grad(true);
  Tensor target = Tensor::uniform({6, 4}, 0.2, 3.0, gen, ctx, DType::f64).set_requires_grad(true);
  EXPECT_TRUE(testing::gradcheck(
      [](const std::vector<Tensor>& x) { return models::fcos_giou_loss(x[0], x[1]); },
      {pred, target}));
}

// Three locations of one image on one stride-8 level, K = 2 classes:
//   row 0: positive, class 1, target (2, 2, 2, 2), centreness 1
//   row 1: positive, class 0, target (2, 1, 1, 2), centreness sqrt(1/2 * 1/2) = 0.5
//   row 2: negative
struct Case {
  FcosTargets targets;
  FcosFlatPredictions flat;
};

Case make_case(const ContextPtr& ctx, DType dtype = DType::f32) {
  Case c;
  FcosTargets& t = c.targets;
  t.layout = FcosLayout::from_sizes(1, {8}, {1}, {3});
  t.num_classes = 2;
  t.labels = {1, 0, 2};
  t.gt_index = {0, 1, -1};
  t.reg_targets = {2, 2, 2, 2, 2, 1, 1, 2, 0, 0, 0, 0};
  t.positives = {0, 1};
  t.ctr_targets = {1.0f, 0.5f};
  c.flat.logits = Tensor::from_vector<double>({-1, 2, 0.5, -0.5, -3, 1}, {3, 2}, ctx, dtype);
  c.flat.reg = Tensor::from_vector<double>({1, 1, 1, 1, 1, 2, 3, 1, 0, 0, 0, 0}, {3, 4}, ctx, dtype);
  c.flat.ctrness = Tensor::from_vector<double>({0.3, -0.2, 1.0}, {3}, ctx, dtype);
  c.flat.top_feats = Tensor::from_vector<double>({1, 2, 3, 4, 5, 6}, {3, 2}, ctx, dtype);
  for (Tensor* p : {&c.flat.logits, &c.flat.reg, &c.flat.ctrness, &c.flat.top_feats})
    p->set_requires_grad(true);
  return c;
}

double focal(double x, double t) {
  const double p = sigmoid(x), ce = softplus(x) - x * t, pt = p * t + (1 - p) * (1 - t);
  return ce * (1 - pt) * (1 - pt) * (0.25 * t + 0.75 * (1 - t));
}

TEST(FcosLosses, HandComputedValues) {
  const auto ctx = cpu_context();
  Case c = make_case(ctx);
  const models::FcosLosses l = models::fcos_losses(c.flat, c.targets);
  // cls: focal over the 3 x 2 table with one-hot rows (0, 1), (1, 0), (0, 0), / num_pos 2.
  const double logits[3][2] = {{-1, 2}, {0.5, -0.5}, {-3, 1}};
  const double onehot[3][2] = {{0, 1}, {1, 0}, {0, 0}};
  double focal_sum = 0;
  for (int r = 0; r < 3; ++r)
    for (int k = 0; k < 2; ++k) focal_sum += focal(logits[r][k], onehot[r][k]);
  EXPECT_NEAR(focal_sum / 2, 0.3057505572, 1e-9);  // the same sum, as evaluated once by hand
  EXPECT_NEAR(l.cls.item<double>(), focal_sum / 2, 1e-6);
  // loc: (12/17 * 1 + (1 - 5/18 + 3/20) * 0.5) / (1 + 0.5) = 0.7613289760 (GIoU rows above).
  EXPECT_NEAR(l.loc.item<double>(), (12.0 / 17 + (1 - 5.0 / 18 + 3.0 / 20) * 0.5) / 1.5, 1e-6);
  EXPECT_NEAR(l.loc.item<double>(), 0.7613289760, 1e-6);
  // ctr: (BCE(0.3, 1) + BCE(-0.2, 0.5)) / 2 = 0.6262470569.
  EXPECT_NEAR(l.ctr.item<double>(), (softplus(0.3) - 0.3 + softplus(-0.2) + 0.1) / 2, 1e-6);
  EXPECT_EQ(l.num_pos, 2);
  EXPECT_EQ(l.num_pos_avg, 2.0);
  EXPECT_DOUBLE_EQ(l.loss_denorm, 1.5);
  EXPECT_NEAR(l.total().item<double>(), l.cls.item<double>() + l.loc.item<double>() +
                                             l.ctr.item<double>(), 1e-6);

  // Gradients: the negative row's regression and centreness get none; its logits do.
  l.total().backward();
  const std::vector<float> g_reg = c.flat.reg.grad().to_vector<float>();
  const std::vector<float> g_ctr = c.flat.ctrness.grad().to_vector<float>();
  for (int k = 8; k < 12; ++k) EXPECT_EQ(g_reg[size_t(k)], 0.0f);
  EXPECT_EQ(g_ctr[2], 0.0f);
  // d ctr / d x_0 = (sigmoid(0.3) - 1) / 2.
  EXPECT_NEAR(g_ctr[0], (sigmoid(0.3) - 1) / 2, 1e-6);
  EXPECT_NE(c.flat.logits.grad().to_vector<float>()[4], 0.0f);
}

TEST(FcosLosses, CrossRankHookAndNoPositives) {
  const auto ctx = cpu_context();
  Case c = make_case(ctx);
  // A hook as a 2-rank mean whose other rank has nothing: halves both normalisers.
  int calls = 0;
  models::FcosLossOptions o;
  o.reduce_mean = [&calls](double v) {
    ++calls;
    return v / 2;
  };
  const models::FcosLosses base = models::fcos_losses(c.flat, c.targets);
  const models::FcosLosses l = models::fcos_losses(c.flat, c.targets, o);
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(l.num_pos_avg, 1.0);        // max(2 / 2, 1)
  EXPECT_DOUBLE_EQ(l.loss_denorm, 0.75);  // 1.5 / 2
  EXPECT_NEAR(l.cls.item<double>(), 2 * base.cls.item<double>(), 1e-6);
  EXPECT_NEAR(l.loc.item<double>(), 2 * base.loc.item<double>(), 1e-6);

  // No positive: cls divides by max(0, 1) = 1, loc and ctr are 0 and still differentiable.
  FcosTargets none = c.targets;
  none.labels = {2, 2, 2};
  none.gt_index = {-1, -1, -1};
  none.positives.clear();
  none.ctr_targets.clear();
  const models::FcosLosses z = models::fcos_losses(c.flat, none);
  EXPECT_EQ(z.num_pos_avg, 1.0);
  EXPECT_EQ(z.loc.item<float>(), 0.0f);
  EXPECT_EQ(z.ctr.item<float>(), 0.0f);
  double focal_sum = 0;
  for (double x : {-1.0, 2.0, 0.5, -0.5, -3.0, 1.0}) focal_sum += focal(x, 0);
  EXPECT_NEAR(z.cls.item<double>(), focal_sum, 1e-6);
  z.total().backward();
  EXPECT_TRUE(c.flat.logits.grad().defined());
  const models::FcosPositives p = models::gather_fcos_positives(c.flat, none);
  EXPECT_EQ(p.size(), 0);
  EXPECT_EQ(p.quality.shape(), Shape({0}));
}

TEST(FcosLosses, PositivesForCondInst) {
  const auto ctx = cpu_context();
  Case c = make_case(ctx);
  const models::FcosPositives p = models::gather_fcos_positives(c.flat, c.targets);
  ASSERT_EQ(p.size(), 2);
  EXPECT_EQ(p.image_index, (std::vector<int64_t>{0, 0}));
  EXPECT_EQ(p.gt_index, (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(p.level, (std::vector<int64_t>{0, 0}));
  EXPECT_EQ(p.location[1], (std::array<float, 2>{12, 4}));  // cell x 1 of stride 8
  EXPECT_EQ(p.rows.to_vector<int64_t>(), (std::vector<int64_t>{0, 1}));
  // quality = sigmoid(max logit) * sigmoid(ctrness): row 0 max 2, row 1 max 0.5.
  EXPECT_TRUE(testing::all_close(p.quality.to_vector<double>(),
                                 std::vector<double>{sigmoid(2) * sigmoid(0.3),
                                                     sigmoid(0.5) * sigmoid(-0.2)},
                                 1e-6, 1e-6));
  EXPECT_FALSE(p.quality.requires_grad());
  EXPECT_EQ(p.controller.to_vector<float>(), (std::vector<float>{1, 2, 3, 4}));
  ops::sum(p.controller).backward();
  EXPECT_EQ(c.flat.top_feats.grad().to_vector<float>(), (std::vector<float>{1, 1, 1, 1, 0, 0}));
}

TEST(FcosLosses, RejectsMismatchedPredictions) {
  const auto ctx = cpu_context();
  Case c = make_case(ctx);
  c.targets.num_classes = 3;
  EXPECT_THROW(models::fcos_losses(c.flat, c.targets), Error);
}

TEST(FcosLosses, CudaMatchesCpu) {
  WSVIS_REQUIRE_CUDA();
#if WSVIS_WITH_CUDA
  const auto cpu = cpu_context();
  const auto gpu = Context::create(Device::cuda(0));
  Case a = make_case(cpu), b = make_case(gpu);
  const models::FcosLosses la = models::fcos_losses(a.flat, a.targets);
  const models::FcosLosses lb = models::fcos_losses(b.flat, b.targets);
  // f32 on both; the reductions differ only in summation order over 6 and 2 terms.
  EXPECT_NEAR(lb.cls.item<double>(), la.cls.item<double>(), 1e-6);
  EXPECT_NEAR(lb.loc.item<double>(), la.loc.item<double>(), 1e-6);
  EXPECT_NEAR(lb.ctr.item<double>(), la.ctr.item<double>(), 1e-6);
  la.total().backward();
  lb.total().backward();
  EXPECT_TRUE(testing::tensors_close(b.flat.reg.grad(), a.flat.reg.grad(), 1e-6, 1e-5));
  EXPECT_TRUE(testing::tensors_close(b.flat.logits.grad(), a.flat.logits.grad(), 1e-6, 1e-5));
  const models::FcosPositives pb = models::gather_fcos_positives(b.flat, b.targets);
  EXPECT_TRUE(testing::tensors_close(pb.quality,
                                     models::gather_fcos_positives(a.flat, a.targets).quality,
                                     1e-6, 1e-5));
#endif
}

}  // namespace
}  // namespace wsvis
