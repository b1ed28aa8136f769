// CUDA twin of the group-norm kernels of kernels/cpu/norm.cpp.
// Statistics: one block per (n, g) group (its C / G * S elements are contiguous); the weight and
// bias gradients: one block per channel. Each thread sums a fixed strided subset in double and
// a shared-memory tree combines the partial sums in a fixed order: no atomics, deterministic.
#include "engine/cuda_check.h"
#include "kernels/cuda/block_reduce.cuh"
#include "kernels/norm.h"

namespace wsvis::kernels::cuda {

namespace {

constexpr int kReduceThreads = 256;  // power of two: the tree halves it down to one

template <typename T>
__global__ void stats_kernel(const T* x, int64_t D, double eps, T* mean, T* inv_std) {
  const int64_t ng = blockIdx.x;
  const T* group = x + ng * D;
  double sum = 0, unused = 0;
  for (int64_t j = threadIdx.x; j < D; j += blockDim.x) sum += static_cast<double>(group[j]);
  detail::block_tree_sum2<kReduceThreads>(sum, unused);
  const double m = sum / static_cast<double>(D);
  double sq = 0;
  unused = 0;
  for (int64_t j = threadIdx.x; j < D; j += blockDim.x) {
    const double d = static_cast<double>(group[j]) - m;
    sq += d * d;
  }
  detail::block_tree_sum2<kReduceThreads>(sq, unused);
  if (threadIdx.x == 0) {
    mean[ng] = static_cast<T>(m);
    inv_std[ng] = static_cast<T>(1.0 / sqrt(sq / static_cast<double>(D) + eps));
  }
}

template <typename T>
__global__ void forward_kernel(const T* x, const T* mean, const T* inv_std, const T* weight,
                               const T* bias, int64_t total, int64_t C, int64_t S, int64_t G,
                               T* y) {
  const int64_t Cg = C / G;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t nc = i / S, c = nc % C, n = nc / C;
    const int64_t ng = n * G + c / Cg;
    const T w = weight ? weight[c] : T(1);
    const T b = bias ? bias[c] : T(0);
    y[i] = (x[i] - mean[ng]) * inv_std[ng] * w + b;
  }
}

template <typename T>
__global__ void backward_reduce_kernel(const T* grad_y, const T* x, const T* mean,
                                       const T* inv_std, const T* weight, int64_t C, int64_t S,
                                       int64_t G, T* sum_dxhat, T* sum_dxhat_xhat) {
  const int64_t ng = blockIdx.x;
  const int64_t Cg = C / G, D = Cg * S;
  const double m = static_cast<double>(mean[ng]), r = static_cast<double>(inv_std[ng]);
  const int64_t c0 = (ng % G) * Cg;
  double sd = 0, sdx = 0;
  for (int64_t j = threadIdx.x; j < D; j += blockDim.x) {
    const int64_t i = ng * D + j;
    const double w = weight ? static_cast<double>(weight[c0 + j / S]) : 1.0;
    const double dxhat = static_cast<double>(grad_y[i]) * w;
    sd += dxhat;
    sdx += dxhat * (static_cast<double>(x[i]) - m) * r;
  }
  detail::block_tree_sum2<kReduceThreads>(sd, sdx);
  if (threadIdx.x == 0) {
    sum_dxhat[ng] = static_cast<T>(sd);
    sum_dxhat_xhat[ng] = static_cast<T>(sdx);
  }
}

template <typename T>
__global__ void backward_input_kernel(const T* grad_y, const T* x, const T* mean,
                                      const T* inv_std, const T* weight, const T* sum_dxhat,
                                      const T* sum_dxhat_xhat, int64_t total, int64_t C,
                                      int64_t S, int64_t G, double inv_count, T* grad_x) {
  const int64_t Cg = C / G;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t nc = i / S, c = nc % C, n = nc / C;
    const int64_t ng = n * G + c / Cg;
    const double w = weight ? static_cast<double>(weight[c]) : 1.0;
    const double m = static_cast<double>(mean[ng]), r = static_cast<double>(inv_std[ng]);
    const double xhat = (static_cast<double>(x[i]) - m) * r;
    grad_x[i] = static_cast<T>(norm_grad_input<double>(
        static_cast<double>(grad_y[i]) * w, xhat, r, static_cast<double>(sum_dxhat[ng]),
        static_cast<double>(sum_dxhat_xhat[ng]), inv_count));
  }
}

