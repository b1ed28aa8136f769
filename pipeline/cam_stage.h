// Stage 1a of flowIRN: the CAM network (irn step/train_cam.py, step/make_cam.py; spec
// irn_flowirn_maskconsist.md section 1).
//
//   train_cam  -> <run>/cam/model.safetensors
//     Every frame of the dataset with its class labels (frames with no visible object are
//     negatives for every class); per sample: random long-side resize within cam.resize_long,
//     h-flip (p 0.5), IRN's random crop to cam.crop (padding 0 after normalisation);
//     multilabel soft-margin loss; SGD with the poly schedule, the classifier at
//     cam.classifier_lr_mult x lr; drop_last batches.
//   make_cams  -> <run>/cams/<video>/<frame>.safetensors, per frame with >= 1 class:
//     "strided" (C', h4, w4) on the stride-4 grid and "highres" (C', H, W), C' = the frame's
//     present classes in category order (metadata "classes": their indices, comma-separated;
//     a frame with no class gets a file with metadata only). Each = the sum over cam.scales of
//     ReLU(classifier(S4)) of the image plus the flipped-back map of its flip, resized
//     (bilinear) to the target grid (high-res: to 16*ceil(H/16) x 16*ceil(W/16), cropped),
//     then each class divided by (its max + 1e-5).
#pragma once

#include <string>
#include <vector>

#include "engine/context.h"
#include "engine/tensor.h"
#include "models/cam_net.h"
#include "pipeline/run_dir.h"
#include "pipeline/stage1_config.h"
#include "pipeline/stage1_data.h"

namespace wsvis::pipeline {

// The CAM network the config describes, with ImageNet weights when cam.pretrained is set.
std::unique_ptr<models::CamNet> make_cam_net(const Stage1Config& config, int num_classes,
                                             Generator& gen, const ContextPtr& ctx);

void train_cam(const Stage1Config& config, const Stage1Data& data, const RunDir& run,
               const ContextPtr& ctx);
void make_cams(const Stage1Config& config, const Stage1Data& data, const RunDir& run,
               const ContextPtr& ctx);

// One frame's CAMs as make_cams writes them (host tensors), and the reader.
struct FrameCams {
  std::vector<int> classes;  // category indices, C'
  Tensor strided;            // (C', h4, w4), undefined when C' = 0
  Tensor highres;            // (C', H, W)
};
std::string cam_path(const RunDir& run, const FrameRef& frame);
FrameCams read_cams(const std::string& path, const ContextPtr& ctx);

// The CAM maps of one image at one scale: relu(classifier(S4))(img) + flip(.. (flip(img))),
// (C, h, w) for all classes, on ctx. image: (1, 3, H, W).
Tensor cam_at_scale(models::CamNet& net, const data::Image& image, double scale,
                    const ContextPtr& ctx);

}  // namespace wsvis::pipeline
