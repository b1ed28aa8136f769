// 2-D convolution and transposed convolution, NCHW, with groups, stride, padding, dilation.
// CPU: im2col + GEMM per image and group (kernels/im2col.h, kernels/gemm.h), f32 and f64.
// CUDA: cuDNN (engine/ops/conv_cudnn.cpp), f32, TF32 tensor cores when ctx.tf32().
// Backward returns new gradient tensors (autograd adds them into the leaves' .grad).
#pragma once

#include "engine/ops/types.h"
#include "engine/tensor.h"

namespace wsvis::ops {

struct Conv2dOptions {
  Size2 stride = 1;
  Size2 padding = 0;
  Size2 dilation = 1;
  int groups = 1;
};

// torch.nn.functional.conv2d (cross-correlation, zero padding).
// x: (N, C_in, H, W), weight: (C_out, C_in/groups, kh, kw), bias: (C_out) or undefined
// -> (N, C_out, H_out, W_out), H_out = (H + 2*pad_h - dil_h*(kh-1) - 1) / stride_h + 1.
// N may be 0; the kernel must fit in the padded input.
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias,
              const Conv2dOptions& opts = {});

struct ConvTranspose2dOptions {
  Size2 stride = 1;
  Size2 padding = 0;
  Size2 output_padding = 0;
  Size2 dilation = 1;
  int groups = 1;
};

// torch.nn.functional.conv_transpose2d: the adjoint (gradient w.r.t. input) of conv2d.
// x: (N, C_in, H, W), weight: (C_in, C_out/groups, kh, kw), bias: (C_out) or undefined
// -> (N, C_out, H_out, W_out),
// H_out = (H-1)*stride_h - 2*pad_h + dil_h*(kh-1) + output_padding_h + 1.
// output_padding must be smaller than the stride or the dilation (as in torch); on CUDA it
// must be smaller than the stride (cuDNN derives the shape from the forward formula).
Tensor conv_transpose2d(const Tensor& x, const Tensor& weight, const Tensor& bias,
                        const ConvTranspose2dOptions& opts = {});

namespace detail {
// The three convolution passes on preallocated tensors, in the terms of a forward conv2d:
// x: (N, C, H, W) its input, w: (K, C/groups, kh, kw), y: (N, K, P, Q) its output (P, Q are
// read from y's shape, so conv_transpose2d with output_padding uses them unchanged). Each
// overwrites its output. conv2d and conv_transpose2d are built from these, and the
// benchmarks time them one by one. Both devices; CUDA goes to the cudnn_* functions below.
struct ConvParams {
  Size2 stride = 1;
  Size2 padding = 0;
  Size2 dilation = 1;
  int groups = 1;
};
void conv_forward_into(const Tensor& x, const Tensor& w, const ConvParams& p, Tensor& y);
void conv_backward_data_into(const Tensor& gy, const Tensor& w, const ConvParams& p, Tensor& gx);
void conv_backward_filter_into(const Tensor& x, const Tensor& gy, const ConvParams& p,
                               Tensor& gw);
// y: (N, K, P, Q) += bias: (K) per channel.
void add_channel_bias(Tensor& y, const Tensor& bias);
// gb: (K) = sum of gy: (N, K, P, Q) over N, P, Q.
void channel_bias_grad_into(const Tensor& gy, Tensor& gb);

#if WSVIS_WITH_CUDA
// cuDNN implementations (engine/ops/conv_cudnn.cpp); f32 tensors on one CUDA context, N > 0.
// The algorithm for each (shape, options, direction, TF32) is chosen once with cuDNN's
// heuristics and remembered in ctx.memo().
void cudnn_conv_forward(const Tensor& x, const Tensor& w, const ConvParams& p, Tensor& y);
void cudnn_conv_backward_data(const Tensor& gy, const Tensor& w, const ConvParams& p, Tensor& gx);
void cudnn_conv_backward_filter(const Tensor& x, const Tensor& gy, const ConvParams& p,
                                Tensor& gw);
void cudnn_add_channel_bias(Tensor& y, const Tensor& bias);
void cudnn_channel_bias_grad(const Tensor& gy, Tensor& gb);
#endif
}  // namespace detail

}  // namespace wsvis::ops
