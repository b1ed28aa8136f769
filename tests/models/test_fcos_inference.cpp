// Tests of models/fcos_inference.h on hand-made predictions: thresholding on cls x ctrness,
// box decoding around the locations with the level stride, sqrt scores, class-aware NMS at 0.6,
// the per-level pre-NMS cap, the post-NMS cap keeping ties, controller rows of the kept
// detections, and the rescale / clip / drop-empty postprocessing.
#include <cmath>
#include <vector>

#include "models/fcos_inference.h"
#include "tests/support/testing.h"

namespace wsvis {
namespace {

using models::FcosDetections;
using models::FcosFlatPredictions;
using models::FcosInferenceOptions;
using models::FcosLayout;
using testing::cpu_context;

double sigmoid(double x) { return 1 / (1 + std::exp(-x)); }
double logit(double p) { return std::log(p / (1 - p)); }

// One image; P3 2 x 2 (stride 8, rows 0-3, locations (4, 4), (12, 4), (4, 12), (12, 12)) and
// P4 1 x 1 (stride 16, row 4, location (8, 8)); K = 2.
//   row 0, class 0: cls 3, ctr 2;  reg (1, 1, 1, 1) -> box (-4, -4, 12, 12)
//   row 1, class 0: cls 2, ctr 2;  reg (2, 1, 0, 1) -> the same box: suppressed by row 0
//   row 2, class 1: cls 2, ctr 2;  reg (1, 2, 1, 0) -> the same box, other class: kept
//   row 3: cls p 0.2 for class 1 and ctr p 0.2: product 0.04 < 0.05 (above without ctrness)
//   row 4, class 1: cls 0, ctr 0;  reg (0.5, 0.5, 0.5, 0.5) * 16 -> box (0, 0, 16, 16): IoU with
//     row 2's box 144 / 368 = 0.39 <= 0.6, kept
// Other entries -10. top_feats row r = (10 r, 10 r + 1).
struct Case {
  FcosLayout layout = FcosLayout::from_sizes(1, {8, 16}, {2, 1}, {2, 1});
  std::vector<double> logits{3, -10, 2, -10, -10, 2, -10, logit(0.2), -10, 0};
  std::vector<double> ctr{2, 2, 2, logit(0.2), 0};
  std::vector<double> reg{1, 1, 1, 1, 2, 1, 0, 1, 1, 2, 1, 0, 0, 0, 0, 0, 0.5, 0.5, 0.5, 0.5};

