// Tensor ops over the pairwise kernel family (kernels/pairwise.h): what BoxInst and
// motion-aided BoxInst need around the network (spec boxinst_maskrcnn_ytvis.md A.4, A.7, A.8).
//
//   differentiable (one autograd node each, gradient to the logits / probabilities only):
//     pairwise_loss     BoxInst's colour (and, with flow_sim, motion-aware) pairwise loss, fused
//     projection_loss   dice of the max-projections of the mask probabilities vs the box masks
//   preparation, no autograd (outputs never require grad):
//     downsample_image, rgb_to_lab, neighbour_similarity, flow_to_color
//
// Each op checks shapes, dtypes and contexts and runs the CPU or CUDA twin (f32 and f64 on the
// CPU, f32 on CUDA for the floating inputs). Index-like inputs (im_inds, rects) are i32 tensors
// on the same context as the logits, so the CUDA kernels read them where they live.
// Reductions are deterministic on both devices (kernels/pairwise.h).
#pragma once

#include "engine/tensor.h"
#include "kernels/pairwise.h"

namespace wsvis::ops {

// BoxInst's pairwise loss: 0-d
//   sum_{k, e} w_e * (-log P_same(e)) / max(sum_{k, e} w_e, 1),
//   w_e = [color_sim_e >= color_thresh] (AND [flow_sim_e >= flow_thresh] when flow_sim is
//   defined) * B_k(i), B_k the box mask of instance k at the edge's centre pixel i.
// logits: (K, H, W) or (K, 1, H, W) mask logits at stride 4 (the gradient goes here);
// im_inds: (K) i32, the image of each instance in [0, N) (others contribute nothing);
// rects: (K, 4) i32 inclusive (x0, y0, x1, y1) box masks on the (H, W) map (box_mask_rects);
// color_sim, flow_sim: (N, 8, H, W) of logits' dtype, data (no gradient); flow_sim may be
// undefined (BoxInst's colour-only loss). K = 0 gives 0.
Tensor pairwise_loss(const Tensor& logits, const Tensor& im_inds, const Tensor& rects,
                     const Tensor& color_sim, const Tensor& flow_sim,
                     const kernels::PairwiseParams& params = {});

// BoxInst's projection loss: 0-d mean over instances of
//   dice(max_y P, max_y B) + dice(max_x P, max_x B),
// dice = 1 - 2 sum(p t) / (sum p^2 + sum t^2 + eps). probs: (K, H, W) or (K, 1, H, W) mask
// probabilities (the caller applies the sigmoid); rects: (K, 4) i32 as pairwise_loss's. The
// gradient goes through each max to its first argmax. K = 0 gives 0.
Tensor projection_loss(const Tensor& probs, const Tensor& rects,
                       double eps = kernels::kProjectionDiceEps);

// images: (N, C, H_full, W_full) u8 or f32 (un-normalised 0..255) -> (N, C, H_full / stride,
// W_full / stride) u8: the mean of each stride x stride block truncated to a byte (AdelaiDet's
// avg_pool2d(...).byte()), channels reversed when reverse_channels (BGR -> RGB).
Tensor downsample_image(const Tensor& images, int stride, bool reverse_channels);

// rgb: (N, 3, H, W) u8 (v / 255) or floating in [0, 1] -> (N, 3, H, W) CIE Lab of `dtype`
// (skimage rgb2lab, computed in double).
Tensor rgb_to_lab(const Tensor& rgb, DType dtype = DType::f32);

// feat: (N, C, H, W) u8, f32 or f64; valid: (N, H, W) u8 or undefined (all valid) ->
// (N, 8, H, W) of `dtype`: exp(-||f_i - f_j|| * value_scale / theta) over the 8 neighbours at
// `dilation` (kernels::pairwise_offset order), times the neighbour's validity (0 off the map).
// A floating feat must have `dtype`.
Tensor neighbour_similarity(const Tensor& feat, const Tensor& valid, int dilation,
                            double value_scale, double theta, DType dtype = DType::f32);

// flow: (N, 2, H, W) floating (u, v) -> (N, 3, H, W) u8 Middlebury colours (RGB, BGR when
// bgr), each image normalised by its own largest magnitude when rad_max <= 0.
Tensor flow_to_color(const Tensor& flow, kernels::FlowWheelVariant variant, double rad_max = 0,
                     bool bgr = false);

}  // namespace wsvis::ops
