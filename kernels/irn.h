// IRN (Ahn et al. 2019, jiwoon-ahn/irn) pixel pairs, path affinities, the IRN training losses,
// the random walk of make_sem_seg_labels / make_ins_seg_labels as a sparse stencil, and the
// label/scoring hooks after the walk. Pair set and path definitions: kernels/irn_math.h.
// CPU twin: kernels/cpu/irn.cpp. CUDA twin: kernels/cuda/irn_affinity.cu (affinity),
// irn_loss.cu (losses), random_walk.cu (walk, labels, scores).
// (The displacement-field centroids, grouping and flowIRN terms are other families.)
//
// Shapes (contiguous, row-major), d the direction index of an IrnPairSet (D directions):
//   boundary, grad_boundary: (N, 1, H, W) in [0, 1] (sigmoid of IRN's edge logit)
//   affinity, grad_affinity: (N, D, H, W); [n, d, y, x] is the pair source (y, x) ->
//                            destination (y + dy[d], x + dx[d]); 0 where the destination is
//                            outside the image (IRN pads B with 1 there, giving alpha = 0)
//   displacement, grad:      (N, 2, H, W), channels (dy, dx) in stride-4 pixels
//   labels:                  (N, H, W) uint8 IR labels: 0 bg, 1..C classes, 255 ignore
//   walk seeds/out:          (C, H, W) one frame; weights (2D+1, H, W)
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/common.h"
#include "kernels/irn_math.h"

#if WSVIS_WITH_CUDA
#include <cuda_runtime.h>
#endif

