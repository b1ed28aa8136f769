// Stage 1d of flowIRN: instance pseudo-labels (irn step/make_ins_seg_labels.py; spec
// irn_flowirn_maskconsist.md section 5), with flowIRN's f-CAM seeds when flowirn.fcam.
//
// Per frame with classes: the IRN on the image and its flip, padded bottom/right to
// irn.crop when the frame fits in it, else to a multiple of 16 (spec [UNPINNED]);
// boundary B = sigmoid of the mean of the image's edge logit and the flipped-back one of the
// flip (we flip back the flip's own stride-4 window; IRN flips the padded map, which shifts
// it by the padding width), displacement D of the image minus the mean shift; centroids
// (300 steps) and their grouping into instances (weak region ||D|| < 2.5); seeds = the
// stride-4 (f-)CAM of each present class times each instance mask; the random walk (radius
// 5, beta, 2^exp_times steps) from the seeds masked by (1 - B); x4 bilinear, crop, divide by
// the global max, background 0.25, argmax; every channel's 4-connected components are the
// instances, scored by the max of their channel inside them (0 under 1% of the image),
// those scoring < inference.min_score dropped (IRN's make_cocoann).
//
// Outputs: <run>/pseudo/<video>/<frame>.json per frame (resumable), then
//   <run>/pseudo_labels.json   YouTube-VIS JSON: every pseudo instance an annotation present
//                              in its one frame (stage 2 trains on it)
//   <run>/pseudo_results.json  the same as YouTube-VIS results (scores), for `wsvis eval`
//   <run>/metrics.json         frame-level COCO mask AP of the pseudo-labels against the
//                              dataset's ground truth (when it has annotations)
#pragma once

#include <vector>

#include "data/rle.h"
#include "engine/tensor.h"
#include "models/irn_net.h"
#include "pipeline/run_dir.h"
#include "pipeline/stage1_config.h"
#include "pipeline/stage1_data.h"

namespace wsvis::pipeline {

struct PseudoInstance {
  int category_index = 0;
  double score = 0;
  data::Rle mask;
};

// One frame. cams: the stride-4 seeds (C', h4, w4) of `classes` (f-CAM already applied).
std::vector<PseudoInstance> irn_frame_instances(models::IrnNet& net, const data::Image& image,
                                                const Tensor& cams, const std::vector<int>& classes,
                                                const Stage1Config& config, const ContextPtr& ctx);

void make_pseudo_labels(const Stage1Config& config, const Stage1Data& data, const RunDir& run,
                        const ContextPtr& ctx);

// Frame-level COCO segm metrics of <run>/pseudo_results.json against the dataset; writes
// <run>/metrics.json and returns it.
nlohmann::json evaluate_pseudo_labels(const Stage1Data& data, const RunDir& run);

}  // namespace wsvis::pipeline
