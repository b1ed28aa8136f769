// RPN pieces against hand-worked cases: anchors, the Matcher with low-quality ties, sampling
// counts, loss normalisation by 256 * num_images, and proposal NMS batched by level.
#include <cmath>
#include <set>
#include <vector>

#include "models/rpn.h"
#include "tests/support/testing.h"

namespace wsvis {
namespace {

TEST(Rpn, AnchorsMatchHandValues) {
  models::RpnOptions o;
  const models::RpnAnchors a = models::rpn_anchors(o, {{1, 2}, {1, 1}, {1, 1}, {1, 1}, {1, 1}});
  ASSERT_EQ(a.boxes.size(), size_t(3 * 6));
  EXPECT_EQ(a.level_begin[1], 6);
  const float w = float(std::sqrt(1024.0 / 0.5)), h = 0.5f * w;  // ratio 0.5: 45.25 x 22.63
  const std::vector<std::array<float, 4>> expect{{-w / 2, -h / 2, w / 2, h / 2},
                                                 {-16, -16, 16, 16},
                                                 {-h / 2, -w / 2, h / 2, w / 2},
                                                 {4 - w / 2, -h / 2, 4 + w / 2, h / 2}};
  for (size_t i = 0; i < expect.size(); ++i)
    for (int k = 0; k < 4; ++k) EXPECT_NEAR(a.boxes[i][size_t(k)], expect[i][size_t(k)], 1e-4) << i;
  EXPECT_NEAR(a.boxes[size_t(a.level_begin[4]) + 1][2], 256.f, 1e-4);  // P6: size 512
}

TEST(Rpn, MatcherLabelsAndLowQualityTies) {
  // GT 0 peaks at 0.5 on predictions 1 and 2 (a tie), GT 1 at 0.8 on prediction 0.
  const std::vector<float> q{0.2f, 0.5f, 0.5f, 0.1f, 0.8f, 0.1f, 0.0f, 0.25f};
  const auto plain = models::match_quality(q, 2, 4, 0.3, 0.7, false);
  EXPECT_EQ(plain.matches, (std::vector<int64_t>{1, 0, 0, 1}));
  EXPECT_EQ(plain.labels, (std::vector<int8_t>{1, -1, -1, 0}));
  const auto low = models::match_quality(q, 2, 4, 0.3, 0.7, true);
  EXPECT_EQ(low.matches, (std::vector<int64_t>{1, 0, 0, 1}));
  EXPECT_EQ(low.labels, (std::vector<int8_t>{1, 1, 1, 0}));
  const auto none = models::match_quality({}, 0, 3, 0.3, 0.7, true);
  EXPECT_EQ(none.labels, (std::vector<int8_t>{0, 0, 0}));
}

TEST(Rpn, SamplingCounts) {
  Generator gen(1);
  for (const auto& [pos, neg, want_pos, want_neg] :
       std::vector<std::array<int64_t, 4>>{{300, 1000, 128, 128}, {10, 1000, 10, 246}, {5, 20, 5, 20}}) {
    std::vector<int64_t> labels(size_t(pos), 1);
    labels.insert(labels.end(), size_t(neg), 0);
    labels.insert(labels.end(), 7, -1);
    const auto s = models::subsample_labels(labels, 256, 0.5, 0, gen);
    EXPECT_EQ(int64_t(s.positive.size()), want_pos);
    EXPECT_EQ(int64_t(s.negative.size()), want_neg);
    std::set<int64_t> seen;
    for (int64_t i : s.positive) {
      EXPECT_EQ(labels[size_t(i)], 1);
      seen.insert(i);
    }
    for (int64_t i : s.negative) {
      EXPECT_EQ(labels[size_t(i)], 0);
      seen.insert(i);
    }
    EXPECT_EQ(int64_t(seen.size()), want_pos + want_neg);
  }
}

TEST(Rpn, LossesDivideBy256PerImage) {
  const auto ctx = testing::cpu_context();
  models::RpnOptions o;
  models::RpnTargets t;
  t.labels = {{1, 0, -1, 0}, {-1, -1, -1, 1}};
  t.deltas = {{0.5f, -0.5f, 0.25f, 0.f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
              {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1.f, 0, 0, 0}};
  const Tensor logits = Tensor::zeros({2, 4}, DType::f32, ctx);
  const Tensor deltas = Tensor::zeros({2, 4, 4}, DType::f32, ctx);
  const auto l = models::rpn_losses(logits, deltas, t, o);
  // 4 sampled anchors, each BCE log 2 at logit 0; L1 of the positives' targets 1.25 + 1.
  EXPECT_NEAR(l.loss_rpn_cls.item<double>(), 4 * std::log(2.0) / 512, 1e-7);
  EXPECT_NEAR(l.loss_rpn_loc.item<double>(), 2.25 / 512, 1e-7);
}

TEST(Rpn, ProposalsNmsByLevelAndClip) {
  models::RpnOptions o;
  o.strides = {4, 8};
  o.anchor_sizes = {32, 64};
  o.aspect_ratios = {1.0};
  models::RpnAnchors a;
  a.boxes = {{0, 0, 20, 20}, {1, 1, 21, 21}, {0, 0, 20, 20}, {-10, 5, 10, 15}};
  a.level_begin = {0, 2, 4};
  const std::vector<float> logits{3.f, 2.f, 1.f, 0.5f};
  const std::vector<float> deltas(16, 0.f);
  const auto p = models::find_top_rpn_proposals(logits, deltas, a, {{16, 16}}, 1000, 1000, o);
  ASSERT_EQ(p.size(), 1u);
  // Anchor 1 is suppressed by anchor 0 (same level); anchor 2 survives (other level) after
  // clipping to 16 x 16; anchor 3 clips to (0, 5, 10, 15).
  ASSERT_EQ(p[0].boxes.size(), 3u);
  EXPECT_EQ(p[0].logits, (std::vector<float>{3.f, 1.f, 0.5f}));
  EXPECT_EQ(p[0].boxes[0], (models::RcnnBox{0, 0, 16, 16}));
  EXPECT_EQ(p[0].boxes[2], (models::RcnnBox{0, 5, 10, 15}));
  const auto capped = models::find_top_rpn_proposals(logits, deltas, a, {{16, 16}}, 1, 1, o);
  EXPECT_EQ(capped[0].logits, (std::vector<float>{3.f}));
}

}  // namespace
}  // namespace wsvis
