// Small tensor helpers the stages share.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/tensor.h"

namespace wsvis::pipeline {

// torch.flip(x, [-1]) (no autograd needed by the callers, but it records like index_select).
Tensor flip_width(const Tensor& x);
// x[..., :h, :w] of an (..., H, W) tensor.
Tensor crop_hw(const Tensor& x, int64_t h, int64_t w);
// Each plane c of (C, H, W) divided by (its max + eps) (IRN's adaptive_max_pool2d + 1e-5).
Tensor normalise_planes_by_max(const Tensor& x, double eps = 1e-5);
// ceil(n / d)
inline int64_t ceil_div(int64_t n, int64_t d) { return (n + d - 1) / d; }

}  // namespace wsvis::pipeline
