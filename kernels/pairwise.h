// The pairwise family: what BoxInst (AdelaiDet) and motion-aided BoxInst (Ikeda & Mori) need
// besides the network. Spec: specs/boxinst_maskrcnn_ytvis.md A.4, A.7, A.8.
//
//  - downsample_image: 4x4 average pool of the un-normalised image, truncated to uint8 (the
//    `.byte()` of AdelaiDet), optionally reversing the channel order (BGR -> RGB).
//  - rgb_to_lab: sRGB -> CIE Lab exactly as skimage.color.rgb2lab (D65, 2 degrees), in double.
//  - flow_to_color: optical flow -> RGB through the Middlebury colour wheel, both variants of
//    A.8, byte-identical to data/flow_color.h's flow_to_color.
//  - neighbour_similarity: S_e = exp(-||f_i - f_j|| * value_scale / theta) over the 8 neighbours
//    at dilation d, times the neighbour's validity (0 outside the image: unfold's zero padding).
//    Colour: Lab, value_scale 1, theta 2. Flow: the flow colour image (uint8), value_scale
//    1/255 (colours in [0, 1]: [UNPINNED] the paper does not say; with 0..255 tau_flow 0.6 would
//    only accept identical colours), theta 0.5.
//  - pairwise_loss: loss = sum_e w_e * (-log P_same(e)) / max(sum_e w_e, 1) over all instances,
//    w_e = [color_sim_e >= 0.3] (AND [flow_sim_e >= 0.6] for the motion-aware variant) * B_i,
//    B the box bitmask at the edge's centre pixel i. Fused: no unfolded tensor is formed, and
//    only the box (forward) or the box plus a margin of `dilation` (backward) is visited; every
//    other pixel has weight 0 in AdelaiDet's formulation, so the result is the same. An edge
//    whose neighbour is off the map has loss 0 (unfold's zero-padded log-probabilities) and
//    still counts in the normaliser when its similarity passes (never, with similarities from
//    neighbour_similarity, which are 0 there), exactly as in AdelaiDet.
//  - projection_loss: mean over instances of dice(max_y P, max_y B) + dice(max_x P, max_x B)
//    on the mask probabilities P (AdelaiDet's compute_project_term: the caller applies the
//    sigmoid); the gradient goes through each max to its argmax.
//
// Shapes (contiguous, row-major; K instances, N images, (H, W) the mask resolution, stride 4):
//   images:             (N, C, H_full, W_full), uint8 or float; out (N, C, H_full/s, W_full/s)
//   rgb:                (N, 3, H, W) uint8 (v/255) or float/double in [0, 1];  lab: (N, 3, H, W)
//   flow:               (N, 2, H, W) channel 0 = u, 1 = v;  colour out: (N, 3, H, W) uint8
//   feat:               (N, C, H, W);  valid: (N, H, W) uint8 or null (all valid): AdelaiDet's
//                       image mask (1 on the image, 0 on padding and on the removed bottom
//                       rows) sampled at [s/2::s, s/2::s], whereas the image itself is
//                       average-pooled (no offset)
//   sim, color_sim, flow_sim: (N, 8, H, W), neighbour order of pairwise_offset()
//   logits, probs, grad_logits, grad_probs: (K, H, W)
//   im_inds:            (K) int32, the image of each instance; outside [0, N): the instance
//                       contributes nothing (and gets a zero gradient)
//   rects:              (K, 4) int32 (x0, y0, x1, y1) INCLUSIVE on the (H, W) map: the box
//                       bitmask (box_mask_rect in pairwise_math.h builds it from an image box);
//                       empty when x1 < x0 or y1 < y0
//   pairwise stats:     (2) = (sum of w_e * edge loss, sum of w_e); loss: (1)
//   projection stats:   (K, 4) = (I_x, U_x, I_y, U_y) of the two dice terms (x: the profile
//                       max over rows, length W; y: max over columns, length H; I = sum p t,
//                       U = sum p^2 + sum t^2 + eps); argmax_x (K, W): row
//                       of each column's maximum; argmax_y (K, H): column of each row's maximum
//                       (the first on ties, both twins)
//
// All outputs are overwritten (never accumulated). Reductions are deterministic on both twins:
// the CPU sums per instance in double, then over instances in order; CUDA sums per block in
// double, then the block totals in a fixed order (no float atomics).
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/common.h"
#include "kernels/flow_color_math.h"
#include "kernels/pairwise_math.h"

#if WSVIS_WITH_CUDA
#include <cuda_runtime.h>
#endif

