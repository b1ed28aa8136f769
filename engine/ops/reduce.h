// Reductions with autograd: sum, mean, max along a dim, softmax and log_softmax.
//
// Floating tensors only (f32, or f64 on the CPU). Dims may be negative (counted from the
// end). A 0-d tensor (shape ()) may be reduced; it accepts dim 0 or -1 as torch does.
// Results are deterministic: each output is reduced in a fixed order (no atomics).
#pragma once

#include <vector>

#include "engine/tensor.h"

namespace wsvis::ops {

// a: (D0, ..., Dk) -> the dims in `dims` removed (or kept as size 1 with keepdim). An empty
// `dims` reduces every dim. Repeated dims are an error. Matches torch.sum(a, dims, keepdim);
// reducing a dim of size 0 gives 0. Backward: the gradient repeated along the reduced dims.
Tensor sum(const Tensor& a, const std::vector<int>& dims, bool keepdim = false);
// Every element -> a 0-d tensor, shape ().
Tensor sum(const Tensor& a);
// As sum, divided by the number of reduced elements (torch.mean; NaN when that is 0).
Tensor mean(const Tensor& a, const std::vector<int>& dims, bool keepdim = false);
Tensor mean(const Tensor& a);

// a: (..., D, ...) along `dim` -> values and i64 indices of shape (...) (or (..., 1, ...)
// with keepdim). Matches torch.max(a, dim, keepdim), with the index fixed to the FIRST
// occurrence of the maximum (torch leaves ties unspecified). NaN counts as the maximum, so a
// NaN propagates (as in torch), the first NaN's index is returned. D must be >= 1.
// Backward: the gradient goes to the returned argmax element only; indices carry no gradient.
struct MaxResult {
  Tensor values;
  Tensor indices;
};
MaxResult max(const Tensor& a, int dim, bool keepdim = false);

// a: (..., D, ...) -> same shape, normalised along `dim`. Max-subtracted, so large inputs do
// not overflow. Match torch.softmax / torch.log_softmax. Backward from the output y:
// softmax: y * (g - sum_dim(g * y)); log_softmax: g - exp(y) * sum_dim(g).
Tensor softmax(const Tensor& a, int dim);
Tensor log_softmax(const Tensor& a, int dim);

namespace detail {
// The engine of sum / mean / sum_to_shape: sums `a` over the dims flagged in `reduce_mask`
// (one flag per dim of a), multiplies by `scale`, and returns a tensor of `out_shape`, which
// must have as many elements as a with the flagged dims set to 1. Records autograd as
// `name`. An all-false mask copies (times scale).
Tensor reduce_sum(const Tensor& a, const std::vector<bool>& reduce_mask, const Shape& out_shape,
                  double scale, const char* name);
}  // namespace detail

}  // namespace wsvis::ops
