// Per-element maths of the flowIRN kernels (kernels/flowirn.h), shared by the CPU and CUDA
// twins: order-preserving keys for the exact percentile, the f-CAM factor, the flow gradient
// stencil, the pair rectangle of one IRN direction and the flow-boundary pair term.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "kernels/common.h"

namespace wsvis::kernels::flowirn_math {

// ---- percentile -------------------------------------------------------------------------------

// Rank of the q-th quantile (q in [0, 1]) among n values, numpy's method "lower":
// k = floor(q * (n - 1)), so q = 0 is the minimum and q = 1 the maximum. Both twins select the
// k-th smallest value (0-based) for this k.
inline int64_t percentile_rank(int64_t n, double q) {
  if (n <= 0) return 0;
  const double r = std::floor(q * static_cast<double>(n - 1));
  int64_t k = static_cast<int64_t>(r);
  if (k < 0) k = 0;
  if (k > n - 1) k = n - 1;
  return k;
}

// Order-preserving unsigned keys: a < b (as numbers) implies key(a) < key(b); -0 sorts just
// below +0 (they compare equal as numbers, so either is "the" k-th value). NaN is outside the
// contract of the selection.
template <typename T>
struct RadixKey;
template <>
struct RadixKey<float> {
  using K = uint32_t;
  static constexpr int kBits = 32;
  WSVIS_HD static K to(float v) {
#if defined(__CUDA_ARCH__)
    const K b = __float_as_uint(v);
#else
    K b;
    std::memcpy(&b, &v, sizeof b);
#endif
    return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
  }
  WSVIS_HD static float from(K k) {
    const K b = (k & 0x80000000u) ? (k & 0x7fffffffu) : ~k;
#if defined(__CUDA_ARCH__)
    return __uint_as_float(b);
#else
    float v;
    std::memcpy(&v, &b, sizeof v);
    return v;
#endif
  }
};
template <>
struct RadixKey<double> {
  using K = unsigned long long;
  static constexpr int kBits = 64;
  WSVIS_HD static K to(double v) {
#if defined(__CUDA_ARCH__)
    const K b = static_cast<K>(__double_as_longlong(v));
#else
    K b;
    std::memcpy(&b, &v, sizeof b);
#endif
    return (b >> 63) ? ~b : (b | (1ull << 63));
  }
  WSVIS_HD static double from(K k) {
    const K b = (k >> 63) ? (k & ~(1ull << 63)) : ~k;
#if defined(__CUDA_ARCH__)
    return __longlong_as_double(static_cast<long long>(b));
#else
    double v;
    std::memcpy(&v, &b, sizeof v);
    return v;
#endif
  }
};

// Radix select works on 8-bit digits, most significant first.
constexpr int kRadixBits = 8;
constexpr int kRadixBins = 1 << kRadixBits;

// ---- f-CAM and flow ---------------------------------------------------------------------------

WSVIS_HD inline float fl_sqrt(float x) { return sqrtf(x); }
WSVIS_HD inline double fl_sqrt(double x) { return sqrt(x); }

// ||(u, v)||_2, without FMA contraction so that both twins compute the same bits and select
// the same percentile from the same flow.
template <typename T>
WSVIS_HD inline T flow_magnitude(T u, T v) {
  return fl_sqrt(mul_rn(u, u) + mul_rn(v, v));
}

// f-CAM_c(x) = CAM_c(x) * A^[ ||F(x)|| > T ]: the factor is A where the magnitude is strictly
// above the threshold, else 1 (the seed paper, eq. 2).
template <typename T>
WSVIS_HD inline T fcam_value(T cam, T magnitude, T threshold, T amplification) {
  return magnitude > threshold ? cam * amplification : cam;
}

// F' at pixel (y, x) of an H x W flow (channel planes u, v): forward differences
//   (du/dx, du/dy, dv/dx, dv/dy) * scale,
// with the difference across the last column (row) taken as 0 (replicate padding).
// [UNPINNED in the spec; our choice, as section 7 states it: forward differences of both
// channels on the stride-4 grid, scale = 1/4 when the flow is in image pixels.]
template <typename T>
WSVIS_HD inline void flow_gradient_at(const T* u, const T* v, int64_t H, int64_t W, int64_t y,
                                      int64_t x, T scale, T out[4]) {
  const int64_t p = y * W + x;
  const bool right = x + 1 < W, down = y + 1 < H;
  out[0] = right ? (u[p + 1] - u[p]) * scale : T(0);
  out[1] = down ? (u[p + W] - u[p]) * scale : T(0);
  out[2] = right ? (v[p + 1] - v[p]) * scale : T(0);
  out[3] = down ? (v[p + W] - v[p]) * scale : T(0);
}

// ---- the pair set -------------------------------------------------------------------------
// The pairs are kernels/irn.h's (IrnPairSet: IRN's directions in IRN's order, and its training
// source crop): pair (source (y, x), direction d) exists when the destination
// (y + dy[d], x + dx[d]) is inside the image and, with `crop`, the source is inside IRN's crop
// (rows < H - rf, rf <= columns < W - rf, rf = radius - 1). For one direction these sources
// form the rectangle rows [0, y_end) x columns [x_begin, x_end) (dy >= 0 always).
struct PairRange {
  int64_t y_end, x_begin, x_end;
  WSVIS_HD int64_t count() const {
    return y_end > 0 && x_end > x_begin ? y_end * (x_end - x_begin) : 0;
  }
  WSVIS_HD bool contains(int64_t y, int64_t x) const {
    return y < y_end && x >= x_begin && x < x_end;
  }
};

WSVIS_HD inline PairRange pair_range(int64_t H, int64_t W, int dy, int dx, int radius, bool crop) {
  const int64_t rf = radius - 1;
  PairRange r;
  r.y_end = H - dy;
  r.x_begin = dx < 0 ? -dx : 0;
  r.x_end = dx > 0 ? W - dx : W;
  if (crop) {
    if (r.y_end > H - rf) r.y_end = H - rf;
    if (r.x_begin < rf) r.x_begin = rf;
    if (r.x_end > W - rf) r.x_end = W - rf;
  }
  return r;
}

// ---- flow-boundary loss -----------------------------------------------------------------------

// ||F'(i) - F'(j)||_2 over the 4 gradient components; g planes are P apart.
template <typename T>
WSVIS_HD inline T gradient_distance(const T* g, int64_t P, int64_t i, int64_t j) {
  T s = T(0);
  for (int c = 0; c < 4; ++c) {
    const T d = g[c * P + i] - g[c * P + j];
    s += d * d;
  }
  return fl_sqrt(s);
}

// Per-pair term ||dF'|| * alpha + lambda * |1 - alpha| and its derivative in alpha. At
// alpha = 1 the derivative of |1 - alpha| is taken from below (-1): alpha = 1 - max(sigmoid)
// never exceeds 1, so the loss is used on alpha <= 1 where |1 - alpha| = 1 - alpha.
template <typename T>
WSVIS_HD inline T flow_boundary_term(T dist, T alpha, T lambda) {
  const T r = T(1) - alpha;
  return dist * alpha + lambda * (r < T(0) ? -r : r);
}
template <typename T>
WSVIS_HD inline T flow_boundary_dterm(T dist, T alpha, T lambda) {
  return dist + (alpha > T(1) ? lambda : -lambda);
}

}  // namespace wsvis::kernels::flowirn_math
