// Shape ops: reshape, flatten, permute, concat, slice, index_select, gather.
//
// Tensors are always contiguous, so only reshape/flatten share storage with their input; every
// other op copies into a fresh tensor. All ops accept every dtype in the forward pass; gradients
// flow only through floating tensors. Backward of every op here returns a fresh gradient per
// input (nothing is accumulated in place).
#pragma once

#include <cstdint>
#include <vector>

#include "engine/tensor.h"

namespace wsvis::ops {

// a: any shape -> `shape` (one entry may be -1, inferred). Shares a's storage (Tensor::view);
// the backward reshapes the gradient back to a's shape. torch.reshape on a contiguous tensor.
Tensor reshape(const Tensor& a, const Shape& shape);

// (d0, ..., d_{s-1}, d_s, ..., d_last) -> (d0, ..., d_{s-1}, d_s * ... * d_last); e.g.
// (N, C, H, W) -> (N, C*H*W) for start_dim 1. A 0-d tensor becomes (1,). torch.flatten.
Tensor flatten(const Tensor& a, int start_dim = 1);

// out.size(i) == a.size(order[i]); `order` is a permutation of 0..a.dim()-1 (negative entries
// count from the end). Copies into the new layout. torch.permute(...).contiguous().
Tensor permute(const Tensor& a, const std::vector<int>& order);

// torch.cat: all tensors of one dtype, one context and one rank >= 1, equal sizes except along
// `dim` (negative counts from the end). The list must not be empty.
Tensor concat(const std::vector<Tensor>& xs, int dim);

// a[..., start:end:step, ...] along `dim`, as a copy. Python/torch slicing: negative start/end
// count from the end, then both are clamped to [0, size]; end < start gives an empty slice;
// step must be >= 1.
Tensor slice(const Tensor& a, int dim, int64_t start, int64_t end, int64_t step = 1);

// torch.index_select: a (..., D, ...) and index i64 (K,) with values in [0, D) -> (..., K, ...).
// Backward scatter-adds into a zero gradient, so duplicate indices accumulate.
Tensor index_select(const Tensor& a, int dim, const Tensor& index);

// torch.gather: index i64 with a.dim() dims, index.size(d) <= a.size(d) for d != dim, values
// along `dim` in [0, a.size(dim)); out has index's shape and
// out[i0, .., id, ..] = a[i0, .., index[i0, .., id, ..], ..]. Backward scatter-adds.
Tensor gather(const Tensor& a, int dim, const Tensor& index);

namespace detail {
// Shared with the loss ops: throws an Error naming the first value of `index` (i64, any shape,
// same context as the caller's tensors) outside [0, size) that is not `ignore` (when
// has_ignore). Costs one small device-to-host copy on CUDA.
void check_index_range(const Tensor& index, int64_t size, bool has_ignore, int64_t ignore,
                       const char* op, const char* what);
}  // namespace detail

}  // namespace wsvis::ops
