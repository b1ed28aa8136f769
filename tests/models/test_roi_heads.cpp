// RoI-head pieces against hand-worked cases: FPN level assignment, proposal labelling and
// sampling (GT appended, 0.5 threshold), the box losses' normalisation, mask targets from a
// bitmask, and the multi-level RoIAlign op's gradient (f64 central differences).
#include <cmath>
#include <vector>

#include "engine/ops/roi_align.h"
#include "models/roi_heads.h"
#include "tests/support/testing.h"

namespace wsvis {
namespace {

TEST(RoiHeads, LevelAssignment) {
  const auto ctx = testing::cpu_context();
  // sqrt(area) 224 -> P4, 112 -> P3, 10 -> P2 (clamped), 1000 -> P5 (clamped), 447 -> P4.
  const std::vector<float> rois{0, 0, 0, 224, 224, 0, 0, 0, 112, 112, 0, 0, 0, 10, 10,
                                0, 0, 0, 1000, 1000, 0, 0, 0, 447, 447};
  const Tensor levels =
      ops::fpn_assign_levels(Tensor::from_vector(rois, {5, 5}, ctx), 2, 5);
  EXPECT_EQ(levels.to_vector<int32_t>(), (std::vector<int32_t>{2, 1, 0, 3, 2}));
}

TEST(RoiHeads, LabelAndSampleProposals) {
  models::RoiHeadsOptions o;
  o.num_classes = 3;
  o.batch_size_per_image = 4;
  o.positive_fraction = 0.5;
  models::RcnnInstances gt;
  gt.boxes = {{0, 0, 10, 10}};
  gt.classes = {2};
  // IoU with the GT: 1 (fg), 0.81 (fg), 0.25 (bg), 0 (bg), 0 (bg); then the GT itself (fg).
  const std::vector<std::vector<models::RcnnBox>> proposals{
      {{0, 0, 10, 10}, {0, 0, 9, 9}, {0, 0, 5, 5}, {20, 20, 30, 30}, {40, 40, 50, 50}}};
  Generator gen(2);
  const models::SampledRois s = models::label_and_sample_proposals(proposals, {gt}, o, gen);
  ASSERT_EQ(s.size(), 4);
  EXPECT_EQ(s.gt_classes, (std::vector<int64_t>{2, 2, 3, 3}));  // fg first, then bg
  for (int64_t r = 0; r < 2; ++r) EXPECT_EQ(s.gt_boxes[size_t(r)], gt.boxes[0]);
  EXPECT_EQ(s.gt_index[0], 0);
  // Without GT every proposal is background with gt_index -1.
  const models::SampledRois empty =
      models::label_and_sample_proposals(proposals, {models::RcnnInstances{}}, o, gen);
  EXPECT_EQ(empty.gt_classes, (std::vector<int64_t>{3, 3, 3, 3}));
  EXPECT_EQ(empty.gt_index[0], -1);
}

TEST(RoiHeads, BoxLossesNormaliseByAllSampledRois) {
  const auto ctx = testing::cpu_context();
  models::SampledRois rois;
  rois.image_index = {0, 0};
  rois.proposal_boxes = {{0, 0, 10, 10}, {5, 5, 15, 15}};
  rois.gt_classes = {1, 2};  // K = 2: roi 1 is background
  rois.gt_index = {0, 0};
  rois.gt_boxes = {{0, 0, 10, 10}, {0, 0, 10, 10}};
  const Tensor scores = Tensor::zeros({2, 3}, DType::f32, ctx);
  // Class-1 deltas of roi 0 are (1, -2, 0, 0.5); the GT-class target is 0 (box == proposal).
  const Tensor deltas = Tensor::from_vector(
      std::vector<float>{9, 9, 9, 9, 1, -2, 0, 0.5f, 7, 7, 7, 7, 7, 7, 7, 7}, {2, 8}, ctx);
  const auto l = models::fast_rcnn_losses(scores, deltas, rois, {}, 0.0);
  EXPECT_NEAR(l.loss_cls.item<double>(), std::log(3.0), 1e-6);
  EXPECT_NEAR(l.loss_box_reg.item<double>(), 3.5 / 2, 1e-6);
}

TEST(RoiHeads, MaskTargetsCropBitmask) {
  models::RcnnInstances gt;
  gt.boxes = {{0, 0, 8, 8}};
  gt.classes = {0};
  gt.mask_h = gt.mask_w = 8;
  gt.masks.assign(64, 0);
  for (int y = 0; y < 8; ++y)
    for (int x = 0; x < 4; ++x) gt.masks[size_t(y * 8 + x)] = 1;  // left half
  // Whole image -> left half of the 4 x 4 target; box (0, 0, 4, 8) -> all foreground.
  const auto whole = models::mask_rcnn_targets(gt, {{0, 0, 8, 8}}, {0}, 4);
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 4; ++x) EXPECT_EQ(whole[size_t(y * 4 + x)], x < 2 ? 1.f : 0.f);
  const auto left = models::mask_rcnn_targets(gt, {{0, 0, 4, 8}}, {0}, 4);
  for (float v : left) EXPECT_EQ(v, 1.f);
}

TEST(RoiHeads, MultilevelRoiAlignGradcheck) {
  const auto ctx = testing::cpu_context();
  Generator gen(4);
  Tensor p2 = Tensor::randn({2, 2, 8, 8}, gen, ctx, DType::f64).set_requires_grad(true);
  Tensor p3 = Tensor::randn({2, 2, 4, 4}, gen, ctx, DType::f64).set_requires_grad(true);
  const Tensor rois = Tensor::from_vector(
      std::vector<double>{0, 1.3, 2.1, 20.5, 25.7, 1, 3.0, 0.4, 14.2, 9.9, 1, 0.0, 4.0, 30.0, 31.0},
      {3, 5}, ctx);
  const Tensor levels = Tensor::from_vector(std::vector<int32_t>{1, 0, 1}, {3}, ctx);
  ops::RoiAlignParams p;
  p.pooled_h = p.pooled_w = 3;
  EXPECT_TRUE(testing::gradcheck(
      [&](const std::vector<Tensor>& x) {
        return ops::multilevel_roi_align({x[0], x[1]}, {0.25, 0.125}, rois, levels, p);
      },
      {p2, p3}));
}

}  // namespace
}  // namespace wsvis
