// ResNet-18/34/50/101/152 laid out exactly as torchvision's (v1.5: the stride sits on the 3x3
// conv of a Bottleneck), so torchvision state_dicts load name for name: conv1, bn1,
// layer1.0.conv1, layer1.0.bn1, layer1.0.downsample.0, layer1.0.downsample.1, ..., fc.
//
// Options beyond torchvision, each following its reference:
//   strides      (conv1, layer2, layer3, layer4), as irn's net/resnet50.py `strides`; layer1 keeps
//                stride 1 after the stride-2 max-pool. The irn CAM/IRN backbone uses (2,2,2,1).
//   replace_stride_with_dilation  torchvision's, for layer2..layer4: that layer's stride becomes 1
//                and the running dilation is multiplied by it; a layer's first block keeps the
//                previous dilation, the others use the new one. BasicBlock refuses dilation > 1
//                (as torchvision).
//   freeze_at    detectron2's FREEZE_AT: 0 nothing, 1 the stem (conv1, bn1), 2 stem + layer1
//                (res2), ... 5 everything but fc. Frozen parameters get requires_grad false and
//                a trainable BatchNorm2d in a frozen stage becomes a FrozenBatchNorm2d (as
//                detectron2's freeze() converts it), so its statistics stop moving as well.
//   norm         BN (torch.nn.BatchNorm2d), FrozenBN (detectron2's FrozenBatchNorm2d
//                everywhere; no num_batches_tracked in the state_dict), FixedBN (irn's
//                FixedBatchNorm: running statistics always, weight and bias trainable).
//   stride_in_1x1  detectron2's STRIDE_IN_1X1 (MSRA weights): the stride on the first 1x1 conv.
//   num_classes  0 drops avgpool and fc (a backbone).
// Initialisation as torchvision: convs kaiming_normal_(fan_out, relu), norm weight 1 bias 0,
// fc torch's default Linear init; zero_init_residual false.
#pragma once

#include <array>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/random.h"
#include "layers/conv.h"
#include "layers/linear.h"
#include "layers/module.h"
#include "layers/sequential.h"

namespace wsvis::models {

// Named feature maps passed between backbone, FPN and heads: "stem", "res2".."res5", "p2"..
using FeatureMap = std::map<std::string, Tensor>;

enum class NormKind { BN, FrozenBN, FixedBN };

struct ResNetOptions {
  int depth = 50;  // 18, 34 (BasicBlock), 50, 101, 152 (Bottleneck)
  int num_classes = 1000;
  std::array<int, 4> strides{2, 2, 2, 2};  // conv1, layer2, layer3, layer4
  std::array<bool, 3> replace_stride_with_dilation{false, false, false};  // layer2..layer4
  int freeze_at = 0;
  NormKind norm = NormKind::BN;
  bool stride_in_1x1 = false;
  DType dtype = DType::f32;
};

// Stage outputs. x: (N, 3, H, W); with default strides stem and res2 are at stride 4, res3 8,
// res4 16, res5 32. logits: (N, num_classes), undefined without fc.
struct ResNetOutput {
  Tensor stem, res2, res3, res4, res5;
  Tensor logits;
  FeatureMap features() const;  // {"stem", "res2", "res3", "res4", "res5"}
};

// How a block creates its layers: random source, device, precision, norm kind.
struct BlockBuild {
  Generator& gen;
  ContextPtr ctx;
  DType dtype = DType::f32;
  NormKind norm = NormKind::BN;
};

// torchvision BasicBlock (expansion 1): conv3x3(stride) bn relu conv3x3 bn, + shortcut, relu.
class BasicBlock : public layers::Layer {
 public:
  static constexpr int kExpansion = 1;
  // downsample: Sequential(conv1x1(stride), norm) or null; dilation must be 1 (as torchvision).
  BasicBlock(BlockBuild& b, int inplanes, int planes, int stride, int dilation,
             std::shared_ptr<layers::Sequential> downsample);
  Tensor forward(const Tensor& x) override;
  const std::shared_ptr<layers::Conv2d>& conv1() const { return conv1_; }
  const std::shared_ptr<layers::Conv2d>& conv2() const { return conv2_; }
  const std::shared_ptr<layers::Sequential>& downsample() const { return downsample_; }

 private:
  std::shared_ptr<layers::Conv2d> conv1_, conv2_;
  std::shared_ptr<layers::Layer> bn1_, bn2_;
  std::shared_ptr<layers::Sequential> downsample_;
};

// torchvision Bottleneck (expansion 4), v1.5: conv1x1 bn relu conv3x3(stride, dilation) bn relu
// conv1x1 bn, + shortcut, relu. With stride_in_1x1 (detectron2 MSRA) the stride moves to conv1.
class Bottleneck : public layers::Layer {
 public:
  static constexpr int kExpansion = 4;
  Bottleneck(BlockBuild& b, int inplanes, int planes, int stride, int dilation, bool stride_in_1x1,
             std::shared_ptr<layers::Sequential> downsample);
  Tensor forward(const Tensor& x) override;
  const std::shared_ptr<layers::Conv2d>& conv1() const { return conv1_; }
  const std::shared_ptr<layers::Conv2d>& conv2() const { return conv2_; }
  const std::shared_ptr<layers::Conv2d>& conv3() const { return conv3_; }
  const std::shared_ptr<layers::Sequential>& downsample() const { return downsample_; }

 private:
  std::shared_ptr<layers::Conv2d> conv1_, conv2_, conv3_;
  std::shared_ptr<layers::Layer> bn1_, bn2_, bn3_;
  std::shared_ptr<layers::Sequential> downsample_;
};

class ResNet : public layers::Module {
 public:
  ResNet(const ResNetOptions& options, Generator& gen, const ContextPtr& ctx);
  ResNetOutput forward(const Tensor& x);

  const ResNetOptions& options() const { return options_; }
  // Channels and strides (w.r.t. the input) of stem, res2, res3, res4, res5.
  const std::array<int, 5>& out_channels() const { return out_channels_; }
  const std::array<int, 5>& out_strides() const { return out_strides_; }
  // Access for callers that compose stages themselves (e.g. the IRN, which detaches between them).
  const std::shared_ptr<layers::Sequential>& stage(int i) const;  // i = 1..4: layer1..layer4
  Tensor forward_stem(const Tensor& x);                           // conv1, bn1, relu, maxpool

 private:
  ResNetOptions options_;
  std::shared_ptr<layers::Conv2d> conv1_;
  std::shared_ptr<layers::Layer> bn1_;
  std::array<std::shared_ptr<layers::Sequential>, 4> layers_;
  std::shared_ptr<layers::Linear> fc_;
  std::array<int, 5> out_channels_{};
  std::array<int, 5> out_strides_{};
};

// Elements over all named_parameters(), frozen ones included (torch's sum(p.numel())).
int64_t count_parameters(const layers::Module& module);

}  // namespace wsvis::models
