#include "models/resnet_fpn.h"

#include "engine/error.h"

namespace wsvis::models {

ResNetOptions detectron2_resnet_options(int depth) {
  ResNetOptions o;
  o.depth = depth;
  o.num_classes = 0;
  o.norm = NormKind::FrozenBN;
  o.freeze_at = 2;
  o.stride_in_1x1 = true;
  return o;
}

namespace {

FPNOptions fpn_options(const ResNet& resnet, FpnLayout layout, int fpn_channels) {
  WSVIS_CHECK(layout != nullptr, "ResNetFpnBackbone: no FPN layout given");
  FPNOptions o = layout(resnet);
  o.out_channels = fpn_channels;
  return o;
}

}  // namespace

// The public constructor builds the ResNet before the FPN base (a delegating constructor), so
// the ResNet's initialisation draws from `gen` first, as detectron2's builder does.
ResNetFpnBackbone::ResNetFpnBackbone(const ResNetOptions& resnet, FpnLayout layout,
                                     int fpn_channels, Generator& gen, const ContextPtr& ctx)
    : ResNetFpnBackbone(std::make_shared<ResNet>(resnet, gen, ctx), layout, fpn_channels, gen,
                        ctx) {}

ResNetFpnBackbone::ResNetFpnBackbone(std::shared_ptr<ResNet> resnet, FpnLayout layout,
                                     int fpn_channels, Generator& gen, const ContextPtr& ctx)
    : FPN(fpn_options(*resnet, layout, fpn_channels), gen, ctx) {
  WSVIS_CHECK(resnet->options().num_classes == 0,
              "ResNetFpnBackbone: the ResNet must be a backbone (num_classes 0), got num_classes ",
              resnet->options().num_classes);
  bottom_up_ = register_module("bottom_up", std::move(resnet));
}

FeatureMap ResNetFpnBackbone::forward_images(const Tensor& images) {
  return forward(bottom_up_->forward(images).features());
}

}  // namespace wsvis::models
