// The two-stream encoder of motion-aided BoxInst (Ikeda & Mori, sec. 2.1; spec
// boxinst_maskrcnn_ytvis.md A.1-A.3 for the parts it shares with CondInst):
//
//   frame (N, 3, H, W) ---\                        /--> image P3..P7 --+-- fused per level
//                          >-- ONE ResNet + FPN --<                    |   (sum | max | concat)
//   flow colour image ----/    (shared weights)    \--> flow P3..P7 ---+   --> FCOS head
//
//   mask branch on each stream's P3-P5, the two outputs concatenated (| sum | max)
//     --> mask_feats --> dynamic mask head
//
// Paper defaults: detection features summed (F_det = F_img + F_flow), mask features
// concatenated (C_feat = 2 C_mask, so the dynamic head's C_in = 2 C_mask + 2: 34 and
// num_gen_params 361 with BoxInst's C_mask 16). The mask branch is one module applied to both
// streams (the paper feeds both P3 maps "into the mask branch"; it does not say whether the
// branch reads P3 only or AdelaiDet's P3-P5 - we keep AdelaiDet's P3-P5 fusion).
//
// Both streams run as ONE batch of 2N (image samples, then flow samples) through the backbone
// and, when the flow feeds the masks, through the mask branch. With the FrozenBN backbone of
// AdelaiDet (and the norm-free FPN) that equals two separate calls, with half the launches. The
// mask branch's BatchNorm then normalises with statistics of both streams together, in
// training and (running statistics) at inference alike; two separate calls per step would
// leave running statistics, updated alternately by the image and the flow batch, that match
// neither stream at inference. This choice is ours (the paper does not say).
//
// Switches:
//   detection_fusion  Table 4(a): sum (default) or max. concat (channel concat followed by a
//                     shared 1x1 conv 2C -> C, "fusion_reduce", kaiming_uniform a=1) is ours:
//                     the paper compares only max and sum for detection.
//   mask_fusion       Table 4(b): concat (default), sum or max (the latter two keep C_mask).
//   motion_for_detection / motion_for_segmentation  Table 2: false feeds the image stream
//                     alone to that head. With both false the flow stream is not computed at
//                     all and the encoder is plain BoxInst's (flow_images may be undefined).
//
// state_dict names: backbone.* as models/resnet_fpn.h (the FCOS layout, P3-P7), mask_branch.* as
// models/condinst_mask_branch.h, fusion_reduce.* only with concat detection fusion.
#pragma once

#include <array>
#include <memory>

#include "engine/random.h"
#include "layers/conv.h"
#include "layers/module.h"
#include "models/condinst_mask_branch.h"
#include "kernels/flow_color_math.h"
#include "models/fcos.h"

namespace wsvis::models {

enum class DetectionFusion { sum, max, concat };
enum class MaskFusion { concat, sum, max };

struct MotionEncoderOptions {
  ResNetOptions backbone = detectron2_resnet_options(50);
  int fpn_channels = 256;
  MaskBranchOptions mask_branch = boxinst_mask_branch_options();  // in_channels set from the FPN
  bool motion_for_detection = true;
  bool motion_for_segmentation = true;
  DetectionFusion detection_fusion = DetectionFusion::sum;
  MaskFusion mask_fusion = MaskFusion::concat;
};

struct MotionEncoderOutput {
  FeatureMap detection;  // p3 ... p7 for the FCOS head: fused, or the image stream's
  Tensor mask_feats;     // (N, mask_channels(), H / 8, W / 8) for the dynamic head
  FeatureMap image;      // the image stream's p3 ... p7
  FeatureMap flow;       // the flow stream's, empty when the flow is not used
};

class MotionEncoder : public layers::Module {
 public:
  MotionEncoder(const MotionEncoderOptions& options, Generator& gen, const ContextPtr& ctx);

  // images, flow_images: (N, 3, H, W) normalised as the backbone expects and padded (H, W
  // multiples of 32); flow_images may be undefined when uses_flow() is false.
  MotionEncoderOutput forward(const Tensor& images, const Tensor& flow_images);

  bool uses_flow() const {
    return options_.motion_for_detection || options_.motion_for_segmentation;
  }
  // Channels of mask_feats: 2 C_mask for concatenated two-stream features, else C_mask. The
  // dynamic head's in_channels.
  int mask_channels() const;
  const MotionEncoderOptions& options() const { return options_; }
  const std::shared_ptr<ResNetFpnBackbone>& backbone() const { return backbone_; }
  const std::shared_ptr<MaskBranch>& mask_branch() const { return mask_branch_; }
  const std::vector<int>& strides() const { return backbone_->out_strides(); }

 private:
  Tensor fuse_detection(const Tensor& image, const Tensor& flow);

  MotionEncoderOptions options_;
  std::shared_ptr<ResNetFpnBackbone> backbone_;
  std::shared_ptr<MaskBranch> mask_branch_;
  std::shared_ptr<layers::Conv2d> fusion_reduce_;  // concat detection fusion only
};

// How the backbone's input is normalised, in detectron2's terms: INPUT.FORMAT (channel order)
// and MODEL.PIXEL_MEAN / PIXEL_STD on 0..255 values, per channel in that order:
//   msra():        BGR, mean (103.530, 116.280, 123.675), std 1 (AdelaiDet's MSRA weights)
//   torchvision(): RGB, mean (123.675, 116.280, 103.530), std (58.395, 57.120, 57.375)
//                  (torchvision's ImageNet weights; the same as (x / 255 - 0.485...) / 0.229...)
struct PixelNormalization {
  bool rgb = false;
  std::array<float, 3> mean{103.530f, 116.280f, 123.675f};
  std::array<float, 3> std{1.f, 1.f, 1.f};
  static PixelNormalization msra() { return {}; }
  static PixelNormalization torchvision() {
    return {true, {123.675f, 116.280f, 103.530f}, {58.395f, 57.120f, 57.375f}};
  }
};

// The un-normalised BGR 0..255 images (BoxInst's colour similarity reads them) from a batch
// normalised by `norm`: (N, 3, H, W) f32. Padding comes back as the mean (the similarity masks it).
Tensor unnormalised_bgr(const Tensor& images, const PixelNormalization& norm);

// The flow as the encoder's second input and as the pairwise loss's colour image:
//   colors: (N, 3, H, W) u8 Middlebury colours (kernels flow_to_color, each image normalised
//           by its own largest motion), in BGR order (the flow similarity only takes norms of
//           colour differences, so the order does not matter to it);
//   input:  colors normalised as the frames are (`norm`), times valid (0 on padding, as the
//           frames).
// flow: (N, 2, H, W) f32; valid: (N, H, W) u8 or undefined (all valid).
struct FlowColorInputs {
  Tensor colors;
  Tensor input;
};
FlowColorInputs flow_color_inputs(const Tensor& flow, const Tensor& valid,
                                  kernels::FlowWheelVariant variant,
                                  const PixelNormalization& norm = PixelNormalization::msra());

}  // namespace wsvis::models
