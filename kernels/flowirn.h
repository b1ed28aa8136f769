// flowIRN kernels (seed paper sections 3.1-3.2, 4.2; spec irn_flowirn_maskconsist.md section 7):
//   - flow_magnitude: ||F(x)||_2 per pixel;
//   - select_kth: the exact k-th smallest of n values (the T-th percentile of the flow
//     magnitude with k = flowirn_math::percentile_rank(n, q), numpy's "lower" percentile).
//     CPU: std::nth_element on a copy. CUDA: an MSD radix select over order-preserving integer
//     keys (8-bit digits: a 256-bin histogram of the candidates, then one block picks the digit
//     holding rank k), entirely on the device. Both return the same value exactly;
//   - fcam_amplify: f-CAM_c(x) = CAM_c(x) * A where ||F(x)|| > threshold (strictly), else CAM;
//     threshold read through a pointer (device memory for CUDA: the output of select_kth);
//   - flow_gradient: F' = (du/dx, du/dy, dv/dx, dv/dy) * scale by forward differences, 0 across
//     the last column/row [UNPINNED];
//   - flow-boundary loss over IRN's pair set (kernels/irn.h: radius 10, training source crop):
//       L = 1/P * sum_{n, pairs (i, j)} ||F'(i) - F'(j)||_2 * alpha_ij + lambda |1 - alpha_ij|,
//     lambda = 2, P = the number of pairs over the batch: the mean over all pairs [UNPINNED
//     normalisation and L2 norm of the 4-vector, as the spec chooses], and its gradient in
//     alpha. alpha uses irn_affinity_forward's layout, so the gradient in the boundary map is
//     irn_affinity_backward(grad_alpha) (checked in the tests).
// Per-element maths in kernels/flowirn_math.h. CPU twin kernels/cpu/flowirn.cpp, CUDA twin
// kernels/cuda/flowirn.cu (f-CAM, gradient, loss) and kernels/cuda/percentile.cu (select).
//
// Shapes (contiguous, row-major):
//   flow:        (N, 2, H, W) channel 0 = u (horizontal), 1 = v (vertical), as kernels/warp.h
//   magnitude:   (N, H, W)
//   cams, out:   (N, C, H, W); magnitude (N, H, W) at the same resolution
//   flow_grad:   (N, 4, H, W)
//   alpha, grad_alpha: (N, D, H, W) as kernels/irn.h's affinity: [n, d, y, x] is the pair
//     source (y, x) -> destination (y + dy[d], x + dx[d]) of the IrnPairSet `set`. Entries that
//     are not pairs (destination outside; source outside IRN's crop when irn_source_crop) are
//     ignored by the forward and get gradient 0. No pairs at all: L = 0.
//   loss, grad_loss: (1)
// Backward kernels overwrite their outputs.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/common.h"
#include "kernels/flowirn_math.h"
#include "kernels/irn_math.h"

#if WSVIS_WITH_CUDA
#include <cuda_runtime.h>
#endif

namespace wsvis::kernels {

constexpr double kFlowBoundaryLambda = 2.0;  // the seed paper's lambda
// The seed paper's f-CAM settings (section 4.2); runs take them from the config per dataset.
constexpr double kFcamAmplificationYtvis = 2.0, kFcamPercentileYtvis = 0.8;
constexpr double kFcamAmplificationCityscapes = 5.0, kFcamPercentileCityscapes = 0.5;

// Number of flow-boundary pairs of one H x W image: the normaliser P is N times this.
int64_t flow_boundary_pair_count(int64_t H, int64_t W, const IrnPairSet& set, bool irn_source_crop);

namespace cpu {
template <typename T>
void flow_magnitude(const T* flow, int64_t N, int64_t H, int64_t W, T* magnitude);

// Scratch: a copy of the n values.
size_t select_kth_workspace_bytes(int64_t n, size_t elem_bytes);
// out (1) = the k-th smallest (0-based) of values (n); n >= 1, 0 <= k < n, no NaN (checked).
template <typename T>
void select_kth(const T* values, int64_t n, int64_t k, T* out, void* workspace);

template <typename T>
void fcam_amplify(const T* cams, const T* magnitude, int64_t N, int64_t C, int64_t H, int64_t W,
                  const T* threshold, T amplification, T* out);

template <typename T>
void flow_gradient(const T* flow, int64_t N, int64_t H, int64_t W, T scale, T* flow_grad);

// Scratch: one double per (image, direction).
size_t flow_boundary_loss_workspace_bytes(int64_t N, int64_t H, int64_t W, const IrnPairSet& set);
// Deterministic: each (image, direction) summed in double, those totals added in order.
template <typename T>
void flow_boundary_loss_forward(const T* flow_grad, const T* alpha, int64_t N, int64_t H, int64_t W,
                                const IrnPairSet& set, bool irn_source_crop, T lambda, T* loss,
                                void* workspace);
// grad_alpha = grad_loss[0] / P * (||dF'|| - lambda * sign(1 - alpha)) on the pairs, sign(0) :=
// 1 (alpha = 1 - path max never exceeds 1); 0 elsewhere.
template <typename T>
void flow_boundary_loss_backward(const T* flow_grad, const T* alpha, int64_t N, int64_t H,
                                 int64_t W, const IrnPairSet& set, bool irn_source_crop, T lambda,
                                 const T* grad_loss, T* grad_alpha);
}  // namespace cpu

#if WSVIS_WITH_CUDA
namespace cuda {
template <typename T>
void flow_magnitude(cudaStream_t stream, const T* flow, int64_t N, int64_t H, int64_t W,
                    T* magnitude);

// Scratch: the 256-bin histogram and the select state (a few hundred bytes, any n).
size_t select_kth_workspace_bytes(int64_t n, size_t elem_bytes);
// out (1, device) = the k-th smallest of values (n, device); 1 + 2 * (bits / 8) launches
// (9 for float), no host synchronisation. n < 2^32. NaN is not checked (outside the contract).
template <typename T>
void select_kth(cudaStream_t stream, const T* values, int64_t n, int64_t k, T* out,
                void* workspace);

template <typename T>
void fcam_amplify(cudaStream_t stream, const T* cams, const T* magnitude, int64_t N, int64_t C,
                  int64_t H, int64_t W, const T* threshold, T amplification, T* out);

template <typename T>
void flow_gradient(cudaStream_t stream, const T* flow, int64_t N, int64_t H, int64_t W, T scale,
                   T* flow_grad);

// Block partial sums (double) for the deterministic two-pass reduction.
size_t flow_boundary_loss_workspace_bytes(int64_t N, int64_t H, int64_t W, const IrnPairSet& set);
// One thread per element of alpha (non-pairs skip), directions in a kernel-argument table;
// deterministic (block sums in double in a fixed shuffle order, then the block totals added
// in order by one block).
template <typename T>
void flow_boundary_loss_forward(cudaStream_t stream, const T* flow_grad, const T* alpha, int64_t N,
                                int64_t H, int64_t W, const IrnPairSet& set, bool irn_source_crop,
                                T lambda, T* loss, void* workspace);
// grad_loss on the device.
template <typename T>
void flow_boundary_loss_backward(cudaStream_t stream, const T* flow_grad, const T* alpha, int64_t N,
                                 int64_t H, int64_t W, const IrnPairSet& set, bool irn_source_crop,
                                 T lambda, const T* grad_loss, T* grad_alpha);
}  // namespace cuda
#endif

}  // namespace wsvis::kernels
