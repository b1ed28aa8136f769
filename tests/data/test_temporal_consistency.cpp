// Temporal consistency, option (a) (data/temporal_consistency.h), on hand-worked cases.
#include <gtest/gtest.h>

#include <cmath>

#include "data/rle.h"
#include "data/temporal_consistency.h"
#include "engine/error.h"

namespace wsvis::data {
namespace {

constexpr int kH = 30, kW = 40;

Rle rect(int x, int y, int w, int h) { return rle_from_bbox({double(x), double(y), double(w), double(h)}, kH, kW); }

Flow uniform_flow(float u, float v) {
  Flow f(kW, kH);
  for (int y = 0; y < kH; ++y)
    for (int x = 0; x < kW; ++x) {
      f.u(x, y) = u;
      f.v(x, y) = v;
    }
  return f;
}

TEST(TemporalConsistency, RenderPutsTheHigherScoreOnTop) {
  const Rle a = rect(0, 0, 10, 10), b = rect(5, 0, 10, 10);
  const std::vector<int32_t> m = render_class_map({{&a, 3, 0.2}, {&b, 7, 0.9}}, kH, kW);
  EXPECT_EQ(m[0 * kW + 2], 3);   // only a
  EXPECT_EQ(m[0 * kW + 7], 7);   // both: b has the higher score
  EXPECT_EQ(m[0 * kW + 12], 7);  // only b
  EXPECT_EQ(m[20 * kW + 20], 0);
  // Equal scores: the earlier instance stays on top.
  const std::vector<int32_t> t = render_class_map({{&a, 3, 0.5}, {&b, 7, 0.5}}, kH, kW);
  EXPECT_EQ(t[0 * kW + 7], 3);
  const Rle wrong = rle_from_bbox({0, 0, 2, 2}, 5, 5);
  EXPECT_THROW(render_class_map({{&wrong, 1, 0.5}}, kH, kW), wsvis::Error);
}

TEST(TemporalConsistency, IdenticalFramesWithZeroFlowGiveOne) {
  const Rle a = rect(3, 4, 10, 8), b = rect(20, 10, 12, 12);
  const std::vector<FrameInstance> frame = {{&a, 1, 0.9}, {&b, 2, 0.8}};
  TemporalConsistency tc;
  tc.add_video({frame, frame, frame}, {uniform_flow(0, 0), uniform_flow(0, 0)}, kH, kW);
  ASSERT_TRUE(tc.value());
  EXPECT_EQ(*tc.value(), 1.0);
  EXPECT_EQ(tc.pairs(), 2);
  EXPECT_EQ(tc.per_class().size(), 2u);  // background is not a class by default
}

TEST(TemporalConsistency, ShiftedPredictionWithItsFlowGivesOne) {
  // The object moves 3 px right and 2 px down; the forward flow says exactly that, so frame
  // t+1 sampled at x + F(x) lands back on frame t's object.
  const Rle a0 = rect(5, 5, 10, 8), a1 = rect(8, 7, 10, 8);
  for (TcWarp mode : {TcWarp::nearest, TcWarp::bilinear_truncate}) {
    TemporalConsistency tc(mode);
    tc.add_video({{{&a0, 4, 0.9}}, {{&a1, 4, 0.9}}}, {uniform_flow(3, 2)}, kH, kW);
    ASSERT_TRUE(tc.value());
    EXPECT_EQ(*tc.value(), 1.0);
  }
}

TEST(TemporalConsistency, ShiftedPredictionWithZeroFlowGivesItsIou) {
  // Same motion, zero flow: P_t = 10x8 at (5,5), W = P_{t+1} = 10x8 at (8,7): the overlap is
  // 7 x 6 = 42 px, the union 80 + 80 - 42 = 118 -> TC = 42/118.
  const Rle a0 = rect(5, 5, 10, 8), a1 = rect(8, 7, 10, 8);
  TemporalConsistency tc;
  tc.add_video({{{&a0, 4, 0.9}}, {{&a1, 4, 0.9}}}, {uniform_flow(0, 0)}, kH, kW);
  ASSERT_TRUE(tc.value());
  EXPECT_DOUBLE_EQ(*tc.value(), 42.0 / 118.0);
  EXPECT_EQ(tc.per_class().at(4).intersection, 42);
  EXPECT_EQ(tc.per_class().at(4).union_, 118);
  // With the background as a class: its IoU is (1200 - 118) / (1200 - 42).
  TemporalConsistency with_bg(TcWarp::nearest, /*include_background=*/true);
  with_bg.add_video({{{&a0, 4, 0.9}}, {{&a1, 4, 0.9}}}, {uniform_flow(0, 0)}, kH, kW);
  EXPECT_DOUBLE_EQ(*with_bg.value(), 0.5 * (42.0 / 118.0 + 1082.0 / 1158.0));
}

TEST(TemporalConsistency, MeanOverClassesAccumulatesOverPairs) {
  // Class 1 is stable (IoU 1); class 2 jumps 10 px with zero flow in pair 1 (IoU 0) and is
  // stable in pair 2: its sums give I = 25, U = 25 + 25 + 25 = 75 -> 1/3. TC = (1 + 1/3) / 2.
  const Rle s = rect(0, 0, 6, 6), j0 = rect(20, 20, 5, 5), j1 = rect(30, 20, 5, 5);
  TemporalConsistency tc;
  tc.add_video({{{&s, 1, 0.9}, {&j0, 2, 0.8}}, {{&s, 1, 0.9}, {&j1, 2, 0.8}}, {{&s, 1, 0.9}, {&j1, 2, 0.8}}},
               {uniform_flow(0, 0), uniform_flow(0, 0)}, kH, kW);
  EXPECT_DOUBLE_EQ(*tc.value(), (1.0 + 1.0 / 3.0) / 2.0);
}

TEST(TemporalConsistency, WarpClampsAtTheBorderAndSkipsUnknownFlow) {
  std::vector<int32_t> next(kH * kW, 0);
  next[5 * kW + (kW - 1)] = 9;  // the last column, row 5
  Flow f = uniform_flow(100, 0);  // far outside: clamped to the last column
  f.u(0, 0) = 2e9f;               // unknown
  const std::vector<int32_t> w = warp_class_map(next, f);
  EXPECT_EQ(w[5 * kW + 0], 9);
  EXPECT_EQ(w[5 * kW + 17], 9);
  EXPECT_EQ(w[6 * kW + 3], 0);
  EXPECT_EQ(w[0], -1);
  // Bilinear (ETC's artefact): half a pixel between labels 0 and 9 gives 4.5 -> 4.
  std::vector<int32_t> stripe(kH * kW, 0);
  for (int y = 0; y < kH; ++y) stripe[y * kW + 11] = 9;
  const std::vector<int32_t> b = warp_class_map(stripe, uniform_flow(0.5f, 0), TcWarp::bilinear_truncate);
  EXPECT_EQ(b[3 * kW + 10], 4);
  EXPECT_EQ(b[3 * kW + 11], 4);
  EXPECT_EQ(b[3 * kW + 12], 0);
  const std::vector<int32_t> n = warp_class_map(stripe, uniform_flow(0.5f, 0), TcWarp::nearest);
  EXPECT_EQ(n[3 * kW + 10], 9);  // 10.5 rounds half up to 11
  EXPECT_EQ(n[3 * kW + 11], 0);
}

TEST(TemporalConsistency, NoPredictionsHasNoValue) {
  TemporalConsistency tc;
  tc.add_video({{}, {}}, {uniform_flow(0, 0)}, kH, kW);
  EXPECT_FALSE(tc.value());
  EXPECT_EQ(tc.pairs(), 1);
}

TEST(TemporalConsistency, FrameInstancesFromVideoResults) {
  const Rle a = rect(0, 0, 4, 4);
  const std::vector<YtvisResult> res = {{1, 3, 0.9, {a, std::nullopt, a}}, {2, 5, 0.8, {a, a, a}},
                                        {1, 6, 0.4, {std::nullopt, a, std::nullopt}}};
  const auto frames = frame_instances(res, 1, 3);
  ASSERT_EQ(frames.size(), 3u);
  EXPECT_EQ(frames[0].size(), 1u);
  EXPECT_EQ(frames[1].size(), 1u);
  EXPECT_EQ(frames[1][0].category_id, 6);
  EXPECT_EQ(frames[2].size(), 1u);
}

}  // namespace
}  // namespace wsvis::data
