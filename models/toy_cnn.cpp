#include "models/toy_cnn.h"

#include <cmath>

#include "engine/ops.h"

namespace wsvis::models {

namespace {
// He-normal weights (fan-in), as torchvision initialises ReLU convolutions.
Tensor he_normal(const Shape& shape, int64_t fan_in, Generator& gen, const ContextPtr& ctx) {
  Tensor w = Tensor::randn(shape, gen, ctx);
  NoGradGuard no_grad;
  return ops::mul_scalar(w, std::sqrt(2.0 / static_cast<double>(fan_in)));
}
Tensor param(Tensor t) { return t.set_requires_grad(true); }
}  // namespace

ToyCnn::ToyCnn(const ContextPtr& ctx, int num_classes, Generator& gen) {
  conv1_w_ = param(he_normal({16, 1, 3, 3}, 9, gen, ctx));
  conv1_b_ = param(Tensor::zeros({16}, DType::f32, ctx));
  bn1_w_ = param(Tensor::ones({16}, DType::f32, ctx));
  bn1_b_ = param(Tensor::zeros({16}, DType::f32, ctx));
  bn1_mean_ = Tensor::zeros({16}, DType::f32, ctx);
  bn1_var_ = Tensor::ones({16}, DType::f32, ctx);
  conv2_w_ = param(he_normal({32, 16, 3, 3}, 16 * 9, gen, ctx));
  gn2_w_ = param(Tensor::ones({32}, DType::f32, ctx));
  gn2_b_ = param(Tensor::zeros({32}, DType::f32, ctx));
  conv3_w_ = param(he_normal({32, 32, 3, 3}, 32 * 9, gen, ctx));
  conv3_b_ = param(Tensor::zeros({32}, DType::f32, ctx));
  fc_w_ = param(he_normal({num_classes, 32}, 32, gen, ctx));
  fc_b_ = param(Tensor::zeros({num_classes}, DType::f32, ctx));
}

Tensor ToyCnn::forward(const Tensor& images, bool training) {
  ops::Conv2dOptions pad1;
  pad1.padding = 1;
  Tensor h = ops::conv2d(images, conv1_w_, conv1_b_, pad1);
  h = ops::batch_norm(h, bn1_w_, bn1_b_, bn1_mean_, bn1_var_, training);
  h = ops::max_pool2d(ops::relu(h), 2, 2);
  h = ops::conv2d(h, conv2_w_, Tensor(), pad1);
  h = ops::max_pool2d(ops::relu(ops::group_norm(h, 8, gn2_w_, gn2_b_)), 2, 2);
  ops::Conv2dOptions stride2 = pad1;
  stride2.stride = 2;
  h = ops::relu(ops::conv2d(h, conv3_w_, conv3_b_, stride2));
  h = ops::flatten(ops::global_avg_pool2d(h), 1);  // (N, 32)
  return ops::linear(h, fc_w_, fc_b_);
}

std::vector<Tensor> ToyCnn::parameters() const {
  return {conv1_w_, conv1_b_, bn1_w_, bn1_b_, conv2_w_, gn2_w_, gn2_b_,
          conv3_w_, conv3_b_, fc_w_,  fc_b_};
}

void ToyCnn::sgd_step(double lr) {
  NoGradGuard no_grad;
  for (Tensor& p : parameters()) {
    if (!p.grad().defined()) continue;
    p.copy_from(ops::sub(p.detach(), ops::mul_scalar(p.grad(), lr)));
    p.zero_grad();
  }
}

}  // namespace wsvis::models
