#include "engine/cuda_check.h"
#include "kernels/basic.h"
#include "kernels/shape.h"

namespace wsvis::kernels::cuda {

namespace {

template <typename T>
__global__ void strided_copy_kernel(CopyLayout layout, int64_t n, const T* src, T* dst) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    int64_t s = 0, t = 0;
    layout_offsets(layout, i, &s, &t);
    dst[t] = src[s];
  }
}

template <typename T>
__global__ void index_select_kernel(const T* a, const int64_t* index, int64_t size,
                                    int64_t inner, int64_t k, int64_t n, T* out) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < n;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t i = e % inner;
    const int64_t ok = e / inner;
    const int64_t o = ok / k, j = ok % k;
    out[e] = a[(o * size + index[j]) * inner + i];
  }
}

template <typename T>
__global__ void index_select_backward_kernel(const T* grad_out, const int64_t* index,
                                             int64_t size, int64_t inner, int64_t k, int64_t n,
                                             T* grad_a) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < n;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t i = e % inner;
    const int64_t ok = e / inner;
    const int64_t o = ok / k, j = ok % k;
    atomicAdd(grad_a + (o * size + index[j]) * inner + i, grad_out[e]);
  }
}

template <typename T>
__global__ void gather_kernel(const T* a, const int64_t* index, GatherLayout layout, int64_t n,
                              T* out) {
  for (int64_t j = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; j < n;
       j += int64_t(gridDim.x) * blockDim.x)
    out[j] = a[gather_offset(layout, j, index[j])];
}

template <typename T>
__global__ void gather_backward_kernel(const T* grad_out, const int64_t* index,
                                       GatherLayout layout, int64_t n, T* grad_a) {
  for (int64_t j = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; j < n;
       j += int64_t(gridDim.x) * blockDim.x)
    atomicAdd(grad_a + gather_offset(layout, j, index[j]), grad_out[j]);
}

__global__ void first_invalid_index_kernel(const int64_t* index, int64_t n, int64_t size,
                                           bool has_ignore, int64_t ignore,
                                           unsigned long long* first_bad) {
  for (int64_t p = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; p < n;
       p += int64_t(gridDim.x) * blockDim.x) {
    const int64_t v = index[p];
    // atomicMin keeps the smallest bad position whatever order the threads run in.
    if ((v < 0 || v >= size) && !(has_ignore && v == ignore))
      atomicMin(first_bad, static_cast<unsigned long long>(p));
  }
}

}  // namespace

template <typename T>
void strided_copy(cudaStream_t stream, const CopyLayout& layout, const T* src, T* dst) {
  const int64_t n = layout_numel(layout);
  if (n == 0) return;
  strided_copy_kernel<<<elementwise_blocks(n), kElementwiseThreads, 0, stream>>>(layout, n, src,
                                                                                 dst);
  WSVIS_LAUNCH_CHECK();
}

template <typename T>
void index_select(cudaStream_t stream, const T* a, const int64_t* index, int64_t outer,
                  int64_t size, int64_t inner, int64_t k, T* out) {
  const int64_t n = outer * k * inner;
  if (n == 0) return;
  index_select_kernel<<<elementwise_blocks(n), kElementwiseThreads, 0, stream>>>(
      a, index, size, inner, k, n, out);
  WSVIS_LAUNCH_CHECK();
}

template <typename T>
void index_select_backward(cudaStream_t stream, const T* grad_out, const int64_t* index,
                           int64_t outer, int64_t size, int64_t inner, int64_t k, T* grad_a) {
  const int64_t n = outer * k * inner;
  if (n == 0) return;
  index_select_backward_kernel<<<elementwise_blocks(n), kElementwiseThreads, 0, stream>>>(
      grad_out, index, size, inner, k, n, grad_a);
  WSVIS_LAUNCH_CHECK();
}

template <typename T>
void gather(cudaStream_t stream, const T* a, const int64_t* index, const GatherLayout& layout,
            T* out) {
  const int64_t n = gather_numel(layout);
  if (n == 0) return;
  gather_kernel<<<elementwise_blocks(n), kElementwiseThreads, 0, stream>>>(a, index, layout, n,
                                                                           out);
  WSVIS_LAUNCH_CHECK();
}

template <typename T>
void gather_backward(cudaStream_t stream, const T* grad_out, const int64_t* index,
                     const GatherLayout& layout, T* grad_a) {
  const int64_t n = gather_numel(layout);
  if (n == 0) return;
  gather_backward_kernel<<<elementwise_blocks(n), kElementwiseThreads, 0, stream>>>(
      grad_out, index, layout, n, grad_a);
  WSVIS_LAUNCH_CHECK();
}

void first_invalid_index(cudaStream_t stream, const int64_t* index, int64_t n, int64_t size,
                         bool has_ignore, int64_t ignore, int64_t* first_bad) {
  fill<int64_t>(stream, first_bad, 1, n);
  if (n == 0) return;
  first_invalid_index_kernel<<<elementwise_blocks(n), kElementwiseThreads, 0, stream>>>(
      index, n, size, has_ignore, ignore, reinterpret_cast<unsigned long long*>(first_bad));
  WSVIS_LAUNCH_CHECK();
}

#define WSVIS_INSTANTIATE_SHAPE_ALL(T)                                                       \
  template void strided_copy<T>(cudaStream_t, const CopyLayout&, const T*, T*);              \
  template void index_select<T>(cudaStream_t, const T*, const int64_t*, int64_t, int64_t,    \
                                int64_t, int64_t, T*);                                       \
  template void gather<T>(cudaStream_t, const T*, const int64_t*, const GatherLayout&, T*);
WSVIS_INSTANTIATE_SHAPE_ALL(float)
WSVIS_INSTANTIATE_SHAPE_ALL(double)
WSVIS_INSTANTIATE_SHAPE_ALL(int32_t)
WSVIS_INSTANTIATE_SHAPE_ALL(int64_t)
WSVIS_INSTANTIATE_SHAPE_ALL(uint8_t)

#define WSVIS_INSTANTIATE_SHAPE_GRAD(T)                                                      \
  template void index_select_backward<T>(cudaStream_t, const T*, const int64_t*, int64_t,    \
                                         int64_t, int64_t, int64_t, T*);                     \
  template void gather_backward<T>(cudaStream_t, const T*, const int64_t*,                   \
                                   const GatherLayout&, T*);
WSVIS_INSTANTIATE_SHAPE_GRAD(float)
WSVIS_INSTANTIATE_SHAPE_GRAD(double)

}  // namespace wsvis::kernels::cuda
