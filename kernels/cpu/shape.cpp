#include <cstdint>

#include "kernels/shape.h"

namespace wsvis::kernels::cpu {

template <typename T>
void strided_copy(const CopyLayout& layout, const T* src, T* dst) {
  const int64_t n = layout_numel(layout);
  if (n == 0) return;
  // Walk rows of the innermost dimension so the inner loop is a plain strided loop.
  const int last = layout.ndim - 1;
  const int64_t inner = layout.ndim > 0 ? layout.sizes[last] : 1;
  const int64_t src_step = layout.ndim > 0 ? layout.src_strides[last] : 0;
  const int64_t dst_step = layout.ndim > 0 ? layout.dst_strides[last] : 0;
  const int64_t rows = n / inner;
#pragma omp parallel for if (n > (1 << 16))
  for (int64_t r = 0; r < rows; ++r) {
    int64_t s = 0, t = 0;
    layout_offsets(layout, r * inner, &s, &t);
    for (int64_t i = 0; i < inner; ++i) dst[t + i * dst_step] = src[s + i * src_step];
  }
}

template <typename T>
void index_select(const T* a, const int64_t* index, int64_t outer, int64_t size, int64_t inner,
                  int64_t k, T* out) {
#pragma omp parallel for if (outer * k * inner > (1 << 16))
  for (int64_t ok = 0; ok < outer * k; ++ok) {
    const int64_t o = ok / k, j = ok % k;
    const T* from = a + (o * size + index[j]) * inner;
    T* to = out + ok * inner;
    for (int64_t i = 0; i < inner; ++i) to[i] = from[i];
  }
}

template <typename T>
void index_select_backward(const T* grad_out, const int64_t* index, int64_t outer, int64_t size,
                           int64_t inner, int64_t k, T* grad_a) {
  // Serial over j so duplicate indices accumulate in a fixed order.
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j = 0; j < k; ++j) {
      const T* from = grad_out + (o * k + j) * inner;
      T* to = grad_a + (o * size + index[j]) * inner;
      for (int64_t i = 0; i < inner; ++i) to[i] += from[i];
    }
}

template <typename T>
void gather(const T* a, const int64_t* index, const GatherLayout& layout, T* out) {
  const int64_t n = gather_numel(layout);
#pragma omp parallel for if (n > (1 << 16))
  for (int64_t j = 0; j < n; ++j) out[j] = a[gather_offset(layout, j, index[j])];
}

template <typename T>
void gather_backward(const T* grad_out, const int64_t* index, const GatherLayout& layout,
                     T* grad_a) {
  const int64_t n = gather_numel(layout);
  for (int64_t j = 0; j < n; ++j) grad_a[gather_offset(layout, j, index[j])] += grad_out[j];
}

void first_invalid_index(const int64_t* index, int64_t n, int64_t size, bool has_ignore,
                         int64_t ignore, int64_t* first_bad) {
  *first_bad = n;
  for (int64_t p = 0; p < n; ++p) {
    const int64_t v = index[p];
    if ((v < 0 || v >= size) && !(has_ignore && v == ignore)) {
      *first_bad = p;
      return;
    }
  }
}

#define WSVIS_INSTANTIATE_SHAPE_ALL(T)                                                       \
  template void strided_copy<T>(const CopyLayout&, const T*, T*);                            \
  template void index_select<T>(const T*, const int64_t*, int64_t, int64_t, int64_t, int64_t, \
                                T*);                                                         \
  template void gather<T>(const T*, const int64_t*, const GatherLayout&, T*);
WSVIS_INSTANTIATE_SHAPE_ALL(float)
WSVIS_INSTANTIATE_SHAPE_ALL(double)
WSVIS_INSTANTIATE_SHAPE_ALL(int32_t)
WSVIS_INSTANTIATE_SHAPE_ALL(int64_t)
WSVIS_INSTANTIATE_SHAPE_ALL(uint8_t)

#define WSVIS_INSTANTIATE_SHAPE_GRAD(T)                                                   \
  template void index_select_backward<T>(const T*, const int64_t*, int64_t, int64_t,      \
                                         int64_t, int64_t, T*);                           \
  template void gather_backward<T>(const T*, const int64_t*, const GatherLayout&, T*);
WSVIS_INSTANTIATE_SHAPE_GRAD(float)
WSVIS_INSTANTIATE_SHAPE_GRAD(double)

}  // namespace wsvis::kernels::cpu
