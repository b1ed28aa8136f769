// Per-pixel maths of IRN's displacement-field inference, shared by the CPU and CUDA twins of
// kernels/irn_displacement.h. The arithmetic reproduces jiwoon-ahn/irn
// step/make_ins_seg_labels.py (find_centroids_with_refinement, cluster_centroids) operation for
// operation, including numpy's type promotion:
//   - the centroid positions are stored in the displacement's type T (float32 in IRN);
//   - the fractional parts, the bilinear weights, the weighted sum and the update are evaluated
//     in double (numpy promotes float32 - int32 to float64) and the new position is rounded
//     back to T;
//   - the four bilinear terms are added left to right in the order IRN writes them;
//   - the final rounding is half-to-even (np.round).
// Every operation goes through the *_rn helpers below: on the device they are the
// round-to-nearest intrinsics, which nvcc never fuses into FMAs, so both twins perform the same
// IEEE operations in the same order and agree bit for bit (the iteration is chaotic enough
// that a one-ulp difference can move a centroid to another pixel after 300 steps). The host
// build uses -std=c++17 without -march, where GCC does not contract either.
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/common.h"

namespace wsvis::kernels::irn_displacement_math {

// Arithmetic that must round as on the host uses mul_rn/add_rn (kernels/common.h).

// sqrt in the argument's own precision (numpy takes the float32 root of a float32 array).
WSVIS_HD inline float sqrt_t(float x) { return sqrtf(x); }
WSVIS_HD inline double sqrt_t(double x) { return sqrt(x); }

// One refinement step of the centroid (cy, cx) in an H x W displacement field
// dy_map = D[0], dx_map = D[1] (row-major, stride-4 units). The position is inside
// [0, H-1] x [0, W-1] on entry (it starts on a pixel and is clamped after every step), so the
// floor and ceil taps are always in the image.
template <typename T>
WSVIS_HD inline void centroid_step(const T* dy_map, const T* dx_map, int64_t H, int64_t W, T& cy,
                                   T& cx) {
  const int64_t uy = static_cast<int64_t>(ceil(double(cy))),
                ly = static_cast<int64_t>(floor(double(cy)));
  const int64_t ux = static_cast<int64_t>(ceil(double(cx))),
                lx = static_cast<int64_t>(floor(double(cx)));
  // numpy: centroid (float32) - floor (int32) -> float64, exact.
  const double fy = static_cast<double>(cy) - static_cast<double>(ly);
  const double fx = static_cast<double>(cx) - static_cast<double>(lx);
  const double gy = 1.0 - fy, gx = 1.0 - fx;  // exact too (fy, fx in [0, 1))
  const int64_t uu = uy * W + ux, lu = ly * W + ux, ul = uy * W + lx, ll = ly * W + lx;
  // IRN: D[uy,ux]*yc*xc + D[dy,ux]*(1-yc)*xc + D[uy,dx]*yc*(1-xc) + D[dy,dx]*(1-yc)*(1-xc),
  // evaluated left to right in float64.
  auto sample = [&](const T* m) {
    double s = mul_rn(mul_rn(static_cast<double>(m[uu]), fy), fx);
    s = add_rn(s, mul_rn(mul_rn(static_cast<double>(m[lu]), gy), fx));
    s = add_rn(s, mul_rn(mul_rn(static_cast<double>(m[ul]), fy), gx));
    s = add_rn(s, mul_rn(mul_rn(static_cast<double>(m[ll]), gy), gx));
    return s;
  };
  const double step_y = sample(dy_map), step_x = sample(dx_map);
  // `centroid += step` with a float32 array and a float64 step: added in float64, stored as T.
  T ny = static_cast<T>(add_rn(static_cast<double>(cy), step_y));
  T nx = static_cast<T>(add_rn(static_cast<double>(cx), step_x));
  // np.clip(c, 0, H-1). NaN displacements are outside the contract (the twins may differ).
  const T hi_y = static_cast<T>(H - 1), hi_x = static_cast<T>(W - 1);
  ny = ny < T(0) ? T(0) : (ny > hi_y ? hi_y : ny);
  nx = nx < T(0) ? T(0) : (nx > hi_x ? hi_x : nx);
  cy = ny;
  cx = nx;
}

// The converged centroid of pixel (y, x) after `iterations` steps, rounded half-to-even
// (np.round) to integer (row, column).
template <typename T>
WSVIS_HD inline void find_centroid(const T* disp, int64_t H, int64_t W, int iterations, int64_t y,
                                   int64_t x, int32_t& out_y, int32_t& out_x) {
  const T* dy_map = disp;
  const T* dx_map = disp + H * W;
  T cy = static_cast<T>(y), cx = static_cast<T>(x);
  for (int it = 0; it < iterations; ++it) centroid_step(dy_map, dx_map, H, W, cy, cx);
  // rint rounds half to even in the default rounding mode, on the host and the device.
  out_y = static_cast<int32_t>(rint(double(cy)));
  out_x = static_cast<int32_t>(rint(double(cx)));
}

// IRN's weak-displacement test: sqrt(dx^2 + dy^2) < threshold, in T (float32 in IRN, with dx
// squared first as IRN writes it).
template <typename T>
WSVIS_HD inline bool weak_displacement(T dy, T dx, T threshold) {
  const T m2 = add_rn(mul_rn(dx, dx), mul_rn(dy, dy));
  return sqrt_t(m2) < threshold;
}

}  // namespace wsvis::kernels::irn_displacement_math
