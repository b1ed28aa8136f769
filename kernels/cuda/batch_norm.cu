// CUDA twin of the batch-norm and frozen-batch-norm kernels of kernels/cpu/norm.cpp.
// Statistics: one block per channel, each thread sums a fixed strided subset in double, then a
// shared-memory tree combines the partial sums in a fixed order: no atomics, the same bits on
// every run.
#include "engine/cuda_check.h"
#include "kernels/cuda/block_reduce.cuh"
#include "kernels/norm.h"

namespace wsvis::kernels::cuda {

namespace {

constexpr int kReduceThreads = 256;  // power of two: the tree halves it down to one

// Element j of channel c's (N, S) slice, in (N, C, S) layout.
__device__ inline int64_t channel_element(int64_t j, int64_t c, int64_t C, int64_t S) {
  const int64_t n = j / S, s = j - n * S;
  return (n * C + c) * S + s;
}

template <typename T>
__global__ void stats_kernel(const T* x, int64_t N, int64_t C, int64_t S, T* mean, T* var) {
  const int64_t c = blockIdx.x;
  const int64_t count = N * S;
  double sum = 0, unused = 0;
  for (int64_t j = threadIdx.x; j < count; j += blockDim.x)
    sum += static_cast<double>(x[channel_element(j, c, C, S)]);
  detail::block_tree_sum2<kReduceThreads>(sum, unused);
  const double m = count > 0 ? sum / static_cast<double>(count) : 0.0;
  double sq = 0;
  unused = 0;
  for (int64_t j = threadIdx.x; j < count; j += blockDim.x) {
    const double d = static_cast<double>(x[channel_element(j, c, C, S)]) - m;
    sq += d * d;
  }
  detail::block_tree_sum2<kReduceThreads>(sq, unused);
  if (threadIdx.x == 0) {
    mean[c] = static_cast<T>(m);
    var[c] = static_cast<T>(count > 0 ? sq / static_cast<double>(count) : 0.0);
  }
}

template <typename T>
__global__ void finalize_kernel(const T* mean, const T* var, int64_t C, int64_t count, double eps,
                                double momentum, T* running_mean, T* running_var, T* inv_std) {
  for (int64_t c = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; c < C;
       c += int64_t(gridDim.x) * blockDim.x) {
    const double v = static_cast<double>(var[c]);
    inv_std[c] = static_cast<T>(1.0 / sqrt(v + eps));
    if (running_mean) {
      running_mean[c] = static_cast<T>((1.0 - momentum) * static_cast<double>(running_mean[c]) +
                                       momentum * static_cast<double>(mean[c]));
      running_var[c] = static_cast<T>((1.0 - momentum) * static_cast<double>(running_var[c]) +
                                      momentum * unbiased_variance(v, count));
    }
  }
}

template <typename T>
__global__ void forward_kernel(const T* x, const T* mean, const T* inv_std, const T* weight,
                               const T* bias, int64_t total, int64_t C, int64_t S, T* y) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t c = (i / S) % C;
    const T w = weight ? weight[c] : T(1);
    const T b = bias ? bias[c] : T(0);
    y[i] = (x[i] - mean[c]) * inv_std[c] * w + b;
  }
}

template <typename T>
__global__ void backward_reduce_kernel(const T* grad_y, const T* x, const T* mean,
                                       const T* inv_std, int64_t N, int64_t C, int64_t S,
                                       T* sum_g, T* sum_g_xhat) {
  const int64_t c = blockIdx.x;
  const int64_t count = N * S;
  const double m = static_cast<double>(mean[c]), r = static_cast<double>(inv_std[c]);
  double sg = 0, sgx = 0;
  for (int64_t j = threadIdx.x; j < count; j += blockDim.x) {
    const int64_t i = channel_element(j, c, C, S);
    const double g = static_cast<double>(grad_y[i]);
    sg += g;
    sgx += g * (static_cast<double>(x[i]) - m) * r;
  }
  detail::block_tree_sum2<kReduceThreads>(sg, sgx);
  if (threadIdx.x == 0) {
    sum_g[c] = static_cast<T>(sg);
    sum_g_xhat[c] = static_cast<T>(sgx);
  }
}

template <typename T>
__global__ void backward_input_kernel(const T* grad_y, const T* x, const T* mean,
                                      const T* inv_std, const T* weight, const T* sum_g,
                                      const T* sum_g_xhat, int64_t total, int64_t C, int64_t S,
                                      double inv_count, bool training, T* grad_x) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t c = (i / S) % C;
    const double w = weight ? static_cast<double>(weight[c]) : 1.0;
    const double m = static_cast<double>(mean[c]), r = static_cast<double>(inv_std[c]);
    const double dxhat = static_cast<double>(grad_y[i]) * w;
    if (training) {
      const double xhat = (static_cast<double>(x[i]) - m) * r;
      grad_x[i] = static_cast<T>(norm_grad_input<double>(
          dxhat, xhat, r, static_cast<double>(sum_g[c]) * w,
          static_cast<double>(sum_g_xhat[c]) * w, inv_count));
    } else {
      grad_x[i] = static_cast<T>(dxhat * r);
    }
  }
}

template <typename T>
__global__ void frozen_coefficients_kernel(const T* weight, const T* bias, const T* running_mean,
                                           const T* running_var, int64_t C, double eps, T* scale,
                                           T* shift) {
  for (int64_t c = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; c < C;
       c += int64_t(gridDim.x) * blockDim.x) {
    const double sc =
        static_cast<double>(weight[c]) / sqrt(static_cast<double>(running_var[c]) + eps);
    scale[c] = static_cast<T>(sc);
    shift[c] = static_cast<T>(static_cast<double>(bias[c]) -
                              static_cast<double>(running_mean[c]) * sc);
  }
}

