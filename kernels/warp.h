// Flow warping: backward bilinear warping of feature maps by a pixel flow field, with the
// semantics of torch.nn.functional.grid_sample(x, grid, mode='bilinear', padding_mode='zeros'
// or 'border', align_corners=False) where grid is the normalised form of (x + u, y + v); and
// mask warping (warp, threshold at 0.5, tight box) for MaskConsist, the tracker and the
// temporal-consistency metric. Per-pixel maths in kernels/warp_math.h; CPU twin in
// kernels/cpu/warp.cpp, CUDA twin in kernels/cuda/warp.cu, warp_backward.cu, mask_warp.cu.
//
// Shapes (contiguous, row-major):
//   x, out, grad_out, grad_x: (N, C, H, W)
//   flow, grad_flow:          (N, 2, H, W)  channel 0 = u (horizontal displacement, pixels),
//                                           channel 1 = v (vertical)
//   out[n, c, y, x] = bilinear sample of x[n, c] at (x + u[n, y, x], y + v[n, y, x]).
//
// Backward kernels overwrite their outputs (they do not accumulate). The bilinear sample is
// not differentiable where the source point has an integer coordinate; there the flow gradient
// is torch's one-sided choice (the weights of the taps at floor(point) and floor(point) + 1).
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/common.h"
#include "kernels/warp_math.h"

#if WSVIS_WITH_CUDA
#include <cuda_runtime.h>
#endif

namespace wsvis::kernels {

namespace cpu {
// out = warp(x, flow).
template <typename T>
void warp_forward(const T* x, const T* flow, int64_t N, int64_t C, int64_t H, int64_t W,
                  WarpPadding padding, T* out);

// Scratch for warp_backward_input: 0 on the CPU (always deterministic; the argument exists so
// callers can treat both twins alike).
size_t warp_backward_input_workspace_bytes(int64_t N, int64_t H, int64_t W, bool deterministic);

// grad_x = d<out, grad_out>/dx (the adjoint of the forward: a scatter of grad_out onto the
// four taps of each pixel). Deterministic on the CPU: each (n, c) plane is scattered by one
// thread in pixel order. workspace may be null.
template <typename T>
void warp_backward_input(const T* grad_out, const T* flow, int64_t N, int64_t C, int64_t H,
                         int64_t W, WarpPadding padding, bool deterministic, void* workspace,
                         size_t workspace_bytes, T* grad_x);

// grad_flow = d<out, grad_out>/dflow: a gather, one pixel at a time, summing channels in order.
template <typename T>
void warp_backward_flow(const T* grad_out, const T* x, const T* flow, int64_t N, int64_t C,
                        int64_t H, int64_t W, WarpPadding padding, T* grad_flow);

// Mask warping. masks: (K, H, W) as float (soft, used as is) or uint8 (binary: non-zero is
// foreground); flow: (2, H, W), one flow for all K masks; zeros padding.
// out: (K, H, W) uint8, 1 where the warped value is >= 0.5, else 0.
// boxes: (K, 4) int32 (x0, y0, x1, y1), the tight box of out[k] with x1, y1 EXCLUSIVE
//        (x1 = last foreground column + 1), so width = x1 - x0; an empty mask gives (0, 0, 0, 0),
//        i.e. empty <=> x1 == x0.
// areas: (K) int32 foreground pixel counts.
// Any of out, boxes, areas may be null (not computed).
template <typename V>
void warp_masks(const V* masks, const float* flow, int64_t K, int64_t H, int64_t W,
                uint8_t* out, int32_t* boxes, int32_t* areas);
}  // namespace cpu

#if WSVIS_WITH_CUDA
namespace cuda {
// One thread per output pixel and chunk of channels: the flow is read and the taps computed
// once per chunk.
template <typename T>
void warp_forward(cudaStream_t stream, const T* x, const T* flow, int64_t N, int64_t C,
                  int64_t H, int64_t W, WarpPadding padding, T* out);

// deterministic false: 0 bytes (the atomic scatter). true: the scratch of the sorted gather
// (about 16 bytes per pixel of N*H*W plus the sort's own scratch).
size_t warp_backward_input_workspace_bytes(int64_t N, int64_t H, int64_t W, bool deterministic);

// deterministic false: scatter with atomicAdd (fast; float results vary in the last bits from
// run to run because the order of the additions does). deterministic true: the four taps of
// every pixel are sorted by target pixel (a stable radix sort), then each grad_x element sums
// its contributions in pixel order: the same order as the CPU twin, the same bits every run.
// workspace must hold warp_backward_input_workspace_bytes(N, H, W, deterministic) bytes.
template <typename T>
void warp_backward_input(cudaStream_t stream, const T* grad_out, const T* flow, int64_t N,
                         int64_t C, int64_t H, int64_t W, WarpPadding padding, bool deterministic,
                         void* workspace, size_t workspace_bytes, T* grad_x);

// A gather: one thread per pixel sums over all channels in order (deterministic).
template <typename T>
void warp_backward_flow(cudaStream_t stream, const T* grad_out, const T* x, const T* flow,
                        int64_t N, int64_t C, int64_t H, int64_t W, WarpPadding padding,
                        T* grad_flow);

// Same contract as cpu::warp_masks; boxes and areas are reduced per block, then combined with
// integer atomics (exact, order-independent).
template <typename V>
void warp_masks(cudaStream_t stream, const V* masks, const float* flow, int64_t K, int64_t H,
                int64_t W, uint8_t* out, int32_t* boxes, int32_t* areas);
}  // namespace cuda
#endif

}  // namespace wsvis::kernels
