// Normalisation ops: batch norm, detectron2's frozen batch norm, group norm.
// Kernels in kernels/norm.h (CPU twin kernels/cpu/norm.cpp, CUDA twins kernels/cuda/batch_norm.cu
// and kernels/cuda/group_norm.cu). Statistics reductions are deterministic on both devices.
// Backward returns fresh gradient tensors (autograd accumulates them).
#pragma once

#include "engine/tensor.h"

namespace wsvis::ops {

// torch.nn.functional.batch_norm.
//   x: (N, C, H, W) or (N, C); weight, bias, running_mean, running_var: (C), same dtype and
//   context as x. weight and/or bias may be undefined (affine = false: weight 1, bias 0).
// training = true: normalises with the batch statistics over (N, H, W) (biased variance) and,
//   when running_mean/running_var are defined, UPDATES THEM IN PLACE (they are buffers, not
//   autograd inputs: their storage is written, no node is recorded for them):
//     running_mean = (1 - momentum) * running_mean + momentum * batch_mean
//     running_var  = (1 - momentum) * running_var  + momentum * batch_var_unbiased
//   Both must be defined or both undefined (torch's track_running_stats = false). Needs more
//   than one value per channel (N * H * W > 1), as torch.
// training = false (eval): normalises with running_mean/running_var (both required), which are
//   read once at call time (backward uses that snapshot even if they are updated later).
// Gradients flow to x, weight and bias in both modes; in training mode grad_x includes the
// dependence of the batch statistics on x.
Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias,
                  const Tensor& running_mean, const Tensor& running_var, bool training,
                  double momentum = 0.1, double eps = 1e-5);

// detectron2's FrozenBatchNorm2d: y = x * scale + shift with
//   scale = weight / sqrt(running_var + eps), shift = bias - running_mean * scale.
//   x: (N, C, H, W) or (N, C); weight, bias, running_mean, running_var: (C), all four required.
// All four are fixed buffers: the gradient flows to x only (grad_x = grad_y * scale), even if
// one of them requires grad.
Tensor frozen_batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias,
                         const Tensor& running_mean, const Tensor& running_var,
                         double eps = 1e-5);

// torch.nn.functional.group_norm.
//   x: (N, C, H, W) or (N, C), with C divisible by groups; statistics per (sample, group) over
//   the group's C / groups channels and all positions (biased variance).
//   weight, bias: (C) or undefined (weight 1, bias 0).
// Gradients flow to x, weight and bias. N may be 0 (returns an empty tensor).
Tensor group_norm(const Tensor& x, int groups, const Tensor& weight, const Tensor& bias,
                  double eps = 1e-5);

}  // namespace wsvis::ops
