// A small CNN for the generated toy-shapes task: the engine's end-to-end check before the real
// models exist. It exercises conv2d, batch_norm (training and eval), relu, max_pool2d,
// group_norm, global average pooling, linear and cross-entropy, forward and backward, on
// whichever device its context names.
//
//   x: (N, 1, S, S)
//   conv 3x3, 1 -> 16, pad 1 -> BatchNorm -> ReLU -> max-pool 2x2
//   conv 3x3, 16 -> 32, pad 1 -> GroupNorm(8) -> ReLU -> max-pool 2x2
//   conv 3x3, 32 -> 32, pad 1, stride 2 -> ReLU -> global average pool
//   linear 32 -> K                                            -> logits (N, K)
#pragma once

#include <vector>

#include "engine/tensor.h"

namespace wsvis::models {

class ToyCnn {
 public:
  ToyCnn(const ContextPtr& ctx, int num_classes, Generator& gen);

  // logits: (N, K). training=true uses batch statistics and updates the running ones.
  Tensor forward(const Tensor& images, bool training);
  std::vector<Tensor> parameters() const;
  // Plain SGD: p <- p - lr * grad, then the gradients are zeroed.
  void sgd_step(double lr);

 private:
  Tensor conv1_w_, conv1_b_, bn1_w_, bn1_b_, bn1_mean_, bn1_var_;
  Tensor conv2_w_, gn2_w_, gn2_b_;
  Tensor conv3_w_, conv3_b_;
  Tensor fc_w_, fc_b_;
};

}  // namespace wsvis::models
