// CUDA twin of kernels/cpu/pool.cpp. Forward: one thread per output element, using the
// window maths of kernels/pool.h. Backward: one thread per INPUT element, gathering over the
// output windows that contain it (pool_first_output / pool_last_output), so no atomics are
// needed and the result is deterministic.
#include "engine/cuda_check.h"
#include "kernels/pool.h"

namespace wsvis::kernels::cuda {

namespace {

template <typename T>
__global__ void max_forward_kernel(const T* x, Pool2dGeometry g, int64_t total, T* y,
                                   int64_t* argmax) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t ow = i % g.OW, oh = (i / g.OW) % g.OH, p = i / (g.OW * g.OH);
    max_pool_window(x + p * g.H * g.W, g, oh, ow, &y[i], &argmax[i]);
  }
}

template <typename T>
__global__ void max_backward_kernel(const T* grad_y, const int64_t* argmax, Pool2dGeometry g,
                                    int64_t total, T* grad_x) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t w = i % g.W, h = (i / g.W) % g.H, p = i / (g.W * g.H);
    const int64_t self = h * g.W + w;
    const int64_t oh0 = pool_first_output(h, g.kh, g.sh, g.ph);
    const int64_t oh1 = pool_last_output(h, g.sh, g.ph, g.OH);
    const int64_t ow0 = pool_first_output(w, g.kw, g.sw, g.pw);
    const int64_t ow1 = pool_last_output(w, g.sw, g.pw, g.OW);
    const int64_t base = p * g.OH * g.OW;
    T sum = T(0);
    for (int64_t oh = oh0; oh < oh1; ++oh)
      for (int64_t ow = ow0; ow < ow1; ++ow) {
        const int64_t o = base + oh * g.OW + ow;
        if (argmax[o] == self) sum += grad_y[o];
      }
    grad_x[i] = sum;
  }
}

template <typename T>
__global__ void avg_forward_kernel(const T* x, Pool2dGeometry g, bool count_include_pad,
                                   int64_t total, T* y) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t ow = i % g.OW, oh = (i / g.OW) % g.OH, p = i / (g.OW * g.OH);
    y[i] = avg_pool_window(x + p * g.H * g.W, g, oh, ow, count_include_pad);
  }
}

template <typename T>
__global__ void avg_backward_kernel(const T* grad_y, Pool2dGeometry g, bool count_include_pad,
                                    int64_t total, T* grad_x) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t w = i % g.W, h = (i / g.W) % g.H, p = i / (g.W * g.H);
    const int64_t oh0 = pool_first_output(h, g.kh, g.sh, g.ph);
    const int64_t oh1 = pool_last_output(h, g.sh, g.ph, g.OH);
    const int64_t ow0 = pool_first_output(w, g.kw, g.sw, g.pw);
    const int64_t ow1 = pool_last_output(w, g.sw, g.pw, g.OW);
    const int64_t base = p * g.OH * g.OW;
    T sum = T(0);
    for (int64_t oh = oh0; oh < oh1; ++oh)
      for (int64_t ow = ow0; ow < ow1; ++ow)
        sum += grad_y[base + oh * g.OW + ow] /
               static_cast<T>(avg_pool_divisor(g, oh, ow, count_include_pad));
    grad_x[i] = sum;
  }
}

constexpr int kWarp = 32;
constexpr int kPlanesPerBlock = kElementwiseThreads / kWarp;

// One warp per plane: lanes sum fixed strided subsets in double, then a shuffle tree with a
// fixed pairing combines them (deterministic).
template <typename T>
__global__ void global_avg_forward_kernel(const T* x, int64_t planes, int64_t HW, T* y) {
  const int lane = threadIdx.x % kWarp;
  for (int64_t p = blockIdx.x * int64_t(kPlanesPerBlock) + threadIdx.x / kWarp; p < planes;
       p += int64_t(gridDim.x) * kPlanesPerBlock) {
    double sum = 0;
    for (int64_t j = lane; j < HW; j += kWarp) sum += static_cast<double>(x[p * HW + j]);
    for (int offset = kWarp / 2; offset > 0; offset >>= 1)
      sum += __shfl_down_sync(0xffffffffu, sum, offset);
    if (lane == 0) y[p] = static_cast<T>(sum / static_cast<double>(HW));
  }
}

