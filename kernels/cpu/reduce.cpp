#include <math.h>

#include <algorithm>
#include <cstdint>

#include "kernels/elementwise_math.h"
#include "kernels/reduce.h"

namespace wsvis::kernels::cpu {

namespace {
constexpr int64_t kParallelThreshold = 1 << 14;
// Columns summed together when inner > 1: reads stay contiguous along i while the running
// sums stay in registers / L1.
constexpr int64_t kInnerBlock = 64;
}  // namespace

template <typename T>
void sum_dim(T* out, const T* in, int64_t outer, int64_t R, int64_t inner, T scale) {
  if (inner == 1) {
#pragma omp parallel for if (outer * R > kParallelThreshold)
    for (int64_t o = 0; o < outer; ++o) {
      const T* row = in + o * R;
      double acc = 0;
      for (int64_t r = 0; r < R; ++r) acc += row[r];
      out[o] = static_cast<T>(acc) * scale;
    }
    return;
  }
  const int64_t blocks_per_row = (inner + kInnerBlock - 1) / kInnerBlock;
#pragma omp parallel for if (outer * R * inner > kParallelThreshold)
  for (int64_t job = 0; job < outer * blocks_per_row; ++job) {
    const int64_t o = job / blocks_per_row;
    const int64_t i0 = (job % blocks_per_row) * kInnerBlock;
    const int64_t width = std::min(kInnerBlock, inner - i0);
    double acc[kInnerBlock] = {};
    for (int64_t r = 0; r < R; ++r) {
      const T* src = in + (o * R + r) * inner + i0;
      for (int64_t k = 0; k < width; ++k) acc[k] += src[k];
    }
    for (int64_t k = 0; k < width; ++k) out[o * inner + i0 + k] = static_cast<T>(acc[k]) * scale;
  }
}

template <typename T>
void max_dim(T* values, int64_t* indices, const T* in, int64_t outer, int64_t R, int64_t inner) {
#pragma omp parallel for if (outer * R * inner > kParallelThreshold)
  for (int64_t col = 0; col < outer * inner; ++col) {
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
void max_dim_backward(T* grad_in, const T* grad_out, const int64_t* indices, int64_t outer,
                      int64_t R, int64_t inner) {
  const int64_t n = outer * R * inner;
#pragma omp parallel for if (n > kParallelThreshold)
  for (int64_t e = 0; e < n; ++e) {
    const int64_t i = e % inner;
    const int64_t r = (e / inner) % R;
    const int64_t o = e / (inner * R);
    const int64_t col = o * inner + i;
    grad_in[e] = indices[col] == r ? grad_out[col] : T(0);
  }
}

template <typename T>
void softmax(T* out, const T* in, int64_t outer, int64_t R, int64_t inner, bool take_log) {
#pragma omp parallel for if (outer * R * inner > kParallelThreshold)
  for (int64_t col = 0; col < outer * inner; ++col) {
    const int64_t o = col / inner, i = col % inner;
    const T* src = in + o * R * inner + i;
    T* dst = out + o * R * inner + i;
    if (R == 0) continue;
    T m = src[0];
    for (int64_t r = 1; r < R; ++r) m = src[r * inner] > m ? src[r * inner] : m;
    double total = 0;
    for (int64_t r = 0; r < R; ++r) total += ew_exp(src[r * inner] - m);
    if (take_log) {
      const T log_total = static_cast<T>(::log(total));
      for (int64_t r = 0; r < R; ++r) dst[r * inner] = src[r * inner] - m - log_total;
    } else {
      const T inv_total = static_cast<T>(1.0 / total);
      for (int64_t r = 0; r < R; ++r) dst[r * inner] = ew_exp(src[r * inner] - m) * inv_total;
    }
  }
}

template <typename T>
void softmax_backward(T* grad_in, const T* grad_out, const T* y, int64_t outer, int64_t R,
                      int64_t inner, bool take_log) {
#pragma omp parallel for if (outer * R * inner > kParallelThreshold)
  for (int64_t col = 0; col < outer * inner; ++col) {
    const int64_t o = col / inner, i = col % inner;
    const int64_t base = o * R * inner + i;
    double dot = 0;  // softmax: sum g*y; log-softmax: sum g
    for (int64_t r = 0; r < R; ++r) {
      const int64_t e = base + r * inner;
      dot += take_log ? grad_out[e] : grad_out[e] * y[e];
    }
    const T dot_t = static_cast<T>(dot);
    for (int64_t r = 0; r < R; ++r) {
      const int64_t e = base + r * inner;
      grad_in[e] = take_log ? grad_out[e] - ew_exp(y[e]) * dot_t : y[e] * (grad_out[e] - dot_t);
    }
  }
}

#define WSVIS_INSTANTIATE_REDUCE(T)                                                           \
  template void sum_dim<T>(T*, const T*, int64_t, int64_t, int64_t, T);                       \
  template void max_dim<T>(T*, int64_t*, const T*, int64_t, int64_t, int64_t);                \
  template void max_dim_backward<T>(T*, const T*, const int64_t*, int64_t, int64_t, int64_t); \
  template void softmax<T>(T*, const T*, int64_t, int64_t, int64_t, bool);                    \
  template void softmax_backward<T>(T*, const T*, const T*, int64_t, int64_t, int64_t, bool);
WSVIS_INSTANTIATE_REDUCE(float)
WSVIS_INSTANTIATE_REDUCE(double)

}  // namespace wsvis::kernels::cpu
