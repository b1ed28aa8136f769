// Elementwise ops with autograd: binary ops with numpy/torch broadcasting, unary maths,
// scalar arithmetic, and sum_to_shape (the backward of broadcasting).
//
// Every op takes floating tensors (f32, or f64 on the CPU) on one context and returns a new
// contiguous tensor; integer dtypes are rejected with an error. 0-d tensors (shape ()) are
// accepted everywhere. Gradients are returned to autograd, which accumulates them (`+=`)
// into leaves.
#pragma once

#include "engine/tensor.h"

namespace wsvis::ops {

// ---- binary, with broadcasting ----------------------------------------------------------
// a: (A...), b: (B...) -> (broadcast(A, B)...): shapes are aligned at their last dim; each
// pair of sizes must be equal or one of them 1 (which then repeats), missing leading dims
// count as 1. Same dtype and context required. Match torch.add / sub / mul / div (true
// division). Backward: d/da and d/db summed over each input's broadcast dims.
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);

// ---- scalar and unary: x: (any) -> same shape -------------------------------------------
Tensor add_scalar(const Tensor& a, double s);  // a + s
Tensor mul_scalar(const Tensor& a, double s);  // a * s
Tensor neg(const Tensor& a);                   // -a
Tensor exp(const Tensor& a);                   // torch.exp
Tensor log(const Tensor& a);                   // torch.log (natural; -inf at 0, NaN below)
Tensor sqrt(const Tensor& a);                  // torch.sqrt
// torch.pow(a, exponent); the gradient is exponent * a^(exponent-1), and 0 when exponent == 0.
Tensor pow(const Tensor& a, double exponent);
Tensor abs(const Tensor& a);                   // torch.abs; gradient sign(a), 0 at a == 0
// torch.clamp(a, lo, hi) = min(max(a, lo), hi): NaN stays NaN, lo > hi gives hi everywhere.
// Gradient passes where lo <= a <= hi (boundaries included), 0 elsewhere.
Tensor clamp(const Tensor& a, double lo, double hi);
Tensor relu(const Tensor& a);     // torch.relu; gradient 0 where a <= 0 (so 0 at a == 0)
Tensor sigmoid(const Tensor& a);  // torch.sigmoid, no overflow for large |a|

// g: (G...) -> `shape`, summing g over the dims along which `shape` broadcasts to G (the
// leading dims `shape` lacks and the dims where it has size 1). `shape` must broadcast to
// G. Records autograd like ops::sum (its backward broadcasts back).
Tensor sum_to_shape(const Tensor& g, const Shape& shape);

namespace detail {
// The shape two broadcast shapes produce; throws naming `op` and both shapes if they do not
// broadcast.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);
// scale * g repeated along the dims of `shape` where g's shape (aligned at the end) has size
// 1 or is missing: the backward of a reduction. No autograd. g must broadcast to `shape`.
Tensor broadcast_to(const Tensor& g, const Shape& shape, double scale = 1.0);
}  // namespace detail

}  // namespace wsvis::ops

namespace wsvis {

// Readable arithmetic: the operators call the ops above (a / s is a true division by s, and
// s - a, s / a are computed directly, not as two ops).
Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a);
Tensor operator+(const Tensor& a, double s);
Tensor operator-(const Tensor& a, double s);
Tensor operator*(const Tensor& a, double s);
Tensor operator/(const Tensor& a, double s);
Tensor operator+(double s, const Tensor& a);
Tensor operator-(double s, const Tensor& a);
Tensor operator*(double s, const Tensor& a);
Tensor operator/(double s, const Tensor& a);

}  // namespace wsvis
