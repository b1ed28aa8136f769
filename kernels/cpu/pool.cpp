#include <cstdint>

#include "kernels/pool.h"

namespace wsvis::kernels::cpu {

template <typename T>
void max_pool2d_forward(const T* x, Pool2dGeometry g, T* y, int64_t* argmax) {
  const int64_t in_plane = g.H * g.W, out_plane = g.OH * g.OW;
#pragma omp parallel for if (g.planes * out_plane * g.kh * g.kw > (1 << 16))
  for (int64_t p = 0; p < g.planes; ++p)
    for (int64_t oh = 0; oh < g.OH; ++oh)
      for (int64_t ow = 0; ow < g.OW; ++ow) {
        const int64_t o = p * out_plane + oh * g.OW + ow;
        max_pool_window(x + p * in_plane, g, oh, ow, &y[o], &argmax[o]);
      }
}

// Scatter: each output's gradient goes to the input element that was its maximum.
template <typename T>
void max_pool2d_backward(const T* grad_y, const int64_t* argmax, Pool2dGeometry g, T* grad_x) {
  const int64_t in_plane = g.H * g.W, out_plane = g.OH * g.OW;
#pragma omp parallel for if (g.planes * (in_plane + out_plane) > (1 << 16))
  for (int64_t p = 0; p < g.planes; ++p) {
    T* gx = grad_x + p * in_plane;
    for (int64_t i = 0; i < in_plane; ++i) gx[i] = T(0);
    for (int64_t o = 0; o < out_plane; ++o)
      gx[argmax[p * out_plane + o]] += grad_y[p * out_plane + o];
  }
}

template <typename T>
void avg_pool2d_forward(const T* x, Pool2dGeometry g, bool count_include_pad, T* y) {
  const int64_t in_plane = g.H * g.W, out_plane = g.OH * g.OW;
#pragma omp parallel for if (g.planes * out_plane * g.kh * g.kw > (1 << 16))
  for (int64_t p = 0; p < g.planes; ++p)
    for (int64_t oh = 0; oh < g.OH; ++oh)
      for (int64_t ow = 0; ow < g.OW; ++ow)
        y[p * out_plane + oh * g.OW + ow] =
            avg_pool_window(x + p * in_plane, g, oh, ow, count_include_pad);
}

// Scatter: each output's gradient, divided by its divisor, goes to every input in its window.
template <typename T>
void avg_pool2d_backward(const T* grad_y, Pool2dGeometry g, bool count_include_pad, T* grad_x) {
  const int64_t in_plane = g.H * g.W, out_plane = g.OH * g.OW;
#pragma omp parallel for if (g.planes * out_plane * g.kh * g.kw > (1 << 16))
  for (int64_t p = 0; p < g.planes; ++p) {
    T* gx = grad_x + p * in_plane;
    for (int64_t i = 0; i < in_plane; ++i) gx[i] = T(0);
    for (int64_t oh = 0; oh < g.OH; ++oh)
      for (int64_t ow = 0; ow < g.OW; ++ow) {
        const T share = grad_y[p * out_plane + oh * g.OW + ow] /
                        static_cast<T>(avg_pool_divisor(g, oh, ow, count_include_pad));
        int64_t h0 = oh * g.sh - g.ph, w0 = ow * g.sw - g.pw;
        const int64_t h1 = h0 + g.kh < g.H ? h0 + g.kh : g.H;
        const int64_t w1 = w0 + g.kw < g.W ? w0 + g.kw : g.W;
        h0 = h0 > 0 ? h0 : 0;
        w0 = w0 > 0 ? w0 : 0;
        for (int64_t h = h0; h < h1; ++h)
          for (int64_t w = w0; w < w1; ++w) gx[h * g.W + w] += share;
      }
  }
}

template <typename T>
void global_avg_pool2d_forward(const T* x, int64_t planes, int64_t HW, T* y) {
#pragma omp parallel for if (planes * HW > (1 << 16))
  for (int64_t p = 0; p < planes; ++p) {
    double sum = 0;
    for (int64_t j = 0; j < HW; ++j) sum += static_cast<double>(x[p * HW + j]);
    y[p] = static_cast<T>(sum / static_cast<double>(HW));
  }
}

template <typename T>
void global_avg_pool2d_backward(const T* grad_y, int64_t planes, int64_t HW, T* grad_x) {
#pragma omp parallel for if (planes * HW > (1 << 16))
  for (int64_t p = 0; p < planes; ++p) {
    const T share = grad_y[p] / static_cast<T>(HW);
    for (int64_t j = 0; j < HW; ++j) grad_x[p * HW + j] = share;
  }
}

#define WSVIS_INSTANTIATE_POOL(T)                                                              \
  template void max_pool2d_forward<T>(const T*, Pool2dGeometry, T*, int64_t*);                 \
  template void max_pool2d_backward<T>(const T*, const int64_t*, Pool2dGeometry, T*);          \
  template void avg_pool2d_forward<T>(const T*, Pool2dGeometry, bool, T*);                     \
  template void avg_pool2d_backward<T>(const T*, Pool2dGeometry, bool, T*);                    \
  template void global_avg_pool2d_forward<T>(const T*, int64_t, int64_t, T*);                  \
  template void global_avg_pool2d_backward<T>(const T*, int64_t, int64_t, T*);
WSVIS_INSTANTIATE_POOL(float)
WSVIS_INSTANTIATE_POOL(double)

}  // namespace wsvis::kernels::cpu
