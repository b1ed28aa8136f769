#include <cstdint>

#include "kernels/upsample.h"
#include "kernels/upsample_math.h"

namespace wsvis::kernels::cpu {

template <typename T>
void upsample_nearest2d_forward(const T* x, int64_t planes, int64_t H, int64_t W, int64_t OH,
                                int64_t OW, T* y) {
#pragma omp parallel for if (planes * OH * OW > (1 << 16))
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t oh = 0; oh < OH; ++oh) {
      const int64_t ih = nearest_source_index(oh, H, OH);
      for (int64_t ow = 0; ow < OW; ++ow)
        y[(p * OH + oh) * OW + ow] = x[(p * H + ih) * W + nearest_source_index(ow, W, OW)];
    }
}

// Scatter: each output's gradient goes to the one input it copied.
template <typename T>
void upsample_nearest2d_backward(const T* grad_y, int64_t planes, int64_t H, int64_t W,
                                 int64_t OH, int64_t OW, T* grad_x) {
#pragma omp parallel for if (planes * (OH * OW + H * W) > (1 << 16))
  for (int64_t p = 0; p < planes; ++p) {
    T* gx = grad_x + p * H * W;
    for (int64_t i = 0; i < H * W; ++i) gx[i] = T(0);
    for (int64_t oh = 0; oh < OH; ++oh) {
      const int64_t ih = nearest_source_index(oh, H, OH);
      for (int64_t ow = 0; ow < OW; ++ow)
        gx[ih * W + nearest_source_index(ow, W, OW)] += grad_y[(p * OH + oh) * OW + ow];
    }
  }
}

template <typename T>
void upsample_bilinear2d_forward(const T* x, int64_t planes, int64_t H, int64_t W, int64_t OH,
                                 int64_t OW, bool align_corners, T* y) {
  const T scale_h = bilinear_scale<T>(H, OH, align_corners);
  const T scale_w = bilinear_scale<T>(W, OW, align_corners);
#pragma omp parallel for if (planes * OH * OW > (1 << 16))
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t oh = 0; oh < OH; ++oh) {
      const LinearTap<T> th = bilinear_tap<T>(scale_h, oh, H, align_corners);
      for (int64_t ow = 0; ow < OW; ++ow) {
        const LinearTap<T> tw = bilinear_tap<T>(scale_w, ow, W, align_corners);
        y[(p * OH + oh) * OW + ow] = bilinear_sample(x + p * H * W, W, th, tw);
      }
    }
}

// Scatter: each output's gradient goes to its four taps with the forward weights.
template <typename T>
void upsample_bilinear2d_backward(const T* grad_y, int64_t planes, int64_t H, int64_t W,
                                  int64_t OH, int64_t OW, bool align_corners, T* grad_x) {
  const T scale_h = bilinear_scale<T>(H, OH, align_corners);
  const T scale_w = bilinear_scale<T>(W, OW, align_corners);
#pragma omp parallel for if (planes * (OH * OW + H * W) > (1 << 16))
  for (int64_t p = 0; p < planes; ++p) {
    T* gx = grad_x + p * H * W;
    for (int64_t i = 0; i < H * W; ++i) gx[i] = T(0);
    for (int64_t oh = 0; oh < OH; ++oh) {
      const LinearTap<T> th = bilinear_tap<T>(scale_h, oh, H, align_corners);
      for (int64_t ow = 0; ow < OW; ++ow) {
        const LinearTap<T> tw = bilinear_tap<T>(scale_w, ow, W, align_corners);
        const T g = grad_y[(p * OH + oh) * OW + ow];
        gx[th.i0 * W + tw.i0] += th.l0 * tw.l0 * g;
        gx[th.i0 * W + tw.i1] += th.l0 * tw.l1 * g;
        gx[th.i1 * W + tw.i0] += th.l1 * tw.l0 * g;
        gx[th.i1 * W + tw.i1] += th.l1 * tw.l1 * g;
      }
    }
  }
}

#define WSVIS_INSTANTIATE_UPSAMPLE(T)                                                          \
  template void upsample_nearest2d_forward<T>(const T*, int64_t, int64_t, int64_t, int64_t,    \
                                              int64_t, T*);                                    \
  template void upsample_nearest2d_backward<T>(const T*, int64_t, int64_t, int64_t, int64_t,   \
                                               int64_t, T*);                                   \
  template void upsample_bilinear2d_forward<T>(const T*, int64_t, int64_t, int64_t, int64_t,   \
                                               int64_t, bool, T*);                             \
  template void upsample_bilinear2d_backward<T>(const T*, int64_t, int64_t, int64_t, int64_t,  \
                                                int64_t, bool, T*);
WSVIS_INSTANTIATE_UPSAMPLE(float)
WSVIS_INSTANTIATE_UPSAMPLE(double)

}  // namespace wsvis::kernels::cpu
