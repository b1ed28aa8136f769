// CondInst, BoxInst and motion-aided BoxInst as one model (AdelaiDet adet/modeling/condinst/
// condinst.py CondInst; Ikeda & Mori's two-stream encoder), spec boxinst_maskrcnn_ytvis.md A:
//
//   frame [+ flow colour image] -> MotionEncoder (ResNet + FPN shared by both streams, mask
//     branch) -> detection P3-P7 -> FCOSHead (+ controller conv3x3 -> num_gen_params on the box
//     tower) -> training: FCOS targets, losses and positives -> the mask-head instances (BoxInst
//     top-64 per image, CondInst a random 500 at most) -> dynamic head -> stride-4 logits ->
//     BoxInst projection + pairwise losses, or CondInst's dice loss;
//   inference: FCOS detections -> dynamic head -> sigmoid -> aligned_bilinear x4 to the padded
//     input -> crop to the resized image -> bilinear (align_corners=False) to the output size
//     -> mask = prob > 0.5 (A.6); boxes rescaled and clipped, empty ones dropped with their masks.
//
// With both motion switches off the encoder is a plain backbone + mask branch: CondInst or
// BoxInst exactly. The model derives from MotionEncoder so that the state_dict names are
// AdelaiDet's: backbone.*, mask_branch.*, proposal_generator.fcos_head.*, controller.* (plus
// fusion_reduce.* with concat detection fusion). AdelaiDet's mask_head buffers (_iter,
// sizes_of_interest) are not state here: the trainer passes the iteration.
//
// Inputs: images (N, 3, H, W) normalised as the backbone expects (MSRA: BGR 0..255 minus the
// pixel mean) and padded with 0 to a multiple of 32; flow_images likewise (flow_color_inputs).
// Box coordinates are in those input pixels. BoxInst's colour (and flow) similarities come from
// the un-normalised images: models/boxinst_loss.h boxinst_similarity, once per batch.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "engine/random.h"
#include "layers/conv.h"
#include "models/boxinst_loss.h"
#include "models/condinst_dynamic_head.h"
#include "models/fcos_head.h"
#include "models/fcos_inference.h"
#include "models/fcos_loss.h"
#include "models/fcos_targets.h"
#include "models/motion_encoder.h"

namespace wsvis::models {

struct CondInstOptions {
  MotionEncoderOptions encoder;  // both motion switches false: plain CondInst / BoxInst
  FCOSHeadOptions head;          // in_channels, num_levels, dtype set from the encoder
  FcosTargetOptions targets;     // num_classes set from head.num_classes
  FcosLossOptions loss;
  FcosInferenceOptions inference;
  DynamicMaskHeadOptions mask_head;  // in_channels set from the encoder
  bool boxinst = true;               // box supervision (projection + pairwise); false: dice
  int64_t topk_proposals_per_image = 64;  // TOPK_PROPOSALS_PER_IM (BoxInst); <= 0: off
  int64_t max_proposals = -1;             // MAX_PROPOSALS (CondInst 500); <= 0: off
  BoxInstLossOptions boxinst_loss;
  double mask_threshold = 0.5;
};

// AdelaiDet's configs: BoxInst (C_mask 16, top-64 per image) with the paper's motion-aided
// encoder and motion-aware pairwise loss when `motion` (num_gen_params 361), plain BoxInst
// otherwise (233); CondInst (C_mask 8, 500 random proposals, dice loss; 169).
CondInstOptions boxinst_options(bool motion);
CondInstOptions condinst_options();

struct CondInstInputs {
  Tensor images;       // (N, 3, H, W)
  Tensor flow_images;  // (N, 3, H, W) or undefined when the encoder uses no flow
};

struct CondInstTargets {
  std::vector<FcosGtInstances> gts;  // per image: boxes, classes (and centre-sampling centres)
  std::vector<GtMasks> masks;        // CondInst: per image, the GT masks (unpadded)
  BoxInstSimilarity similarity;      // BoxInst: boxinst_similarity of the batch
  int64_t iter = 1;                  // training forwards so far, this one included
  Generator* gen = nullptr;          // CondInst with max_proposals: the random subset
};

struct CondInstLosses {
  FcosLosses fcos;
  Tensor mask;      // CondInst: loss_mask (undefined for BoxInst)
  Tensor prj;       // BoxInst: loss_prj
  Tensor pairwise;  // BoxInst: loss_pairwise (warm-up applied)
  double warmup_factor = 0;
  int64_t num_mask_instances = 0;
  Tensor total() const;  // every defined term, weight 1
};

// One image's detections with their masks at the output size.
struct CondInstDetections {
  FcosDetections detections;   // boxes in output pixels, descending score
  int64_t height = 0, width = 0;
  std::vector<uint8_t> masks;  // (D, height, width), 0 / 1
};

class CondInst : public MotionEncoder {
 public:
  CondInst(const CondInstOptions& options, Generator& gen, const ContextPtr& ctx);

  // Training losses for a batch (any mode; the model should be in training mode).
  CondInstLosses forward_train(const CondInstInputs& inputs, const CondInstTargets& targets);

  // Eval: image_sizes (h, w) of each resized image inside the padding, output_sizes (H, W) to
  // report each image at (the original image). Runs without autograd.
  std::vector<CondInstDetections> infer(
      const CondInstInputs& inputs, const std::vector<std::array<int64_t, 2>>& image_sizes,
      const std::vector<std::array<int64_t, 2>>& output_sizes);

  const CondInstOptions& model_options() const { return options_; }
  const DynamicMaskHead& mask_head() const { return mask_head_; }
  const std::shared_ptr<FCOSHead>& head() const { return head_; }
  const std::shared_ptr<layers::Conv2d>& controller() const { return controller_; }

 private:
  struct HeadPass {
    MotionEncoderOutput encoded;
    FcosFlatPredictions flat;
    FcosLayout layout;
  };
  HeadPass run_heads(const CondInstInputs& inputs);

  CondInstOptions options_;
  std::shared_ptr<FCOSHead> head_;
  std::shared_ptr<layers::Conv2d> controller_;
  DynamicMaskHead mask_head_;
};

}  // namespace wsvis::models
