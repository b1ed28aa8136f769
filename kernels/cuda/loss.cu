// CUDA twin of kernels/cpu/loss.cpp. Reductions: each block sums a strided share of its row
// in registers, then in a shared-memory tree; a second kernel adds the blocks' totals of each
// row in index order and calls the finisher. The split depends only on the sizes, so results
// are the same run to run (no float atomics).
#include "engine/cuda_check.h"
#include "kernels/loss.h"

namespace wsvis::kernels::cuda {

namespace {

constexpr int kReduceThreads = 256;  // power of two for the tree; also the shared array size
constexpr int kMaxBlocksPerRow = 512;
constexpr int64_t kMaxGridY = 65535;

int blocks_per_row(int64_t group) {
  // About 8 elements per thread before the tree, so the tree is amortised.
  int64_t b = ceil_div(group, int64_t(kReduceThreads) * 8);
  if (b < 1) b = 1;
  return static_cast<int>(b < kMaxBlocksPerRow ? b : kMaxBlocksPerRow);
}

template <typename T, typename Term>
__global__ void partial_sums_kernel(Term term, int64_t rows, int64_t group, int bpr,
                                    T* partials) {
  constexpr int K = Term::K;
  __shared__ T shm[K][kReduceThreads];
  for (int64_t row = blockIdx.y; row < rows; row += gridDim.y) {
    T acc[K];
    for (int k = 0; k < K; ++k) acc[k] = T(0);
    for (int64_t j = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; j < group;
         j += int64_t(bpr) * blockDim.x)
      term(row * group + j, acc);
    for (int k = 0; k < K; ++k) shm[k][threadIdx.x] = acc[k];
    __syncthreads();
    for (int s = kReduceThreads / 2; s > 0; s >>= 1) {
      if (threadIdx.x < s)
        for (int k = 0; k < K; ++k) shm[k][threadIdx.x] += shm[k][threadIdx.x + s];
      __syncthreads();
    }
    if (threadIdx.x == 0)
      for (int k = 0; k < K; ++k) partials[(row * bpr + blockIdx.x) * K + k] = shm[k][0];
    __syncthreads();  // shm is reused by the next row
  }
}

template <typename T, int K, typename Finish>
__global__ void finish_kernel(Finish finish, const T* partials, int64_t rows, int bpr) {
  for (int64_t row = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; row < rows;
       row += int64_t(gridDim.x) * blockDim.x) {
    T total[K];
    for (int k = 0; k < K; ++k) total[k] = T(0);
    for (int b = 0; b < bpr; ++b)
      for (int k = 0; k < K; ++k) total[k] += partials[(row * bpr + b) * K + k];
    finish(row, total);
  }
}

// Rows of at most one element: no reduction, one thread per row.
template <typename T, typename Term, typename Finish>
__global__ void map_kernel(Term term, Finish finish, int64_t rows, int64_t group) {
  constexpr int K = Term::K;
  for (int64_t row = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; row < rows;
       row += int64_t(gridDim.x) * blockDim.x) {
    T acc[K];
    for (int k = 0; k < K; ++k) acc[k] = T(0);
    if (group == 1) term(row, acc);
    finish(row, acc);
  }
}

template <typename T, typename Term, typename Finish>
void reduce_rows(cudaStream_t stream, const Term& term, const Finish& finish, int64_t rows,
                 int64_t group, T* scratch) {
  if (rows == 0) return;
  if (group <= 1) {
    map_kernel<T><<<elementwise_blocks(rows), kElementwiseThreads, 0, stream>>>(term, finish,
                                                                                 rows, group);
    WSVIS_LAUNCH_CHECK();
    return;
  }
  const int bpr = blocks_per_row(group);
  const dim3 grid(static_cast<unsigned>(bpr),
                  static_cast<unsigned>(rows < kMaxGridY ? rows : kMaxGridY));
  partial_sums_kernel<T><<<grid, kReduceThreads, 0, stream>>>(term, rows, group, bpr, scratch);
  WSVIS_LAUNCH_CHECK();
  finish_kernel<T, Term::K><<<elementwise_blocks(rows), kElementwiseThreads, 0, stream>>>(
      finish, scratch, rows, bpr);
  WSVIS_LAUNCH_CHECK();
}

template <typename T>
__global__ void pointwise_backward_kernel(PointwiseKind kind, PointwiseParams params,
                                          const T* input, const T* target, const T* weight,
                                          int64_t n, const T* grad_out, int64_t grad_group,
                                          double scale, T* grad_input, T* grad_target) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    pointwise_backward_at(kind, params, input, target, weight, i,
                          T(scale) * grad_out[i / grad_group], grad_input, grad_target);
}

template <typename T>
__global__ void cross_entropy_backward_kernel(const T* logits, const int64_t* targets,
                                              const T* class_weight, int64_t positions,
                                              int64_t classes, int64_t spatial,
                                              int64_t ignore_index, const T* grad_out,
                                              bool grad_is_scalar, const T* denominator,
                                              T* grad_logits) {
  T inv = T(1);
  if (denominator) inv = *denominator != T(0) ? T(1) / *denominator : T(0);
  for (int64_t f = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; f < positions;
       f += int64_t(gridDim.x) * blockDim.x)
    cross_entropy_backward_at(logits, targets, class_weight, classes, spatial, ignore_index, f,
                              inv * grad_out[grad_is_scalar ? 0 : f], grad_logits);
}

template <typename T>
__global__ void dice_backward_kernel(const T* probs, const T* targets, const T* stats, int64_t n,
                                     int64_t cols, const T* grad_loss, int64_t grad_group,
                                     double scale, T* grad_probs, T* grad_targets) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    dice_backward_at(probs, targets, stats, i, cols, T(scale) * grad_loss[(i / cols) / grad_group],
                     grad_probs, grad_targets);
}

}  // namespace

