// Linear as torch.nn.Linear over ops::linear: parameters "weight" (out, in) and "bias" (out),
// torch's default initialisation (init::torch_default_init).
#pragma once

#include "engine/random.h"
#include "layers/module.h"

namespace wsvis::layers {

class Linear : public Layer {
 public:
  Linear(int in_features, int out_features, Generator& gen, const ContextPtr& ctx,
         DType dtype = DType::f32, bool bias = true);
  // x: (N, in) -> (N, out)
  Tensor forward(const Tensor& x) override;

  int in_features() const { return in_features_; }
  int out_features() const { return out_features_; }
  const Tensor& weight() const { return parameter_at(0); }
  const Tensor& bias() const;  // undefined without bias

 private:
  int in_features_;
  int out_features_;
  bool has_bias_;
};

}  // namespace wsvis::layers
