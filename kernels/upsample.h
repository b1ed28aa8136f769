// 2-d upsampling (and downsampling) kernels: nearest and bilinear, torch F.interpolate semantics
// with an explicit output size. CPU twin in kernels/cpu/upsample.cpp, CUDA twin in
// kernels/cuda/upsample.cu, shared index maths in kernels/upsample_math.h.
//
// Layout: x is `planes` = N * C planes of (H, W); y is `planes` planes of (OH, OW).
// Backward: the CPU twin scatters each output gradient to the inputs it read; the CUDA twin
// gathers, for each input element, over the outputs that read it (no atomics, deterministic).
// Both write every element of grad_x.
#pragma once

#include <cstdint>

#include "kernels/common.h"

#if WSVIS_WITH_CUDA
#include <cuda_runtime.h>
#endif

namespace wsvis::kernels {

namespace cpu {
template <typename T>
void upsample_nearest2d_forward(const T* x, int64_t planes, int64_t H, int64_t W, int64_t OH,
                                int64_t OW, T* y);
template <typename T>
void upsample_nearest2d_backward(const T* grad_y, int64_t planes, int64_t H, int64_t W,
                                 int64_t OH, int64_t OW, T* grad_x);
template <typename T>
void upsample_bilinear2d_forward(const T* x, int64_t planes, int64_t H, int64_t W, int64_t OH,
                                 int64_t OW, bool align_corners, T* y);
template <typename T>
void upsample_bilinear2d_backward(const T* grad_y, int64_t planes, int64_t H, int64_t W,
                                  int64_t OH, int64_t OW, bool align_corners, T* grad_x);
}  // namespace cpu

#if WSVIS_WITH_CUDA
namespace cuda {
template <typename T>
void upsample_nearest2d_forward(cudaStream_t stream, const T* x, int64_t planes, int64_t H,
                                int64_t W, int64_t OH, int64_t OW, T* y);
template <typename T>
void upsample_nearest2d_backward(cudaStream_t stream, const T* grad_y, int64_t planes, int64_t H,
                                 int64_t W, int64_t OH, int64_t OW, T* grad_x);
template <typename T>
void upsample_bilinear2d_forward(cudaStream_t stream, const T* x, int64_t planes, int64_t H,
                                 int64_t W, int64_t OH, int64_t OW, bool align_corners, T* y);
template <typename T>
void upsample_bilinear2d_backward(cudaStream_t stream, const T* grad_y, int64_t planes, int64_t H,
                                  int64_t W, int64_t OH, int64_t OW, bool align_corners,
                                  T* grad_x);
}  // namespace cuda
#endif

}  // namespace wsvis::kernels
