// Conv2d and ConvTranspose2d as torch.nn modules over ops::conv2d / ops::conv_transpose2d.
// Parameters "weight" and (when bias) "bias", in that order, initialised once on construction as
// options.init says: torch's default unless a model asks for its reference's init.
#pragma once

#include "engine/ops/conv.h"
#include "engine/random.h"
#include "layers/init.h"
#include "layers/module.h"

namespace wsvis::layers {

struct Conv2dOptions {
  int in_channels = 0;
  int out_channels = 0;
  ops::Size2 kernel = 1;
  ops::Size2 stride = 1;
  ops::Size2 padding = 0;
  ops::Size2 dilation = 1;
  int groups = 1;
  bool bias = true;
  ConvInit init = ConvInit::torch_default;
};

class Conv2d : public Layer {
 public:
  // weight: (out, in/groups, kh, kw), bias: (out), created on ctx in dtype.
  Conv2d(const Conv2dOptions& options, Generator& gen, const ContextPtr& ctx,
         DType dtype = DType::f32);
  // x: (N, in, H, W) -> (N, out, H_out, W_out)
  Tensor forward(const Tensor& x) override;

  const Conv2dOptions& options() const { return options_; }
  const Tensor& weight() const { return parameter_at(0); }
  // Undefined when built without bias.
  const Tensor& bias() const;

 private:
  Conv2dOptions options_;
};

struct ConvTranspose2dOptions {
  int in_channels = 0;
  int out_channels = 0;
  ops::Size2 kernel = 1;
  ops::Size2 stride = 1;
  ops::Size2 padding = 0;
  ops::Size2 output_padding = 0;
  ops::Size2 dilation = 1;
  int groups = 1;
  bool bias = true;
  ConvInit init = ConvInit::torch_default;
};

class ConvTranspose2d : public Layer {
 public:
  // weight: (in, out/groups, kh, kw) as torch stores it, bias: (out).
  ConvTranspose2d(const ConvTranspose2dOptions& options, Generator& gen, const ContextPtr& ctx,
                  DType dtype = DType::f32);
  // x: (N, in, H, W) -> (N, out, (H-1)*s - 2p + d*(k-1) + output_padding + 1, ...)
  Tensor forward(const Tensor& x) override;

  const ConvTranspose2dOptions& options() const { return options_; }
  const Tensor& weight() const { return parameter_at(0); }
  const Tensor& bias() const;

 private:
  ConvTranspose2dOptions options_;
};

}  // namespace wsvis::layers
