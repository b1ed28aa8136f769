// YouTube-VIS 2019 video instance segmentation metrics, identical to youtubevos/cocoapi's
// ytvoseval.py (spec C.2): COCOeval with the unit (video, category) in place of (image,
// category) and
//   - the spatio-temporal IoU of two tracks: I = sum over frames where both are present of
//     |d_t ∩ g_t|, U = the same frames' |d_t ∪ g_t| plus |g_t| where only g is present plus
//     |d_t| where only d is; IoU = I / U, 0 when U = 0. No crowd IoU (a crowd GT is only
//     "ignore"); frames beyond the shorter track are not looked at (Python zip); where the two
//     masks differ in size, pycocotools' merge yields an empty mask and the frame adds 0 to I and U;
//   - avg_area in place of area: the mean of the track's non-null, non-zero per-frame areas
//     (Python `if a`), 0 if there is none; GT from its "areas" field, detections from their RLEs;
//   - area ranges split at 128^2 and 256^2 (EvalParams::ytvis()).
// Results are numbered 1..N in order (ytvos.loadRes), sorted per unit by score (stable) and cut
// to 100; matching, accumulation and the 12 stats come from the shared core (eval_common.h).
// YTVIS papers report stats[0..2] (AP, AP50, AP75) and stats[6..7] (AR1, AR10).
//
// Errors: a result whose video is not in the GT throws wsvis::InputError naming
// options.results_name. Results of categories the GT lacks are left out, as in ytvoseval.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "data/coco.h"
#include "data/eval_common.h"
#include "data/ytvis.h"

namespace wsvis::data {

struct YtvisEvalOptions {
  EvalParams params = EvalParams::ytvis();
  std::string gt_name = "ground truth";  // for error messages
  std::string results_name = "results";
};

EvalResult evaluate_ytvis(const YtvisDataset& gt, const std::vector<YtvisResult>& results,
                          const YtvisEvalOptions& options = {});

// The spatio-temporal IoU of two tracks (nullptr = absent in that frame), as above.
double spatio_temporal_iou(const std::vector<const Rle*>& d, const std::vector<const Rle*>& g);

// Mean of the present, non-zero areas; 0 when there is none.
double ytvis_avg_area(const std::vector<std::optional<double>>& areas);

// ---- frame-level views (frame AP of a VIS method with the COCO evaluator) --------------------
// Every annotated frame becomes a COCO image: ids 1, 2, ... over the videos in file order and
// their frames in order, file_name = the frame's file name. Every track with a non-empty mask
// in a frame becomes an annotation there (ids 1, 2, ...; segmentation, bbox and area as the
// track stores them for that frame; iscrowd kept); absent frames and empty masks (an object
// not visible) give none. Categories are kept.
CocoDataset ytvis_frames_as_coco(const YtvisDataset& gt);
// Every present per-frame mask of a video-level prediction becomes a COCO result on that
// frame's image, with the track's category and score. Throws InputError (results_name) for a
// result whose video is not in `gt`.
std::vector<CocoResult> ytvis_results_as_coco(const std::vector<YtvisResult>& results,
                                              const YtvisDataset& gt,
                                              const std::string& results_name = "results");

}  // namespace wsvis::data
