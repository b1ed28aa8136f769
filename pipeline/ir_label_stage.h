// Stage 1b of flowIRN: inter-pixel relation labels from CAMs (irn step/cam_to_ir_label.py;
// spec irn_flowirn_maskconsist.md section 2), with flowIRN's f-CAM when flowirn.fcam.
//
// Per frame, from the high-resolution CAMs of its present classes (f-CAMs with flowirn.fcam):
//   fg = CRF(argmax([0.30, CAMs])), bg = CRF(argmax([0.05, CAMs])) (dense CRF on the frame,
//   labels as unaries with gt_prob 0.7); label = the class of fg where fg is a class; else 0
//   where bg is background too, else 255 (unsure: ignored by IRN's losses).
// Output: <run>/ir_labels/<video>/<frame>.png, 8-bit grey: 0 background, 1 + category index,
// 255 ignore (frames with no class: all 0).
#pragma once

#include <cstdint>
#include <vector>

#include "engine/tensor.h"
#include "pipeline/run_dir.h"
#include "pipeline/stage1_config.h"
#include "pipeline/stage1_data.h"

namespace wsvis::pipeline {

void make_ir_labels(const Stage1Config& config, const Stage1Data& data, const RunDir& run,
                    const ContextPtr& ctx);

std::string ir_label_path(const RunDir& run, const FrameRef& frame);

// The label of one frame (H, W) from its (f-)CAMs (C', H, W), its classes and image.
std::vector<uint8_t> ir_label_from_cams(const Tensor& cams, const std::vector<int>& classes,
                                        const data::Image& image,
                                        const Stage1Config::IrLabel& options);

// argmax over [threshold plane; planes] of (C, H, W): (H, W) i32 in 0..C (0 = the threshold).
Tensor argmax_with_background(const Tensor& planes, double threshold);

}  // namespace wsvis::pipeline
