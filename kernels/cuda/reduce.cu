// CUDA twin of sum_dim, max_dim and max_dim_backward in kernels/cpu/reduce.cpp.
// inner == 1 (the reduced elements of a row are contiguous): one block per row, threads
// stride along the row and a warp-shuffle tree combines them. inner > 1: one thread per
// (outer, inner) column, scanning r in order; neighbouring threads read neighbouring
// addresses, so the loads coalesce.
#include "engine/cuda_check.h"
#include "kernels/cuda/block_reduce.cuh"
#include "kernels/reduce.h"

namespace wsvis::kernels::cuda {

namespace {

// Rows are visited by a grid-stride loop over blocks; more blocks than this adds nothing.
constexpr int64_t kMaxRowBlocks = 65535LL * 8;

inline unsigned row_blocks(int64_t rows) {
  return static_cast<unsigned>(rows < kMaxRowBlocks ? rows : kMaxRowBlocks);
}

template <typename T>
__global__ void sum_rows_kernel(T* out, const T* in, int64_t rows, int64_t R, T scale) {
  __shared__ T scratch[32];
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const T* src = in + row * R;
    T acc = T(0);
    for (int64_t r = threadIdx.x; r < R; r += blockDim.x) acc += src[r];
    acc = detail::block_sum(acc, scratch);
    if (threadIdx.x == 0) out[row] = acc * scale;
  }
}

template <typename T>
__global__ void sum_columns_kernel(T* out, const T* in, int64_t outer, int64_t R, int64_t inner,
                                   T scale) {
  const int64_t columns = outer * inner;
  for (int64_t col = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; col < columns;
       col += int64_t(gridDim.x) * blockDim.x) {
    const int64_t o = col / inner, i = col % inner;
    const T* src = in + o * R * inner + i;
    T acc = T(0);
    for (int64_t r = 0; r < R; ++r) acc += src[r * inner];
    out[col] = acc * scale;
  }
}

template <typename T>
__global__ void max_rows_kernel(T* values, int64_t* indices, const T* in, int64_t rows,
                                int64_t R) {
  __shared__ T scratch[32];
  __shared__ int64_t scratch_idx[32];
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const T* src = in + row * R;
    // Every thread starts from element 0 (a real candidate), so no sentinel is needed.
    T best = src[0];
    int64_t best_r = 0;
    for (int64_t r = threadIdx.x; r < R; r += blockDim.x) {
      if (max_replaces(best, best_r, src[r], r)) {
        best = src[r];
        best_r = r;
      }
    }
    detail::block_argmax(best, best_r, scratch, scratch_idx);
    if (threadIdx.x == 0) {
      values[row] = best;
      indices[row] = best_r;
    }
  }
}

template <typename T>
__global__ void max_columns_kernel(T* values, int64_t* indices, const T* in, int64_t outer,
                                   int64_t R, int64_t inner) {
  const int64_t columns = outer * inner;
  for (int64_t col = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; col < columns;
       col += int64_t(gridDim.x) * blockDim.x) {
    const int64_t o = col / inner, i = col % inner;
    const T* src = in + o * R * inner + i;
    T best = src[0];
    int64_t best_r = 0;
    for (int64_t r = 1; r < R; ++r) {
      const T v = src[r * inner];
      if (max_replaces(best, best_r, v, r)) {
        best = v;
        best_r = r;
      }
    }
    values[col] = best;
    indices[col] = best_r;
  }
}

template <typename T>
__global__ void max_backward_kernel(T* grad_in, const T* grad_out, const int64_t* indices,
                                    int64_t outer, int64_t R, int64_t inner) {
  const int64_t n = outer * R * inner;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < n;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t i = e % inner;
    const int64_t r = (e / inner) % R;
    const int64_t o = e / (inner * R);
    const int64_t col = o * inner + i;
    grad_in[e] = indices[col] == r ? grad_out[col] : T(0);
  }
}

}  // namespace

template <typename T>
void sum_dim(cudaStream_t stream, T* out, const T* in, int64_t outer, int64_t R, int64_t inner,
             T scale) {
  const int64_t columns = outer * inner;
  if (columns == 0) return;
  if (inner == 1) {
    const int threads = detail::row_threads(R, outer);
    sum_rows_kernel<<<row_blocks(outer), threads, 0, stream>>>(out, in, outer, R, scale);
  } else {
    sum_columns_kernel<<<elementwise_blocks(columns), kElementwiseThreads, 0, stream>>>(
        out, in, outer, R, inner, scale);
  }
  WSVIS_LAUNCH_CHECK();
}

template <typename T>
void max_dim(cudaStream_t stream, T* values, int64_t* indices, const T* in, int64_t outer,
             int64_t R, int64_t inner) {
  const int64_t columns = outer * inner;
  if (columns == 0 || R == 0) return;  // R == 0 is rejected by the op (max of nothing)
  if (inner == 1) {
    const int threads = detail::row_threads(R, outer);
    max_rows_kernel<<<row_blocks(outer), threads, 0, stream>>>(values, indices, in, outer, R);
  } else {
    max_columns_kernel<<<elementwise_blocks(columns), kElementwiseThreads, 0, stream>>>(
        values, indices, in, outer, R, inner);
  }
  WSVIS_LAUNCH_CHECK();
}

template <typename T>
void max_dim_backward(cudaStream_t stream, T* grad_in, const T* grad_out, const int64_t* indices,
                      int64_t outer, int64_t R, int64_t inner) {
  const int64_t n = outer * R * inner;
  if (n == 0) return;
  max_backward_kernel<<<elementwise_blocks(n), kElementwiseThreads, 0, stream>>>(
      grad_in, grad_out, indices, outer, R, inner);
  WSVIS_LAUNCH_CHECK();
}

#define WSVIS_INSTANTIATE_REDUCE(T)                                                           \
  template void sum_dim<T>(cudaStream_t, T*, const T*, int64_t, int64_t, int64_t, T);         \
  template void max_dim<T>(cudaStream_t, T*, int64_t*, const T*, int64_t, int64_t, int64_t);  \
  template void max_dim_backward<T>(cudaStream_t, T*, const T*, const int64_t*, int64_t,      \
                                    int64_t, int64_t);
WSVIS_INSTANTIATE_REDUCE(float)
WSVIS_INSTANTIATE_REDUCE(double)

}  // namespace wsvis::kernels::cuda
