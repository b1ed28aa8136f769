// The mask losses of CondInst's dynamic head (spec boxinst_maskrcnn_ytvis.md A.3, A.4; AdelaiDet
// adet/modeling/condinst/dynamic_mask_head.py and condinst.py add_bitmasks*, and the
// motion-aware pairwise loss of Ikeda & Mori), on the stride-4 mask logits
// (M, 1, H4, W4) of models/condinst_dynamic_head.h:
//
//   BoxInst, from boxes only:
//     loss_prj      = mean over instances of dice(max_y P, max_y B) + dice(max_x P, max_x B),
//                     P = sigmoid(logits), B the box mask of the instance's GT (rows
//                     int(y1)..int(y2), cols int(x1)..int(x2) at full resolution, sampled at
//                     [2::4, 2::4]);
//     loss_pairwise = min(iter / warmup_iters, 1) * sum_e w_e (-log P_same(e)) / max(sum w_e, 1),
//                     w_e = [S_color >= 0.3] (AND [S_flow >= 0.6] when motion-aware) * B(i);
//   CondInst, from masks: loss_mask = mean over instances of the dice loss against the GT mask
//     sampled at [2::4, 2::4].
//
// The similarities are computed once per batch (no gradient) and stored per image - not per GT
// as AdelaiDet replicates them (A.7):
//   S_color: the un-normalised padded BGR image, 4x4 average pool truncated to bytes, RGB, CIE
//     Lab (skimage), exp(-||Lab_i - Lab_j|| / 2) over the 8 neighbours at dilation 2, times the
//     neighbour's validity (image mask at [2::4, 2::4]: 0 on padding and on the bottom
//     int(10 * resized_h / original_h) rows, AdelaiDet's BOTTOM_PIXELS_REMOVED);
//   S_flow: the flow colour image (kernels flow_to_color, uint8) pooled the same way,
//     exp(-||rgb_i - rgb_j|| / 0.5) with colours in [0, 1] (the paper gives theta_flow 0.5 and
//     tau_flow 0.6 but not the colour scale: with 0..255 only identical colours would pass; the
//     pooling of the flow image is also our assumption).
//
// The iteration is the trainer's: AdelaiDet increments its counter once per training forward
// BEFORE the loss, so the first step uses iter = 1 (warm-up factor 1e-4).
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "engine/tensor.h"
#include "kernels/pairwise.h"
#include "models/condinst_dynamic_head.h"

namespace wsvis::models {

struct BoxInstLossOptions {
  kernels::PairwiseParams pairwise;  // dilation 2, color_thresh 0.3, flow_thresh 0.6
  bool motion_aware = false;         // Ikeda & Mori's pairwise labels (needs a flow similarity)
  int64_t warmup_iters = 10000;      // PAIRWISE.WARMUP_ITERS
  double color_theta = kernels::kColorSimilarityTheta;  // 2 (AdelaiDet's * 0.5)
  double flow_theta = kernels::kFlowSimilarityTheta;    // 0.5
  double flow_value_scale = 1.0 / 255.0;                // flow colours in [0, 1]
  int mask_out_stride = kernels::kMaskOutStride;        // 4
  double projection_eps = kernels::kProjectionDiceEps;  // 1e-5
  int bottom_pixels_removed = 10;                       // BOXINST.BOTTOM_PIXELS_REMOVED
};

// Per image of the batch, at stride mask_out_stride: (N, 8, H4, W4), no gradient.
struct BoxInstSimilarity {
  Tensor color;
  Tensor flow;  // undefined unless a flow colour image was given
};

// The validity mask at stride s of a padded batch: u8 (N, Hp / s, Wp / s), 1 where the
// full-resolution pixel (s y + s/2, s x + s/2) lies on image i's (h_i, w_i) and above its
// bottom int(bottom_pixels_removed * h_i / original_height_i) rows. image_sizes: (h, w) of each
// resized image inside the padded (Hp, Wp) batch.
Tensor boxinst_image_valid(const std::vector<std::array<int64_t, 2>>& image_sizes,
                           const std::vector<int64_t>& original_heights, int64_t Hp, int64_t Wp,
                           const BoxInstLossOptions& options, const ContextPtr& ctx);

// raw_images: (N, 3, Hp, Wp) f32 un-normalised BGR 0..255 (the network input before mean
// subtraction, padded; Hp, Wp multiples of the stride); valid: boxinst_image_valid's (or
// undefined: all valid); flow_colors: (N, 3, Hp, Wp) u8 flow colour images or undefined.
// Similarities of `dtype` on the images' context.
BoxInstSimilarity boxinst_similarity(const Tensor& raw_images, const Tensor& valid,
                                     const Tensor& flow_colors, const BoxInstLossOptions& options,
                                     DType dtype = DType::f32);

// Each instance's GT box as an inclusive rect (x0, y0, x1, y1) on the (H, W) stride-s map:
// (M, 4) i32 on ctx. gt_boxes[i]: image i's boxes (x1, y1, x2, y2) in padded-input pixels.
Tensor instance_box_rects(const MaskHeadInstances& instances,
                          const std::vector<std::vector<std::array<float, 4>>>& gt_boxes,
                          int64_t H, int64_t W, int stride, const ContextPtr& ctx);

// min(iter / warmup_iters, 1); warmup_iters <= 0 gives 1.
double pairwise_warmup_factor(int64_t iter, int64_t warmup_iters);

struct BoxInstLosses {
  Tensor prj;       // 0-d, loss_prj
  Tensor pairwise;  // 0-d, loss_pairwise (warm-up applied)
  double warmup_factor = 0;
};

// mask_logits: (M, 1, H4, W4) from the dynamic head for `instances` (gt_index set). With
// M = 0 both losses are 0-d zeros without a graph (AdelaiDet's dummy 0 * sum(...) keeps its
// DDP graph complete; a trainer that needs that adds it).
BoxInstLosses boxinst_mask_losses(const Tensor& mask_logits, const MaskHeadInstances& instances,
                                  const std::vector<std::vector<std::array<float, 4>>>& gt_boxes,
                                  const BoxInstSimilarity& similarity, int64_t iter,
                                  const BoxInstLossOptions& options);

// One image's GT masks at input resolution (unpadded): G masks of (height, width), 0 / 1.
struct GtMasks {
  int64_t height = 0, width = 0;
  std::vector<uint8_t> data;  // (G, height, width)
};

// The GT mask of each instance sampled at [s/2::s, s/2::s] of the zero-padded (Hp, Wp) image:
// (M, Hp / s, Wp / s) of `dtype` on ctx.
Tensor condinst_mask_targets(const MaskHeadInstances& instances,
                             const std::vector<GtMasks>& gt_masks, int64_t Hp, int64_t Wp,
                             int stride, const ContextPtr& ctx, DType dtype = DType::f32);

// CondInst's loss_mask: 0-d mean over instances of 1 - 2 sum(p g) / (sum p^2 + sum g^2 + 1e-5),
// p = sigmoid(mask_logits (M, 1, H4, W4)), g = targets (M, H4, W4). M = 0 gives a 0-d zero.
Tensor condinst_mask_loss(const Tensor& mask_logits, const Tensor& targets);

}  // namespace wsvis::models
