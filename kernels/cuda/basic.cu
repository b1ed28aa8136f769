#include "engine/cuda_check.h"
#include "kernels/basic.h"

namespace wsvis::kernels::cuda {

namespace {

template <typename T>
__global__ void fill_kernel(T* out, int64_t n, T value) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    out[i] = value;
}

template <typename Dst, typename Src>
__global__ void cast_kernel(Dst* out, const Src* in, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    out[i] = static_cast<Dst>(in[i]);
}

template <typename T>
__global__ void axpy_kernel(T* y, const T* x, int64_t n, T alpha) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    y[i] += alpha * x[i];
}

}  // namespace

template <typename T>
void fill(cudaStream_t stream, T* out, int64_t n, T value) {
  if (n == 0) return;
  fill_kernel<<<elementwise_blocks(n), kElementwiseThreads, 0, stream>>>(out, n, value);
  WSVIS_LAUNCH_CHECK();
}

template <typename Dst, typename Src>
void cast(cudaStream_t stream, Dst* out, const Src* in, int64_t n) {
  if (n == 0) return;
  cast_kernel<<<elementwise_blocks(n), kElementwiseThreads, 0, stream>>>(out, in, n);
  WSVIS_LAUNCH_CHECK();
}

template <typename T>
void axpy(cudaStream_t stream, T* y, const T* x, int64_t n, T alpha) {
  if (n == 0) return;
  axpy_kernel<<<elementwise_blocks(n), kElementwiseThreads, 0, stream>>>(y, x, n, alpha);
  WSVIS_LAUNCH_CHECK();
}

#define WSVIS_INSTANTIATE_FILL(T) template void fill<T>(cudaStream_t, T*, int64_t, T);
WSVIS_INSTANTIATE_FILL(float)
WSVIS_INSTANTIATE_FILL(double)
WSVIS_INSTANTIATE_FILL(int32_t)
WSVIS_INSTANTIATE_FILL(int64_t)
WSVIS_INSTANTIATE_FILL(uint8_t)

#define WSVIS_INSTANTIATE_CAST_FROM(S)                                       \
  template void cast<float, S>(cudaStream_t, float*, const S*, int64_t);     \
  template void cast<double, S>(cudaStream_t, double*, const S*, int64_t);   \
  template void cast<int32_t, S>(cudaStream_t, int32_t*, const S*, int64_t); \
  template void cast<int64_t, S>(cudaStream_t, int64_t*, const S*, int64_t); \
  template void cast<uint8_t, S>(cudaStream_t, uint8_t*, const S*, int64_t);
WSVIS_INSTANTIATE_CAST_FROM(float)
WSVIS_INSTANTIATE_CAST_FROM(double)
WSVIS_INSTANTIATE_CAST_FROM(int32_t)
WSVIS_INSTANTIATE_CAST_FROM(int64_t)
WSVIS_INSTANTIATE_CAST_FROM(uint8_t)

template void axpy<float>(cudaStream_t, float*, const float*, int64_t, float);
template void axpy<double>(cudaStream_t, double*, const double*, int64_t, double);

}  // namespace wsvis::kernels::cuda
