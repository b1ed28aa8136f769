#include "models/rcnn_mask_head.h"

#include <string>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/loss.h"
#include "engine/ops/reduce.h"
#include "engine/ops/shape.h"
#include "kernels/roi_align.h"
#include "layers/init.h"

namespace wsvis::models {

MaskHead::MaskHead(int in_channels, int num_conv, int conv_dim, int num_classes, Generator& gen,
                   const ContextPtr& ctx, DType dtype)
    : num_classes_(num_classes) {
  WSVIS_CHECK(in_channels > 0 && num_conv >= 0 && conv_dim > 0 && num_classes > 0,
              "MaskHead: in_channels ", in_channels, ", num_conv ", num_conv, ", conv_dim ",
              conv_dim, ", num_classes ", num_classes, " out of range");
  int in = in_channels;
  for (int i = 0; i < num_conv; ++i) {
    layers::Conv2dOptions o;
    o.in_channels = in;
    o.out_channels = conv_dim;
    o.kernel = 3;
    o.padding = 1;
    o.init = layers::ConvInit::c2_msra;
    convs_.push_back(register_module("mask_fcn" + std::to_string(i + 1),
                                     std::make_shared<layers::Conv2d>(o, gen, ctx, dtype)));
    in = conv_dim;
  }
  layers::ConvTranspose2dOptions d;
  d.in_channels = in;
  d.out_channels = conv_dim;
  d.kernel = 2;
  d.stride = 2;
  d.init = layers::ConvInit::c2_msra;
  deconv_ = register_module("deconv", std::make_shared<layers::ConvTranspose2d>(d, gen, ctx, dtype));
  layers::Conv2dOptions p;
  p.in_channels = conv_dim;
  p.out_channels = num_classes;
  predictor_ = register_module("predictor", std::make_shared<layers::Conv2d>(p, gen, ctx, dtype));
  layers::init::normal_(predictor_->weight(), 0.0, 0.001, gen);
  layers::init::constant_(predictor_->bias(), 0.0);
}

Tensor MaskHead::forward(const Tensor& pooled) {
  Tensor x = pooled;
  for (const auto& conv : convs_) x = ops::relu(conv->forward(x));
  return predictor_->forward(ops::relu(deconv_->forward(x)));
}

std::vector<float> mask_rcnn_targets(const RcnnInstances& gt, const std::vector<RcnnBox>& boxes,
                                     const std::vector<int64_t>& gt_index, int M) {
  WSVIS_CHECK(boxes.size() == gt_index.size(), "mask_rcnn_targets: ", boxes.size(), " boxes and ",
              gt_index.size(), " GT indices");
  const int64_t H = gt.mask_h, W = gt.mask_w;
  WSVIS_CHECK(int64_t(gt.masks.size()) == gt.size() * H * W && (gt.size() == 0 || H * W > 0),
              "mask_rcnn_targets: ", gt.size(), " GT instances but ", gt.masks.size(),
              " mask bytes of ", H, "x", W);
  std::vector<float> out(boxes.size() * size_t(M) * size_t(M));
  std::vector<float> plane(size_t(H * W));
  for (size_t i = 0; i < boxes.size(); ++i) {
    const int64_t g = gt_index[i];
    WSVIS_CHECK(g >= 0 && g < gt.size(), "mask_rcnn_targets: GT index ", g, " of ", gt.size());
    const uint8_t* m = &gt.masks[size_t(g * H * W)];
    for (size_t p = 0; p < plane.size(); ++p) plane[p] = m[p] ? 1.f : 0.f;
    const float roi[5] = {0.f, boxes[i][0], boxes[i][1], boxes[i][2], boxes[i][3]};
    float* dst = &out[i * size_t(M) * size_t(M)];
    kernels::cpu::roi_align_forward<float>(plane.data(), 1, 1, H, W, roi, 1, M, M, 1.0, 0, true, dst);
    for (int p = 0; p < M * M; ++p) dst[p] = dst[p] >= 0.5f ? 1.f : 0.f;
  }
  return out;
}

namespace {

// The (F, M, M) channel classes[i] of logits (F, K, M, M).
Tensor class_channels(const Tensor& logits, const std::vector<int64_t>& classes) {
  const int64_t F = logits.size(0), K = logits.size(1), M = logits.size(2);
  WSVIS_CHECK(logits.dim() == 4 && int64_t(classes.size()) == F && logits.size(3) == M,
              "mask head: logits ", logits.shape_str(), " for ", classes.size(), " RoIs");
  std::vector<int64_t> rows;
  for (int64_t i = 0; i < F; ++i) {
    WSVIS_CHECK(classes[size_t(i)] >= 0 && classes[size_t(i)] < K, "mask head: class ",
                classes[size_t(i)], " outside [0, ", K, ")");
    rows.push_back(i * K + classes[size_t(i)]);
  }
  return ops::index_select(ops::reshape(logits, {F * K, M, M}), 0,
                           Tensor::from_vector(rows, {F}, logits.context_ptr(), DType::i64));
}

}  // namespace

Tensor mask_rcnn_loss(const Tensor& logits, const std::vector<int64_t>& classes,
                      const std::vector<float>& targets) {
  const int64_t F = logits.size(0), M = logits.size(2);
  WSVIS_CHECK(int64_t(targets.size()) == F * M * M, "mask_rcnn_loss: ", targets.size(),
              " target values for logits ", logits.shape_str());
  if (F == 0) return Tensor::zeros({}, logits.dtype(), logits.context_ptr());
  const Tensor chosen = class_channels(logits, classes);
  return ops::bce_with_logits(
      chosen, Tensor::from_vector(targets, {F, M, M}, logits.context_ptr(), logits.dtype()),
      Tensor(), ops::Reduction::mean);
}

std::vector<float> mask_rcnn_probs(const Tensor& logits, const std::vector<int64_t>& classes) {
  NoGradGuard no_grad;
  if (logits.size(0) == 0) return {};
  return ops::sigmoid(class_channels(logits, classes)).to_vector<float>();
}

}  // namespace wsvis::models