  FcosFlatPredictions flat(const ContextPtr& ctx) const {
    FcosFlatPredictions f;
    f.logits = Tensor::from_vector(logits, {5, 2}, ctx, DType::f32);
    f.ctrness = Tensor::from_vector(ctr, {5}, ctx, DType::f32);
    f.reg = Tensor::from_vector(reg, {5, 4}, ctx, DType::f32);
    std::vector<float> top;
    for (int r = 0; r < 5; ++r) top.insert(top.end(), {10.0f * r, 10.0f * r + 1});
    f.top_feats = Tensor::from_vector(top, {5, 2}, ctx);
    return f;
  }
};

TEST(FcosInference, ThresholdDecodeNmsAndControllerRows) {
  const auto ctx = cpu_context();
  const Case c;
  const std::vector<FcosDetections> out = models::fcos_detect(c.flat(ctx), c.layout);
  ASSERT_EQ(out.size(), 1u);
  const FcosDetections& d = out[0];
  ASSERT_EQ(d.size(), 3);
  EXPECT_EQ(d.rows, (std::vector<int64_t>{0, 2, 4}));
  EXPECT_EQ(d.classes, (std::vector<int64_t>{0, 1, 1}));
  EXPECT_EQ(d.level, (std::vector<int64_t>{0, 0, 1}));
  EXPECT_TRUE(testing::all_close(d.scores,
                                 std::vector<double>{std::sqrt(sigmoid(3) * sigmoid(2)),
                                                     sigmoid(2), 0.5},
                                 1e-6, 1e-6));
  EXPECT_EQ(d.boxes[0], (std::array<float, 4>{-4, -4, 12, 12}));
  EXPECT_EQ(d.boxes[1], (std::array<float, 4>{-4, -4, 12, 12}));
  EXPECT_EQ(d.boxes[2], (std::array<float, 4>{0, 0, 16, 16}));
  EXPECT_EQ(d.location[1], (std::array<float, 2>{4, 12}));
  EXPECT_EQ(d.controller.to_vector<float>(), (std::vector<float>{0, 1, 20, 21, 40, 41}));
}

TEST(FcosInference, ThresholdWithoutCtrnessAndPreNmsCap) {
  const auto ctx = cpu_context();
  const Case c;
  FcosInferenceOptions o;
  o.thresh_with_ctr = false;  // row 3 passes on cls 0.2 alone; its score is sqrt(0.04) = 0.2
  FcosDetections d = models::fcos_detect(c.flat(ctx), c.layout, o)[0];
  ASSERT_EQ(d.size(), 4);
  EXPECT_EQ(d.rows.back(), 3);
  EXPECT_NEAR(d.scores.back(), 0.2, 1e-6);

  o = FcosInferenceOptions();
  o.pre_nms_topk = 1;  // level 0 keeps only row 0 (its best), level 1 row 4
  d = models::fcos_detect(c.flat(ctx), c.layout, o)[0];
  EXPECT_EQ(d.rows, (std::vector<int64_t>{0, 4}));
}

TEST(FcosInference, PostNmsCapKeepsTies) {
  const auto ctx = cpu_context();
  Case c;
  c.logits[0] = 2;  // row 0 now ties with row 2 (both sigmoid(2))
  FcosInferenceOptions o;
  o.post_nms_topk = 1;
  const FcosDetections d = models::fcos_detect(c.flat(ctx), c.layout, o)[0];
  // Rows 0 and 2 tie at the best score: both kept (kthvalue threshold), row 4 dropped.
  EXPECT_EQ(d.size(), 2);
  EXPECT_EQ(d.rows[0] + d.rows[1], 2);
  o.post_nms_topk = 0;  // no cap
  EXPECT_EQ(models::fcos_detect(c.flat(ctx), c.layout, o)[0].size(), 3);
}

TEST(FcosInference, EmptyAndBatched) {
  const auto ctx = cpu_context();
  Case c;
  for (double& v : c.logits) v = -10;
  EXPECT_EQ(models::fcos_detect(c.flat(ctx), c.layout)[0].size(), 0);
  // A layout that disagrees with the predictions is refused.
  EXPECT_THROW(models::fcos_detect(c.flat(ctx), FcosLayout::from_sizes(2, {8, 16}, {2, 1}, {2, 1})),
               Error);
}

TEST(FcosInference, RescaleClipsAndDropsEmptyBoxes) {
  const auto ctx = cpu_context();
  FcosDetections d;
  d.boxes = {{-4, -4, 12, 12}, {40, 40, 50, 50}, {0, 0, 16, 16}};
  d.scores = {0.9f, 0.8f, 0.7f};
  d.classes = {0, 1, 1};
  d.level = {0, 0, 1};
  d.location = {{4, 4}, {44, 44}, {8, 8}};
  d.rows = {0, 1, 2};
  d.controller = Tensor::from_vector<float>({0, 1, 2, 3, 4, 5}, {3, 2}, ctx);
  // Input 32 x 32 -> output height 64, width 48: x * 1.5, y * 2, clipped to [0, 48] x [0, 64].
  // Box 1 becomes (60, 80, 75, 100), clipped to (48, 64, 48, 64): empty, dropped.
  const std::vector<int64_t> kept = models::rescale_fcos_detections(d, 32, 32, 64, 48);
  EXPECT_EQ(kept, (std::vector<int64_t>{0, 2}));
  ASSERT_EQ(d.size(), 2);
  EXPECT_EQ(d.boxes[0], (std::array<float, 4>{0, 0, 18, 24}));
  EXPECT_EQ(d.boxes[1], (std::array<float, 4>{0, 0, 24, 32}));
  EXPECT_EQ(d.rows, (std::vector<int64_t>{0, 2}));
  EXPECT_EQ(d.controller.to_vector<float>(), (std::vector<float>{0, 1, 4, 5}));
  EXPECT_THROW(models::rescale_fcos_detections(d, 0, 32, 64, 48), Error);
}

TEST(FcosInference, CudaMatchesCpu) {
  WSVIS_REQUIRE_CUDA();
#if WSVIS_WITH_CUDA
  const Case c;
  const auto gpu = Context::create(Device::cuda(0));
  const FcosDetections a = models::fcos_detect(c.flat(cpu_context()), c.layout)[0];
  const FcosDetections b = models::fcos_detect(c.flat(gpu), c.layout)[0];
  EXPECT_EQ(b.rows, a.rows);
  EXPECT_EQ(b.boxes, a.boxes);
  EXPECT_TRUE(testing::all_close(b.scores, a.scores, 1e-6, 1e-6));
  EXPECT_EQ(b.controller.to_vector<float>(), a.controller.to_vector<float>());
#endif
}

}  // namespace
}  // namespace wsvis
