// CUDA twin of softmax and softmax_backward in kernels/cpu/reduce.cpp, with the same two
// schedules as reduce.cu: a block per row when inner == 1, a thread per column otherwise.
#include "engine/cuda_check.h"
#include "kernels/cuda/block_reduce.cuh"
#include "kernels/elementwise_math.h"
#include "kernels/reduce.h"

namespace wsvis::kernels::cuda {

namespace {

constexpr int64_t kMaxRowBlocks = 65535LL * 8;

inline unsigned row_blocks(int64_t rows) {
  return static_cast<unsigned>(rows < kMaxRowBlocks ? rows : kMaxRowBlocks);
}

template <typename T>
__global__ void softmax_rows_kernel(T* out, const T* in, int64_t rows, int64_t R, bool take_log) {
  __shared__ T scratch[32];
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const T* src = in + row * R;
    T* dst = out + row * R;
    T m = src[0];
    for (int64_t r = threadIdx.x; r < R; r += blockDim.x) m = src[r] > m ? src[r] : m;
    m = detail::block_max(m, scratch);
    T total = T(0);
    for (int64_t r = threadIdx.x; r < R; r += blockDim.x) total += ew_exp(src[r] - m);
    total = detail::block_sum(total, scratch);
    if (take_log) {
      const T log_total = ew_log(total);
      for (int64_t r = threadIdx.x; r < R; r += blockDim.x) dst[r] = src[r] - m - log_total;
    } else {
      const T inv_total = T(1) / total;
      for (int64_t r = threadIdx.x; r < R; r += blockDim.x) dst[r] = ew_exp(src[r] - m) * inv_total;
    }
  }
}

template <typename T>
__global__ void softmax_columns_kernel(T* out, const T* in, int64_t outer, int64_t R,
                                       int64_t inner, bool take_log) {
  const int64_t columns = outer * inner;
  for (int64_t col = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; col < columns;
       col += int64_t(gridDim.x) * blockDim.x) {
    const int64_t o = col / inner, i = col % inner;
    const T* src = in + o * R * inner + i;
    T* dst = out + o * R * inner + i;
    T m = src[0];
    for (int64_t r = 1; r < R; ++r) m = src[r * inner] > m ? src[r * inner] : m;
    T total = T(0);
    for (int64_t r = 0; r < R; ++r) total += ew_exp(src[r * inner] - m);
    if (take_log) {
      const T log_total = ew_log(total);
      for (int64_t r = 0; r < R; ++r) dst[r * inner] = src[r * inner] - m - log_total;
    } else {
      const T inv_total = T(1) / total;
      for (int64_t r = 0; r < R; ++r) dst[r * inner] = ew_exp(src[r * inner] - m) * inv_total;
    }
  }
}

template <typename T>
__global__ void softmax_backward_rows_kernel(T* grad_in, const T* grad_out, const T* y,
                                             int64_t rows, int64_t R, bool take_log) {
  __shared__ T scratch[32];
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const int64_t base = row * R;
    T dot = T(0);  // softmax: sum g*y; log-softmax: sum g
    for (int64_t r = threadIdx.x; r < R; r += blockDim.x)
      dot += take_log ? grad_out[base + r] : grad_out[base + r] * y[base + r];
    dot = detail::block_sum(dot, scratch);
    for (int64_t r = threadIdx.x; r < R; r += blockDim.x) {
      const int64_t e = base + r;
      grad_in[e] = take_log ? grad_out[e] - ew_exp(y[e]) * dot : y[e] * (grad_out[e] - dot);
    }
  }
}

template <typename T>
__global__ void softmax_backward_columns_kernel(T* grad_in, const T* grad_out, const T* y,
                                                int64_t outer, int64_t R, int64_t inner,
                                                bool take_log) {
  const int64_t columns = outer * inner;
  for (int64_t col = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; col < columns;
       col += int64_t(gridDim.x) * blockDim.x) {
    const int64_t o = col / inner, i = col % inner;
    const int64_t base = o * R * inner + i;
    T dot = T(0);
    for (int64_t r = 0; r < R; ++r) {
      const int64_t e = base + r * inner;
      dot += take_log ? grad_out[e] : grad_out[e] * y[e];
    }
    for (int64_t r = 0; r < R; ++r) {
      const int64_t e = base + r * inner;
      grad_in[e] = take_log ? grad_out[e] - ew_exp(y[e]) * dot : y[e] * (grad_out[e] - dot);
    }
  }
}

}  // namespace

template <typename T>
void softmax(cudaStream_t stream, T* out, const T* in, int64_t outer, int64_t R, int64_t inner,
             bool take_log) {
  const int64_t columns = outer * inner;
  if (columns == 0 || R == 0) return;
  if (inner == 1) {
    const int threads = detail::row_threads(R, outer);
    softmax_rows_kernel<<<row_blocks(outer), threads, 0, stream>>>(out, in, outer, R, take_log);
  } else {
    softmax_columns_kernel<<<elementwise_blocks(columns), kElementwiseThreads, 0, stream>>>(
        out, in, outer, R, inner, take_log);
  }
  WSVIS_LAUNCH_CHECK();
}

template <typename T>
void softmax_backward(cudaStream_t stream, T* grad_in, const T* grad_out, const T* y,
                      int64_t outer, int64_t R, int64_t inner, bool take_log) {
  const int64_t columns = outer * inner;
  if (columns == 0 || R == 0) return;
  if (inner == 1) {
    const int threads = detail::row_threads(R, outer);
    softmax_backward_rows_kernel<<<row_blocks(outer), threads, 0, stream>>>(grad_in, grad_out, y,
                                                                             outer, R, take_log);
  } else {
    softmax_backward_columns_kernel<<<elementwise_blocks(columns), kElementwiseThreads, 0,
                                      stream>>>(grad_in, grad_out, y, outer, R, inner, take_log);
  }
  WSVIS_LAUNCH_CHECK();
}

#define WSVIS_INSTANTIATE_SOFTMAX(T)                                                          \
  template void softmax<T>(cudaStream_t, T*, const T*, int64_t, int64_t, int64_t, bool);      \
  template void softmax_backward<T>(cudaStream_t, T*, const T*, const T*, int64_t, int64_t,   \
                                    int64_t, bool);
WSVIS_INSTANTIATE_SOFTMAX(float)
WSVIS_INSTANTIATE_SOFTMAX(double)

}  // namespace wsvis::kernels::cuda
