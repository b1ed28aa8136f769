// Tests of models/condinst_instances.h: BoxInst's per-image, per-GT top-k on a hand case,
// CondInst's random cap, the gathering of controller rows grouped by image (with their
// gradient), and the inference instances from detections.
#include <algorithm>
#include <set>
#include <vector>

#include "engine/ops/reduce.h"
#include "models/condinst_instances.h"
#include "tests/support/testing.h"

namespace wsvis {
namespace {

using models::FcosPositives;
using testing::cpu_context;

FcosPositives hand_positives(const ContextPtr& ctx) {
  FcosPositives p;
  p.image_index = {0, 0, 0, 0, 1, 1, 0};
  p.gt_index = {0, 1, 0, 0, 2, 2, 1};
  p.level = {0, 0, 1, 1, 0, 2, 0};
  for (int k = 0; k < 7; ++k) p.location.push_back({{float(8 * k), float(k)}});
  p.quality = Tensor::from_vector(std::vector<float>{0.1f, 0.9f, 0.5f, 0.3f, 0.2f, 0.8f, 0.7f},
                                  {7}, ctx);
  std::vector<float> rows;
  for (int k = 0; k < 7; ++k)
    for (int j = 0; j < 3; ++j) rows.push_back(float(10 * k + j));
  p.controller = Tensor::from_vector(rows, {7, 3}, ctx).set_requires_grad(true);
  return p;
}

TEST(CondInstInstances, TopKPerImageHandCase) {
  const auto ctx = cpu_context();
  const FcosPositives p = hand_positives(ctx);
  // k = 4: image 0 has GTs {0, 1} -> 2 each: GT 0's rows 0, 2, 3 (quality .1 .5 .3) keep 2, 3;
  // GT 1's rows 1, 6 fit. Image 1: GT 2 -> 4 each, rows 4, 5 fit.
  EXPECT_EQ(models::select_topk_proposals_per_image(p, 4),
            (std::vector<int64_t>{2, 3, 1, 6, 4, 5}));
  // k = 1: max(int(1 / 2), 1) = 1 per GT: the best of each.
  EXPECT_EQ(models::select_topk_proposals_per_image(p, 1), (std::vector<int64_t>{2, 1, 5}));
  // k <= 0 keeps everything.
  EXPECT_EQ(models::select_topk_proposals_per_image(p, 0).size(), 7u);
}

TEST(CondInstInstances, MaxProposalsIsARandomSubset) {
  const auto ctx = cpu_context();
  const FcosPositives p = hand_positives(ctx);
  Generator gen(3);
  const std::vector<int64_t> keep = models::sample_max_proposals(p, 4, gen);
  ASSERT_EQ(keep.size(), 4u);
  EXPECT_TRUE(std::is_sorted(keep.begin(), keep.end()));
  EXPECT_EQ(std::set<int64_t>(keep.begin(), keep.end()).size(), 4u);
  EXPECT_EQ(models::sample_max_proposals(p, 7, gen).size(), 7u);
  // Different draws pick different subsets at least sometimes.
  std::set<std::vector<int64_t>> seen;
  for (int i = 0; i < 20; ++i) seen.insert(models::sample_max_proposals(p, 3, gen));
  EXPECT_GT(seen.size(), 1u);
}

TEST(CondInstInstances, GatherGroupsByImageWithGradient) {
  const auto ctx = cpu_context();
  const FcosPositives p = hand_positives(ctx);
  const models::MaskHeadInstances inst = models::mask_head_instances(p, {5, 2, 4});
  EXPECT_EQ(inst.image_index, (std::vector<int64_t>{0, 1, 1}));
  EXPECT_EQ(inst.gt_index, (std::vector<int64_t>{0, 2, 2}));
  EXPECT_EQ(inst.level, (std::vector<int64_t>{1, 2, 0}));
  EXPECT_FLOAT_EQ(inst.location[1][0], 40.f);
  EXPECT_EQ(inst.params.to_vector<float>(),
            (std::vector<float>{20, 21, 22, 50, 51, 52, 40, 41, 42}));
  ops::sum(inst.params).backward();
  const std::vector<float> g = p.controller.grad().to_vector<float>();
  for (int k = 0; k < 7; ++k)
    EXPECT_EQ(g[size_t(3 * k)], (k == 2 || k == 4 || k == 5) ? 1.f : 0.f) << "row " << k;
  EXPECT_THROW(models::mask_head_instances(p, {7}), Error);
}

TEST(CondInstInstances, FromDetections) {
  const auto ctx = cpu_context();
  std::vector<models::FcosDetections> dets(3);
  auto add = [&](models::FcosDetections& d, int64_t level, float x) {
    d.scores.push_back(0.5f);
    d.level.push_back(level);
    d.location.push_back({{x, 1.f}});
  };
  add(dets[0], 0, 4.f);
  add(dets[0], 2, 8.f);
  add(dets[2], 1, 12.f);
  dets[0].controller = Tensor::from_vector(std::vector<float>{1, 2, 3, 4}, {2, 2}, ctx);
  dets[2].controller = Tensor::from_vector(std::vector<float>{5, 6}, {1, 2}, ctx);
  const models::MaskHeadInstances inst = models::mask_head_instances(dets);
  EXPECT_EQ(inst.image_index, (std::vector<int64_t>{0, 0, 2}));
  EXPECT_EQ(inst.level, (std::vector<int64_t>{0, 2, 1}));
  EXPECT_EQ(inst.params.to_vector<float>(), (std::vector<float>{1, 2, 3, 4, 5, 6}));
  dets[2].controller = Tensor();
  EXPECT_THROW(models::mask_head_instances(dets), Error);
}

}  // namespace
}  // namespace wsvis
