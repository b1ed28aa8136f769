// The ResNet + FPN backbone of every detector here, built as detectron2's
// build_resnet_fpn_backbone (Mask R-CNN) and AdelaiDet's build_fcos_resnet_fpn_backbone
// (FCOS / CondInst / BoxInst, the motion encoder) build it: the FPN module owns its bottom-up
// ResNet as "bottom_up". The two detectors differ only in which levels the FPN takes and its top
// block, so the caller passes one of models/fpn.h's layouts:
//   fcos_fpn_options      res3-res5 -> P3-P7 (P6, P7 convs from P5)
//   maskrcnn_fpn_options  res2-res5 -> P2-P6 (P6 max-pooled from P5)
//
// state_dict names: fpn_lateral{s}.*, fpn_output{s}.*, top_block.* (the FPN's, registered
// first), then bottom_up.<torchvision ResNet names>. detectron2 calls the ResNet's stages stem /
// res2..res5; MSRA weights need that renaming when imported.
// Construction draws from `gen` for the ResNet first, then for the FPN.
#pragma once

#include <memory>

#include "engine/random.h"
#include "models/fpn.h"
#include "models/resnet.h"

namespace wsvis::models {

// detectron2's build_resnet_backbone settings shared by its Mask R-CNN and AdelaiDet's
// detectors: a backbone (no fc), FrozenBN everywhere, stem and res2 frozen (FREEZE_AT 2), stride
// on the first 1x1 conv (STRIDE_IN_1X1, MSRA weights).
ResNetOptions detectron2_resnet_options(int depth = 50);

// Which FPN a detector builds on a ResNet: fcos_fpn_options or maskrcnn_fpn_options.
using FpnLayout = FPNOptions (*)(const ResNet& resnet);

class ResNetFpnBackbone : public FPN {
 public:
  // resnet.num_classes must be 0; the FPN is fpn_channels wide.
  ResNetFpnBackbone(const ResNetOptions& resnet, FpnLayout layout, int fpn_channels,
                    Generator& gen, const ContextPtr& ctx);
  // images (N, 3, H, W) -> the FPN levels out_features(), each (N, fpn_channels, H / s, W / s).
  FeatureMap forward_images(const Tensor& images);
  const std::shared_ptr<ResNet>& bottom_up() const { return bottom_up_; }

 private:
  ResNetFpnBackbone(std::shared_ptr<ResNet> resnet, FpnLayout layout, int fpn_channels,
                    Generator& gen, const ContextPtr& ctx);
  std::shared_ptr<ResNet> bottom_up_;
};

}  // namespace wsvis::models
