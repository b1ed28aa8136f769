// Index maths of the upsampling kernels, shared by the CPU and CUDA twins so both pick the same
// source pixels and weights bit for bit. Follows torch's UpSample.h:
//   nearest: src = min(floor(dst * (float)in / out), in - 1), in float as torch;
//   bilinear: scale = align_corners ? (in - 1) / (out - 1) : in / out, and
//             src = align_corners ? scale * dst : max(scale * (dst + 0.5) - 0.5, 0),
//             i0 = min(floor(src), in - 1), i1 = i0 + (i0 < in - 1), l1 = clamp(src - i0, 0, 1),
//             computed in T (float for f32, double for f64).
// The backward gathers need, for an input index, the outputs that read it: the source index is
// non-decreasing in dst, so a binary search over dst with the same function finds them.
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/common.h"

namespace wsvis::kernels {

WSVIS_HD inline int64_t nearest_source_index(int64_t dst, int64_t in, int64_t out) {
  if (out == in) return dst;
  if (out == 2 * in) return dst >> 1;
  const float scale = static_cast<float>(in) / static_cast<float>(out);
  const int64_t src = static_cast<int64_t>(floorf(static_cast<float>(dst) * scale));
  return src < in - 1 ? src : in - 1;
}

// Smallest dst in [0, out] with nearest_source_index(dst) >= target (out when none).
WSVIS_HD inline int64_t nearest_first_output(int64_t target, int64_t in, int64_t out) {
  int64_t lo = 0, hi = out;
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo) / 2;
    if (nearest_source_index(mid, in, out) >= target)
      hi = mid;
    else
      lo = mid + 1;
  }
  return lo;
}

template <typename T>
WSVIS_HD inline T bilinear_scale(int64_t in, int64_t out, bool align_corners) {
  if (align_corners) return out > 1 ? static_cast<T>(in - 1) / static_cast<T>(out - 1) : T(0);
  return static_cast<T>(in) / static_cast<T>(out);
}

// The two source indices along one axis and their weights: out = l0 * x[i0] + l1 * x[i1].
template <typename T>
struct LinearTap {
  int64_t i0, i1;
  T l0, l1;
};

// Source positions use mul_rn (kernels/common.h): an FMA-contracted a * b - c would shift
// them by an ulp relative to the CPU twin.

template <typename T>
WSVIS_HD inline LinearTap<T> bilinear_tap(T scale, int64_t dst, int64_t in, bool align_corners) {
  T src;
  if (align_corners) {
    src = mul_rn(scale, static_cast<T>(dst));
  } else {
    src = mul_rn(scale, static_cast<T>(dst) + T(0.5)) - T(0.5);
    src = src > T(0) ? src : T(0);
  }
  int64_t i0 = static_cast<int64_t>(floor(src));
  i0 = i0 < in - 1 ? i0 : in - 1;
  T l1 = src - static_cast<T>(i0);
  l1 = l1 < T(0) ? T(0) : (l1 > T(1) ? T(1) : l1);
  return {i0, i0 + (i0 < in - 1 ? 1 : 0), T(1) - l1, l1};
}

// The weight with which input index i enters through this tap (both taps may name i).
template <typename T>
WSVIS_HD inline T tap_weight(const LinearTap<T>& tap, int64_t i) {
  return (tap.i0 == i ? tap.l0 : T(0)) + (tap.i1 == i ? tap.l1 : T(0));
}

// Smallest dst in [0, out] whose tap has i0 >= target (out when none).
template <typename T>
WSVIS_HD inline int64_t bilinear_first_output(int64_t target, T scale, int64_t in, int64_t out,
                                              bool align_corners) {
  int64_t lo = 0, hi = out;
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo) / 2;
    if (bilinear_tap<T>(scale, mid, in, align_corners).i0 >= target)
      hi = mid;
    else
      lo = mid + 1;
  }
  return lo;
}

// One bilinear output value from an (H, W) plane with row width W.
template <typename T>
WSVIS_HD inline T bilinear_sample(const T* plane, int64_t W, const LinearTap<T>& th,
                                  const LinearTap<T>& tw) {
  return th.l0 * (tw.l0 * plane[th.i0 * W + tw.i0] + tw.l1 * plane[th.i0 * W + tw.i1]) +
         th.l1 * (tw.l0 * plane[th.i1 * W + tw.i0] + tw.l1 * plane[th.i1 * W + tw.i1]);
}

}  // namespace wsvis::kernels
