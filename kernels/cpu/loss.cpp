#include <cstdint>

#include "kernels/loss.h"

namespace wsvis::kernels::cpu {

namespace {

// At most this many chunks per fully reduced row: chunk boundaries depend only on the size,
// so the sum is the same whatever the thread count.
constexpr int64_t kMaxChunks = 64;
constexpr int64_t kMinChunk = 4096;

// finish(r, totals) for every row r < rows, totals = sum over j < group of term(r*group + j),
// accumulated in double.
template <typename Term, typename Finish>
void reduce_rows(const Term& term, const Finish& finish, int64_t rows, int64_t group) {
  constexpr int K = Term::K;
  if (rows == 1) {
    int64_t chunk = ceil_div(group, kMaxChunks);
    if (chunk < kMinChunk) chunk = kMinChunk;
    const int64_t chunks = ceil_div(group, chunk);
    double partial[kMaxChunks][K] = {};
#pragma omp parallel for if (group > (1 << 15))
    for (int64_t c = 0; c < chunks; ++c) {
      const int64_t end = (c + 1) * chunk < group ? (c + 1) * chunk : group;
      for (int64_t j = c * chunk; j < end; ++j) term(j, partial[c]);
    }
    double total[K] = {};
    for (int64_t c = 0; c < chunks; ++c)
      for (int k = 0; k < K; ++k) total[k] += partial[c][k];
    finish(0, total);
    return;
  }
#pragma omp parallel for if (rows * group > (1 << 15))
  for (int64_t r = 0; r < rows; ++r) {
    double acc[K] = {};
    for (int64_t j = 0; j < group; ++j) term(r * group + j, acc);
    finish(r, acc);
  }
}

}  // namespace

int64_t loss_scratch_elems(int64_t, int64_t, int) { return 0; }

template <typename T>
void pointwise_loss_forward(PointwiseKind kind, const PointwiseParams& params, const T* input,
                            const T* target, const T* weight, int64_t rows, int64_t group,
                            double scale, T* out, T*) {
  reduce_rows(PointwiseTerm<T>{kind, params, input, target, weight}, ScaleFinish<T>{out, scale},
              rows, group);
}

template <typename T>
void pointwise_loss_backward(PointwiseKind kind, const PointwiseParams& params, const T* input,
                             const T* target, const T* weight, int64_t n, const T* grad_out,
                             int64_t grad_group, double scale, T* grad_input, T* grad_target) {
#pragma omp parallel for if (n > (1 << 15))
  for (int64_t i = 0; i < n; ++i)
    pointwise_backward_at(kind, params, input, target, weight, i,
                          T(scale) * grad_out[i / grad_group], grad_input, grad_target);
}

template <typename T>
void cross_entropy_forward(const T* logits, const int64_t* targets, const T* class_weight,
                           int64_t batch, int64_t classes, int64_t spatial, int64_t ignore_index,
                           bool reduce, bool mean, T* out, T* denominator, T*) {
  const CrossEntropyTerm<T> term{logits, targets, class_weight, classes, spatial, ignore_index};
  const CrossEntropyFinish<T> finish{out, denominator, reduce && mean};
  const int64_t positions = batch * spatial;
  if (reduce)
    reduce_rows(term, finish, 1, positions);
  else
    reduce_rows(term, finish, positions, 1);
}

template <typename T>
void cross_entropy_backward(const T* logits, const int64_t* targets, const T* class_weight,
                            int64_t batch, int64_t classes, int64_t spatial, int64_t ignore_index,
                            const T* grad_out, bool grad_is_scalar, const T* denominator,
                            T* grad_logits) {
  T inv = T(1);
  if (denominator) inv = *denominator != T(0) ? T(1) / *denominator : T(0);
  const int64_t positions = batch * spatial;
#pragma omp parallel for if (positions * classes > (1 << 15))
  for (int64_t f = 0; f < positions; ++f)
    cross_entropy_backward_at(logits, targets, class_weight, classes, spatial, ignore_index, f,
                              inv * grad_out[grad_is_scalar ? 0 : f], grad_logits);
}

template <typename T>
void dice_forward(const T* probs, const T* targets, int64_t rows, int64_t cols, double eps,
                  T* loss, T* stats, T*) {
  reduce_rows(DiceTerm<T>{probs, targets}, DiceFinish<T>{loss, stats, eps}, rows, cols);
}

template <typename T>
void dice_backward(const T* probs, const T* targets, const T* stats, int64_t rows, int64_t cols,
                   const T* grad_loss, int64_t grad_group, double scale, T* grad_probs,
                   T* grad_targets) {
  const int64_t n = rows * cols;
#pragma omp parallel for if (n > (1 << 15))
  for (int64_t i = 0; i < n; ++i)
    dice_backward_at(probs, targets, stats, i, cols, T(scale) * grad_loss[(i / cols) / grad_group],
                     grad_probs, grad_targets);
}

#define WSVIS_INSTANTIATE_LOSS(T)                                                              \
  template void pointwise_loss_forward<T>(PointwiseKind, const PointwiseParams&, const T*,     \
                                          const T*, const T*, int64_t, int64_t, double, T*, T*); \
  template void pointwise_loss_backward<T>(PointwiseKind, const PointwiseParams&, const T*,    \
                                           const T*, const T*, int64_t, const T*, int64_t,     \
                                           double, T*, T*);                                    \
  template void cross_entropy_forward<T>(const T*, const int64_t*, const T*, int64_t, int64_t, \
                                         int64_t, int64_t, bool, bool, T*, T*, T*);            \
  template void cross_entropy_backward<T>(const T*, const int64_t*, const T*, int64_t,         \
                                          int64_t, int64_t, int64_t, const T*, bool, const T*, \
                                          T*);                                                 \
  template void dice_forward<T>(const T*, const T*, int64_t, int64_t, double, T*, T*, T*);     \
  template void dice_backward<T>(const T*, const T*, const T*, int64_t, int64_t, const T*,     \
                                 int64_t, double, T*, T*);
WSVIS_INSTANTIATE_LOSS(float)
WSVIS_INSTANTIATE_LOSS(double)

}  // namespace wsvis::kernels::cpu
