// Reductions over one block of dimensions, all on the (outer, R, inner) view of a contiguous
// tensor: element (o, r, i) lives at in[(o * R + r) * inner + i], and outputs are (outer, inner).
// CPU twin in kernels/cpu/reduce.cpp, CUDA twins in kernels/cuda/reduce.cu and
// kernels/cuda/softmax.cu. Every kernel is deterministic (no atomics): each output is
// reduced by one thread, warp or block in a fixed order.
#pragma once

#include <cstdint>

#include "kernels/common.h"

#if WSVIS_WITH_CUDA
#include <cuda_runtime.h>
#endif

namespace wsvis::kernels {

namespace cpu {
// out[o, i] = scale * sum_r in[o, r, i]. R == 0 gives 0 * scale. The CPU twin accumulates
// in double (it is the reference); the CUDA twin in T with a tree inside each row.
template <typename T>
void sum_dim(T* out, const T* in, int64_t outer, int64_t R, int64_t inner, T scale);
// values[o, i] = max_r in[o, r, i]; indices[o, i] = the first r attaining it. NaN counts as
// larger than every number (so a NaN propagates, as in torch), and the first NaN wins.
// Needs R >= 1.
template <typename T>
void max_dim(T* values, int64_t* indices, const T* in, int64_t outer, int64_t R, int64_t inner);
// grad_in[o, r, i] = (r == indices[o, i]) ? grad_out[o, i] : 0 (writes every element).
template <typename T>
void max_dim_backward(T* grad_in, const T* grad_out, const int64_t* indices, int64_t outer,
                      int64_t R, int64_t inner);
// Softmax (or log-softmax when `take_log`) along r, max-subtracted.
template <typename T>
void softmax(T* out, const T* in, int64_t outer, int64_t R, int64_t inner, bool take_log);
// From the forward output y: softmax: y * (g - sum_r g*y); log: g - exp(y) * sum_r g.
template <typename T>
void softmax_backward(T* grad_in, const T* grad_out, const T* y, int64_t outer, int64_t R,
                      int64_t inner, bool take_log);
}  // namespace cpu

#if WSVIS_WITH_CUDA
namespace cuda {
template <typename T>
void sum_dim(cudaStream_t stream, T* out, const T* in, int64_t outer, int64_t R, int64_t inner,
             T scale);
template <typename T>
void max_dim(cudaStream_t stream, T* values, int64_t* indices, const T* in, int64_t outer,
             int64_t R, int64_t inner);
template <typename T>
void max_dim_backward(cudaStream_t stream, T* grad_in, const T* grad_out, const int64_t* indices,
                      int64_t outer, int64_t R, int64_t inner);
template <typename T>
void softmax(cudaStream_t stream, T* out, const T* in, int64_t outer, int64_t R, int64_t inner,
             bool take_log);
template <typename T>
void softmax_backward(cudaStream_t stream, T* grad_in, const T* grad_out, const T* y,
                      int64_t outer, int64_t R, int64_t inner, bool take_log);
}  // namespace cuda
#endif

// True when (value, index) b should replace the running maximum (value, index) a: the
// ordering that max_dim documents (NaN above every number; ties and NaN ties go to the lower
// index). Scanning r upwards with this test and combining partial results in any tree give
// the same answer, which keeps the CPU and CUDA twins identical.
template <typename T>
WSVIS_HD inline bool max_replaces(T a, int64_t ia, T b, int64_t ib) {
  const bool a_nan = a != a, b_nan = b != b;
  if (a_nan || b_nan) return b_nan && (!a_nan || ib < ia);
  return b > a || (b == a && ib < ia);
}

}  // namespace wsvis::kernels
