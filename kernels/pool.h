// 2-d pooling kernels: max pool (with argmax for backward), average pool, global average pool.
// CPU twin in kernels/cpu/pool.cpp, CUDA twin in kernels/cuda/pool.cu.
//
// Layout: x is `planes` = N * C planes of (H, W); y is `planes` planes of (OH, OW). Window
// geometry follows torch (dilation 1): output (oh, ow) covers input rows
// [oh * sh - ph, oh * sh - ph + kh) and columns likewise, clipped to the input; max pool treats
// the padding as -inf, average pool as zeros.
//
// Backward: the CPU twin scatters each output gradient into its window; the CUDA twin gathers,
// for each input element, over the output windows that contain it (no atomics, deterministic).
// The window maths below is shared by both.
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/common.h"

#if WSVIS_WITH_CUDA
#include <cuda_runtime.h>
#endif

namespace wsvis::kernels {

struct Pool2dGeometry {
  int64_t planes = 0;  // N * C
  int64_t H = 0, W = 0, OH = 0, OW = 0;
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, ph = 0, pw = 0;
};

// torch's pooling_output_shape with dilation 1: floor (or ceil) of (in + 2p - k) / s, plus one;
// in ceil mode the last window must start inside the input or the left padding. Can be <= 0
// for a kernel larger than the padded input (callers reject that).
inline int64_t pool_output_size(int64_t in, int64_t k, int64_t s, int64_t p, bool ceil_mode) {
  const int64_t numerator = in + 2 * p - (k - 1) - 1 + (ceil_mode ? s - 1 : 0);
  // floor division (the numerator may be negative)
  const int64_t q = numerator / s - ((numerator % s != 0) && (numerator < 0) ? 1 : 0);
  int64_t out = q + 1;
  if (ceil_mode && (out - 1) * s >= in + p) --out;
  return out;
}

// The outputs along one axis whose windows contain input index i: [first, last).
WSVIS_HD inline int64_t pool_first_output(int64_t i, int64_t k, int64_t s, int64_t p) {
  return (i + p < k) ? 0 : (i + p - k) / s + 1;
}
WSVIS_HD inline int64_t pool_last_output(int64_t i, int64_t s, int64_t p, int64_t out) {
  const int64_t last = (i + p) / s + 1;
  return last < out ? last : out;
}

// Max over the window of output (oh, ow) in one input plane; writes the value and its flat
// index h * W + w in the plane. Ties keep the first in row-major order and NaN propagates,
// as torch's max_pool2d.
template <typename T>
WSVIS_HD inline void max_pool_window(const T* plane, const Pool2dGeometry& g, int64_t oh,
                                     int64_t ow, T* value, int64_t* index) {
  int64_t h0 = oh * g.sh - g.ph, w0 = ow * g.sw - g.pw;
  const int64_t h1 = h0 + g.kh < g.H ? h0 + g.kh : g.H;
  const int64_t w1 = w0 + g.kw < g.W ? w0 + g.kw : g.W;
  h0 = h0 > 0 ? h0 : 0;
  w0 = w0 > 0 ? w0 : 0;
  int64_t best_index = h0 * g.W + w0;
  T best = -static_cast<T>(INFINITY);
  for (int64_t h = h0; h < h1; ++h)
    for (int64_t w = w0; w < w1; ++w) {
      const T v = plane[h * g.W + w];
      if (v > best || v != v) {  // v != v: NaN
        best = v;
        best_index = h * g.W + w;
      }
    }
  *value = best;
  *index = best_index;
}

// The divisor of output (oh, ow)'s average: the window size clipped to the padded input
// (count_include_pad) or to the input itself.
WSVIS_HD inline int64_t avg_pool_divisor(const Pool2dGeometry& g, int64_t oh, int64_t ow,
                                         bool count_include_pad) {
  int64_t h0 = oh * g.sh - g.ph, w0 = ow * g.sw - g.pw;
  int64_t h1 = h0 + g.kh < g.H + g.ph ? h0 + g.kh : g.H + g.ph;
  int64_t w1 = w0 + g.kw < g.W + g.pw ? w0 + g.kw : g.W + g.pw;
  if (count_include_pad) return (h1 - h0) * (w1 - w0);
  h0 = h0 > 0 ? h0 : 0;
  w0 = w0 > 0 ? w0 : 0;
  h1 = h1 < g.H ? h1 : g.H;
  w1 = w1 < g.W ? w1 : g.W;
  return (h1 - h0) * (w1 - w0);
}

template <typename T>
WSVIS_HD inline T avg_pool_window(const T* plane, const Pool2dGeometry& g, int64_t oh, int64_t ow,
                                  bool count_include_pad) {
  int64_t h0 = oh * g.sh - g.ph, w0 = ow * g.sw - g.pw;
  const int64_t h1 = h0 + g.kh < g.H ? h0 + g.kh : g.H;
  const int64_t w1 = w0 + g.kw < g.W ? w0 + g.kw : g.W;
  h0 = h0 > 0 ? h0 : 0;
  w0 = w0 > 0 ? w0 : 0;
  T sum = T(0);
  for (int64_t h = h0; h < h1; ++h)
    for (int64_t w = w0; w < w1; ++w) sum += plane[h * g.W + w];
  return sum / static_cast<T>(avg_pool_divisor(g, oh, ow, count_include_pad));
}

namespace cpu {
// y: (planes, OH, OW); argmax: same shape, the flat index in the input plane of each maximum.
template <typename T>
void max_pool2d_forward(const T* x, Pool2dGeometry g, T* y, int64_t* argmax);
// Writes all of grad_x: (planes, H, W).
template <typename T>
void max_pool2d_backward(const T* grad_y, const int64_t* argmax, Pool2dGeometry g, T* grad_x);
template <typename T>
void avg_pool2d_forward(const T* x, Pool2dGeometry g, bool count_include_pad, T* y);
template <typename T>
void avg_pool2d_backward(const T* grad_y, Pool2dGeometry g, bool count_include_pad, T* grad_x);
// y[p] = mean of plane p's HW values (accumulated in double).
template <typename T>
void global_avg_pool2d_forward(const T* x, int64_t planes, int64_t HW, T* y);
template <typename T>
void global_avg_pool2d_backward(const T* grad_y, int64_t planes, int64_t HW, T* grad_x);
}  // namespace cpu

#if WSVIS_WITH_CUDA
namespace cuda {
template <typename T>
void max_pool2d_forward(cudaStream_t stream, const T* x, Pool2dGeometry g, T* y, int64_t* argmax);
template <typename T>
void max_pool2d_backward(cudaStream_t stream, const T* grad_y, const int64_t* argmax,
                         Pool2dGeometry g, T* grad_x);
template <typename T>
void avg_pool2d_forward(cudaStream_t stream, const T* x, Pool2dGeometry g, bool count_include_pad,
                        T* y);
template <typename T>
void avg_pool2d_backward(cudaStream_t stream, const T* grad_y, Pool2dGeometry g,
                         bool count_include_pad, T* grad_x);
template <typename T>
void global_avg_pool2d_forward(cudaStream_t stream, const T* x, int64_t planes, int64_t HW, T* y);
template <typename T>
void global_avg_pool2d_backward(cudaStream_t stream, const T* grad_y, int64_t planes, int64_t HW,
                                T* grad_x);
}  // namespace cuda
#endif

}  // namespace wsvis::kernels
