// YouTube-VIS video metrics (data/ytvis_eval.h) on hand-worked cases. The comparison with a
// pycocotools-COCOeval reference on generated video sets is
// tests/python/test_ytvis_eval_reference.py.
#include <gtest/gtest.h>

#include "data/coco_eval.h"
#include "data/rle.h"
#include "data/ytvis.h"
#include "data/ytvis_eval.h"
#include "engine/error.h"
#include "tests/data/data_paths.h"

namespace wsvis::data {
namespace {

constexpr double kTol = 1e-12;
constexpr int kH = 200, kW = 300;

Rle rect(int x, int y, int w, int h) { return rle_from_bbox({double(x), double(y), double(w), double(h)}, kH, kW); }
Rle empty() { return rle_from_bbox({0, 0, 0, 0}, kH, kW); }

// One video (id 7, 3 frames, 200x300), categories 1 and 2.
YtvisDataset one_video() {
  YtvisDataset ds;
  ds.videos.push_back({7, kW, kH, 3, {"v/0.jpg", "v/1.jpg", "v/2.jpg"}});
  ds.categories.push_back({1, "a", ""});
  ds.categories.push_back({2, "b", ""});
  ds.reindex();
  return ds;
}

void add_track(YtvisDataset& ds, int64_t id, int64_t cat, const std::vector<std::optional<Rle>>& masks,
               int crowd = 0) {
  YtvisAnnotation a;
  a.id = id;
  a.video_id = 7;
  a.category_id = cat;
  a.iscrowd = crowd;
  for (const auto& m : masks) {
    if (m) {
      a.segmentations.push_back(Segmentation::from_rle(*m));
      a.bboxes.push_back(rle_to_bbox(*m));
      a.areas.push_back(static_cast<double>(rle_area(*m)));
    } else {
      a.segmentations.push_back(std::nullopt);
      a.bboxes.push_back(std::nullopt);
      a.areas.push_back(std::nullopt);
    }
  }
  ds.annotations.push_back(a);
}

YtvisResult pred(int64_t cat, double score, const std::vector<std::optional<Rle>>& masks) {
  return {7, cat, score, masks};
}

TEST(YtvisEval, SpatioTemporalIouByHand) {
  // Frame 0: both present, 10x10 squares overlapping in 5x10 -> I 50, U 150.
  // Frame 1: only g (100 px) -> U += 100. Frame 2: only d (40 px) -> U += 40.
  // Frame 3: neither. IoU = 50 / 290.
  const Rle d0 = rect(0, 0, 10, 10), g0 = rect(5, 0, 10, 10), g1 = rect(50, 50, 10, 10), d2 = rect(0, 0, 4, 10);
  const std::vector<const Rle*> d = {&d0, nullptr, &d2, nullptr};
  const std::vector<const Rle*> g = {&g0, &g1, nullptr, nullptr};
  EXPECT_DOUBLE_EQ(spatio_temporal_iou(d, g), 50.0 / 290.0);
  EXPECT_DOUBLE_EQ(spatio_temporal_iou(g, d), 50.0 / 290.0);
  // Nothing anywhere, or only empty masks: U = 0 -> 0.
  const Rle e = empty();
  EXPECT_EQ(spatio_temporal_iou({nullptr, nullptr}, {nullptr, nullptr}), 0.0);
  EXPECT_EQ(spatio_temporal_iou({&e}, {&e}), 0.0);
  // Frames beyond the shorter track are not looked at (Python zip).
  EXPECT_DOUBLE_EQ(spatio_temporal_iou({&d0}, {&d0, &g1}), 1.0);
  // Masks of different sizes: pycocotools' merge gives an empty mask, the frame adds nothing.
  const Rle other = rle_from_bbox({0, 0, 10, 10}, 20, 20);
  EXPECT_DOUBLE_EQ(spatio_temporal_iou({&d0, &other}, {&d0, &d0}), 1.0);
}

TEST(YtvisEval, AvgAreaSkipsNullAndZero) {
  EXPECT_EQ(ytvis_avg_area({std::nullopt, 0.0, 10.0, 20.0}), 15.0);
  EXPECT_EQ(ytvis_avg_area({std::nullopt, 0.0}), 0.0);
  EXPECT_EQ(ytvis_avg_area({}), 0.0);
}

TEST(YtvisEval, PerfectTrackGivesOne) {
  YtvisDataset gt = one_video();
  const std::vector<std::optional<Rle>> m = {rect(10, 10, 20, 20), std::nullopt, rect(12, 10, 20, 20)};
  add_track(gt, 1, 1, m);
  const EvalResult r = evaluate_ytvis(gt, {pred(1, 0.9, m)});
  EXPECT_NEAR(r.stats[0], 1.0, kTol);
  EXPECT_NEAR(r.stats[1], 1.0, kTol);
  EXPECT_NEAR(r.stats[2], 1.0, kTol);
  EXPECT_NEAR(r.stats[3], 1.0, kTol);  // avg_area 400 < 128^2: small
  EXPECT_EQ(r.stats[4], -1.0);
  EXPECT_EQ(r.stats[6], 1.0);  // AR1
  EXPECT_EQ(r.stats[7], 1.0);  // AR10
}

TEST(YtvisEval, MissingFramesLowerTheIou) {
  YtvisDataset gt = one_video();
  add_track(gt, 1, 1, {rect(0, 0, 10, 10), rect(0, 0, 10, 10), rect(0, 0, 10, 10)});
  // The prediction is right in frames 0 and 1 and absent in frame 2: IoU 200/300 = 0.667:
  // matched at 0.50 ... 0.65 (4 of 10 thresholds) -> AP 0.4, AP50 1, AP75 0.
  const EvalResult r = evaluate_ytvis(gt, {pred(1, 0.5, {rect(0, 0, 10, 10), rect(0, 0, 10, 10), std::nullopt})});
  EXPECT_NEAR(r.stats[0], 0.4, kTol);
  EXPECT_NEAR(r.stats[1], 1.0, kTol);
  EXPECT_EQ(r.stats[2], 0.0);
}

TEST(YtvisEval, FalsePositiveFirstAndAreaRanges) {
  YtvisDataset gt = one_video();
  // 100 x 200 = 20000 px in frames 0 and 2, an empty mask in frame 1: avg_area 20000 (the
  // zero is skipped) -> medium (128^2 = 16384 .. 256^2 = 65536).
  const std::vector<std::optional<Rle>> m = {rect(0, 0, 200, 100), empty(), rect(0, 0, 200, 100)};
  add_track(gt, 1, 1, m);
  const std::vector<std::optional<Rle>> fp = {rect(0, 100, 200, 100), rect(0, 100, 200, 100), std::nullopt};
  const EvalResult r = evaluate_ytvis(gt, {pred(1, 0.9, fp), pred(1, 0.8, m)});
  EXPECT_NEAR(r.stats[0], 0.5, kTol);  // FP first: precision 1/2 at recall 1
  EXPECT_EQ(r.stats[3], -1.0);         // no small GT
  EXPECT_NEAR(r.stats[4], 0.5, kTol);
  EXPECT_EQ(r.stats[6], 0.0);          // AR1: the top track is the FP
  EXPECT_EQ(r.stats[7], 1.0);
}

TEST(YtvisEval, CrowdTrackIsIgnoredAndHasNoCrowdIou) {
  YtvisDataset gt = one_video();
  add_track(gt, 1, 1, {rect(0, 0, 10, 10), std::nullopt, std::nullopt});
  add_track(gt, 2, 1, {rect(100, 100, 100, 100), rect(100, 100, 100, 100), std::nullopt}, /*crowd=*/1);
  // A track fully inside the crowd region: plain IoU 2*100 / 2*10000 = 0.01 (no |d∩g|/|d| rule
  // for videos), so it is an unmatched false positive, ranked first: AP 0.5.
  const std::vector<std::optional<Rle>> inside = {rect(120, 120, 10, 10), rect(120, 120, 10, 10), std::nullopt};
  const EvalResult r = evaluate_ytvis(gt, {pred(1, 0.9, inside), pred(1, 0.5, {rect(0, 0, 10, 10), std::nullopt, std::nullopt})});
  EXPECT_NEAR(r.stats[0], 0.5, kTol);
  // The crowd track itself as a prediction matches it (IoU 1) and is ignored: AP 1.
  const EvalResult r2 = evaluate_ytvis(
      gt, {pred(1, 0.9, {rect(100, 100, 100, 100), rect(100, 100, 100, 100), std::nullopt}),
           pred(1, 0.5, {rect(0, 0, 10, 10), std::nullopt, std::nullopt})});
  EXPECT_NEAR(r2.stats[0], 1.0, kTol);
}

TEST(YtvisEval, UnknownVideoIsAnInputError) {
  YtvisDataset gt = one_video();
  add_track(gt, 1, 1, {rect(0, 0, 10, 10), std::nullopt, std::nullopt});
  YtvisResult r = pred(1, 0.5, {rect(0, 0, 10, 10), std::nullopt, std::nullopt});
  r.video_id = 99;
  YtvisEvalOptions o;
  o.results_name = "preds.json";
  EXPECT_INPUT_ERROR(evaluate_ytvis(gt, {r}, o), "preds.json", "results[0].video_id is 99");
}

TEST(YtvisEval, ReadsFilesAndScoresGroundTruthAsPredictions) {
  // Round trip through the JSON readers: the GT written as a results file scores AP 1.
  testing::ScratchDir dir;
  YtvisDataset gt = one_video();
  add_track(gt, 1, 1, {rect(0, 0, 30, 30), rect(3, 0, 30, 30), std::nullopt});
  add_track(gt, 2, 2, {std::nullopt, rect(100, 50, 60, 80), rect(104, 50, 60, 80)});
  write_ytvis(gt, dir.file("gt.json"));
  std::vector<YtvisResult> res;
  for (const YtvisAnnotation& a : gt.annotations) {
    YtvisResult r{a.video_id, a.category_id, 0.5, {}};
    for (const auto& s : a.segmentations) r.segmentations.push_back(s ? std::optional<Rle>(s->rle) : std::nullopt);
    res.push_back(r);
  }
  write_ytvis_results(res, dir.file("res.json"));
  const YtvisDataset gt2 = read_ytvis(dir.file("gt.json"));
  const EvalResult r = evaluate_ytvis(gt2, read_ytvis_results(dir.file("res.json"), &gt2));
  EXPECT_NEAR(r.stats[0], 1.0, kTol);
  EXPECT_NEAR(r.category_ap(0), 1.0, kTol);
  EXPECT_NEAR(r.category_ap(1), 1.0, kTol);
}

TEST(YtvisEval, FrameLevelViews) {
  YtvisDataset gt = one_video();
  // Frames: present, absent, present but empty (not visible): one object in frame 0 only...
  add_track(gt, 1, 1, {rect(0, 0, 20, 20), std::nullopt, empty()});
  // ... and one in frames 1 and 2.
  add_track(gt, 2, 2, {std::nullopt, rect(50, 50, 30, 30), rect(52, 50, 30, 30)});
  const CocoDataset frames = ytvis_frames_as_coco(gt);
  ASSERT_EQ(frames.images.size(), 3u);
  EXPECT_EQ(frames.images[1].id, 2);
  EXPECT_EQ(frames.images[1].file_name, "v/1.jpg");
  ASSERT_EQ(frames.annotations.size(), 3u);
  EXPECT_EQ(frames.annotations[0].image_id, 1);
  EXPECT_EQ(frames.annotations[1].image_id, 2);
  EXPECT_EQ(frames.annotations[2].image_id, 3);
  EXPECT_EQ(frames.annotations[2].area, 900.0);
  // Track 1 predicted in frames 0 and 1 (frame 1 is a false positive there), track 2 right:
  // per frame, category 1 has one TP (0.9) and one FP (0.9, frame 1): in score order (ties by
  // frame order) TP then FP -> AP 1 for category 1; category 2 AP 1.
  const std::vector<YtvisResult> res = {pred(1, 0.9, {rect(0, 0, 20, 20), rect(0, 0, 20, 20), std::nullopt}),
                                        pred(2, 0.8, {std::nullopt, rect(50, 50, 30, 30), rect(52, 50, 30, 30)})};
  const std::vector<CocoResult> dets = ytvis_results_as_coco(res, gt);
  ASSERT_EQ(dets.size(), 4u);
  EXPECT_EQ(dets[1].image_id, 2);
  EXPECT_EQ(dets[1].score, 0.9);
  const EvalResult r = evaluate_coco(frames, dets);
  EXPECT_NEAR(r.category_ap(0), 1.0, kTol);
  EXPECT_NEAR(r.category_ap(1), 1.0, kTol);
  EXPECT_EQ(r.stats[6], 1.0);  // AR1
}

}  // namespace
}  // namespace wsvis::data
