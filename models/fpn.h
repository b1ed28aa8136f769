// Feature Pyramid Network as detectron2 builds it (modeling/backbone/fpn.py), on feature maps
// from a bottom-up network (the FPN does not own the backbone; the detector composes them).
//
// For each input level (finest first) a lateral 1x1 conv and an output 3x3 conv (pad 1), both
// with bias, out_channels wide, named fpn_lateral{s} / fpn_output{s} with s = log2(stride), and
// registered in that interleaved order, as detectron2 does. Top-down: starting from the coarsest
// lateral, upsample (nearest) x2, add the next finer lateral (fuse "sum"), then the output conv
// gives p{s}. The upsampling targets the lateral's size, which equals detectron2's scale_factor 2
// whenever the sizes are exact multiples (inputs padded to 32) and stays defined when not
// (torchvision's choice). All convs c2_xavier_fill (kaiming_uniform a=1, bias 0).
//
// Top blocks (registered as "top_block"):
//   max_pool       LastLevelMaxPool: p6 = max_pool2d(p5, kernel 1, stride 2). Mask R-CNN: P2-P6.
//   p6p7_from_p5   LastLevelP6P7 (AdelaiDet FCOS/CondInst/BoxInst, TOP_LEVELS 2, in_feature "p5"):
//                  p6 = conv3x3 s2 p1 (P5), p7 = conv3x3 s2 p1 (relu(p6)), names top_block.p6 /
//                  top_block.p7, c2_xavier_fill. P3-P7.
//   p6p7_from_c5   detectron2's RetinaNet variant: the same on the coarsest bottom-up input.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/random.h"
#include "layers/conv.h"
#include "layers/module.h"
#include "models/resnet.h"

namespace wsvis::models {

enum class FPNTopBlock { none, max_pool, p6p7_from_p5, p6p7_from_c5 };

struct FPNOptions {
  std::vector<std::string> in_features;  // finest first, e.g. {"res2", "res3", "res4", "res5"}
  std::vector<int> in_channels;          // per input feature
  std::vector<int> in_strides;           // per input feature: powers of two, each twice the last
  int out_channels = 256;
  FPNTopBlock top_block = FPNTopBlock::max_pool;
  DType dtype = DType::f32;
};

// Mask R-CNN (detectron2 Base-RCNN-FPN): res2..res5 of `backbone` -> p2..p6 (max-pool P6).
FPNOptions maskrcnn_fpn_options(const ResNet& backbone);
// FCOS / CondInst / BoxInst (AdelaiDet): res3..res5 -> p3..p7 (P6, P7 from P5).
FPNOptions fcos_fpn_options(const ResNet& backbone);

class FPN : public layers::Module {
 public:
  FPN(const FPNOptions& options, Generator& gen, const ContextPtr& ctx);
  // bottom_up must hold every in_feature: (N, C_i, H_i, W_i). Returns p{s} for every level,
  // each (N, out_channels, H_i, W_i), plus the top block's levels.
  FeatureMap forward(const FeatureMap& bottom_up);

  const FPNOptions& options() const { return options_; }
  // "p2", "p3", ... finest first, and their strides.
  const std::vector<std::string>& out_features() const { return out_features_; }
  const std::vector<int>& out_strides() const { return out_strides_; }

 private:
  FPNOptions options_;
  std::vector<std::shared_ptr<layers::Conv2d>> lateral_;  // finest first
  std::vector<std::shared_ptr<layers::Conv2d>> output_;
  std::shared_ptr<layers::Conv2d> p6_, p7_;  // LastLevelP6P7 only
  std::vector<std::string> out_features_;
  std::vector<int> out_strides_;
};

}  // namespace wsvis::models
