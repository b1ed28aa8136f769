// CUDA twin of kernels/cpu/upsample.cpp. Forward: one thread per output element. Backward: one
// thread per INPUT element, gathering over the outputs that read it (found by binary search on
// the monotone source-index functions of kernels/upsample_math.h), so no atomics are needed and
// the result is deterministic.
#include "engine/cuda_check.h"
#include "kernels/upsample.h"
#include "kernels/upsample_math.h"

namespace wsvis::kernels::cuda {

namespace {

template <typename T>
__global__ void nearest_forward_kernel(const T* x, int64_t H, int64_t W, int64_t OH, int64_t OW,
                                       int64_t total, T* y) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t ow = i % OW, oh = (i / OW) % OH, p = i / (OW * OH);
    y[i] = x[(p * H + nearest_source_index(oh, H, OH)) * W + nearest_source_index(ow, W, OW)];
  }
}

template <typename T>
__global__ void nearest_backward_kernel(const T* grad_y, int64_t H, int64_t W, int64_t OH,
                                        int64_t OW, int64_t total, T* grad_x) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t iw = i % W, ih = (i / W) % H, p = i / (W * H);
    // The outputs that copied (ih, iw): source row ih and source column iw.
    const int64_t oh0 = nearest_first_output(ih, H, OH), oh1 = nearest_first_output(ih + 1, H, OH);
    const int64_t ow0 = nearest_first_output(iw, W, OW), ow1 = nearest_first_output(iw + 1, W, OW);
    const T* gy = grad_y + p * OH * OW;
    T sum = T(0);
    for (int64_t oh = oh0; oh < oh1; ++oh)
      for (int64_t ow = ow0; ow < ow1; ++ow) sum += gy[oh * OW + ow];
    grad_x[i] = sum;
  }
}

template <typename T>
__global__ void bilinear_forward_kernel(const T* x, int64_t H, int64_t W, int64_t OH, int64_t OW,
                                        T scale_h, T scale_w, bool align_corners, int64_t total,
                                        T* y) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t ow = i % OW, oh = (i / OW) % OH, p = i / (OW * OH);
    const LinearTap<T> th = bilinear_tap<T>(scale_h, oh, H, align_corners);
    const LinearTap<T> tw = bilinear_tap<T>(scale_w, ow, W, align_corners);
    y[i] = bilinear_sample(x + p * H * W, W, th, tw);
  }
}

template <typename T>
__global__ void bilinear_backward_kernel(const T* grad_y, int64_t H, int64_t W, int64_t OH,
                                         int64_t OW, T scale_h, T scale_w, bool align_corners,
                                         int64_t total, T* grad_x) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t iw = i % W, ih = (i / W) % H, p = i / (W * H);
    // Outputs read input row ih through i0 == ih or i1 == ih, i.e. i0 in {ih - 1, ih}.
    const int64_t oh0 = bilinear_first_output<T>(ih - 1, scale_h, H, OH, align_corners);
    const int64_t oh1 = bilinear_first_output<T>(ih + 1, scale_h, H, OH, align_corners);
    const int64_t ow0 = bilinear_first_output<T>(iw - 1, scale_w, W, OW, align_corners);
    const int64_t ow1 = bilinear_first_output<T>(iw + 1, scale_w, W, OW, align_corners);
    const T* gy = grad_y + p * OH * OW;
    T sum = T(0);
    for (int64_t oh = oh0; oh < oh1; ++oh) {
      const T wh = tap_weight(bilinear_tap<T>(scale_h, oh, H, align_corners), ih);
      if (wh == T(0)) continue;
      for (int64_t ow = ow0; ow < ow1; ++ow) {
        const T ww = tap_weight(bilinear_tap<T>(scale_w, ow, W, align_corners), iw);
        sum += wh * ww * gy[oh * OW + ow];
      }
    }
    grad_x[i] = sum;
  }
}

}  // namespace

template <typename T>
void upsample_nearest2d_forward(cudaStream_t stream, const T* x, int64_t planes, int64_t H,
                                int64_t W, int64_t OH, int64_t OW, T* y) {
  const int64_t total = planes * OH * OW;
  if (total == 0) return;
  nearest_forward_kernel<<<elementwise_blocks(total), kElementwiseThreads, 0, stream>>>(
      x, H, W, OH, OW, total, y);
  WSVIS_LAUNCH_CHECK();
}

template <typename T>
void upsample_nearest2d_backward(cudaStream_t stream, const T* grad_y, int64_t planes, int64_t H,
                                 int64_t W, int64_t OH, int64_t OW, T* grad_x) {
  const int64_t total = planes * H * W;
  if (total == 0) return;
  nearest_backward_kernel<<<elementwise_blocks(total), kElementwiseThreads, 0, stream>>>(
      grad_y, H, W, OH, OW, total, grad_x);
  WSVIS_LAUNCH_CHECK();
}

template <typename T>
void upsample_bilinear2d_forward(cudaStream_t stream, const T* x, int64_t planes, int64_t H,
                                 int64_t W, int64_t OH, int64_t OW, bool align_corners, T* y) {
  const int64_t total = planes * OH * OW;
  if (total == 0) return;
  bilinear_forward_kernel<<<elementwise_blocks(total), kElementwiseThreads, 0, stream>>>(
      x, H, W, OH, OW, bilinear_scale<T>(H, OH, align_corners),
      bilinear_scale<T>(W, OW, align_corners), align_corners, total, y);
  WSVIS_LAUNCH_CHECK();
}

template <typename T>
void upsample_bilinear2d_backward(cudaStream_t stream, const T* grad_y, int64_t planes, int64_t H,
                                  int64_t W, int64_t OH, int64_t OW, bool align_corners,
                                  T* grad_x) {
  const int64_t total = planes * H * W;
  if (total == 0) return;
  bilinear_backward_kernel<<<elementwise_blocks(total), kElementwiseThreads, 0, stream>>>(
      grad_y, H, W, OH, OW, bilinear_scale<T>(H, OH, align_corners),
      bilinear_scale<T>(W, OW, align_corners), align_corners, total, grad_x);
  WSVIS_LAUNCH_CHECK();
}

#define WSVIS_INSTANTIATE_UPSAMPLE(T)                                                          \
  template void upsample_nearest2d_forward<T>(cudaStream_t, const T*, int64_t, int64_t,        \
                                              int64_t, int64_t, int64_t, T*);                  \
  template void upsample_nearest2d_backward<T>(cudaStream_t, const T*, int64_t, int64_t,       \
                                               int64_t, int64_t, int64_t, T*);                 \
  template void upsample_bilinear2d_forward<T>(cudaStream_t, const T*, int64_t, int64_t,       \
                                               int64_t, int64_t, int64_t, bool, T*);           \
  template void upsample_bilinear2d_backward<T>(cudaStream_t, const T*, int64_t, int64_t,      \
                                                int64_t, int64_t, int64_t, bool, T*);
WSVIS_INSTANTIATE_UPSAMPLE(float)
WSVIS_INSTANTIATE_UPSAMPLE(double)

}  // namespace wsvis::kernels::cuda
