// Resizing ops with an explicit output size (up- or downsampling), torch F.interpolate
// semantics. Kernels in kernels/upsample.h (CPU twin kernels/cpu/upsample.cpp, CUDA twin
// kernels/cuda/upsample.cu, shared index maths kernels/upsample_math.h). Backward is the exact
// adjoint, deterministic on both devices, and returns fresh gradients.
#pragma once

#include "engine/tensor.h"

namespace wsvis::ops {

// F.interpolate(x, size=(out_h, out_w), mode='nearest').
//   x: (N, C, H, W) -> (N, C, out_h, out_w); output (oh, ow) copies input
//   (min(floor(oh * (float)H / out_h), H - 1), likewise for w) - torch's legacy 'nearest', not
//   'nearest-exact'.
Tensor upsample_nearest2d(const Tensor& x, int out_h, int out_w);

// F.interpolate(x, size=(out_h, out_w), mode='bilinear', align_corners=align_corners), without
// antialiasing.
//   x: (N, C, H, W) -> (N, C, out_h, out_w). align_corners = false: source coordinate
//   (dst + 0.5) * H / out_h - 0.5 clamped at 0; true: dst * (H - 1) / (out_h - 1).
Tensor upsample_bilinear2d(const Tensor& x, int out_h, int out_w, bool align_corners = false);

}  // namespace wsvis::ops
