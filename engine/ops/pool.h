// 2-d pooling ops with torch semantics (dilation 1). Kernels in kernels/pool.h (CPU twin
// kernels/cpu/pool.cpp, CUDA twin kernels/cuda/pool.cu). Backward is deterministic on both
// devices (the CUDA backward gathers per input element, no atomics) and returns fresh gradients.
#pragma once

#include "engine/ops/types.h"
#include "engine/tensor.h"

namespace wsvis::ops {

// torch.nn.functional.max_pool2d(x, kernel, stride, padding, dilation=1, ceil_mode).
//   x: (N, C, H, W) -> (N, C, OH, OW) with
//   OH = floor_or_ceil((H + 2 * padding.h - kernel.h) / stride.h) + 1 (in ceil mode the last
//   window must start inside the input or the top padding), likewise OW.
// Padding counts as -inf; padding must be at most half the kernel (as torch). Ties pick the
// first maximum in row-major window order; the gradient goes to that element only.
Tensor max_pool2d(const Tensor& x, Size2 kernel, Size2 stride, Size2 padding = 0,
                  bool ceil_mode = false);

// torch.nn.functional.avg_pool2d(x, kernel, stride, padding, ceil_mode, count_include_pad).
//   x: (N, C, H, W) -> (N, C, OH, OW), output size as max_pool2d. Padding counts as zeros; the
//   divisor is the window clipped to the padded input (count_include_pad) or to the input.
Tensor avg_pool2d(const Tensor& x, Size2 kernel, Size2 stride, Size2 padding = 0,
                  bool ceil_mode = false, bool count_include_pad = true);

// torch.nn.functional.adaptive_avg_pool2d(x, 1): x: (N, C, H, W) -> (N, C, 1, 1), the mean of
// each plane (H * W > 0).
Tensor global_avg_pool2d(const Tensor& x);

}  // namespace wsvis::ops