template <typename T>
__global__ void global_avg_backward_kernel(const T* grad_y, int64_t total, int64_t HW, T* grad_x) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x)
    grad_x[i] = grad_y[i / HW] / static_cast<T>(HW);
}

}  // namespace

template <typename T>
void max_pool2d_forward(cudaStream_t stream, const T* x, Pool2dGeometry g, T* y, int64_t* argmax) {
  const int64_t total = g.planes * g.OH * g.OW;
  if (total == 0) return;
  max_forward_kernel<<<elementwise_blocks(total), kElementwiseThreads, 0, stream>>>(x, g, total,
                                                                                    y, argmax);
  WSVIS_LAUNCH_CHECK();
}

template <typename T>
void max_pool2d_backward(cudaStream_t stream, const T* grad_y, const int64_t* argmax,
                         Pool2dGeometry g, T* grad_x) {
  const int64_t total = g.planes * g.H * g.W;
  if (total == 0) return;
  max_backward_kernel<<<elementwise_blocks(total), kElementwiseThreads, 0, stream>>>(
      grad_y, argmax, g, total, grad_x);
  WSVIS_LAUNCH_CHECK();
}

template <typename T>
void avg_pool2d_forward(cudaStream_t stream, const T* x, Pool2dGeometry g, bool count_include_pad,
                        T* y) {
  const int64_t total = g.planes * g.OH * g.OW;
  if (total == 0) return;
  avg_forward_kernel<<<elementwise_blocks(total), kElementwiseThreads, 0, stream>>>(
      x, g, count_include_pad, total, y);
  WSVIS_LAUNCH_CHECK();
}

template <typename T>
void avg_pool2d_backward(cudaStream_t stream, const T* grad_y, Pool2dGeometry g,
                         bool count_include_pad, T* grad_x) {
  const int64_t total = g.planes * g.H * g.W;
  if (total == 0) return;
  avg_backward_kernel<<<elementwise_blocks(total), kElementwiseThreads, 0, stream>>>(
      grad_y, g, count_include_pad, total, grad_x);
  WSVIS_LAUNCH_CHECK();
}

template <typename T>
void global_avg_pool2d_forward(cudaStream_t stream, const T* x, int64_t planes, int64_t HW, T* y) {
  if (planes == 0) return;
  global_avg_forward_kernel<<<elementwise_blocks(planes * kWarp), kElementwiseThreads, 0,
                              stream>>>(x, planes, HW, y);
  WSVIS_LAUNCH_CHECK();
}

template <typename T>
void global_avg_pool2d_backward(cudaStream_t stream, const T* grad_y, int64_t planes, int64_t HW,
                                T* grad_x) {
  const int64_t total = planes * HW;
  if (total == 0) return;
  global_avg_backward_kernel<<<elementwise_blocks(total), kElementwiseThreads, 0, stream>>>(
      grad_y, total, HW, grad_x);
  WSVIS_LAUNCH_CHECK();
}

#define WSVIS_INSTANTIATE_POOL(T)                                                              \
  template void max_pool2d_forward<T>(cudaStream_t, const T*, Pool2dGeometry, T*, int64_t*);   \
  template void max_pool2d_backward<T>(cudaStream_t, const T*, const int64_t*, Pool2dGeometry, \
                                       T*);                                                    \
  template void avg_pool2d_forward<T>(cudaStream_t, const T*, Pool2dGeometry, bool, T*);       \
  template void avg_pool2d_backward<T>(cudaStream_t, const T*, Pool2dGeometry, bool, T*);      \
  template void global_avg_pool2d_forward<T>(cudaStream_t, const T*, int64_t, int64_t, T*);    \
  template void global_avg_pool2d_backward<T>(cudaStream_t, const T*, int64_t, int64_t, T*);
WSVIS_INSTANTIATE_POOL(float)
WSVIS_INSTANTIATE_POOL(double)

}  // namespace wsvis::kernels::cuda
