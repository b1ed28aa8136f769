// The inter-pixel relation network of IRN (jiwoon-ahn/irn net/resnet50_irn.py, class Net;
// spec irn_flowirn_maskconsist.md section 3): a frozen ResNet backbone with strides
// (2, 2, 2, 1) and two trainable branches on its five stage outputs
//   x1 = stem (64 ch, /4), x2 = layer1 (/4), x3 = layer2 (/8), x4 = layer3 (/16), x5 = layer4 (/16)
// (channels of x2..x5 from the backbone: 256/512/1024/2048 for depth 50).
//
// Every branch block is 1x1 conv (no bias) -> GroupNorm -> [bilinear upsample xs,
// align_corners false] -> ReLU, and upsampled maps are cropped top-left to the target size.
//   boundary:     fc_edge1 (x1) 64->32 GN4 | fc_edge2 (x2) ->32 GN4 | fc_edge3 (x3) ->32 GN4 x2 |
//                 fc_edge4 (x4) ->32 GN4 x4 | fc_edge5 (x5) ->32 GN4 x4; all cropped to edge2's
//                 size; fc_edge6 = 1x1 conv 160->1 WITH bias on their concat -> edge logit.
//   displacement: fc_dp1 (x1) 64->64 GN8 | fc_dp2 (x2) ->128 GN16 | fc_dp3 (x3) ->256 GN16 |
//                 fc_dp4 (x4) ->256 GN16 x2 | fc_dp5 (x5) ->256 GN16 x2, cropped to dp3's size;
//                 fc_dp6 = concat(dp3, dp4, dp5) 768->256 GN16 x2, cropped to dp2's size;
//                 fc_dp7 = concat(dp1, dp2, dp6) 448->256 GN16 ReLU, 1x1 256->2 (no bias);
//                 then the mean shift.
// Outputs on the stride-4 grid h = (H-1)//4+1, w = (W-1)//4+1: edge logit (N, 1, h, w) and
// displacement D (N, 2, h, w), channels (dy, dx) in stride-4 pixels.
//
// Names are IRN's state_dict names: fc_edge1.0.weight, fc_edge1.1.weight, fc_edge1.1.bias, ...,
// fc_edge6.weight, fc_edge6.bias, fc_dp1.0.weight, ..., fc_dp7.0.weight, fc_dp7.1.weight,
// fc_dp7.1.bias, fc_dp7.3.weight (Sequential indices count Upsample and ReLU, as torch's do), and
// mean_shift.running_mean. IRN registers its MeanShift twice (as "mean_shift" and as fc_dp7's
// 5th child "fc_dp7.4"); here it is registered once, as "mean_shift", and applied after fc_dp7.
// The backbone is "backbone" (torchvision names under that prefix; IRN's own checkpoints call
// it "resnet50" and repeat it as stage1..5 / backbone.*: rename and skip those to load one).
//
// The backbone is entirely frozen (IRN: a fresh ImageNet ResNet, every stage output detached,
// kept in eval mode): its parameters have requires_grad false, it runs under NoGradGuard, and
// every norm in it is fixed (FixedBN) or frozen (a BN option becomes FrozenBN through
// ResNet's freeze_at 5), so train/eval mode cannot change what it computes; train() also keeps
// its flag at eval, as IRN's train() override does.
//
// Mean shift: identity in training mode; in eval mode D - running_mean (a per-channel
// 2-vector, zero until set_mean_shift; IRN sets it after training to the mean D over the
// inference images).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/optim/sgd.h"
#include "layers/module.h"
#include "layers/sequential.h"
#include "models/resnet.h"

namespace wsvis::models {

struct IrnNetOptions {
  int depth = 50;  // backbone depth; the branches' input channels follow its out_channels()
  NormKind norm = NormKind::FixedBN;
  DType dtype = DType::f32;
};

struct IrnOutput {
  Tensor edge_logit;    // (N, 1, h, w), stride 4
  Tensor displacement;  // (N, 2, h, w), (dy, dx) in stride-4 pixels
};

// IRN's Net.MeanShift: subtracts running_mean (C) per channel in eval mode only.
class MeanShift : public layers::Layer {
 public:
  MeanShift(int channels, const ContextPtr& ctx, DType dtype);
  // x: (N, C, h, w) -> x in training mode, x - running_mean (per channel) in eval mode.
  Tensor forward(const Tensor& x) override;
  const Tensor& running_mean() const { return buffer_at(0); }
};

class IrnNet : public layers::Module {
 public:
  // Backbone initialised as torchvision (random): load ImageNet weights with
  // load_backbone_file or copy a trained one with copy_backbone_from. Branch convs get torch's
  // default init (IRN's nn.Conv2d), GroupNorm weight 1 and bias 0.
  IrnNet(const IrnNetOptions& options, Generator& gen, const ContextPtr& ctx);

  // x: (N, 3, H, W) -> edge logit and displacement on the stride-4 grid.
  IrnOutput forward(const Tensor& x);

  // Module::train for the branches; the backbone stays in eval mode.
  void train(bool on = true) override;

  // "edge" (fc_edge1..6, lr x1) and "displacement" (fc_dp1..7, lr x10), IRN's
  // trainable_parameters split. Weight decay unset (the optimizer's default). Ask after
  // pack_parameters() / to().
  std::vector<optim::ParamGroup> param_groups() const;

  // (dy, dx) subtracted from D in eval mode.
  void set_mean_shift(double dy, double dx);
  const Tensor& mean_shift() const { return mean_shift_->running_mean(); }

  // Loads torchvision ImageNet weights into the backbone (see load_torchvision_backbone).
  void load_backbone_file(const std::string& path);
  // Copies every backbone tensor from `source` (same depth; its fc and BN counters ignored).
  // Used when no ImageNet weights exist: the pipeline then starts the IRN backbone from the
  // trained CAM network's backbone, a documented deviation from IRN's fresh ImageNet copy.
  void copy_backbone_from(const ResNet& source);

  const IrnNetOptions& options() const { return options_; }
  const ResNet& backbone() const { return *backbone_; }

 private:
  IrnNetOptions options_;
  std::shared_ptr<ResNet> backbone_;
  std::shared_ptr<MeanShift> mean_shift_;
  std::vector<std::shared_ptr<layers::Layer>> edge_;  // fc_edge1..fc_edge6
  std::vector<std::shared_ptr<layers::Layer>> dp_;    // fc_dp1..fc_dp7
};

}  // namespace wsvis::models
