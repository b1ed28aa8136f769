// Sequential as torch.nn.Sequential: children named "0", "1", ... in order, each fed the
// previous one's output. Parameter-free layers (ReLU, MaxPool2d) are modules too because they
// take an index, as in torch: Sequential(conv, bn, ReLU, conv) names the last conv "3".
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/ops/types.h"
#include "layers/module.h"

namespace wsvis::layers {

class Sequential : public Layer {
 public:
  Sequential() = default;
  explicit Sequential(const std::vector<std::shared_ptr<Layer>>& layers);
  // Registers `layer` under the next index and returns it.
  template <class L>
  std::shared_ptr<L> append(std::shared_ptr<L> layer) {
    layers_.push_back(register_module(std::to_string(layers_.size()), layer));
    return layer;
  }
  Tensor forward(const Tensor& x) override;

  size_t size() const { return layers_.size(); }
  const std::shared_ptr<Layer>& operator[](size_t i) const { return layers_.at(i); }

 private:
  std::vector<std::shared_ptr<Layer>> layers_;
};

// torch.nn.ReLU.
class ReLU : public Layer {
 public:
  Tensor forward(const Tensor& x) override;
};

// torch.nn.MaxPool2d(kernel, stride, padding) with ceil_mode false.
class MaxPool2d : public Layer {
 public:
  MaxPool2d(ops::Size2 kernel, ops::Size2 stride, ops::Size2 padding = 0)
      : kernel_(kernel), stride_(stride), padding_(padding) {}
  Tensor forward(const Tensor& x) override;

 private:
  ops::Size2 kernel_, stride_, padding_;
};

}  // namespace wsvis::layers
