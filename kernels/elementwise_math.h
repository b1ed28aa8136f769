// Per-element maths of the elementwise family, shared by the CPU and CUDA twins so that they
// differ only in scheduling. Each function takes the op as a (usually compile-time constant)
// argument; the twins instantiate one loop per op so the switch folds away.
#pragma once

#include <math.h>

#include <cstdint>

#include "kernels/common.h"
#include "kernels/elementwise.h"

namespace wsvis::kernels {

// Type-exact libm calls (float stays float on host and device).
WSVIS_HD inline float ew_exp(float x) { return expf(x); }
WSVIS_HD inline double ew_exp(double x) { return ::exp(x); }
WSVIS_HD inline float ew_log(float x) { return logf(x); }
WSVIS_HD inline double ew_log(double x) { return ::log(x); }
WSVIS_HD inline float ew_sqrt(float x) { return sqrtf(x); }
WSVIS_HD inline double ew_sqrt(double x) { return sqrt(x); }
WSVIS_HD inline float ew_pow(float x, float p) { return powf(x, p); }
WSVIS_HD inline double ew_pow(double x, double p) { return pow(x, p); }
WSVIS_HD inline float ew_abs(float x) { return fabsf(x); }
WSVIS_HD inline double ew_abs(double x) { return fabs(x); }
template <typename T>
WSVIS_HD inline bool ew_isnan(T x) {
  return x != x;
}

template <typename T>
WSVIS_HD inline T binary_apply(BinaryOp op, T a, T b) {
  switch (op) {
    case BinaryOp::add: return a + b;
    case BinaryOp::sub: return a - b;
    case BinaryOp::mul: return a * b;
    case BinaryOp::div: return a / b;
  }
  return T(0);
}

// Sigmoid without overflow: exp is only ever taken of a non-positive number.
template <typename T>
WSVIS_HD inline T ew_sigmoid(T x) {
  if (x >= T(0)) return T(1) / (T(1) + ew_exp(-x));
  const T e = ew_exp(x);
  return e / (T(1) + e);
}

template <typename T>
WSVIS_HD inline T unary_apply(UnaryOp op, T x, T p0, T p1) {
  switch (op) {
    case UnaryOp::neg: return -x;
    case UnaryOp::exp: return ew_exp(x);
    case UnaryOp::log: return ew_log(x);
    case UnaryOp::sqrt: return ew_sqrt(x);
    case UnaryOp::abs: return ew_abs(x);
    // `x < 0 ? 0 : x` keeps NaN as NaN, like torch.relu.
    case UnaryOp::relu: return x < T(0) ? T(0) : x;
    case UnaryOp::sigmoid: return ew_sigmoid(x);
    case UnaryOp::pow: return ew_pow(x, p0);
    // min(max(x, lo), hi) as torch.clamp: NaN propagates, lo > hi gives hi everywhere.
    case UnaryOp::clamp: {
      if (ew_isnan(x)) return x;
      const T low = x < p0 ? p0 : x;
      return low > p1 ? p1 : low;
    }
    case UnaryOp::add_scalar: return x + p0;
    case UnaryOp::mul_scalar: return x * p0;
    case UnaryOp::div_scalar: return x / p0;
    case UnaryOp::rsub_scalar: return p0 - x;
    case UnaryOp::rdiv_scalar: return p0 / x;
  }
  return T(0);
}

// Which tensor the backward of each op reads: the output y (exp, sqrt, relu, sigmoid), the
// input x (log, abs, pow, clamp, rdiv_scalar), or nothing (the rest: neg and the affine
// scalar ops have constant derivatives).
enum class UnarySaved : uint8_t { none, input, output };

WSVIS_HD inline UnarySaved unary_saved(UnaryOp op) {
  switch (op) {
    case UnaryOp::exp:
    case UnaryOp::sqrt:
    case UnaryOp::relu:
    case UnaryOp::sigmoid: return UnarySaved::output;
    case UnaryOp::log:
    case UnaryOp::abs:
    case UnaryOp::pow:
    case UnaryOp::clamp:
    case UnaryOp::rdiv_scalar: return UnarySaved::input;
    default: return UnarySaved::none;
  }
}

// grad_y * dy/dx, with `s` the saved value named by unary_saved(op) (ignored for `none`).
// Conventions at the kinks follow torch: relu' (0) = 0, abs' (0) = 0, clamp passes the
// gradient where lo <= x <= hi, pow with exponent 0 has gradient 0.
template <typename T>
WSVIS_HD inline T unary_grad(UnaryOp op, T g, T s, T p0, T p1) {
  switch (op) {
    case UnaryOp::neg: return -g;
    case UnaryOp::exp: return g * s;
    case UnaryOp::log: return g / s;
    case UnaryOp::sqrt: return g / (T(2) * s);
    case UnaryOp::abs: return s > T(0) ? g : (s < T(0) ? -g : T(0));
    case UnaryOp::relu: return s > T(0) ? g : T(0);
    case UnaryOp::sigmoid: return g * s * (T(1) - s);
    case UnaryOp::pow: return p0 == T(0) ? T(0) : g * p0 * ew_pow(s, p0 - T(1));
    case UnaryOp::clamp: return (s >= p0 && s <= p1) ? g : T(0);
    case UnaryOp::add_scalar: return g;
    case UnaryOp::mul_scalar: return g * p0;
    case UnaryOp::div_scalar: return g / p0;
    case UnaryOp::rsub_scalar: return -g;
    case UnaryOp::rdiv_scalar: return -g * p0 / (s * s);
  }
  return T(0);
}

// Offsets into a and b of the output element with row-major flat index `linear`.
WSVIS_HD inline void broadcast_offsets(const BroadcastGeometry& geo, int64_t linear,
                                       int64_t* off_a, int64_t* off_b) {
  int64_t a = 0, b = 0;
  for (int d = geo.ndim - 1; d >= 0; --d) {
    const int64_t size = geo.sizes[d];
    const int64_t idx = linear % size;
    linear /= size;
    a += idx * geo.stride_a[d];
    b += idx * geo.stride_b[d];
  }
  *off_a = a;
  *off_b = b;
}

}  // namespace wsvis::kernels
