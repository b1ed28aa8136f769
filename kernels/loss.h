// Loss kernels: pointwise losses (BCE-with-logits, smooth L1, sigmoid focal) with a fused
// reduction, cross entropy over (N, C, S) logits, and the dice loss. Per-element maths lives in
// kernels/loss_math.h; CPU twin in kernels/cpu/loss.cpp, CUDA twin in kernels/cuda/loss.cu.
//
// Reductions are deterministic on both twins: the CPU sums fixed chunks in double and adds the
// chunk totals in order; CUDA sums per block with a shared-memory tree, then adds the block
// totals of each row in order in a second kernel (no float atomics). `scratch` holds those
// block totals on CUDA: loss_scratch_elems(rows, group, K) elements of T (the CPU twin needs
// none and accepts null). Backward kernels overwrite their outputs.
#pragma once

#include <cstdint>

#include "kernels/common.h"
#include "kernels/loss_math.h"

#if WSVIS_WITH_CUDA
#include <cuda_runtime.h>
#endif

namespace wsvis::kernels {

namespace cpu {
int64_t loss_scratch_elems(int64_t rows, int64_t group, int k);

// out[r] = scale * sum_{j < group} w[f] * loss(input[f], target[f]), f = r * group + j, r < rows.
// target may be null only for identity; weight null means 1.
// group 1 gives the per-element loss, rows 1 a full reduction, rows N of C a per-row mean
// (multilabel soft margin, scale 1/C).
template <typename T>
void pointwise_loss_forward(PointwiseKind kind, const PointwiseParams& params, const T* input,
                            const T* target, const T* weight, int64_t rows, int64_t group,
                            double scale, T* out, T* scratch);
// grad_input[i] = scale * grad_out[i / grad_group] * w[i] * dloss/dx (likewise grad_target),
// i < n; either output may be null.
template <typename T>
void pointwise_loss_backward(PointwiseKind kind, const PointwiseParams& params, const T* input,
                             const T* target, const T* weight, int64_t n, const T* grad_out,
                             int64_t grad_group, double scale, T* grad_input, T* grad_target);

// logits (batch, classes, spatial), targets (batch, spatial). reduce false: out (batch*spatial)
// per position (0 where ignored). reduce true: out (1) = sum, or with mean the weighted mean
// and denominator (1) = the summed class weight of the non-ignored positions.
template <typename T>
void cross_entropy_forward(const T* logits, const int64_t* targets, const T* class_weight,
                           int64_t batch, int64_t classes, int64_t spatial, int64_t ignore_index,
                           bool reduce, bool mean, T* out, T* denominator, T* scratch);
// grad_logits = g * w[y] * (softmax - onehot(y)) per position, 0 where ignored; g is
// grad_out[0] when grad_is_scalar else grad_out[position], divided by *denominator when it is
// non-null (0 when the denominator is 0).
template <typename T>
void cross_entropy_backward(const T* logits, const int64_t* targets, const T* class_weight,
                            int64_t batch, int64_t classes, int64_t spatial, int64_t ignore_index,
                            const T* grad_out, bool grad_is_scalar, const T* denominator,
                            T* grad_logits);

// probs, targets (rows, cols): loss (rows) = 1 - 2 sum(p t) / (sum p^2 + sum t^2 + eps);
// stats (rows, 2) = (sum p t, denominator) for the backward.
template <typename T>
void dice_forward(const T* probs, const T* targets, int64_t rows, int64_t cols, double eps,
                  T* loss, T* stats, T* scratch);
// Row r's loss gradient is scale * grad_loss[r / grad_group]; either output may be null.
template <typename T>
void dice_backward(const T* probs, const T* targets, const T* stats, int64_t rows, int64_t cols,
                   const T* grad_loss, int64_t grad_group, double scale, T* grad_probs,
                   T* grad_targets);
}  // namespace cpu

#if WSVIS_WITH_CUDA
namespace cuda {
int64_t loss_scratch_elems(int64_t rows, int64_t group, int k);
template <typename T>
void pointwise_loss_forward(cudaStream_t stream, PointwiseKind kind, const PointwiseParams& params,
                            const T* input, const T* target, const T* weight, int64_t rows,
                            int64_t group, double scale, T* out, T* scratch);
template <typename T>
void pointwise_loss_backward(cudaStream_t stream, PointwiseKind kind,
                             const PointwiseParams& params, const T* input, const T* target,
                             const T* weight, int64_t n, const T* grad_out, int64_t grad_group,
                             double scale, T* grad_input, T* grad_target);
template <typename T>
void cross_entropy_forward(cudaStream_t stream, const T* logits, const int64_t* targets,
                           const T* class_weight, int64_t batch, int64_t classes, int64_t spatial,
                           int64_t ignore_index, bool reduce, bool mean, T* out, T* denominator,
                           T* scratch);
template <typename T>
void cross_entropy_backward(cudaStream_t stream, const T* logits, const int64_t* targets,
                            const T* class_weight, int64_t batch, int64_t classes, int64_t spatial,
                            int64_t ignore_index, const T* grad_out, bool grad_is_scalar,
                            const T* denominator, T* grad_logits);
template <typename T>
void dice_forward(cudaStream_t stream, const T* probs, const T* targets, int64_t rows,
                  int64_t cols, double eps, T* loss, T* stats, T* scratch);
template <typename T>
void dice_backward(cudaStream_t stream, const T* probs, const T* targets, const T* stats,
                   int64_t rows, int64_t cols, const T* grad_loss, int64_t grad_group,
                   double scale, T* grad_probs, T* grad_targets);
}  // namespace cuda
#endif

}  // namespace wsvis::kernels
