// Elementwise kernels: binary ops with numpy-style broadcasting, unary ops with their
// backward, and the broadcast copy that turns a reduced gradient back into a full one.
// CPU twin in kernels/cpu/elementwise.cpp, CUDA twins in kernels/cuda/elementwise_binary.cu
// and kernels/cuda/elementwise_unary.cu; the per-element maths is in elementwise_math.h.
#pragma once

#include <cstdint>

#include "kernels/common.h"

#if WSVIS_WITH_CUDA
#include <cuda_runtime.h>
#endif

namespace wsvis::kernels {

// Same bound as wsvis::kMaxDims (kernels do not see engine headers).
constexpr int kMaxBroadcastDims = 5;

// Index geometry of a broadcast over an output of `ndim` dims (row-major, sizes[ndim-1]
// fastest). stride_a / stride_b are element strides of each input in the output's index
// space: 0 on a dim the input broadcasts along. Passed to CUDA kernels by value.
// ndim == 0 describes a single element (a 0-d output).
struct BroadcastGeometry {
  int ndim = 0;
  int64_t sizes[kMaxBroadcastDims] = {};
  int64_t stride_a[kMaxBroadcastDims] = {};
  int64_t stride_b[kMaxBroadcastDims] = {};
};

enum class BinaryOp : uint8_t { add, sub, mul, div };

// Unary ops. `p0`, `p1` are the scalar parameters where an op has them (see
// elementwise_math.h for the formula of each, and for whether its backward reads the input
// x or the output y).
enum class UnaryOp : uint8_t {
  neg,
  exp,
  log,
  sqrt,
  abs,
  relu,
  sigmoid,
  pow,          // x^p0
  clamp,        // min(max(x, p0), p1)
  add_scalar,   // x + p0
  mul_scalar,   // x * p0
  div_scalar,   // x / p0
  rsub_scalar,  // p0 - x
  rdiv_scalar,  // p0 / x
};

namespace cpu {
// out[i] = a[i] op b[i] (same shapes, n elements).
template <typename T>
void binary(BinaryOp op, T* out, const T* a, const T* b, int64_t n);
// out[idx] = a[idx . stride_a] op b[idx . stride_b] over every index of geo.sizes.
template <typename T>
void binary_broadcast(BinaryOp op, T* out, const T* a, const T* b, const BroadcastGeometry& geo);
// out[i] = f(x[i]).
template <typename T>
void unary(UnaryOp op, T* out, const T* x, int64_t n, T p0, T p1);
// grad_x[i] = grad_y[i] * f'(x[i]) where `saved` is x or y as elementwise_math.h says per op.
template <typename T>
void unary_backward(UnaryOp op, T* grad_x, const T* grad_y, const T* saved, int64_t n, T p0, T p1);
// out[idx] = scale * in[idx . stride_a] over every index of geo.sizes (stride_b unused).
template <typename T>
void broadcast_scaled(T* out, const T* in, const BroadcastGeometry& geo, T scale);
}  // namespace cpu

#if WSVIS_WITH_CUDA
namespace cuda {
template <typename T>
void binary(cudaStream_t stream, BinaryOp op, T* out, const T* a, const T* b, int64_t n);
template <typename T>
void binary_broadcast(cudaStream_t stream, BinaryOp op, T* out, const T* a, const T* b,
                      const BroadcastGeometry& geo);
template <typename T>
void unary(cudaStream_t stream, UnaryOp op, T* out, const T* x, int64_t n, T p0, T p1);
template <typename T>
void unary_backward(cudaStream_t stream, UnaryOp op, T* grad_x, const T* grad_y, const T* saved,
                    int64_t n, T p0, T p1);
template <typename T>
void broadcast_scaled(cudaStream_t stream, T* out, const T* in, const BroadcastGeometry& geo,
                      T scale);
}  // namespace cuda
#endif

// Number of elements geo describes (1 for ndim == 0).
inline int64_t broadcast_numel(const BroadcastGeometry& geo) {
  int64_t n = 1;
  for (int d = 0; d < geo.ndim; ++d) n *= geo.sizes[d];
  return n;
}

}  // namespace wsvis::kernels
