// CondInst's mask branch (AdelaiDet adet/modeling/condinst/mask_branch.py MaskBranch) and
// AdelaiDet's aligned_bilinear (adet/utils/comm.py), spec boxinst_maskrcnn_ytvis.md A.3.
//
//   p3 (N, 256, H, W)     -> refine.0: conv3x3 256->128 (no bias) + BN + ReLU --+
//   p4 (N, 256, H/2, W/2) -> refine.1: same, aligned_bilinear x2 -------------- + (sum)
//   p5 (N, 256, H/4, W/4) -> refine.2: same, aligned_bilinear x4 --------------+
//     -> tower: 4 x [conv3x3 128->128 (no bias) + BN + ReLU] -> conv1x1 128->C_mask (bias)
//     -> mask_feats (N, C_mask, H, W) at the stride of p3 (8)
//
// C_mask (MASK_BRANCH.OUT_CHANNELS) is 8 for CondInst and 16 for BoxInst. BN is plain
// BatchNorm2d with batch statistics in training (AdelaiDet: per-GPU "BN"). Init: the conv
// blocks kaiming_uniform(a=1) (conv_with_kaiming_uniform), the last 1x1 conv torch's default
// (AdelaiDet builds it as a plain nn.Conv2d). The auxiliary semantic loss
// (SEMANTIC_LOSS_ON) is off in every CondInst/BoxInst config and not built.
//
// state_dict names as AdelaiDet's below "mask_branch.": refine.0.0.weight, refine.0.1.weight,
// refine.0.1.bias, refine.0.1.running_mean, ..., tower.0.0.weight, ..., tower.4.weight,
// tower.4.bias.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/random.h"
#include "layers/module.h"
#include "layers/sequential.h"
#include "models/resnet.h"

namespace wsvis::models {

// AdelaiDet's aligned_bilinear(x, factor): x (N, C, H, W) -> (N, C, factor*H, factor*W):
// replicate-pad right and bottom by 1, bilinear resize with align_corners=True to
// (factor*H + 1, factor*W + 1), replicate-pad left and top by factor / 2, crop to
// (factor*H, factor*W). Equivalently output row r samples input row max(r - factor/2, 0) /
// factor (and the last row is repeated past the end). factor >= 1 (1 returns x). Built from
// engine ops (slice, concat, upsample_bilinear2d): differentiable on both devices.
Tensor aligned_bilinear(const Tensor& x, int factor);

struct MaskBranchOptions {
  std::vector<std::string> in_features{"p3", "p4", "p5"};  // finest first
  int in_channels = 256;  // FPN channels, equal on every input
  int channels = 128;     // MASK_BRANCH.CHANNELS
  int num_convs = 4;      // MASK_BRANCH.NUM_CONVS
  int out_channels = 8;   // C_mask: 8 CondInst, 16 BoxInst
  bool batch_norm = true; // NORM "BN"; false: convs with bias and no norm (no AdelaiDet config)
  DType dtype = DType::f32;
};

// BoxInst's mask branch (configs/BoxInst/Base-BoxInst.yaml): 16 output channels.
MaskBranchOptions boxinst_mask_branch_options();

class MaskBranch : public layers::Module {
 public:
  MaskBranch(const MaskBranchOptions& options, Generator& gen, const ContextPtr& ctx);
  // features must hold every in_feature; each coarser map must divide the first one's size
  // by the same integer factor in both dimensions. -> (N, out_channels, H_first, W_first).
  Tensor forward(const FeatureMap& features);

  const MaskBranchOptions& options() const { return options_; }

 private:
  MaskBranchOptions options_;
  std::vector<std::shared_ptr<layers::Sequential>> refine_;
  std::shared_ptr<layers::Sequential> tower_;
};

}  // namespace wsvis::models
