#include "layers/conv.h"

#include "engine/error.h"
#include "layers/init.h"

namespace wsvis::layers {

namespace {
const Tensor& undefined_tensor() {
  static const Tensor none;  // immutable sentinel for "no bias"
  return none;
}

void check_channels(int in, int out, int groups, const char* what) {
  WSVIS_CHECK(in > 0 && out > 0 && groups > 0 && in % groups == 0 && out % groups == 0, what,
              ": in_channels ", in, " and out_channels ", out,
              " must be positive multiples of groups ", groups);
}
}  // namespace

// ---- Conv2d --------------------------------------------------------------------------------

Conv2d::Conv2d(const Conv2dOptions& options, Generator& gen, const ContextPtr& ctx, DType dtype)
    : options_(options) {
  const Conv2dOptions& o = options_;
  check_channels(o.in_channels, o.out_channels, o.groups, "Conv2d");
  Tensor w =
      Tensor::empty({o.out_channels, o.in_channels / o.groups, o.kernel.h, o.kernel.w}, dtype, ctx);
  Tensor b = o.bias ? Tensor::empty({o.out_channels}, dtype, ctx) : Tensor();
  init::conv_init(o.init, w, b, gen);
  register_parameter("weight", w);
  if (o.bias) register_parameter("bias", b);
}

const Tensor& Conv2d::bias() const { return options_.bias ? parameter_at(1) : undefined_tensor(); }

Tensor Conv2d::forward(const Tensor& x) {
  ops::Conv2dOptions o;
  o.stride = options_.stride;
  o.padding = options_.padding;
  o.dilation = options_.dilation;
  o.groups = options_.groups;
  return ops::conv2d(x, weight(), bias(), o);
}

// ---- ConvTranspose2d -----------------------------------------------------------------------

ConvTranspose2d::ConvTranspose2d(const ConvTranspose2dOptions& options, Generator& gen,
                                 const ContextPtr& ctx, DType dtype)
    : options_(options) {
  const ConvTranspose2dOptions& o = options_;
  check_channels(o.in_channels, o.out_channels, o.groups, "ConvTranspose2d");
  Tensor w =
      Tensor::empty({o.in_channels, o.out_channels / o.groups, o.kernel.h, o.kernel.w}, dtype, ctx);
  Tensor b = o.bias ? Tensor::empty({o.out_channels}, dtype, ctx) : Tensor();
  init::conv_init(o.init, w, b, gen);
  register_parameter("weight", w);
  if (o.bias) register_parameter("bias", b);
}

const Tensor& ConvTranspose2d::bias() const {
  return options_.bias ? parameter_at(1) : undefined_tensor();
}

Tensor ConvTranspose2d::forward(const Tensor& x) {
  ops::ConvTranspose2dOptions o;
  o.stride = options_.stride;
  o.padding = options_.padding;
  o.output_padding = options_.output_padding;
  o.dilation = options_.dilation;
  o.groups = options_.groups;
  return ops::conv_transpose2d(x, weight(), bias(), o);
}

}  // namespace wsvis::layers