template <typename T>
__global__ void channel_affine_kernel(const T* x, const T* scale, const T* shift, int64_t total,
                                      int64_t C, int64_t S, T* y) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t c = (i / S) % C;
    const T b = shift ? shift[c] : T(0);
    y[i] = x[i] * scale[c] + b;
  }
}

}  // namespace

template <typename T>
void batch_norm_stats(cudaStream_t stream, const T* x, int64_t N, int64_t C, int64_t S, T* mean,
                      T* var) {
  if (C == 0) return;
  stats_kernel<<<static_cast<unsigned>(C), kReduceThreads, 0, stream>>>(x, N, C, S, mean, var);
  WSVIS_LAUNCH_CHECK();
}

template <typename T>
void batch_norm_finalize(cudaStream_t stream, const T* mean, const T* var, int64_t C,
                         int64_t count, double eps, double momentum, T* running_mean,
                         T* running_var, T* inv_std) {
  if (C == 0) return;
  finalize_kernel<<<elementwise_blocks(C), kElementwiseThreads, 0, stream>>>(
      mean, var, C, count, eps, momentum, running_mean, running_var, inv_std);
  WSVIS_LAUNCH_CHECK();
}

template <typename T>
void batch_norm_forward(cudaStream_t stream, const T* x, const T* mean, const T* inv_std,
                        const T* weight, const T* bias, int64_t N, int64_t C, int64_t S, T* y) {
  const int64_t total = N * C * S;
  if (total == 0) return;
  forward_kernel<<<elementwise_blocks(total), kElementwiseThreads, 0, stream>>>(
      x, mean, inv_std, weight, bias, total, C, S, y);
  WSVIS_LAUNCH_CHECK();
}

template <typename T>
void batch_norm_backward_reduce(cudaStream_t stream, const T* grad_y, const T* x, const T* mean,
                                const T* inv_std, int64_t N, int64_t C, int64_t S, T* sum_g,
                                T* sum_g_xhat) {
  if (C == 0) return;
  backward_reduce_kernel<<<static_cast<unsigned>(C), kReduceThreads, 0, stream>>>(
      grad_y, x, mean, inv_std, N, C, S, sum_g, sum_g_xhat);
  WSVIS_LAUNCH_CHECK();
}

template <typename T>
void batch_norm_backward_input(cudaStream_t stream, const T* grad_y, const T* x, const T* mean,
                               const T* inv_std, const T* weight, const T* sum_g,
                               const T* sum_g_xhat, int64_t N, int64_t C, int64_t S,
                               bool training, T* grad_x) {
  const int64_t total = N * C * S;
  if (total == 0) return;
  const double inv_count = 1.0 / static_cast<double>(N * S);
  backward_input_kernel<<<elementwise_blocks(total), kElementwiseThreads, 0, stream>>>(
      grad_y, x, mean, inv_std, weight, sum_g, sum_g_xhat, total, C, S, inv_count, training,
      grad_x);
  WSVIS_LAUNCH_CHECK();
}

template <typename T>
void frozen_batch_norm_coefficients(cudaStream_t stream, const T* weight, const T* bias,
                                    const T* running_mean, const T* running_var, int64_t C,
                                    double eps, T* scale, T* shift) {
  if (C == 0) return;
  frozen_coefficients_kernel<<<elementwise_blocks(C), kElementwiseThreads, 0, stream>>>(
      weight, bias, running_mean, running_var, C, eps, scale, shift);
  WSVIS_LAUNCH_CHECK();
}

template <typename T>
void channel_affine(cudaStream_t stream, const T* x, const T* scale, const T* shift, int64_t N,
                    int64_t C, int64_t S, T* y) {
  const int64_t total = N * C * S;
  if (total == 0) return;
  channel_affine_kernel<<<elementwise_blocks(total), kElementwiseThreads, 0, stream>>>(
      x, scale, shift, total, C, S, y);
  WSVIS_LAUNCH_CHECK();
}

#define WSVIS_INSTANTIATE_BATCH_NORM(T)                                                        \
  template void batch_norm_stats<T>(cudaStream_t, const T*, int64_t, int64_t, int64_t, T*, T*); \
  template void batch_norm_finalize<T>(cudaStream_t, const T*, const T*, int64_t, int64_t,     \
                                       double, double, T*, T*, T*);                            \
  template void batch_norm_forward<T>(cudaStream_t, const T*, const T*, const T*, const T*,    \
                                      const T*, int64_t, int64_t, int64_t, T*);                \
  template void batch_norm_backward_reduce<T>(cudaStream_t, const T*, const T*, const T*,      \
                                              const T*, int64_t, int64_t, int64_t, T*, T*);    \
  template void batch_norm_backward_input<T>(cudaStream_t, const T*, const T*, const T*,       \
                                             const T*, const T*, const T*, const T*, int64_t,  \
                                             int64_t, int64_t, bool, T*);                      \
  template void frozen_batch_norm_coefficients<T>(cudaStream_t, const T*, const T*, const T*,  \
                                                  const T*, int64_t, double, T*, T*);          \
  template void channel_affine<T>(cudaStream_t, const T*, const T*, const T*, int64_t, int64_t, \
                                  int64_t, T*);
WSVIS_INSTANTIATE_BATCH_NORM(float)
WSVIS_INSTANTIATE_BATCH_NORM(double)

}  // namespace wsvis::kernels::cuda
