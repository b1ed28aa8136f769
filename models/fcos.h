// FCOS as the detector of CondInst / BoxInst (AdelaiDet): ResNet (FrozenBN, FREEZE_AT 2,
// STRIDE_IN_1X1) -> FPN P3-P7 (P6, P7 from P5) -> FCOSHead, with the CondInst controller
// conv3x3 -> num_gen_params on the bbox tower when num_gen_params > 0.
//
//   training (is_training()): forward(images, &gts) -> targets, losses (loss_fcos_cls / _loc /
//     _ctr) and the positives with their controller rows (the mask head's instances);
//   eval: forward(images) -> per-image detections in input-image pixels (rescale them to the
//     original image with rescale_fcos_detections).
// images: (N, 3, H, W), normalised as the backbone's weights expect (MSRA: BGR 0..255 minus
// (103.530, 116.280, 123.675)) and padded with 0 to a multiple of 32 (data/loader.h builds such
// batches). Box coordinates are in those input pixels.
//
// state_dict names as AdelaiDet's CondInst / FCOS: backbone.* as models/resnet_fpn.h
// (backbone.fpn_lateral3.weight, backbone.top_block.p6.weight, ..., backbone.bottom_up.*),
// proposal_generator.fcos_head.cls_tower.0.weight, ..., controller.weight / controller.bias.
// CondInst (models/condinst.h) registers the same names, with its mask_branch beside them.
#pragma once

#include <memory>
#include <utility>
#include <vector>

#include "engine/random.h"
#include "layers/conv.h"
#include "layers/module.h"
#include "models/fcos_head.h"
#include "models/fcos_inference.h"
#include "models/fcos_loss.h"
#include "models/fcos_targets.h"
#include "models/resnet_fpn.h"

namespace wsvis::models {

struct FcosOptions {
  ResNetOptions backbone = detectron2_resnet_options(50);
  int fpn_channels = 256;
  // in_channels, num_levels and dtype are set from the FPN and the backbone; the rest is used.
  FCOSHeadOptions head;
  int num_gen_params = 0;  // CondInst controller outputs: 169 (CondInst), 233 (BoxInst); 0: none
  FcosTargetOptions targets;  // num_classes is set from head.num_classes
  FcosLossOptions loss;
  FcosInferenceOptions inference;
};

// AdelaiDet's PROPOSAL_GENERATOR module, registered as "proposal_generator" by Fcos and CondInst:
// it only owns "fcos_head" (AdelaiDet's FCOSOutputs holds no state).
class FcosProposalGenerator : public layers::Module {
 public:
  explicit FcosProposalGenerator(std::shared_ptr<FCOSHead> head) {
    register_module("fcos_head", std::move(head));
  }
};

struct FcosOutput {
  FeatureMap features;        // p3 ... p7 (CondInst's mask branch reads p3 - p5)
  FCOSHeadOutput head;        // per level
  FcosFlatPredictions flat;   // rows in layout order
  FcosLayout layout;
  // Training only.
  FcosTargets targets;
  FcosLosses losses;
  FcosPositives positives;
  // Eval only: one entry per image, boxes in input pixels.
  std::vector<FcosDetections> detections;
};

class Fcos : public layers::Module {
 public:
  Fcos(const FcosOptions& options, Generator& gen, const ContextPtr& ctx);

  // gts: one entry per image, required in training mode (ignored in eval mode).
  FcosOutput forward(const Tensor& images, const std::vector<FcosGtInstances>* gts = nullptr);

  const FcosOptions& options() const { return options_; }
  const std::shared_ptr<ResNetFpnBackbone>& backbone() const { return backbone_; }
  const std::shared_ptr<FCOSHead>& head() const { return head_; }
  const std::shared_ptr<layers::Conv2d>& controller() const { return controller_; }  // or null
  const std::vector<int>& strides() const { return backbone_->out_strides(); }

 private:
  FcosOptions options_;
  std::shared_ptr<ResNetFpnBackbone> backbone_;
  std::shared_ptr<FCOSHead> head_;
  std::shared_ptr<layers::Conv2d> controller_;
};

}  // namespace wsvis::models