namespace wsvis::kernels {

namespace cpu {
// Boxes (K, 4) (x1, y1, x2, y2) in padded-image pixels -> rects on the (H, W) map of that
// image at `stride` (AdelaiDet's bitmask_full[int(y1):int(y2 + 1), ...][s/2::s, s/2::s]).
template <typename T>
void box_mask_rects(const T* boxes, int64_t K, int64_t H, int64_t W, int stride, int32_t* rects);

// out[n, c', y, x] = trunc(mean of images[n, c, y*s .. y*s+s-1, x*s .. x*s+s-1]), c' = c or
// C-1-c when reverse_channels. H_full, W_full need not be multiples of s (the rest is dropped,
// like avg_pool2d without padding).
template <typename V>
void downsample_image(const V* images, int64_t N, int64_t C, int64_t H_full, int64_t W_full,
                      int stride, bool reverse_channels, uint8_t* out);

template <typename V, typename T>
void rgb_to_lab(const V* rgb, int64_t N, int64_t H, int64_t W, T* lab);

// rad_max <= 0: each image is normalised by its own largest flow magnitude + 1e-5 (unknown
// flow excluded); rad_max > 0: by rad_max + 1e-5 for all. Unknown flow (|u| or |v| >= 1e9) is
// black. bgr swaps the output channels. workspace: flow_to_color_workspace_bytes(N) (null
// allowed on the CPU).
size_t flow_to_color_workspace_bytes(int64_t N);
template <typename T>
void flow_to_color(const T* flow, int64_t N, int64_t H, int64_t W, FlowWheelVariant variant,
                   double rad_max, bool bgr, void* workspace, size_t workspace_bytes,
                   uint8_t* out);

template <typename V, typename T>
void neighbour_similarity(const V* feat, int64_t N, int64_t C, int64_t H, int64_t W,
                          const uint8_t* valid, int dilation, double value_scale, double theta,
                          T* sim);

// Scratch of the pairwise loss forward: the per-instance totals (2 K doubles) on the CPU, which
// allocates them itself when given null.
size_t pairwise_loss_workspace_bytes(int64_t K, int64_t H, int64_t W);
// flow_sim null: BoxInst's colour-only loss; otherwise the motion-aware one.
template <typename T>
void pairwise_loss_forward(const T* logits, const int32_t* im_inds, const int32_t* rects,
                           int64_t K, int64_t N, int64_t H, int64_t W, const T* color_sim,
                           const T* flow_sim, const PairwiseParams& params, void* workspace,
                           size_t workspace_bytes, T* loss, T* stats);
// grad_logits = grad_loss[0] / max(stats[1], 1) * d(sum_e w_e * edge loss)/dlogits; zero
// outside each box plus the margin. stats and grad_loss are read where they live (device
// pointers on CUDA: no synchronisation).
template <typename T>
void pairwise_loss_backward(const T* logits, const int32_t* im_inds, const int32_t* rects,
                            int64_t K, int64_t N, int64_t H, int64_t W, const T* color_sim,
                            const T* flow_sim, const PairwiseParams& params, const T* stats,
                            const T* grad_loss, T* grad_logits);

// eps: kProjectionDiceEps (1e-5) in BoxInst. K = 0 gives loss 0.
template <typename T>
void projection_loss_forward(const T* probs, const int32_t* rects, int64_t K, int64_t H,
                             int64_t W, double eps, T* loss, T* stats, int32_t* argmax_x,
                             int32_t* argmax_y);
// grad_probs = grad_loss[0] / K * d(sum_k dice_x + dice_y)/dprobs: non-zero only at the argmax
// of each column and row (a pixel that is both gets both terms).
template <typename T>
void projection_loss_backward(const T* probs, const int32_t* rects, int64_t K, int64_t H,
                              int64_t W, const T* stats, const int32_t* argmax_x,
                              const int32_t* argmax_y, const T* grad_loss, T* grad_probs);
}  // namespace cpu

#if WSVIS_WITH_CUDA
namespace cuda {
// Same contracts as the CPU twins. Per-pixel kernels (one thread per output pixel) for the
// colour functions; flow_to_color with rad_max <= 0 first reduces each image's largest
// magnitude into the workspace (N doubles; order-independent integer atomicMax on the bits of
// non-negative doubles, so the result is exact and deterministic).
size_t flow_to_color_workspace_bytes(int64_t N);
template <typename V>
void downsample_image(cudaStream_t stream, const V* images, int64_t N, int64_t C, int64_t H_full,
                      int64_t W_full, int stride, bool reverse_channels, uint8_t* out);
template <typename V, typename T>
void rgb_to_lab(cudaStream_t stream, const V* rgb, int64_t N, int64_t H, int64_t W, T* lab);
template <typename T>
void flow_to_color(cudaStream_t stream, const T* flow, int64_t N, int64_t H, int64_t W,
                   FlowWheelVariant variant, double rad_max, bool bgr, void* workspace,
                   size_t workspace_bytes, uint8_t* out);
template <typename V, typename T>
void neighbour_similarity(cudaStream_t stream, const V* feat, int64_t N, int64_t C, int64_t H,
                          int64_t W, const uint8_t* valid, int dilation, double value_scale,
                          double theta, T* sim);

// Forward: blocks of (instance, slice of its box); each block sums its pixels' edges in double
// and writes its totals to the workspace; one more block adds them in order.
size_t pairwise_loss_workspace_bytes(int64_t K, int64_t H, int64_t W);
template <typename T>
void pairwise_loss_forward(cudaStream_t stream, const T* logits, const int32_t* im_inds,
                           const int32_t* rects, int64_t K, int64_t N, int64_t H, int64_t W,
                           const T* color_sim, const T* flow_sim, const PairwiseParams& params,
                           void* workspace, size_t workspace_bytes, T* loss, T* stats);
// Backward: a gather, one thread per logit; each sums the edges it belongs to (as centre and
// as neighbour) in a fixed order: deterministic, no atomics.
template <typename T>
void pairwise_loss_backward(cudaStream_t stream, const T* logits, const int32_t* im_inds,
                            const int32_t* rects, int64_t K, int64_t N, int64_t H, int64_t W,
                            const T* color_sim, const T* flow_sim, const PairwiseParams& params,
                            const T* stats, const T* grad_loss, T* grad_logits);

// One block per instance (column maxima, row maxima, the dice sums), then one block adds the
// instances' dice terms in order.
template <typename T>
void projection_loss_forward(cudaStream_t stream, const T* probs, const int32_t* rects, int64_t K,
                             int64_t H, int64_t W, double eps, T* loss, T* stats,
                             int32_t* argmax_x, int32_t* argmax_y);
template <typename T>
void projection_loss_backward(cudaStream_t stream, const T* probs, const int32_t* rects,
                              int64_t K, int64_t H, int64_t W, const T* stats,
                              const int32_t* argmax_x, const int32_t* argmax_y,
                              const T* grad_loss, T* grad_probs);
}  // namespace cuda
#endif

}  // namespace wsvis::kernels
