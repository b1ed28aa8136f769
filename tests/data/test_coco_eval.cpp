// COCOeval (data/coco_eval.h, data/eval_common.h) on hand-worked cases. The exhaustive
// comparison with pycocotools is tests/python/test_coco_eval_pycocotools.py.
//
// Numbers used below: precision at a true positive is tp / (tp + fp + eps), so a perfect
// ranking gives 1 - 2.2e-16 (hence EXPECT_NEAR); AP averages precision over 10 IoU thresholds
// x 101 recall thresholds (0, 0.01, ..., 1).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "data/coco.h"
#include "data/coco_eval.h"
#include "data/rle.h"
#include "engine/error.h"
#include "tests/data/data_paths.h"

namespace wsvis::data {
namespace {

constexpr double kTol = 1e-12;

// One 100x100 image (id 1) and categories 1, 2; annotations added by the tests.
CocoDataset one_image() {
  CocoDataset ds;
  ds.images.push_back({1, 100, 100, "a.jpg"});
  ds.categories.push_back({1, "a", ""});
  ds.categories.push_back({2, "b", ""});
  ds.reindex();
  return ds;
}

void add_gt(CocoDataset& ds, int64_t id, int64_t image, int64_t cat, const BoxXywh& box, int crowd = 0) {
  CocoAnnotation a;
  a.id = id;
  a.image_id = image;
  a.category_id = cat;
  a.iscrowd = crowd;
  a.bbox = box;
  a.segmentation = Segmentation::from_rle(rle_from_bbox(box, 100, 100));
  a.area = static_cast<double>(rle_area(a.segmentation->rle));
  ds.annotations.push_back(a);
}

CocoResult det(int64_t image, int64_t cat, const BoxXywh& box, double score) {
  CocoResult r;
  r.image_id = image;
  r.category_id = cat;
  r.score = score;
  r.segmentation = rle_from_bbox(box, 100, 100);
  return r;
}

CocoEvalOptions bbox_opts() {
  CocoEvalOptions o;
  o.iou_type = CocoIouType::bbox;
  return o;
}

TEST(EvalCommon, ThresholdsAreNumpyLinspace) {
  const EvalParams p = EvalParams::coco();
  ASSERT_EQ(p.iou_thrs.size(), 10u);
  ASSERT_EQ(p.rec_thrs.size(), 101u);
  EXPECT_EQ(p.iou_thrs[0], 0.5);
  EXPECT_EQ(p.iou_thrs[5], 0.75);  // summarize() finds AP75 by equality, as numpy
  EXPECT_EQ(p.iou_thrs[8], 0.8999999999999999);  // numpy's value, not 0.9
  EXPECT_EQ(p.rec_thrs[50], 0.5);
  EXPECT_EQ(p.rec_thrs[70], 0.7000000000000001);
  EXPECT_EQ(p.area_rngs[1][1], 32.0 * 32.0);
  EXPECT_EQ(EvalParams::ytvis().area_rngs[2][0], 128.0 * 128.0);
  EXPECT_EQ(EvalParams::ytvis().area_rngs[2][1], 256.0 * 256.0);
}

TEST(EvalCommon, OrderByScoreIsStable) {
  EXPECT_EQ(order_by_score({0.5, 0.9, 0.5, 0.9, 0.1}, 10), (std::vector<size_t>{1, 3, 0, 2, 4}));
  EXPECT_EQ(order_by_score({0.5, 0.9, 0.5}, 2), (std::vector<size_t>{1, 0}));
}

TEST(CocoEval, OnePerfectDetectionGivesOne) {
  CocoDataset gt = one_image();
  add_gt(gt, 1, 1, 1, {10, 10, 20, 20});  // area 400: "small"
  const std::vector<CocoResult> dt = {det(1, 1, {10, 10, 20, 20}, 0.9)};
  for (const CocoEvalOptions& o : {CocoEvalOptions{}, bbox_opts()}) {
    const EvalResult r = evaluate_coco(gt, dt, o);
    const auto& s = r.stats;
    EXPECT_NEAR(s[0], 1.0, kTol);  // AP
    EXPECT_NEAR(s[1], 1.0, kTol);  // AP50
    EXPECT_NEAR(s[2], 1.0, kTol);  // AP75
    EXPECT_NEAR(s[3], 1.0, kTol);  // AP small
    EXPECT_EQ(s[4], -1.0);         // no medium / large GT: -1, as pycocotools
    EXPECT_EQ(s[5], -1.0);
    for (int i : {6, 7, 8, 9}) EXPECT_EQ(s[i], 1.0) << i;
    EXPECT_EQ(s[10], -1.0);
    EXPECT_EQ(s[11], -1.0);
    // Category 2 has no GT: all -1; category 1's AP is 1.
    EXPECT_NEAR(r.category_ap(0), 1.0, kTol);
    EXPECT_EQ(r.category_ap(1), -1.0);
  }
}

TEST(CocoEval, FalsePositiveRankedFirstHalvesPrecision) {
  CocoDataset gt = one_image();
  add_gt(gt, 1, 1, 1, {10, 10, 20, 20});
  // FP (no overlap) at 0.9, then the perfect detection at 0.8: precision 0 then 1/2; made
  // monotone from the right it is 1/2 at every recall -> AP 0.5. The top-1 detection is the
  // FP: AR1 = 0; AR10 = 1.
  const std::vector<CocoResult> dt = {det(1, 1, {60, 60, 20, 20}, 0.9), det(1, 1, {10, 10, 20, 20}, 0.8)};
  for (const CocoEvalOptions& o : {CocoEvalOptions{}, bbox_opts()}) {
    const EvalResult r = evaluate_coco(gt, dt, o);
    EXPECT_NEAR(r.stats[0], 0.5, kTol);
    EXPECT_NEAR(r.stats[1], 0.5, kTol);
    EXPECT_EQ(r.stats[6], 0.0);
    EXPECT_EQ(r.stats[7], 1.0);
    EXPECT_NEAR(r.precision_at(0, 0, 0, 0, 2), 0.5, kTol);
    EXPECT_NEAR(r.precision_at(0, 100, 0, 0, 2), 0.5, kTol);
  }
}

TEST(CocoEval, HalfTheObjectsFoundGives51Of101RecallSteps) {
  CocoDataset gt = one_image();
  add_gt(gt, 1, 1, 1, {10, 10, 20, 20});
  add_gt(gt, 2, 1, 1, {50, 50, 20, 20});
  // Recall reaches 0.5 with precision 1: thresholds 0, 0.01, ..., 0.50 (51 of 101) get 1,
  // the rest 0.
  const EvalResult r = evaluate_coco(gt, {det(1, 1, {50, 50, 20, 20}, 0.7)});
  EXPECT_NEAR(r.stats[0], 51.0 / 101.0, kTol);
  EXPECT_EQ(r.stats[8], 0.5);
  EXPECT_EQ(r.precision_at(0, 51, 0, 0, 2), 0.0);
}

TEST(CocoEval, IouBetweenThresholds) {
  CocoDataset gt = one_image();
  add_gt(gt, 1, 1, 1, {0, 0, 10, 10});
  // Box IoU 73/100 = 0.73: a match at 0.50, 0.55, 0.60, 0.65, 0.70 (5 of 10 thresholds).
  CocoResult d = det(1, 1, {0, 0, 10, 7.3}, 0.5);
  d.segmentation.reset();
  d.bbox = BoxXywh{0, 0, 10, 7.3};
  const EvalResult r = evaluate_coco(gt, {d}, bbox_opts());
  EXPECT_NEAR(r.stats[0], 0.5, kTol);
  EXPECT_NEAR(r.stats[1], 1.0, kTol);
  EXPECT_EQ(r.stats[2], 0.0);
  EXPECT_NEAR(r.stats[8], 0.5, kTol);  // recall 1 at 5 thresholds, 0 at 5
}

TEST(CocoEval, CrowdRegionIgnoresDetectionsInsideIt) {
  CocoDataset gt = one_image();
  add_gt(gt, 1, 1, 1, {10, 10, 20, 20});
  add_gt(gt, 2, 1, 1, {40, 0, 60, 60}, /*crowd=*/1);
  // Two detections inside the crowd region (crowd IoU = |d ∩ g| / |d| = 1; a crowd may match
  // many) rank above the true positive: both ignored, so AP stays 1.
  const std::vector<CocoResult> dt = {det(1, 1, {50, 10, 10, 10}, 0.95), det(1, 1, {70, 30, 10, 10}, 0.9),
                                      det(1, 1, {10, 10, 20, 20}, 0.8)};
  for (const CocoEvalOptions& o : {CocoEvalOptions{}, bbox_opts()}) {
    const EvalResult r = evaluate_coco(gt, dt, o);
    EXPECT_NEAR(r.stats[0], 1.0, kTol);
    EXPECT_EQ(r.stats[8], 1.0);
  }
  // Without the crowd flag the two become false positives ranked first: precision 1/3.
  gt.annotations[1].iscrowd = 0;
  const EvalResult r = evaluate_coco(gt, dt);
  EXPECT_NEAR(r.precision_at(0, 0, 0, 0, 2), 1.0 / 3.0, 1e-12);
}

TEST(CocoEval, GreedyMatchingInScoreOrder) {
  CocoDataset gt = one_image();
  add_gt(gt, 1, 1, 1, {0, 0, 10, 10});
  add_gt(gt, 2, 1, 1, {0, 6, 10, 10});
  // d1 (score .9) = [0,2,10,10] overlaps g1 with IoU 80/120 and g2 with 60/140; it takes g1.
  // d2 = g2 exactly takes g2. All matched at 0.5.
  CocoResult d1 = det(1, 1, {0, 2, 10, 10}, 0.9);
  CocoResult d2 = det(1, 1, {0, 6, 10, 10}, 0.8);
  const EvalResult r = evaluate_coco(gt, {d1, d2}, bbox_opts());
  EXPECT_NEAR(r.stats[1], 1.0, kTol);
  // Now d1 = [0,5,10,10] is the better match for g2 (90/110) than for g1 (50/150): it takes
  // g2, and d2 = g1's copy takes g1.
  d1 = det(1, 1, {0, 5, 10, 10}, 0.9);
  d2 = det(1, 1, {0, 0, 10, 10}, 0.8);
  const EvalResult r2 = evaluate_coco(gt, {d1, d2}, bbox_opts());
  EXPECT_NEAR(r2.stats[1], 1.0, kTol);
}

TEST(CocoEval, AreaRangesAndOutOfRangeDetections) {
  CocoDataset gt = one_image();
  add_gt(gt, 1, 1, 1, {0, 0, 50, 50});  // area 2500: medium
  // A small unmatched detection is ignored in the "medium" range (its area 100 lies outside)
  // but is a false positive in "all".
  const std::vector<CocoResult> dt = {det(1, 1, {80, 80, 10, 10}, 0.9), det(1, 1, {0, 0, 50, 50}, 0.8)};
  const EvalResult r = evaluate_coco(gt, dt);
  EXPECT_NEAR(r.stats[0], 0.5, kTol);
  EXPECT_EQ(r.stats[3], -1.0);
  EXPECT_NEAR(r.stats[4], 1.0, kTol);
  EXPECT_EQ(r.stats[5], -1.0);
}

TEST(CocoEval, FirstResultDecidesTheAreaRule) {
  // pycocotools' loadRes: when results[0] has a bbox, every result's area is the bbox's w*h,
  // also for segm; otherwise the mask's pixel count.
  CocoDataset gt = one_image();
  add_gt(gt, 1, 1, 1, {0, 0, 10, 10});  // small
  CocoResult fp = det(1, 1, {60, 60, 10, 10}, 0.95);  // mask area 100: small
  CocoResult tp = det(1, 1, {0, 0, 10, 10}, 0.9);
  // Areas from the masks: the unmatched FP is small, so it counts in "small": AP_s = 0.5.
  const EvalResult by_mask = evaluate_coco(gt, {fp, tp});
  EXPECT_NEAR(by_mask.stats[0], 0.5, kTol);
  EXPECT_NEAR(by_mask.stats[3], 0.5, kTol);
  // The FP's box says 40x40 = 1600 (medium): outside "small", the unmatched FP is ignored
  // there, AP_s = 1, while "all" still counts it.
  fp.bbox = BoxXywh{60, 60, 40, 40};
  tp.bbox = BoxXywh{0, 0, 10, 10};
  const EvalResult by_box = evaluate_coco(gt, {fp, tp});
  EXPECT_NEAR(by_box.stats[0], 0.5, kTol);
  EXPECT_NEAR(by_box.stats[3], 1.0, kTol);
  // A result without a bbox after one with a bbox is an error (pycocotools: KeyError).
  tp.bbox.reset();
  EXPECT_THROW(evaluate_coco(gt, {fp, tp}), InputError);
}

TEST(CocoEval, BoxOnlyResultsScoredAsBoxPolygonsForSegm) {
  CocoDataset gt = one_image();
  add_gt(gt, 1, 1, 1, {10, 10, 20, 20});
  CocoResult d;
  d.image_id = 1;
  d.category_id = 1;
  d.score = 0.4;
  d.bbox = BoxXywh{10, 10, 20, 20};
  const EvalResult r = evaluate_coco(gt, {d});  // segm: the box rasterised as a polygon
  EXPECT_NEAR(r.stats[0], 1.0, kTol);
}

TEST(CocoEval, MaxDetsCutsPerImage) {
  CocoDataset gt = one_image();
  add_gt(gt, 1, 1, 1, {10, 10, 20, 20});
  std::vector<CocoResult> dt;
  // 10 false positives above the true positive: it is the 11th detection, outside maxDets 10.
  for (int i = 0; i < 10; ++i) dt.push_back(det(1, 1, {60, 60, 5.0 + i, 5}, 0.9 - 0.01 * i));
  dt.push_back(det(1, 1, {10, 10, 20, 20}, 0.1));
  const EvalResult r = evaluate_coco(gt, dt);
  EXPECT_EQ(r.stats[6], 0.0);
  EXPECT_EQ(r.stats[7], 0.0);
  EXPECT_EQ(r.stats[8], 1.0);
  EXPECT_NEAR(r.stats[0], 1.0 / 11.0, 1e-12);
}

TEST(CocoEval, ResultsOfUnknownImagesAreRejected) {
  CocoDataset gt = one_image();
  add_gt(gt, 1, 1, 1, {10, 10, 20, 20});
  CocoEvalOptions o;
  o.results_name = "dets.json";
  EXPECT_INPUT_ERROR(evaluate_coco(gt, {det(7, 1, {0, 0, 5, 5}, 0.5)}, o), "dets.json", "results[0]",
                     "image_id is 7");
  // Categories the GT lacks are skipped, as COCOeval only looks at the GT's catIds.
  const EvalResult r = evaluate_coco(gt, {det(1, 99, {0, 0, 5, 5}, 0.9), det(1, 1, {10, 10, 20, 20}, 0.5)});
  EXPECT_NEAR(r.stats[0], 1.0, kTol);
}

TEST(CocoEval, NoResultsGivesZeros) {
  CocoDataset gt = one_image();
  add_gt(gt, 1, 1, 1, {10, 10, 20, 20});
  const EvalResult r = evaluate_coco(gt, {});
  EXPECT_EQ(r.stats[0], 0.0);
  EXPECT_EQ(r.stats[8], 0.0);
  EXPECT_EQ(r.stats[4], -1.0);
}

TEST(CocoEval, RealDummySetWithItsOwnAnnotations) {
  WSVIS_REQUIRE_SHARED_DATA(data);
  const CocoDataset gt = read_coco(data + "/coco_dummy/annotations/instances_val2017.json");
  // Every non-crowd GT as a detection (RLE of its mask, decreasing scores): AP 1 for segm and bbox.
  std::vector<CocoResult> dt;
  double score = 1.0;
  for (const CocoAnnotation& a : gt.annotations) {
    if (a.iscrowd) continue;
    const CocoImage& im = gt.images[static_cast<size_t>(gt.image_index(a.image_id))];
    CocoResult r;
    r.image_id = a.image_id;
    r.category_id = a.category_id;
    r.score = score -= 0.01;
    r.segmentation = a.segmentation->to_rle(im.height, im.width);
    dt.push_back(r);
  }
  const EvalResult segm = evaluate_coco(gt, dt);
  EXPECT_NEAR(segm.stats[0], 1.0, kTol);
  EXPECT_NEAR(segm.stats[8], 1.0, kTol);
  // For bbox the detections' boxes are toBbox of the masks, not the stored GT boxes.
  CocoEvalOptions o;
  o.iou_type = CocoIouType::bbox;
  const EvalResult box = evaluate_coco(gt, dt, o);
  EXPECT_GT(box.stats[1], 0.99);
}

}  // namespace
}  // namespace wsvis::data