template <typename T>
__global__ void backward_params_kernel(const T* grad_y, const T* x, const T* mean,
                                       const T* inv_std, int64_t N, int64_t C, int64_t S,
                                       int64_t G, T* grad_weight, T* grad_bias) {
  const int64_t c = blockIdx.x;
  const int64_t Cg = C / G, count = N * S;
  double sg = 0, sgx = 0;
  for (int64_t j = threadIdx.x; j < count; j += blockDim.x) {
    const int64_t n = j / S, s = j - n * S;
    const int64_t ng = n * G + c / Cg;
    const int64_t i = (n * C + c) * S + s;
    const double g = static_cast<double>(grad_y[i]);
    sg += g;
    sgx += g * (static_cast<double>(x[i]) - static_cast<double>(mean[ng])) *
           static_cast<double>(inv_std[ng]);
  }
  detail::block_tree_sum2<kReduceThreads>(sg, sgx);
  if (threadIdx.x == 0) {
    grad_weight[c] = static_cast<T>(sgx);
    grad_bias[c] = static_cast<T>(sg);
  }
}

}  // namespace

template <typename T>
void group_norm_stats(cudaStream_t stream, const T* x, int64_t N, int64_t C, int64_t S, int64_t G,
                      double eps, T* mean, T* inv_std) {
  if (N * G == 0) return;
  stats_kernel<<<static_cast<unsigned>(N * G), kReduceThreads, 0, stream>>>(x, C / G * S, eps,
                                                                             mean, inv_std);
  WSVIS_LAUNCH_CHECK();
}

template <typename T>
void group_norm_forward(cudaStream_t stream, const T* x, const T* mean, const T* inv_std,
                        const T* weight, const T* bias, int64_t N, int64_t C, int64_t S,
                        int64_t G, T* y) {
  const int64_t total = N * C * S;
  if (total == 0) return;
  forward_kernel<<<elementwise_blocks(total), kElementwiseThreads, 0, stream>>>(
      x, mean, inv_std, weight, bias, total, C, S, G, y);
  WSVIS_LAUNCH_CHECK();
}

template <typename T>
void group_norm_backward_reduce(cudaStream_t stream, const T* grad_y, const T* x, const T* mean,
                                const T* inv_std, const T* weight, int64_t N, int64_t C,
                                int64_t S, int64_t G, T* sum_dxhat, T* sum_dxhat_xhat) {
  if (N * G == 0) return;
  backward_reduce_kernel<<<static_cast<unsigned>(N * G), kReduceThreads, 0, stream>>>(
      grad_y, x, mean, inv_std, weight, C, S, G, sum_dxhat, sum_dxhat_xhat);
  WSVIS_LAUNCH_CHECK();
}

template <typename T>
void group_norm_backward_input(cudaStream_t stream, const T* grad_y, const T* x, const T* mean,
                               const T* inv_std, const T* weight, const T* sum_dxhat,
                               const T* sum_dxhat_xhat, int64_t N, int64_t C, int64_t S,
                               int64_t G, T* grad_x) {
  const int64_t total = N * C * S;
  if (total == 0) return;
  const double inv_count = 1.0 / static_cast<double>(C / G * S);
  backward_input_kernel<<<elementwise_blocks(total), kElementwiseThreads, 0, stream>>>(
      grad_y, x, mean, inv_std, weight, sum_dxhat, sum_dxhat_xhat, total, C, S, G, inv_count,
      grad_x);
  WSVIS_LAUNCH_CHECK();
}

template <typename T>
void group_norm_backward_params(cudaStream_t stream, const T* grad_y, const T* x, const T* mean,
                                const T* inv_std, int64_t N, int64_t C, int64_t S, int64_t G,
                                T* grad_weight, T* grad_bias) {
  if (C == 0) return;
  backward_params_kernel<<<static_cast<unsigned>(C), kReduceThreads, 0, stream>>>(
      grad_y, x, mean, inv_std, N, C, S, G, grad_weight, grad_bias);
  WSVIS_LAUNCH_CHECK();
}

#define WSVIS_INSTANTIATE_GROUP_NORM(T)                                                        \
  template void group_norm_stats<T>(cudaStream_t, const T*, int64_t, int64_t, int64_t, int64_t, \
                                    double, T*, T*);                                           \
  template void group_norm_forward<T>(cudaStream_t, const T*, const T*, const T*, const T*,    \
                                      const T*, int64_t, int64_t, int64_t, int64_t, T*);       \
  template void group_norm_backward_reduce<T>(cudaStream_t, const T*, const T*, const T*,      \
                                              const T*, const T*, int64_t, int64_t, int64_t,   \
                                              int64_t, T*, T*);                                \
  template void group_norm_backward_input<T>(cudaStream_t, const T*, const T*, const T*,       \
                                             const T*, const T*, const T*, const T*, int64_t,  \
                                             int64_t, int64_t, int64_t, T*);                   \
  template void group_norm_backward_params<T>(cudaStream_t, const T*, const T*, const T*,      \
                                              const T*, int64_t, int64_t, int64_t, int64_t,    \
                                              T*, T*);
WSVIS_INSTANTIATE_GROUP_NORM(float)
WSVIS_INSTANTIATE_GROUP_NORM(double)

}  // namespace wsvis::kernels::cuda
