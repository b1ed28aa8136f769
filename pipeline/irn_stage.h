// Stage 1c of flowIRN: the IRN (irn step/train_irn.py; spec irn_flowirn_maskconsist.md
// sections 3-4), with flowIRN's flow-boundary loss when flowirn.flow_boundary (seed paper
// section 3.2; spec section 7).
//
//   train_irn -> <run>/irn/model.safetensors (branches, frozen backbone, mean shift)
//     Per sample: random scale in irn.scale_range (image bilinear, IR label nearest, flow
//     resampled with its values scaled), h-flip (p 0.5; flow u negated), IRN's random crop
//     to irn.crop (image 0, label 255, flow 0 padding). The label and the flow are sampled on
//     the stride-4 grid at pixels 4i+2 (PIL NEAREST x0.25, as IRN). Loss: IRN's total over
//     the radius-10 pairs of the training source crop, plus flowirn.weight x the
//     flow-boundary loss on the same pairs, F' = forward differences of the stride-4 flow
//     times flowirn.flow_scale (0.25 by default: stride-4 pixels).
//     Then the mean shift: the mean displacement over every frame (top-left crop / zero pad
//     to irn.crop, batches of irn.batch, drop_last; IRN averages per-batch means).
#pragma once

#include <memory>

#include "engine/tensor.h"
#include "models/irn_net.h"
#include "pipeline/run_dir.h"
#include "pipeline/stage1_config.h"
#include "pipeline/stage1_data.h"

namespace wsvis::pipeline {

void train_irn(const Stage1Config& config, const Stage1Data& data, const RunDir& run,
               const ContextPtr& ctx);

// The IRN the config describes, freshly initialised: train_irn then sets its backbone
// (ImageNet weights, or the trained CAM network's); inference loads <run>/irn/model.safetensors.
std::unique_ptr<models::IrnNet> make_irn_net(const Stage1Config& config, const ContextPtr& ctx);

}  // namespace wsvis::pipeline
