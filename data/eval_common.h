// The matching, accumulation and summary core of COCO-style evaluation, shared by the COCO
// image evaluator (coco_eval.h, iouType segm and bbox) and the YouTube-VIS video evaluator
// (ytvis_eval.h). It reproduces pycocotools' COCOeval.evaluateImg / accumulate / summarize
// (pycocotools 2.0.x cocoeval.py; youtubevos/cocoapi ytvoseval.py is the same code with
// video units), number for number:
//
//   unit        one (image, category) or (video, category): its ground truths (file order),
//               its detections sorted by score (stable, highest first) and truncated to
//               max_dets.back(), and the (D, G) IoU matrix the caller computed.
//   match_unit  evaluateImg: ground truths that are crowds or outside the area range are
//               "ignore" and sorted last (stable); for every IoU threshold, detections in score
//               order take the unmatched ground truth of highest IoU >= threshold (a crowd may
//               be taken many times; once a detection holds a non-ignored match it never moves
//               to an ignored one); a detection matched to an ignored ground truth is ignored,
//               and so is an unmatched detection whose area lies outside the range.
//   accumulate  per (category, area range, max dets): detections of all units (the first
//               max_det of each) sorted by score (stable; units in id order), cumulative TP/FP,
//               recall = TP / #non-ignored GT, precision = TP / (TP + FP + eps) made monotone
//               from the right, sampled at the recall thresholds with searchsorted(left)
//               (0 past the last recall reached); -1 where a category has no non-ignored GT.
//   summarize   the 12 stats: AP, AP50, AP75, AP small/medium/large (100 dets), AR1, AR10,
//               AR100, AR small/medium/large: means of the entries > -1 (-1 if none).
//
// pycocotools' quirks are kept on purpose (they move numbers): a detection matched to a ground
// truth whose id is 0 counts as unmatched in the area test and in accumulate (dtMatches holds
// the GT id and 0 means "none"); areas are compared inclusively ([lo, hi]); thresholds are
// built as numpy.linspace builds them, so 0.75 == iou_thrs[5] exactly as in numpy.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace wsvis::data {

// numpy.linspace(start, stop, num, endpoint=True), bit for bit: start + i * ((stop-start)/(num-1)),
// the last value set to stop.
std::vector<double> np_linspace(double start, double stop, int num);

struct EvalParams {
  std::vector<double> iou_thrs;                  // T: 0.50:0.05:0.95
  std::vector<double> rec_thrs;                  // R: 0:0.01:1
  std::vector<int> max_dets;                     // M, ascending: 1, 10, 100
  std::vector<std::array<double, 2>> area_rngs;  // A, inclusive [lo, hi]
  std::vector<std::string> area_labels;          // A: all, small, medium, large

  // pycocotools Params.setDetParams: area ranges split at 32^2 and 96^2.
  static EvalParams coco();
  // ytvoseval Params: the same with the ranges split at 128^2 and 256^2.
  static EvalParams ytvis();
};

struct EvalGt {
  int64_t id = 0;
  double area = 0;  // compared with the area ranges (COCO "area"; YTVIS avg_area)
  bool iscrowd = false;  // crowd: ignored, may match many detections (and, in COCO, crowd IoU)
};

struct EvalDt {
  int64_t id = 0;  // 1..N in results order, as pycocotools' loadRes numbers them
  double area = 0;
  double score = 0;
};

// One (image or video, category).
struct EvalUnit {
  std::vector<EvalGt> gt;   // G, in input (file) order
  std::vector<EvalDt> dt;   // D, by descending score (stable), at most max_dets.back()
  std::vector<double> iou;  // (D, G) row-major; may be empty when D == 0 or G == 0
};

// Indices of `scores` sorted by descending score, ties in input order (numpy argsort of
// -score, kind='mergesort'), truncated to max_keep.
std::vector<size_t> order_by_score(const std::vector<double>& scores, size_t max_keep);

// evaluateImg for one unit, one area range and max_det (pycocotools passes max_dets.back()).
struct UnitMatch {
  bool valid = false;              // false where the unit has no GT and no detection (None)
  size_t num_dt = 0, num_gt = 0;   // D (after max_det), G
  std::vector<double> dt_scores;   // D
  std::vector<int64_t> dt_matches; // (T, D): id of the matched GT, 0 if none
  std::vector<uint8_t> dt_ignore;  // (T, D)
  std::vector<int64_t> gt_ids;     // G, ignored last
  std::vector<int64_t> gt_matches; // (T, G): id of the matched detection, 0 if none
  std::vector<uint8_t> gt_ignore;  // G, ignored last
};
UnitMatch match_unit(const EvalUnit& unit, const EvalParams& params,
                     const std::array<double, 2>& area_rng, int max_det);

struct EvalResult {
  EvalParams params;
  std::vector<int64_t> category_ids;  // K, ascending
  size_t num_units = 0;               // I: images or videos
  // (T, R, K, A, M) row-major; -1 where a category has no non-ignored GT in that area range.
  std::vector<double> precision;
  std::vector<double> recall;  // (T, K, A, M)
  std::vector<double> scores;  // (T, R, K, A, M): the score at each sampled recall
  std::array<double, 12> stats{};

  size_t T() const { return params.iou_thrs.size(); }
  size_t R() const { return params.rec_thrs.size(); }
  size_t K() const { return category_ids.size(); }
  size_t A() const { return params.area_rngs.size(); }
  size_t M() const { return params.max_dets.size(); }
  double precision_at(size_t t, size_t r, size_t k, size_t a, size_t m) const {
    return precision[(((t * R() + r) * K() + k) * A() + a) * M() + m];
  }
  double recall_at(size_t t, size_t k, size_t a, size_t m) const {
    return recall[((t * K() + k) * A() + a) * M() + m];
  }
  // AP of one category (index k): mean of its precision entries > -1 over all IoU thresholds
  // and recall thresholds, area "all", the largest max_dets; -1 when it has no GT.
  double category_ap(size_t k) const;
};

// Short names of the 12 stats: AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl.
const std::array<const char*, 12>& eval_stat_names();

// evaluate + accumulate + summarize. `units` is (K, I) row-major: units[k * I + i] holds
// category category_ids[k] (ascending) in image/video i (ascending id), as pycocotools orders
// evalImgs. Throws wsvis::Error when the shapes disagree or max_dets has fewer than 3 entries.
EvalResult evaluate_units(const std::vector<EvalUnit>& units, const std::vector<int64_t>& category_ids,
                          size_t num_units, const EvalParams& params);

// summarize(): the 12 stats from precision/recall (needs max_dets of size 3 and the area
// labels all/small/medium/large).
std::array<double, 12> summarize(const EvalResult& result);

}  // namespace wsvis::data
