#include "layers/init.h"

#include <cmath>
#include <vector>

#include "engine/error.h"

namespace wsvis::layers::init {

Fans compute_fans(const Shape& shape) {
  WSVIS_CHECK(shape.size() >= 2,
              "init: fan in and fan out need a weight with at least 2 dims, got ",
              shape_str(shape));
  int64_t receptive = 1;
  for (size_t i = 2; i < shape.size(); ++i) receptive *= shape[i];
  return {shape[1] * receptive, shape[0] * receptive};
}

double calculate_gain(Nonlinearity nonlinearity, double a) {
  switch (nonlinearity) {
    case Nonlinearity::linear:
      return 1.0;
    case Nonlinearity::relu:
      return std::sqrt(2.0);
    case Nonlinearity::leaky_relu:
      return std::sqrt(2.0 / (1.0 + a * a));
  }
  return 1.0;
}

void constant_(Tensor t, double value) { t.fill_(value); }

void uniform_(Tensor t, double lo, double hi, Generator& gen) {
  // Drawn on the host in the tensor's dtype, then copied into its storage (any device).
  t.copy_from(Tensor::uniform(t.shape(), lo, hi, gen, Context::create(Device::cpu()), t.dtype()));
}

void normal_(Tensor t, double mean, double std, Generator& gen) {
  std::vector<double> values(static_cast<size_t>(t.numel()));
  for (double& v : values) v = mean + std * gen.normal();
  t.copy_from(Tensor::from_vector(values, t.shape(), Context::create(Device::cpu()), t.dtype()));
}

namespace {
double fan_of(const Tensor& w, FanMode mode) {
  const Fans f = compute_fans(w.shape());
  const int64_t fan = mode == FanMode::fan_in ? f.fan_in : f.fan_out;
  WSVIS_CHECK(fan > 0, "init: zero fan for a weight of shape ", w.shape_str());
  return static_cast<double>(fan);
}
}  // namespace

void kaiming_uniform_(Tensor w, Generator& gen, double a, FanMode mode, Nonlinearity nonlinearity) {
  const double bound = calculate_gain(nonlinearity, a) * std::sqrt(3.0 / fan_of(w, mode));
  uniform_(w, -bound, bound, gen);
}

void kaiming_normal_(Tensor w, Generator& gen, double a, FanMode mode, Nonlinearity nonlinearity) {
  normal_(w, 0.0, calculate_gain(nonlinearity, a) / std::sqrt(fan_of(w, mode)), gen);
}

void torch_default_init(Tensor weight, Tensor bias, Generator& gen) {
  kaiming_uniform_(weight, gen, std::sqrt(5.0));
  if (bias.defined()) {
    const double bound = 1.0 / std::sqrt(fan_of(weight, FanMode::fan_in));
    uniform_(bias, -bound, bound, gen);
  }
}

void torchvision_conv_init(Tensor weight, Generator& gen) {
  kaiming_normal_(weight, gen, 0.0, FanMode::fan_out, Nonlinearity::relu);
}

void c2_xavier_fill(Tensor weight, Tensor bias, Generator& gen) {
  kaiming_uniform_(weight, gen, 1.0);
  if (bias.defined()) constant_(bias, 0.0);
}

void c2_msra_fill(Tensor weight, Tensor bias, Generator& gen) {
  kaiming_normal_(weight, gen, 0.0, FanMode::fan_out, Nonlinearity::relu);
  if (bias.defined()) constant_(bias, 0.0);
}

void conv_init(ConvInit kind, Tensor weight, Tensor bias, Generator& gen) {
  switch (kind) {
    case ConvInit::torch_default:
      torch_default_init(weight, bias, gen);
      return;
    case ConvInit::c2_msra:
      c2_msra_fill(weight, bias, gen);
      return;
    case ConvInit::c2_xavier:
      c2_xavier_fill(weight, bias, gen);
      return;
  }
  WSVIS_FAIL("conv_init: unknown kind");
}

}  // namespace wsvis::layers::init
