// Normalisation kernels: batch norm (training and eval), frozen batch norm, group norm.
// CPU twin in kernels/cpu/norm.cpp, CUDA twins in kernels/cuda/batch_norm.cu and
// kernels/cuda/group_norm.cu.
//
// Layout: x is (N, C, S) contiguous, with S = H * W for (N, C, H, W) inputs and S = 1 for
// (N, C). Per-channel buffers are (C); per-group buffers are (N, G), group g of sample n holding
// the channels [g * C / G, (g + 1) * C / G).
//
// Reductions are deterministic on both twins: statistics are accumulated in double, in a fixed
// order (CPU: sequential per channel/group; CUDA: one block per channel/group, fixed strided
// partial sums then a shared-memory tree), so a run gives the same bits every time. The
// variance is computed in two passes (mean first, then the mean squared deviation), which
// avoids the cancellation of E[x^2] - E[x]^2.
//
// weight and bias pointers may be null, meaning weight 1 and bias 0 (affine = false).
#pragma once

#include <cstdint>

#include "kernels/common.h"

#if WSVIS_WITH_CUDA
#include <cuda_runtime.h>
#endif

namespace wsvis::kernels {

// Per-element maths shared by both twins.

// Gradient of x for a normalisation over a set of `count` elements sharing (mean, inv_std):
// with xhat = (x - mean) * inv_std and dxhat = g * w,
//   dx = inv_std * (dxhat - sum(dxhat) / count - xhat * sum(dxhat * xhat) / count).
template <typename T>
WSVIS_HD inline T norm_grad_input(T dxhat, T xhat, T inv_std, T sum_dxhat, T sum_dxhat_xhat,
                                  T inv_count) {
  return inv_std * (dxhat - sum_dxhat * inv_count - xhat * sum_dxhat_xhat * inv_count);
}

// Unbiased variance from the biased one over `count` elements (count > 1), as torch stores in
// running_var.
WSVIS_HD inline double unbiased_variance(double biased, int64_t count) {
  return biased * static_cast<double>(count) / static_cast<double>(count - 1);
}

namespace cpu {

// ---- batch norm: statistics per channel c over (N, S) ------------------------------------
// mean[c] and biased var[c] of x.
template <typename T>
void batch_norm_stats(const T* x, int64_t N, int64_t C, int64_t S, T* mean, T* var);
// inv_std[c] = 1 / sqrt(var[c] + eps). When running_mean is non-null (training), also updates
// running_mean/running_var in place: running = (1 - momentum) * running + momentum * batch,
// with the unbiased variance var * count / (count - 1) (count = N * S > 1), as torch does.
template <typename T>
void batch_norm_finalize(const T* mean, const T* var, int64_t C, int64_t count, double eps,
                         double momentum, T* running_mean, T* running_var, T* inv_std);
// y = (x - mean[c]) * inv_std[c] * weight[c] + bias[c]
template <typename T>
void batch_norm_forward(const T* x, const T* mean, const T* inv_std, const T* weight,
                        const T* bias, int64_t N, int64_t C, int64_t S, T* y);
// sum_g[c] = sum of grad_y; sum_g_xhat[c] = sum of grad_y * xhat over (N, S). These are also
// grad_bias and grad_weight.
template <typename T>
void batch_norm_backward_reduce(const T* grad_y, const T* x, const T* mean, const T* inv_std,
                                int64_t N, int64_t C, int64_t S, T* sum_g, T* sum_g_xhat);
// training: grad_x = w * inv_std / M * (M * g - sum_g - xhat * sum_g_xhat), M = N * S
// (statistics depend on x); eval: grad_x = g * w * inv_std (statistics are constants, and
// sum_g / sum_g_xhat are not read and may be null).
template <typename T>
void batch_norm_backward_input(const T* grad_y, const T* x, const T* mean, const T* inv_std,
                               const T* weight, const T* sum_g, const T* sum_g_xhat, int64_t N,
                               int64_t C, int64_t S, bool training, T* grad_x);

// ---- frozen batch norm (detectron2 FrozenBatchNorm2d) ------------------------------------
// scale = weight / sqrt(running_var + eps), shift = bias - running_mean * scale.
template <typename T>
void frozen_batch_norm_coefficients(const T* weight, const T* bias, const T* running_mean,
                                    const T* running_var, int64_t C, double eps, T* scale,
                                    T* shift);
// y = x * scale[c] + shift[c]; shift may be null (0), which gives the frozen-BN input gradient.
template <typename T>
void channel_affine(const T* x, const T* scale, const T* shift, int64_t N, int64_t C, int64_t S,
                    T* y);

// ---- group norm: statistics per (n, g) over (C / G, S) ------------------------------------
// mean and inv_std = 1 / sqrt(biased var + eps), both (N, G).
template <typename T>
void group_norm_stats(const T* x, int64_t N, int64_t C, int64_t S, int64_t G, double eps, T* mean,
                      T* inv_std);
template <typename T>
void group_norm_forward(const T* x, const T* mean, const T* inv_std, const T* weight,
                        const T* bias, int64_t N, int64_t C, int64_t S, int64_t G, T* y);
// Per (n, g): sum_dxhat = sum of g * w[c], sum_dxhat_xhat = sum of g * w[c] * xhat.
template <typename T>
void group_norm_backward_reduce(const T* grad_y, const T* x, const T* mean, const T* inv_std,
                                const T* weight, int64_t N, int64_t C, int64_t S, int64_t G,
                                T* sum_dxhat, T* sum_dxhat_xhat);
// grad_x = norm_grad_input(g * w[c], xhat, inv_std, sums of the group, 1 / (C / G * S)).
template <typename T>
void group_norm_backward_input(const T* grad_y, const T* x, const T* mean, const T* inv_std,
                               const T* weight, const T* sum_dxhat, const T* sum_dxhat_xhat,
                               int64_t N, int64_t C, int64_t S, int64_t G, T* grad_x);
// Per channel c over (N, S): grad_weight[c] = sum of g * xhat, grad_bias[c] = sum of g.
template <typename T>
void group_norm_backward_params(const T* grad_y, const T* x, const T* mean, const T* inv_std,
                                int64_t N, int64_t C, int64_t S, int64_t G, T* grad_weight,
                                T* grad_bias);

}  // namespace cpu

#if WSVIS_WITH_CUDA
namespace cuda {

template <typename T>
void batch_norm_stats(cudaStream_t stream, const T* x, int64_t N, int64_t C, int64_t S, T* mean,
                      T* var);
template <typename T>
void batch_norm_finalize(cudaStream_t stream, const T* mean, const T* var, int64_t C,
                         int64_t count, double eps, double momentum, T* running_mean,
                         T* running_var, T* inv_std);
template <typename T>
void batch_norm_forward(cudaStream_t stream, const T* x, const T* mean, const T* inv_std,
                        const T* weight, const T* bias, int64_t N, int64_t C, int64_t S, T* y);
template <typename T>
void batch_norm_backward_reduce(cudaStream_t stream, const T* grad_y, const T* x, const T* mean,
                                const T* inv_std, int64_t N, int64_t C, int64_t S, T* sum_g,
                                T* sum_g_xhat);
template <typename T>
void batch_norm_backward_input(cudaStream_t stream, const T* grad_y, const T* x, const T* mean,
                               const T* inv_std, const T* weight, const T* sum_g,
                               const T* sum_g_xhat, int64_t N, int64_t C, int64_t S,
                               bool training, T* grad_x);
template <typename T>
void frozen_batch_norm_coefficients(cudaStream_t stream, const T* weight, const T* bias,
                                    const T* running_mean, const T* running_var, int64_t C,
                                    double eps, T* scale, T* shift);
template <typename T>
void channel_affine(cudaStream_t stream, const T* x, const T* scale, const T* shift, int64_t N,
                    int64_t C, int64_t S, T* y);

template <typename T>
void group_norm_stats(cudaStream_t stream, const T* x, int64_t N, int64_t C, int64_t S, int64_t G,
                      double eps, T* mean, T* inv_std);
template <typename T>
void group_norm_forward(cudaStream_t stream, const T* x, const T* mean, const T* inv_std,
                        const T* weight, const T* bias, int64_t N, int64_t C, int64_t S,
                        int64_t G, T* y);
template <typename T>
void group_norm_backward_reduce(cudaStream_t stream, const T* grad_y, const T* x, const T* mean,
                                const T* inv_std, const T* weight, int64_t N, int64_t C,
                                int64_t S, int64_t G, T* sum_dxhat, T* sum_dxhat_xhat);
template <typename T>
void group_norm_backward_input(cudaStream_t stream, const T* grad_y, const T* x, const T* mean,
                               const T* inv_std, const T* weight, const T* sum_dxhat,
                               const T* sum_dxhat_xhat, int64_t N, int64_t C, int64_t S,
                               int64_t G, T* grad_x);
template <typename T>
void group_norm_backward_params(cudaStream_t stream, const T* grad_y, const T* x, const T* mean,
                                const T* inv_std, int64_t N, int64_t C, int64_t S, int64_t G,
                                T* grad_weight, T* grad_bias);

}  // namespace cuda
#endif

}  // namespace wsvis::kernels
