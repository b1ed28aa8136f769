#include "kernels/basic.h"

#include <cstdint>

namespace wsvis::kernels::cpu {

template <typename T>
void fill(T* out, int64_t n, T value) {
#pragma omp parallel for if (n > (1 << 16))
  for (int64_t i = 0; i < n; ++i) out[i] = value;
}

template <typename Dst, typename Src>
void cast(Dst* out, const Src* in, int64_t n) {
#pragma omp parallel for if (n > (1 << 16))
  for (int64_t i = 0; i < n; ++i) out[i] = static_cast<Dst>(in[i]);
}

template <typename T>
void axpy(T* y, const T* x, int64_t n, T alpha) {
#pragma omp parallel for if (n > (1 << 16))
  for (int64_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

#define WSVIS_INSTANTIATE_FILL(T) template void fill<T>(T*, int64_t, T);
WSVIS_INSTANTIATE_FILL(float)
WSVIS_INSTANTIATE_FILL(double)
WSVIS_INSTANTIATE_FILL(int32_t)
WSVIS_INSTANTIATE_FILL(int64_t)
WSVIS_INSTANTIATE_FILL(uint8_t)

#define WSVIS_INSTANTIATE_CAST_FROM(S)                       \
  template void cast<float, S>(float*, const S*, int64_t);   \
  template void cast<double, S>(double*, const S*, int64_t); \
  template void cast<int32_t, S>(int32_t*, const S*, int64_t); \
  template void cast<int64_t, S>(int64_t*, const S*, int64_t); \
  template void cast<uint8_t, S>(uint8_t*, const S*, int64_t);
WSVIS_INSTANTIATE_CAST_FROM(float)
WSVIS_INSTANTIATE_CAST_FROM(double)
WSVIS_INSTANTIATE_CAST_FROM(int32_t)
WSVIS_INSTANTIATE_CAST_FROM(int64_t)
WSVIS_INSTANTIATE_CAST_FROM(uint8_t)

template void axpy<float>(float*, const float*, int64_t, float);
template void axpy<double>(double*, const double*, int64_t, double);

}  // namespace wsvis::kernels::cpu
