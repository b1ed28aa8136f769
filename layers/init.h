// Weight initialisers with torch / torchvision / detectron2 semantics. Every random one takes an
// explicit Generator (so a seed pins a model), draws on the host and writes into the tensor's
// storage in place (any context): the Tensor argument is a handle, its data is overwritten.
// Draws are not torch's random stream; the distributions are torch's.
#pragma once

#include <cstdint>

#include "engine/random.h"
#include "engine/tensor.h"

namespace wsvis::layers {

// How a convolution initialises its weight and bias on construction (one draw, no re-init).
enum class ConvInit {
  torch_default,  // torch's reset_parameters: init::torch_default_init
  c2_msra,        // kaiming_normal_(fan_out, relu), bias 0: detectron2's c2_msra_fill, and
                  // torchvision ResNet's conv init (its convs have no bias)
  c2_xavier,      // kaiming_uniform_(a=1), bias 0: detectron2's c2_xavier_fill (FPN, heads)
};

namespace init {

// torch.nn.init._calculate_fan_in_and_fan_out: for a weight (d0, d1, k...) fan_in = d1 * prod(k),
// fan_out = d0 * prod(k). Conv2d (C_out, C_in/g, kh, kw): fan_in = C_in/g*kh*kw; ConvTranspose2d
// stores (C_in, C_out/g, kh, kw), so its "fan_in" is C_out/g*kh*kw, exactly as torch computes it.
// Needs at least 2 dims.
struct Fans {
  int64_t fan_in = 0;
  int64_t fan_out = 0;
};
Fans compute_fans(const Shape& shape);

enum class FanMode { fan_in, fan_out };
enum class Nonlinearity { linear, relu, leaky_relu };
// torch.nn.init.calculate_gain: linear 1, relu sqrt(2), leaky_relu sqrt(2 / (1 + a^2)).
double calculate_gain(Nonlinearity nonlinearity, double a = 0.0);

void constant_(Tensor t, double value);
void uniform_(Tensor t, double lo, double hi, Generator& gen);
void normal_(Tensor t, double mean, double std, Generator& gen);

// torch.nn.init.kaiming_uniform_: U(-b, b), b = gain * sqrt(3 / fan), gain from (nonlinearity, a).
void kaiming_uniform_(Tensor w, Generator& gen, double a = 0.0, FanMode mode = FanMode::fan_in,
                      Nonlinearity nonlinearity = Nonlinearity::leaky_relu);
// torch.nn.init.kaiming_normal_: N(0, std^2), std = gain / sqrt(fan).
void kaiming_normal_(Tensor w, Generator& gen, double a = 0.0, FanMode mode = FanMode::fan_in,
                     Nonlinearity nonlinearity = Nonlinearity::leaky_relu);

// torch's default for Conv*d and Linear (reset_parameters): weight kaiming_uniform_(a=sqrt(5)),
// i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)); bias (if defined) U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
void torch_default_init(Tensor weight, Tensor bias, Generator& gen);

// torchvision ResNet: conv weights kaiming_normal_(mode fan_out, relu), std = sqrt(2 / fan_out).
void torchvision_conv_init(Tensor weight, Generator& gen);

// detectron2 fvcore c2_xavier_fill (Caffe2 XavierFill): weight kaiming_uniform_(a=1), i.e.
// U(-sqrt(3/fan_in), sqrt(3/fan_in)); bias (if defined) 0. Used by FPN and detection heads.
void c2_xavier_fill(Tensor weight, Tensor bias, Generator& gen);
// detectron2 fvcore c2_msra_fill (Caffe2 MSRAFill): weight kaiming_normal_(fan_out, relu);
// bias (if defined) 0. Used by the mask head convs and deconv.
void c2_msra_fill(Tensor weight, Tensor bias, Generator& gen);

// Dispatches on `kind` (bias may be undefined).
void conv_init(ConvInit kind, Tensor weight, Tensor bias, Generator& gen);

}  // namespace init

}  // namespace wsvis::layers