int64_t loss_scratch_elems(int64_t rows, int64_t group, int k) {
  return group <= 1 ? 0 : rows * blocks_per_row(group) * k;
}

template <typename T>
void pointwise_loss_forward(cudaStream_t stream, PointwiseKind kind, const PointwiseParams& params,
                            const T* input, const T* target, const T* weight, int64_t rows,
                            int64_t group, double scale, T* out, T* scratch) {
  reduce_rows<T>(stream, PointwiseTerm<T>{kind, params, input, target, weight},
                 ScaleFinish<T>{out, scale}, rows, group, scratch);
}

template <typename T>
void pointwise_loss_backward(cudaStream_t stream, PointwiseKind kind,
                             const PointwiseParams& params, const T* input, const T* target,
                             const T* weight, int64_t n, const T* grad_out, int64_t grad_group,
                             double scale, T* grad_input, T* grad_target) {
  if (n == 0) return;
  pointwise_backward_kernel<T><<<elementwise_blocks(n), kElementwiseThreads, 0, stream>>>(
      kind, params, input, target, weight, n, grad_out, grad_group, scale, grad_input,
      grad_target);
  WSVIS_LAUNCH_CHECK();
}

template <typename T>
void cross_entropy_forward(cudaStream_t stream, const T* logits, const int64_t* targets,
                           const T* class_weight, int64_t batch, int64_t classes, int64_t spatial,
                           int64_t ignore_index, bool reduce, bool mean, T* out, T* denominator,
                           T* scratch) {
  const CrossEntropyTerm<T> term{logits, targets, class_weight, classes, spatial, ignore_index};
  const CrossEntropyFinish<T> finish{out, denominator, reduce && mean};
  const int64_t positions = batch * spatial;
  if (reduce)
    reduce_rows<T>(stream, term, finish, 1, positions, scratch);
  else
    reduce_rows<T>(stream, term, finish, positions, 1, scratch);
}

template <typename T>
void cross_entropy_backward(cudaStream_t stream, const T* logits, const int64_t* targets,
                            const T* class_weight, int64_t batch, int64_t classes, int64_t spatial,
                            int64_t ignore_index, const T* grad_out, bool grad_is_scalar,
                            const T* denominator, T* grad_logits) {
  const int64_t positions = batch * spatial;
  if (positions == 0) return;
  cross_entropy_backward_kernel<T><<<elementwise_blocks(positions), kElementwiseThreads, 0,
                                     stream>>>(logits, targets, class_weight, positions, classes,
                                               spatial, ignore_index, grad_out, grad_is_scalar,
                                               denominator, grad_logits);
  WSVIS_LAUNCH_CHECK();
}

template <typename T>
void dice_forward(cudaStream_t stream, const T* probs, const T* targets, int64_t rows,
                  int64_t cols, double eps, T* loss, T* stats, T* scratch) {
  reduce_rows<T>(stream, DiceTerm<T>{probs, targets}, DiceFinish<T>{loss, stats, eps}, rows,
                 cols, scratch);
}

template <typename T>
void dice_backward(cudaStream_t stream, const T* probs, const T* targets, const T* stats,
                   int64_t rows, int64_t cols, const T* grad_loss, int64_t grad_group,
                   double scale, T* grad_probs, T* grad_targets) {
  const int64_t n = rows * cols;
  if (n == 0) return;
  dice_backward_kernel<T><<<elementwise_blocks(n), kElementwiseThreads, 0, stream>>>(
      probs, targets, stats, n, cols, grad_loss, grad_group, scale, grad_probs, grad_targets);
  WSVIS_LAUNCH_CHECK();
}

#define WSVIS_INSTANTIATE_LOSS(T)                                                              \
  template void pointwise_loss_forward<T>(cudaStream_t, PointwiseKind, const PointwiseParams&, \
                                          const T*, const T*, const T*, int64_t, int64_t,      \
                                          double, T*, T*);                                     \
  template void pointwise_loss_backward<T>(cudaStream_t, PointwiseKind,                        \
                                           const PointwiseParams&, const T*, const T*,         \
                                           const T*, int64_t, const T*, int64_t, double, T*,   \
                                           T*);                                                \
  template void cross_entropy_forward<T>(cudaStream_t, const T*, const int64_t*, const T*,     \
                                         int64_t, int64_t, int64_t, int64_t, bool, bool, T*,   \
                                         T*, T*);                                              \
  template void cross_entropy_backward<T>(cudaStream_t, const T*, const int64_t*, const T*,    \
                                          int64_t, int64_t, int64_t, int64_t, const T*, bool,  \
                                          const T*, T*);                                       \
  template void dice_forward<T>(cudaStream_t, const T*, const T*, int64_t, int64_t, double,    \
                                T*, T*, T*);                                                   \
  template void dice_backward<T>(cudaStream_t, const T*, const T*, const T*, int64_t, int64_t, \
                                 const T*, int64_t, double, T*, T*);
WSVIS_INSTANTIATE_LOSS(float)
WSVIS_INSTANTIATE_LOSS(double)

}  // namespace wsvis::kernels::cuda
