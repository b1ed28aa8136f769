#include "models/fcos.h"

#include <string>

#include "engine/error.h"

namespace wsvis::models {

Fcos::Fcos(const FcosOptions& options, Generator& gen, const ContextPtr& ctx)
    : options_(options) {
  WSVIS_CHECK(options.num_gen_params >= 0, "Fcos: num_gen_params ", options.num_gen_params,
              " must be >= 0");
  backbone_ = register_module(
      "backbone", std::make_shared<ResNetFpnBackbone>(options.backbone, fcos_fpn_options,
                                                      options.fpn_channels, gen, ctx));
  FCOSHeadOptions h = options.head;
  h.in_channels = options.fpn_channels;
  h.num_levels = static_cast<int>(backbone_->out_features().size());
  h.dtype = options.backbone.dtype;
  head_ = std::make_shared<FCOSHead>(h, gen, ctx);
  register_module("proposal_generator", std::make_shared<FcosProposalGenerator>(head_));
  if (options.num_gen_params > 0)
    controller_ = register_module(
        "controller", make_fcos_head_conv(options.fpn_channels, options.num_gen_params, 0.0, gen,
                                          ctx, options.backbone.dtype));
  options_.head = h;
  options_.targets.num_classes = h.num_classes;
}

FcosOutput Fcos::forward(const Tensor& images, const std::vector<FcosGtInstances>* gts) {
  WSVIS_CHECK(images.dim() == 4 && images.size(1) == 3, "Fcos: images must be (N, 3, H, W), got ",
              images.shape_str());
  FcosOutput out;
  out.features = backbone_->forward_images(images);
  std::vector<Tensor> levels;
  for (const std::string& name : backbone_->out_features()) levels.push_back(out.features.at(name));
  out.head = head_->forward(levels, controller_.get());
  out.flat = flatten_fcos_predictions(out.head);
  out.layout = FcosLayout::from_maps(out.head.logits, strides());
  if (is_training()) {
    WSVIS_CHECK(gts != nullptr, "Fcos: training mode needs the ground truth of every image");
    out.targets = compute_fcos_targets(out.layout, *gts, options_.targets);
    out.losses = fcos_losses(out.flat, out.targets, options_.loss);
    out.positives = gather_fcos_positives(out.flat, out.targets);
  } else {
    out.detections = fcos_detect(out.flat, out.layout, options_.inference);
  }
  return out;
}

}  // namespace wsvis::models
