// FCOS inference as AdelaiDet's FCOSOutputs.predict_proposals (test settings of the
// BoxInst/CondInst configs) and the box part of CondInst.postprocess:
//
//   per level and image: p = sigmoid(cls) * sigmoid(ctrness) per (location, class); candidates
//     p > 0.05 (THRESH_WITH_CTR; without it the threshold applies to sigmoid(cls) alone); at
//     most the 1000 best candidates of the level (PRE_NMS_TOPK_TEST); score = sqrt(p);
//     box = (x - l*s, y - t*s, x + r*s, y + b*s) around the location (x, y), s the stride;
//   per image over all levels: class-aware NMS at IoU 0.6 (kernels batched_nms, labels = class);
//     then, when more than 100 remain (POST_NMS_TOPK_TEST), keep the scores >= the 100th best
//     (torch.kthvalue's threshold: ties at it can keep more than 100).
//   rescale_fcos_detections: boxes scaled by (out_w / in_w, out_h / in_h), clipped to the output
//     image, empty boxes (w <= 0 or h <= 0) dropped.
//
// Where it runs: the sigmoids are ops on the predictions' device; the (R, K) score table, the
// (R) centreness and the (R, 4) boxes are then copied to the host once, and candidate
// selection and NMS (kernels::cpu::batched_nms) run there - a few MB and well under the
// network's own time at 800 x 1333. The controller rows of the kept detections are gathered
// on the device (index_select), so the CondInst mask head receives them where it runs.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "engine/tensor.h"
#include "models/fcos_head.h"
#include "models/fcos_targets.h"

namespace wsvis::models {

struct FcosInferenceOptions {
  double score_threshold = 0.05;  // INFERENCE_TH_TEST
  int64_t pre_nms_topk = 1000;    // per level and image
  double nms_threshold = 0.6;     // NMS_TH
  int64_t post_nms_topk = 100;    // per image; <= 0 keeps all
  bool thresh_with_ctr = true;    // THRESH_WITH_CTR (BoxInst / CondInst configs)
};

// One image's detections in descending score order.
struct FcosDetections {
  std::vector<std::array<float, 4>> boxes;     // (D) x1, y1, x2, y2
  std::vector<float> scores;                   // (D) sqrt(sigmoid(cls) * sigmoid(ctrness))
  std::vector<int64_t> classes;                // (D) 0-based
  std::vector<int64_t> level;                  // (D) FPN level index (0 = P3)
  std::vector<std::array<float, 2>> location;  // (D) (x, y) input-image pixels
  std::vector<int64_t> rows;                   // (D) row of the flattened predictions
  Tensor controller;                           // (D, P) on the predictions' device, or undefined
  int64_t size() const { return static_cast<int64_t>(scores.size()); }
};

// flat: the head's flattened outputs for `layout`; boxes in the input (padded batch) pixels.
std::vector<FcosDetections> fcos_detect(const FcosFlatPredictions& flat, const FcosLayout& layout,
                                        const FcosInferenceOptions& options = {});

// Scales boxes from the input image size (in_h, in_w: the resized image the network saw,
// without padding) to the output size, clips them to it and drops empty ones (every field,
// the controller rows included). Returns the indices (into the detections before the call)
// that were kept, for a mask head that has already run.
std::vector<int64_t> rescale_fcos_detections(FcosDetections& det, int in_h, int in_w, int out_h,
                                             int out_w);

}  // namespace wsvis::models
