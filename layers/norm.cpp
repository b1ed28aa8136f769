#include "layers/norm.h"

#include "engine/error.h"
#include "engine/ops/norm.h"

namespace wsvis::layers {

// ---- BatchNorm2d ---------------------------------------------------------------------------

BatchNorm2d::BatchNorm2d(const BatchNorm2dOptions& options, const ContextPtr& ctx, DType dtype)
    : options_(options) {
  const int c = options_.num_features;
  WSVIS_CHECK(c > 0, "BatchNorm2d: num_features must be positive, got ", c);
  register_parameter("weight", Tensor::ones({c}, dtype, ctx));
  register_parameter("bias", Tensor::zeros({c}, dtype, ctx));
  register_buffer("running_mean", Tensor::zeros({c}, dtype, ctx));
  register_buffer("running_var", Tensor::ones({c}, dtype, ctx));
  register_host_buffer("num_batches_tracked",
                       Tensor::zeros({}, DType::i64, Context::create(Device::cpu())));
}

Tensor BatchNorm2d::forward(const Tensor& x) {
  const bool batch_stats = is_training() && !options_.fixed_statistics;
  Tensor y = ops::batch_norm(x, weight(), bias(), running_mean(), running_var(), batch_stats,
                             options_.momentum, options_.eps);
  if (batch_stats) ++num_batches_tracked().data<int64_t>()[0];
  return y;
}

// ---- FrozenBatchNorm2d ---------------------------------------------------------------------

FrozenBatchNorm2d::FrozenBatchNorm2d(int num_features, const ContextPtr& ctx, DType dtype,
                                     double eps)
    : eps_(eps) {
  WSVIS_CHECK(num_features > 0, "FrozenBatchNorm2d: num_features must be positive, got ",
              num_features);
  register_buffer("weight", Tensor::ones({num_features}, dtype, ctx));
  register_buffer("bias", Tensor::zeros({num_features}, dtype, ctx));
  register_buffer("running_mean", Tensor::zeros({num_features}, dtype, ctx));
  // detectron2 starts at 1 - eps so that a fresh layer is exactly the identity.
  register_buffer("running_var", Tensor::full({num_features}, 1.0 - eps, dtype, ctx));
}

Tensor FrozenBatchNorm2d::forward(const Tensor& x) {
  return ops::frozen_batch_norm(x, weight(), bias(), running_mean(), running_var(), eps_);
}

// ---- GroupNorm -----------------------------------------------------------------------------

GroupNorm::GroupNorm(int num_groups, int num_channels, const ContextPtr& ctx, DType dtype,
                     double eps)
    : num_groups_(num_groups), eps_(eps) {
  WSVIS_CHECK(num_groups > 0 && num_channels > 0 && num_channels % num_groups == 0,
              "GroupNorm: num_channels ", num_channels,
              " must be a positive multiple of num_groups ", num_groups);
  register_parameter("weight", Tensor::ones({num_channels}, dtype, ctx));
  register_parameter("bias", Tensor::zeros({num_channels}, dtype, ctx));
}

Tensor GroupNorm::forward(const Tensor& x) {
  return ops::group_norm(x, num_groups_, weight(), bias(), eps_);
}

}  // namespace wsvis::layers
