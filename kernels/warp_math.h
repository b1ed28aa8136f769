// Per-pixel maths shared by the CPU and CUDA twins of the warp family (kernels/warp.h): where
// a pixel samples its source, the four bilinear taps with torch.nn.functional.grid_sample's
// weights and bounds rules, and the derivative of the sample with respect to the source point.
// The twins differ only in how they schedule pixels and channels.
#pragma once

#include <math.h>

#include <cstdint>

#include "kernels/common.h"

namespace wsvis::kernels {

// What a tap outside the image contributes (grid_sample's padding_mode; align_corners is
// always false here).
enum class WarpPadding : int {
  zeros = 0,   // out-of-range taps contribute 0
  border = 1,  // the source point is clamped to [0, size - 1] before the weights are formed
};

WSVIS_HD inline float warp_floor(float v) { return floorf(v); }
WSVIS_HD inline double warp_floor(double v) { return floor(v); }

// Source coordinate along one axis for output index p displaced by d.
//
// grid_sample with align_corners=false maps a pixel coordinate s to g = (2s + 1)/size - 1 and
// back to ((g + 1) size - 1)/2 = s, so the point it samples in its own pixel space is exactly
// p + d; we skip the round trip (torch's result differs from ours only by the float rounding
// of that round trip). Border padding clamps to [0, size - 1] and, like torch's
// clip_coordinates_set_grad, passes a zero derivative when the point is on or past an edge.
// Zeros padding pulls far-away points (and NaN) to just outside the image, where all taps are
// out of range and contribute nothing, so floor() never overflows an integer (torch uses -100
// for the same purpose); the derivative there is irrelevant because no tap contributes.
template <typename T>
WSVIS_HD inline T warp_source_coord(int64_t p, T d, int64_t size, WarpPadding padding,
                                    T* grad_mult) {
  T s = static_cast<T>(p) + d;
  *grad_mult = T(1);
  if (padding == WarpPadding::border) {
    const T hi = static_cast<T>(size - 1);
    if (!(s > T(0))) {  // also catches NaN
      *grad_mult = T(0);
      return T(0);
    }
    if (s >= hi) {
      *grad_mult = T(0);
      return hi;
    }
    return s;
  }
  if (!(s > T(-2))) return T(-2);
  if (!(s < static_cast<T>(size + 1))) return static_cast<T>(size + 1);
  return s;
}

// The four taps around a source point (ix, iy): north-west corner (x0, y0), east neighbour
// x0 + 1, south neighbour y0 + 1. Weights are formed exactly as torch forms them:
// nw = (x1 - ix)(y1 - iy), ne = (ix - x0)(y1 - iy), sw = (x1 - ix)(iy - y0), se = (ix - x0)(iy - y0).
// Tap order 0..3 = nw, ne, sw, se (the backward scatter and its deterministic gather both use
// this order, so their summation orders match).
template <typename T>
struct WarpTaps {
  int64_t x0, y0;
  T wx0, wx1;  // x1 - ix, ix - x0
  T wy0, wy1;  // y1 - iy, iy - y0
  bool in_x0, in_x1, in_y0, in_y1;

