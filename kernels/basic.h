// Basic memory kernels the engine core needs: fill, dtype conversion, y += alpha * x.
// CPU twin in kernels/cpu/basic.cpp, CUDA twin in kernels/cuda/basic.cu.
#pragma once

#include <cstdint>

#include "kernels/common.h"

#if WSVIS_WITH_CUDA
#include <cuda_runtime.h>
#endif

namespace wsvis::kernels {

namespace cpu {
template <typename T>
void fill(T* out, int64_t n, T value);
template <typename Dst, typename Src>
void cast(Dst* out, const Src* in, int64_t n);
// y[i] += alpha * x[i]
template <typename T>
void axpy(T* y, const T* x, int64_t n, T alpha);
}  // namespace cpu

#if WSVIS_WITH_CUDA
namespace cuda {
template <typename T>
void fill(cudaStream_t stream, T* out, int64_t n, T value);
template <typename Dst, typename Src>
void cast(cudaStream_t stream, Dst* out, const Src* in, int64_t n);
template <typename T>
void axpy(cudaStream_t stream, T* y, const T* x, int64_t n, T alpha);
}  // namespace cuda
#endif

}  // namespace wsvis::kernels
