// The UnOVOST-style tracker on hand-made 32 x 32 videos: squares moving 2 px per frame to the
// right (constant flow), with the cases each step exists for.
#include <gtest/gtest.h>

#include "data/rle.h"
#include "video/unovost_tracker.h"

namespace wsvis::video {
namespace {

constexpr int kSize = 32;

std::vector<uint8_t> rect(int x0, int y0, int x1, int y1) {  // [x0, x1) x [y0, y1), clipped
  std::vector<uint8_t> m(kSize * kSize, 0);
  for (int y = std::max(0, y0); y < std::min(kSize, y1); ++y)
    for (int x = std::max(0, x0); x < std::min(kSize, x1); ++x) m[size_t(y * kSize + x)] = 1;
  return m;
}

// Frame t+1's flow pointing back into t: everything moved +2 px in x.
std::vector<data::Flow> backward_flows(int frames) {
  std::vector<data::Flow> flows(size_t(frames), data::Flow(kSize, kSize));
  for (auto& f : flows)
    for (int y = 0; y < kSize; ++y)
      for (int x = 0; x < kSize; ++x) f.u(x, y) = -2.f;
  return flows;
}

TEST(Tracker, NonOverlappingKeepsTheHigherScoreOfAnOverlappingPair) {
  InstanceSet f(kSize, kSize);
  f.add(rect(0, 0, 10, 10).data(), 1, 0.5f);    // 0
  f.add(rect(1, 0, 11, 10).data(), 1, 0.9f);    // 1: IoU 0.82 with 0, higher score: replaces it
  f.add(rect(20, 20, 30, 30).data(), 2, 0.3f);  // 2: alone
  f.add(rect(21, 21, 30, 30).data(), 2, 0.2f);  // 3: overlaps 2, lower score: dropped
  EXPECT_EQ(non_overlapping(f, 0.2), (std::vector<int64_t>{1, 2}));
}

TEST(Tracker, TwoObjectsOfTwoClassesBecomeTwoTracks) {
  // A (class 1) moves along row 2..10, B (class 2) along row 18..26, 5 frames.
  std::vector<InstanceSet> frames;
  for (int t = 0; t < 5; ++t) {
    InstanceSet f(kSize, kSize);
    f.add(rect(2 + 2 * t, 2, 10 + 2 * t, 10).data(), 1, 0.9f);
    f.add(rect(2 + 2 * t, 18, 10 + 2 * t, 26).data(), 2, 0.7f);
    frames.push_back(f);
  }
  const TrackerResult r = track_video(frames, backward_flows(5), {}, {});
  ASSERT_EQ(r.tracks.size(), 2u);
  EXPECT_EQ(r.tracks[0].category_id, 1);
  EXPECT_NEAR(r.tracks[0].score, 0.9, 1e-6);
  EXPECT_EQ(r.tracks[0].proposal, (std::vector<int64_t>{0, 0, 0, 0, 0}));
  EXPECT_EQ(r.tracks[1].category_id, 2);
  EXPECT_EQ(r.tracks[1].proposal, (std::vector<int64_t>{1, 1, 1, 1, 1}));
  // As YouTube-VIS results: one per track, masks decode back.
  const auto results = tracks_to_results(r, 7);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[1].video_id, 7);
  ASSERT_TRUE(results[1].segmentations[3].has_value());
  EXPECT_EQ(data::rle_decode(*results[1].segmentations[3]), rect(8, 18, 16, 26));
}

// A (class 1) in frames 0-1, missing in frame 2, back in frames 3-4: two tracklets that the
// forest links when the class agrees, and not across classes.
std::vector<InstanceSet> gap_video(int64_t class_after_gap) {
  std::vector<InstanceSet> frames;
  for (int t = 0; t < 5; ++t) {
    InstanceSet f(kSize, kSize);
    if (t != 2) f.add(rect(2 + 2 * t, 2, 10 + 2 * t, 10).data(), t < 2 ? 1 : class_after_gap, 0.8f);
    frames.push_back(f);
  }
  return frames;
}

TEST(Tracker, TheForestBridgesAGapWithinOneClassOnly) {
  TrackerResult r = track_video(gap_video(1), backward_flows(5), {}, {});
  ASSERT_EQ(r.tracklets.size(), 2u);
  EXPECT_EQ(r.tracklets[1].parent, 0);
  ASSERT_EQ(r.tracks.size(), 1u);
  EXPECT_EQ(r.tracks[0].proposal, (std::vector<int64_t>{0, 0, -1, 0, 0}));
  r = track_video(gap_video(2), backward_flows(5), {}, {});
  EXPECT_EQ(r.tracklets[1].parent, -1);
  EXPECT_EQ(r.tracks.size(), 2u);
}

TEST(Tracker, PathCuttingPrefersTheBranchWithTheLongerCoverage) {
  // Frame 0-1: tracklet R (class 1). Frame 2: nothing. Frames 3-4: two class-1 objects far
  // apart (a 2-frame tracklet X) and (a 1-frame tracklet Y in frame 3 only). Both choose R as
  // parent (no ReID: equal distances); the group of root R holds paths R-X and R-Y; R-X covers
  // more and is emitted first; Y is left as its own track.
  std::vector<InstanceSet> frames;
  for (int t = 0; t < 5; ++t) {
    InstanceSet f(kSize, kSize);
    if (t < 2) f.add(rect(2 + 2 * t, 2, 10 + 2 * t, 10).data(), 1, 0.9f);
    if (t >= 3) f.add(rect(2 + 2 * t, 2, 10 + 2 * t, 10).data(), 1, 0.9f);
    if (t == 3) f.add(rect(20, 20, 28, 28).data(), 1, 0.5f);
    frames.push_back(f);
  }
  const TrackerResult r = track_video(frames, backward_flows(5), {}, {});
  ASSERT_EQ(r.tracklets.size(), 3u);
  EXPECT_EQ(r.tracklets[1].parent, 0);
  EXPECT_EQ(r.tracklets[2].parent, 0);
  ASSERT_EQ(r.tracks.size(), 2u);
  EXPECT_EQ(r.tracks[0].proposal, (std::vector<int64_t>{0, 0, -1, 0, 0}));
  EXPECT_EQ(r.tracks[1].proposal, (std::vector<int64_t>{-1, -1, -1, 1, -1}));
}

TEST(Tracker, AppearanceChoosesTheParentWhenThereAreTwo) {
  // Two class-1 tracklets end at frame 1 (red and blue objects); after a gap a blue one
  // reappears: its parent is the blue tracklet.
  std::vector<InstanceSet> frames;
  std::vector<std::vector<std::vector<float>>> reid;
  const std::vector<float> red{1, 0, 0}, blue{0, 0, 1};
  for (int t = 0; t < 4; ++t) {
    InstanceSet f(kSize, kSize);
    std::vector<std::vector<float>> v;
    if (t < 2) {
      f.add(rect(2, 2, 8, 8).data(), 1, 0.9f), v.push_back(red);
      f.add(rect(2, 20, 8, 26).data(), 1, 0.9f), v.push_back(blue);
    }
    if (t == 3) f.add(rect(12, 12, 18, 18).data(), 1, 0.9f), v.push_back(blue);
    frames.push_back(f);
    reid.push_back(v);
  }
  std::vector<data::Flow> still(4, data::Flow(kSize, kSize));
  const TrackerResult r = track_video(frames, still, reid, {});
  ASSERT_EQ(r.tracklets.size(), 3u);
  EXPECT_EQ(r.tracklets[2].parent, 1);  // the blue one
  // The colour descriptor: mean colour and a histogram summing to 1.
  InstanceSet f(2, 2);
  const uint8_t m[4] = {1, 1, 0, 0};
  f.add(m, 1, 1.f);
  const uint8_t rgb[12] = {255, 0, 0, 255, 0, 0, 0, 0, 255, 0, 0, 255};
  const auto d = appearance_reid(f, rgb);
  EXPECT_FLOAT_EQ(d[0][0], 1.f);
  EXPECT_FLOAT_EQ(d[0][2], 0.f);
  EXPECT_FLOAT_EQ(d[0][3 + 3 * 16], 1.f);
}

TEST(Tracker, EmptyVideoAndEmptyFrames) {
  EXPECT_TRUE(track_video({}, {}, {}, {}).tracks.empty());
  const std::vector<InstanceSet> frames(3, InstanceSet(kSize, kSize));
  const TrackerResult r = track_video(frames, backward_flows(3), {}, {});
  EXPECT_TRUE(r.tracks.empty());
  EXPECT_THROW(track_video(frames, backward_flows(2), {}, {}), Error);
}

}  // namespace
}  // namespace wsvis::video
