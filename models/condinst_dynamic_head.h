// CondInst's dynamic mask head (AdelaiDet adet/modeling/condinst/dynamic_mask_head.py
// DynamicMaskHead: parse_dynamic_params, mask_heads_forward_with_coords), spec
// boxinst_maskrcnn_ytvis.md A.3.
//
// Each instance k (an FCOS location on level l at (px, py)) carries a controller vector of
// num_gen_params values laid out [W0 | W1 | ... | W_{L-1} | b0 | ... | b_{L-1}]: all weights,
// then all biases, each weight row-major (out, in). Its mask head is L 1x1 convs (channels 8,
// ReLU between, none after the last, 1 output channel) over the input
//   [rel_x, rel_y, mask_feats[image_k]]   (C_in = C_feat + 2 channels, coordinates first),
//   rel = ((px - qx), (py - qy)) / soi_l,  (qx, qy) = (8x + 4, 8y + 4) the feature pixel centre,
//   soi = (64, 128, 256, 512, 1024) for P3..P7.
// num_gen_params = 8 C_in + 8*8 + 8 + 8 + 8 + 1 at L = 3: 169 (C_feat 8, CondInst), 233 (16,
// BoxInst), 361 (34 = 2*16 + 2: the concatenated image and flow mask features of Ikeda & Mori).
// The stride-8 logits are upsampled by aligned_bilinear x2 to stride 4 (MASK_OUT_STRIDE).
//
// Computation (the same maths as AdelaiDet's grouped convolutions over
// mask_feats[im_inds], without materialising that per-instance copy of the features): the
// instances are grouped by image; layer 0's feature part is ONE GEMM per image,
// (M_n * 8, C_feat) x (C_feat, H*W), its coordinate part a batched (8, 2) x (2, H*W) product;
// the later layers are batched (M, out, in) x (M, in, H*W) products. All engine ops, so the
// gradient reaches the controller rows and the mask features on both devices.
//
// The head has no parameters. AdelaiDet keeps its iteration counter (_iter, for the pairwise
// warm-up) here as a buffer; in wsvis the trainer owns the iteration and passes it to the
// BoxInst loss (models/boxinst_loss.h).
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "engine/tensor.h"

namespace wsvis::models {

// The instances whose masks the head predicts, in one batch.
struct MaskHeadInstances {
  Tensor params;                               // (M, P) controller outputs (autograd in training)
  std::vector<int64_t> image_index;            // (M) image of the batch
  std::vector<int64_t> level;                  // (M) FPN level index, 0 = P3
  std::vector<std::array<float, 2>> location;  // (M) (x, y) in input-image pixels
  std::vector<int64_t> gt_index;               // (M) training: GT within its image; else empty
  int64_t size() const { return static_cast<int64_t>(image_index.size()); }
};

struct DynamicMaskHeadOptions {
  int in_channels = 8;   // C_feat, the mask features' channels (MASK_BRANCH.OUT_CHANNELS, or
                         // 2 * C_mask for the concatenated two-stream features)
  int channels = 8;      // MASK_HEAD.CHANNELS
  int num_layers = 3;    // MASK_HEAD.NUM_LAYERS, >= 2
  bool rel_coords = true;  // not MASK_HEAD.DISABLE_REL_COORDS
  // Per FPN level: FCOS.SIZES_OF_INTEREST plus its last value doubled.
  std::vector<double> sizes_of_interest{64, 128, 256, 512, 1024};
  int mask_feat_stride = 8;  // the mask branch's output stride
  int mask_out_stride = 4;   // MASK_OUT_STRIDE; must divide mask_feat_stride
};

// The weights and biases of every instance's convs, parsed from the controller vectors.
struct DynamicParams {
  std::vector<Tensor> weights;  // per layer (M, out_l, in_l)
  std::vector<Tensor> biases;   // per layer (M, out_l, 1)
};

class DynamicMaskHead {
 public:
  explicit DynamicMaskHead(const DynamicMaskHeadOptions& options);

  // Sizes of each layer's weight block and bias block in the controller vector, and their sum.
  const std::vector<int64_t>& weight_nums() const { return weight_nums_; }
  const std::vector<int64_t>& bias_nums() const { return bias_nums_; }
  int64_t num_gen_params() const { return num_gen_params_; }

  // params (M, num_gen_params) -> per-layer views as matrices (copies, with autograd).
  DynamicParams parse(const Tensor& params) const;

  // (M, 2, H*W) of `dtype` on ctx: (rel_x, rel_y) of every instance at every stride-8 pixel.
  Tensor relative_coords(const MaskHeadInstances& instances, int64_t H, int64_t W,
                         const ContextPtr& ctx, DType dtype) const;

  // mask_feats (N, in_channels, H, W) at mask_feat_stride -> mask logits (M, 1, f*H, f*W),
  // f = mask_feat_stride / mask_out_stride, in the order of `instances`. M = 0 gives an empty
  // (0, 1, f*H, f*W) tensor.
  Tensor forward(const Tensor& mask_feats, const MaskHeadInstances& instances) const;

  const DynamicMaskHeadOptions& options() const { return options_; }

 private:
  DynamicMaskHeadOptions options_;
  std::vector<int64_t> weight_nums_, bias_nums_;
  std::vector<int> layer_in_, layer_out_;
  int64_t num_gen_params_ = 0;
};

}  // namespace wsvis::models
