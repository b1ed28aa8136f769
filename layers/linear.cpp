#include "layers/linear.h"

#include "engine/error.h"
#include "engine/ops/linalg.h"
#include "layers/init.h"

namespace wsvis::layers {

Linear::Linear(int in_features, int out_features, Generator& gen, const ContextPtr& ctx,
               DType dtype, bool bias)
    : in_features_(in_features), out_features_(out_features), has_bias_(bias) {
  WSVIS_CHECK(in_features > 0 && out_features > 0, "Linear: sizes must be positive, got in ",
              in_features, ", out ", out_features);
  Tensor w = Tensor::empty({out_features, in_features}, dtype, ctx);
  Tensor b = bias ? Tensor::empty({out_features}, dtype, ctx) : Tensor();
  init::torch_default_init(w, b, gen);
  register_parameter("weight", w);
  if (bias) register_parameter("bias", b);
}

const Tensor& Linear::bias() const {
  static const Tensor none;  // immutable sentinel for "no bias"
  return has_bias_ ? parameter_at(1) : none;
}

Tensor Linear::forward(const Tensor& x) { return ops::linear(x, weight(), bias()); }

}  // namespace wsvis::layers
