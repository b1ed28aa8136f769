#include "layers/sequential.h"

#include "engine/error.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/pool.h"

namespace wsvis::layers {

Sequential::Sequential(const std::vector<std::shared_ptr<Layer>>& layers) {
  for (const auto& layer : layers) append(layer);
}

Tensor Sequential::forward(const Tensor& x) {
  WSVIS_CHECK(!layers_.empty(), "Sequential::forward on an empty Sequential");
  Tensor y = x;
  for (const auto& layer : layers_) y = layer->forward(y);
  return y;
}

Tensor ReLU::forward(const Tensor& x) { return ops::relu(x); }

Tensor MaxPool2d::forward(const Tensor& x) {
  return ops::max_pool2d(x, kernel_, stride_, padding_);
}

}  // namespace wsvis::layers