  WSVIS_HD bool valid(int tap) const {
    return ((tap & 1) ? in_x1 : in_x0) && ((tap & 2) ? in_y1 : in_y0);
  }
  WSVIS_HD T weight(int tap) const { return ((tap & 1) ? wx1 : wx0) * ((tap & 2) ? wy1 : wy0); }
  // Flat offset of the tap inside an (H, W) plane; meaningful only when valid(tap).
  WSVIS_HD int64_t offset(int tap, int64_t W) const {
    return (y0 + ((tap >> 1) & 1)) * W + x0 + (tap & 1);
  }
};

template <typename T>
WSVIS_HD inline WarpTaps<T> warp_taps(T ix, T iy, int64_t H, int64_t W) {
  WarpTaps<T> t;
  const T fx = warp_floor(ix), fy = warp_floor(iy);
  t.x0 = static_cast<int64_t>(fx);
  t.y0 = static_cast<int64_t>(fy);
  t.wx0 = (fx + T(1)) - ix;
  t.wx1 = ix - fx;
  t.wy0 = (fy + T(1)) - iy;
  t.wy1 = iy - fy;
  t.in_x0 = t.x0 >= 0 && t.x0 < W;
  t.in_x1 = t.x0 + 1 >= 0 && t.x0 + 1 < W;
  t.in_y0 = t.y0 >= 0 && t.y0 < H;
  t.in_y1 = t.y0 + 1 >= 0 && t.y0 + 1 < H;
  return t;
}

// Everything one output pixel (y, x) of image n needs: its taps and the derivatives of its
// source point with respect to the flow (0 or 1 each). flow: (N, 2, H, W).
template <typename T>
struct WarpPixel {
  WarpTaps<T> taps;
  T gx_mult, gy_mult;
};

template <typename T>
WSVIS_HD inline WarpPixel<T> warp_pixel(const T* flow, int64_t n, int64_t y, int64_t x,
                                        int64_t H, int64_t W, WarpPadding padding) {
  const int64_t plane = H * W;
  const T* f = flow + n * 2 * plane + y * W + x;
  WarpPixel<T> px;
  const T ix = warp_source_coord(x, f[0], W, padding, &px.gx_mult);
  const T iy = warp_source_coord(y, f[plane], H, padding, &px.gy_mult);
  px.taps = warp_taps(ix, iy, H, W);
  return px;
}

// Bilinear sample of one (H, W) plane; out-of-range taps contribute 0.
template <typename T>
WSVIS_HD inline T warp_sample(const T* plane, const WarpTaps<T>& t, int64_t W) {
  T v = T(0);
  for (int tap = 0; tap < 4; ++tap)
    if (t.valid(tap)) v += t.weight(tap) * plane[t.offset(tap, W)];
  return v;
}

// d(sample)/d(ix) and d(sample)/d(iy) of one plane at the taps (before the clamp factor).
template <typename T>
WSVIS_HD inline void warp_sample_grad(const T* plane, const WarpTaps<T>& t, int64_t W, T* dx,
                                      T* dy) {
  T v[4];
  for (int tap = 0; tap < 4; ++tap) v[tap] = t.valid(tap) ? plane[t.offset(tap, W)] : T(0);
  // sample = wy0 (wx0 v_nw + wx1 v_ne) + wy1 (wx0 v_sw + wx1 v_se), d wx1/d ix = 1 = -d wx0/d ix.
  *dx = t.wy0 * (v[1] - v[0]) + t.wy1 * (v[3] - v[2]);
  *dy = t.wx0 * (v[2] - v[0]) + t.wx1 * (v[3] - v[1]);
}

// Mask warping: a mask value as a float in [0, 1]. uint8 masks are binary (any non-zero byte
// is foreground), so masks stored as 0/1 and as 0/255 warp alike; float masks are used as is.
WSVIS_HD inline float mask_value(uint8_t v) { return v ? 1.0f : 0.0f; }
WSVIS_HD inline float mask_value(float v) { return v; }

// The warped mask is foreground where the warped value is at least this (detectron2's and the
// YTVIS tooling's `>= 0.5` convention).
constexpr float kMaskThreshold = 0.5f;

// Warped mask value at one pixel (zeros padding), thresholded.
template <typename V>
WSVIS_HD inline bool mask_sample(const V* plane, const WarpTaps<float>& t, int64_t W) {
  float v = 0.0f;
  for (int tap = 0; tap < 4; ++tap)
    if (t.valid(tap)) v += t.weight(tap) * mask_value(plane[t.offset(tap, W)]);
  return v >= kMaskThreshold;
}

}  // namespace wsvis::kernels
