#include "models/mask_rcnn.h"

#include "engine/error.h"
#include "engine/ops/elementwise.h"

namespace wsvis::models {

Tensor MaskRcnnOutput::total_loss() const {
  Tensor sum;
  for (const auto& [name, loss] : losses) sum = sum.defined() ? ops::add(sum, loss) : loss;
  return sum;
}

MaskRcnn::MaskRcnn(const MaskRcnnOptions& options, Generator& gen, const ContextPtr& ctx)
    : options_(options) {
  options_.rpn.in_channels = options.fpn_channels;
  options_.rpn.dtype = options.backbone.dtype;
  options_.roi_heads.in_channels = options.fpn_channels;
  options_.roi_heads.dtype = options.backbone.dtype;
  backbone_ = register_module(
      "backbone", std::make_shared<ResNetFpnBackbone>(options.backbone, maskrcnn_fpn_options,
                                                      options.fpn_channels, gen, ctx));
  WSVIS_CHECK(backbone_->out_strides().size() == options_.rpn.strides.size() &&
                  options_.roi_heads.strides.size() + 1 == options_.rpn.strides.size(),
              "MaskRcnn: the FPN gives ", backbone_->out_strides().size(), " levels, the RPN ",
              "expects ", options_.rpn.strides.size(), " and the RoI heads ",
              options_.roi_heads.strides.size(), " (P2-P6 and P2-P5)");
  rpn_ = register_module("proposal_generator", std::make_shared<Rpn>(options_.rpn, gen, ctx));
  roi_heads_ = register_module("roi_heads",
                               std::make_shared<StandardRoiHeads>(options_.roi_heads, gen, ctx));
}

namespace {

// detectron2's loss names, each weight 1.
void collect_training_losses(MaskRcnnOutput* out) {
  out->losses["loss_rpn_cls"] = out->rpn.losses.loss_rpn_cls;
  out->losses["loss_rpn_loc"] = out->rpn.losses.loss_rpn_loc;
  out->losses["loss_cls"] = out->roi.loss_cls;
  out->losses["loss_box_reg"] = out->roi.loss_box_reg;
  if (out->roi.loss_mask.defined()) out->losses["loss_mask"] = out->roi.loss_mask;
}

}  // namespace

MaskRcnnOutput MaskRcnn::forward(const Tensor& images, const std::vector<ImageSize>& image_sizes,
                                 const std::vector<RcnnInstances>* gts, Generator* gen) {
  WSVIS_CHECK(images.dim() == 4 && images.size(1) == 3, "MaskRcnn: images must be (N, 3, H, W), "
              "got ", images.shape_str());
  MaskRcnnOutput out;
  out.features = backbone_->forward_images(images);
  std::vector<Tensor> levels;
  for (const std::string& name : backbone_->out_features()) levels.push_back(out.features.at(name));
  out.rpn = rpn_->forward(levels, image_sizes, gts, gen);
  std::vector<std::vector<RcnnBox>> proposals;
  for (const RpnProposals& p : out.rpn.proposals) proposals.push_back(p.boxes);
  const std::vector<Tensor> roi_levels(levels.begin(), levels.end() - 1);  // P2..P5
  out.roi = roi_heads_->forward(roi_levels, proposals, image_sizes, gts, gen);
  if (is_training()) {
    collect_training_losses(&out);
  } else {
    out.detections = out.roi.detections;
  }
  return out;
}

MaskRcnnOutput MaskRcnn::forward_self_labelled(const Tensor& images,
                                               const std::vector<ImageSize>& image_sizes,
                                               const TargetsFromPredictions& make_targets,
                                               Generator* gen) {
  WSVIS_CHECK(is_training(), "MaskRcnn::forward_self_labelled: the model must be in training mode");
  MaskRcnnOutput out;
  out.features = backbone_->forward_images(images);
  std::vector<Tensor> levels;
  for (const std::string& name : backbone_->out_features()) levels.push_back(out.features.at(name));
  const std::vector<Tensor> roi_levels(levels.begin(), levels.end() - 1);  // P2..P5
  auto proposal_boxes = [](const RpnOutput& rpn) {
    std::vector<std::vector<RcnnBox>> boxes;
    for (const RpnProposals& p : rpn.proposals) boxes.push_back(p.boxes);
    return boxes;
  };
  std::vector<RcnnDetections> predictions;
  {
    NoGradGuard no_grad;
    rpn_->train(false);
    roi_heads_->train(false);
    const RpnOutput rpn = rpn_->forward(levels, image_sizes);
    predictions = roi_heads_->forward(roi_levels, proposal_boxes(rpn), image_sizes).detections;
    rpn_->train(true);
    roi_heads_->train(true);
  }
  const std::vector<RcnnInstances> gts = make_targets(predictions);
  out.rpn = rpn_->forward(levels, image_sizes, &gts, gen);
  out.roi = roi_heads_->forward(roi_levels, proposal_boxes(out.rpn), image_sizes, &gts, gen);
  collect_training_losses(&out);
  out.detections = std::move(predictions);
  return out;
}

}  // namespace wsvis::models