namespace wsvis::kernels {

// IRN's pair set for a radius in 1..kIrnMaxRadius (10 for training, 5 for inference); the
// direction order and path point order are IRN's (see irn_math.h). Host function, both twins.
IrnPairSet irn_pair_set(int radius);
constexpr int kIrnTrainRadius = 10;
constexpr int kIrnInferRadius = 5;

namespace cpu {
// affinity (N, D, H, W) = 1 - path max of boundary; 0 where the destination is outside.
template <typename T>
void irn_affinity_forward(const T* boundary, int64_t N, int64_t H, int64_t W, const IrnPairSet& set,
                          T* affinity);
// grad_boundary (N, 1, H, W) is overwritten: each in-image pair sends -grad_affinity to the
// first arg-max point of its path (max-pool semantics). Deterministic.
template <typename T>
void irn_affinity_backward(const T* grad_affinity, const T* boundary, int64_t N, int64_t H,
                           int64_t W, const IrnPairSet& set, T* grad_boundary);

// Loss statistics layout (IrnLossStat, kIrnLossStats = 9 values): kernels/irn_math.h.
// The CPU twin needs no scratch: returns 0.
size_t irn_loss_workspace_bytes(int64_t N, int64_t H, int64_t W);
// IRN's affinity and displacement losses over the pairs of `set` whose labels make them
// bg_pos / fg_pos / neg (computed on the fly, nothing materialised), pooled over the batch.
// irn_source_crop: only sources in IRN's training crop (rows < H-r+1, r-1 <= col < W-r+1),
// as train_irn.py; false: every pair with both ends inside. stats: kIrnLossStats values.
template <typename T>
void irn_loss_forward(const T* affinity, const T* displacement, const uint8_t* labels, int64_t N,
                      int64_t H, int64_t W, const IrnPairSet& set, bool irn_source_crop, T* stats,
                      void* workspace, size_t workspace_bytes);
// grad_stats: 6 values, the upstream gradient of the five terms and of the total (the total's
// is spread over the terms by irn_total_weight). stats: the forward's (its counts are read).
// grad_affinity (N, D, H, W) and grad_displacement (N, 2, H, W) are overwritten; abs'(0) = 0.
template <typename T>
void irn_loss_backward(const T* grad_stats, const T* stats, const T* affinity,
                       const T* displacement, const uint8_t* labels, int64_t N, int64_t H,
                       int64_t W, const IrnPairSet& set, bool irn_source_crop, T* grad_affinity,
                       T* grad_displacement);

// Random walk. weights (2D+1, H, W): for pixel j and stencil neighbour k (irn_walk_offset),
// alpha_jk^beta / sum_k' alpha_jk'^beta (self alpha 1, outside 0): IRN's column-normalised
// transition matrix T[i, j] = W_ij / sum_k W_kj, stored per column j (W is symmetric).
template <typename T>
void irn_walk_weights(const T* boundary, int64_t H, int64_t W, const IrnPairSet& set, T beta,
                      T* weights);
// Scratch for irn_random_walk: the weights and one ping-pong copy of x.
template <typename T>
size_t irn_random_walk_workspace_bytes(int64_t C, int64_t H, int64_t W, const IrnPairSet& set);
// out (C, H, W) = x . T^steps with x = seeds (times (1 - boundary) when mask_seeds, as
// indexing.propagate_to_edge), i.e. `steps` gathers x'_j = sum_k weights[k, j] x_{j + o_k}.
// IRN: radius 5, beta 10, steps 256 (= 2^exp_times). seeds and out may not alias.
template <typename T>
void irn_random_walk(const T* boundary, const T* seeds, int64_t C, int64_t H, int64_t W,
                     const IrnPairSet& set, T beta, int steps, bool mask_seeds, T* out,
                     void* workspace, size_t workspace_bytes);

// make_sem/ins_seg_labels after the walk, in order: upsample_bilinear2d_forward (kernels/
// upsample.h; planes C, (h, w) -> (4h, 4w), align_corners false: torch's scale_factor=4),
// irn_walk_labels on the (H, W) image window, irn_channel_masks, label_components
// (kernels/components.h, connectivity 4, N = C), irn_instance_scores. Semantic labels map
// label c + 1 to the class of channel c; instance channels are class-major (c * K + k).
// irn_walk_labels: the top-left
// H x W window of rw (C, Hs, Ws) is divided by its global max over every channel (IRN:
// rw_up / max(rw_up)), a background channel of constant bg_threshold (0.25) is put in front
// and the argmax taken (first maximum wins, so ties go to the background, then the lower
// channel). labels (H, W) int32: 0 background, c + 1 for channel c. normalised (C, H, W),
// may be null: the divided window, for irn_instance_scores.
size_t irn_walk_labels_workspace_bytes();
template <typename T>
void irn_walk_labels(const T* rw, int64_t C, int64_t Hs, int64_t Ws, int64_t H, int64_t W,
                     T bg_threshold, int32_t* labels, T* normalised, void* workspace);
// masks (C, H, W) uint8 = (labels == c + 1): feed to label_components (kernels/components.h,
// 4-connectivity, N = C) to split every channel into its instances as IRN does.
void irn_channel_masks(const int32_t* labels, int64_t C, int64_t H, int64_t W, uint8_t* masks);
// For channel c and its component k (1..counts[c], components (C, H, W) from label_components):
// areas[c * K + k - 1] = pixel count, scores[c * K + k - 1] = max of normalised inside it, or 0
// when the area is below min_area_fraction * H * W (IRN: 0.01, H x W the original image).
// As IRN's detect_instance (np.max(score * mask)), a component smaller than the image scores at
// least 0. K = max_components; entries of components beyond K are ignored, unused entries are 0.
template <typename T>
void irn_instance_scores(const T* normalised, const int32_t* components, const int32_t* counts,
                         int64_t C, int64_t H, int64_t W, int64_t max_components,
                         double min_area_fraction, T* scores, int32_t* areas);
}  // namespace cpu

#if WSVIS_WITH_CUDA
namespace cuda {
// Same contracts as the CPU twin; all pointers on the device (grad_stats and stats too).
// Backward of the affinity scatters with atomicAdd: float sums vary in the last bits between
// runs (the CPU twin is the deterministic reference).
template <typename T>
void irn_affinity_forward(cudaStream_t stream, const T* boundary, int64_t N, int64_t H, int64_t W,
                          const IrnPairSet& set, T* affinity);
template <typename T>
void irn_affinity_backward(cudaStream_t stream, const T* grad_affinity, const T* boundary,
                           int64_t N, int64_t H, int64_t W, const IrnPairSet& set,
                           T* grad_boundary);

// Per-block partial sums (deterministic two-pass reduction).
size_t irn_loss_workspace_bytes(int64_t N, int64_t H, int64_t W);
template <typename T>
void irn_loss_forward(cudaStream_t stream, const T* affinity, const T* displacement,
                      const uint8_t* labels, int64_t N, int64_t H, int64_t W, const IrnPairSet& set,
                      bool irn_source_crop, T* stats, void* workspace, size_t workspace_bytes);
// Gathers (no atomics): deterministic.
template <typename T>
void irn_loss_backward(cudaStream_t stream, const T* grad_stats, const T* stats, const T* affinity,
                       const T* displacement, const uint8_t* labels, int64_t N, int64_t H,
                       int64_t W, const IrnPairSet& set, bool irn_source_crop, T* grad_affinity,
                       T* grad_displacement);

template <typename T>
void irn_walk_weights(cudaStream_t stream, const T* boundary, int64_t H, int64_t W,
                      const IrnPairSet& set, T beta, T* weights);
template <typename T>
size_t irn_random_walk_workspace_bytes(int64_t C, int64_t H, int64_t W, const IrnPairSet& set);
// Two launches per frame: the weights, then one persistent cooperative kernel that runs all
// `steps` gathers with a grid-wide sync between steps (ping-pong between out and scratch).
// Where cooperative launch is unavailable it falls back to one launch per step.
template <typename T>
void irn_random_walk(cudaStream_t stream, const T* boundary, const T* seeds, int64_t C, int64_t H,
                     int64_t W, const IrnPairSet& set, T beta, int steps, bool mask_seeds, T* out,
                     void* workspace, size_t workspace_bytes);

size_t irn_walk_labels_workspace_bytes();
template <typename T>
void irn_walk_labels(cudaStream_t stream, const T* rw, int64_t C, int64_t Hs, int64_t Ws, int64_t H,
                     int64_t W, T bg_threshold, int32_t* labels, T* normalised, void* workspace);
void irn_channel_masks(cudaStream_t stream, const int32_t* labels, int64_t C, int64_t H, int64_t W,
                       uint8_t* masks);
// normalised must be >= 0 (walked CAMs are), as the max uses integer atomics on float bits.
template <typename T>
void irn_instance_scores(cudaStream_t stream, const T* normalised, const int32_t* components,
                         const int32_t* counts, int64_t C, int64_t H, int64_t W,
                         int64_t max_components, double min_area_fraction, T* scores,
                         int32_t* areas);
}  // namespace cuda
#endif

}  // namespace wsvis::kernels
