#include "kernels/optim.h"

#include <algorithm>
#include <cstdint>

#include "kernels/optim_math.h"

namespace wsvis::kernels::cpu {

namespace {

// Elements below which a segment is updated by the calling thread alone.
constexpr int64_t kParallelElements = 1 << 16;

template <typename T>
void sgd_segment(const SgdSegment<T>& s) {
  T* p = s.param;
  const T* g = s.grad;
  T* m = s.momentum_buffer;
  const bool has_momentum = m != nullptr;
  const bool nesterov = s.nesterov != 0, init = s.init_momentum != 0;
  T unused = 0;
#pragma omp parallel for if (s.n > kParallelElements) firstprivate(unused)
  for (int64_t i = 0; i < s.n; ++i) {
    T& buf = has_momentum ? m[i] : unused;
    p[i] = sgd_element(p[i], g[i], buf, s.lr, s.weight_decay, s.momentum, s.one_minus_dampening,
                       has_momentum, nesterov, init);
  }
}

}  // namespace

template <typename T>
void sgd_step(const SgdSegment<T>* segs, int64_t count) {
  for (int64_t k = 0; k < count; ++k) sgd_segment(segs[k]);
}

template <typename T>
double sum_squares(const GradSegment<T>* segs, int64_t count, double* partials) {
  for (int64_t k = 0; k < count; ++k) {
    const GradSegment<T>& s = segs[k];
    const int64_t chunks = ceil_div(s.n, kOptimChunk);
#pragma omp parallel for if (s.n > kParallelElements)
    for (int64_t c = 0; c < chunks; ++c) {
      const int64_t begin = c * kOptimChunk, end = std::min(s.n, begin + kOptimChunk);
      double acc = 0;
      for (int64_t i = begin; i < end; ++i) acc += double(s.data[i]) * double(s.data[i]);
      partials[s.first_chunk + c] = acc;
    }
  }
  int64_t total_chunks = 0;
  for (int64_t k = 0; k < count; ++k) total_chunks += ceil_div(segs[k].n, kOptimChunk);
  double total = 0;
  for (int64_t c = 0; c < total_chunks; ++c) total += partials[c];
  return total;
}

template <typename T>
void scale(const GradSegment<T>* segs, int64_t count, T factor) {
  for (int64_t k = 0; k < count; ++k) {
    T* x = segs[k].data;
    const int64_t n = segs[k].n;
#pragma omp parallel for if (n > kParallelElements)
    for (int64_t i = 0; i < n; ++i) x[i] = x[i] * factor;
  }
}

template <typename T>
void clamp(const GradSegment<T>* segs, int64_t count, T lo, T hi) {
  for (int64_t k = 0; k < count; ++k) {
    T* x = segs[k].data;
    const int64_t n = segs[k].n;
#pragma omp parallel for if (n > kParallelElements)
    for (int64_t i = 0; i < n; ++i) x[i] = clamp_element(x[i], lo, hi);
  }
}

#define WSVIS_INSTANTIATE_OPTIM(T)                                         \
  template void sgd_step<T>(const SgdSegment<T>*, int64_t);                \
  template double sum_squares<T>(const GradSegment<T>*, int64_t, double*); \
  template void scale<T>(const GradSegment<T>*, int64_t, T);               \
  template void clamp<T>(const GradSegment<T>*, int64_t, T, T);
WSVIS_INSTANTIATE_OPTIM(float)
WSVIS_INSTANTIATE_OPTIM(double)

}  // namespace wsvis::kernels::cpu
