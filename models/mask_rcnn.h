// Mask R-CNN R50-FPN as detectron2's GeneralizedRCNN with Base-RCNN-FPN + mask head
// (specs/boxinst_maskrcnn_ytvis.md part B): ResNet (FrozenBN, FREEZE_AT 2, STRIDE_IN_1X1; depth
// configurable) -> FPN P2-P6 (P6 max-pooled from P5) -> RPN on P2-P6 (models/rpn.h) -> RoI heads
// on P2-P5 (models/roi_heads.h).
//
//   training (is_training()): forward(images, sizes, &gts, &gen) -> loss_rpn_cls, loss_rpn_loc,
//     loss_cls, loss_box_reg, loss_mask (each weight 1; their sum is the training loss);
//   eval: forward(images, sizes) -> per image up to 100 detections with 28 x 28 mask
//     probabilities in input pixels (paste them with models/mask_paste.h).
// images: (N, 3, H, W) normalised as the backbone's weights expect and padded with 0 (H, W
// multiples of 32); image_sizes: each image's unpadded size (boxes are clipped to it).
//
// state_dict names as detectron2: backbone.* as models/resnet_fpn.h (backbone.fpn_lateral2.weight,
// ..., backbone.bottom_up.*), proposal_generator.rpn_head.conv.weight,
// .objectness_logits.*, .anchor_deltas.*, roi_heads.box_head.fc1.*, roi_heads.box_predictor.
// cls_score.*, roi_heads.mask_head.mask_fcn1.*, ..., roi_heads.mask_head.predictor.*.
#pragma once

#include <functional>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/random.h"
#include "layers/module.h"
#include "models/resnet_fpn.h"
#include "models/roi_heads.h"
#include "models/rpn.h"

namespace wsvis::models {

struct MaskRcnnOptions {
  ResNetOptions backbone = detectron2_resnet_options(50);
  int fpn_channels = 256;
  RpnOptions rpn;             // in_channels and dtype are set from the FPN and the backbone
  RoiHeadsOptions roi_heads;  // likewise
};

struct MaskRcnnOutput {
  FeatureMap features;
  RpnOutput rpn;
  RoiHeadsOutput roi;
  std::map<std::string, Tensor> losses;    // training
  std::vector<RcnnDetections> detections;  // eval
  Tensor total_loss() const;               // sum of `losses`
};

class MaskRcnn : public layers::Module {
 public:
  MaskRcnn(const MaskRcnnOptions& options, Generator& gen, const ContextPtr& ctx);
  MaskRcnnOutput forward(const Tensor& images, const std::vector<ImageSize>& image_sizes,
                         const std::vector<RcnnInstances>* gts = nullptr, Generator* gen = nullptr);
  // Training on labels made from the model's own predictions (MaskConsist), with ONE backbone
  // pass: the features of this step give, without autograd and with the RPN and RoI heads in
  // eval mode (test-time proposal counts, score 0.05, NMS 0.5, 100 detections), the
  // predictions of every image; make_targets turns them into the training targets; then the
  // RPN and RoI heads train on those targets from the same features. What runs twice is the
  // RPN head's convs (once without autograd) and the RoI heads, not the backbone.
  // The model must be in training mode.
  using TargetsFromPredictions =
      std::function<std::vector<RcnnInstances>(const std::vector<RcnnDetections>& predictions)>;
  MaskRcnnOutput forward_self_labelled(const Tensor& images, const std::vector<ImageSize>& image_sizes,
                                       const TargetsFromPredictions& make_targets, Generator* gen);

  const MaskRcnnOptions& options() const { return options_; }
  const std::shared_ptr<ResNetFpnBackbone>& backbone() const { return backbone_; }
  const std::shared_ptr<Rpn>& rpn() const { return rpn_; }
  const std::shared_ptr<StandardRoiHeads>& roi_heads() const { return roi_heads_; }

 private:
  MaskRcnnOptions options_;
  std::shared_ptr<ResNetFpnBackbone> backbone_;
  std::shared_ptr<Rpn> rpn_;
  std::shared_ptr<StandardRoiHeads> roi_heads_;
};

}  // namespace wsvis::models
