#include "models/rcnn_box_head.h"

#include <cmath>
#include <string>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/loss.h"
#include "engine/ops/reduce.h"
#include "engine/ops/shape.h"
#include "layers/init.h"

namespace wsvis::models {

BoxHead::BoxHead(int64_t in_dim, int num_fc, int fc_dim, Generator& gen, const ContextPtr& ctx,
                 DType dtype) {
  WSVIS_CHECK(in_dim > 0 && num_fc >= 1 && fc_dim > 0, "BoxHead: in_dim ", in_dim, ", num_fc ",
              num_fc, ", fc_dim ", fc_dim, " must be positive");
  int64_t in = in_dim;
  for (int i = 0; i < num_fc; ++i) {
    auto fc = std::make_shared<layers::Linear>(int(in), fc_dim, gen, ctx, dtype);
    layers::init::c2_xavier_fill(fc->weight(), fc->bias(), gen);
    fcs_.push_back(register_module("fc" + std::to_string(i + 1), fc));
    in = fc_dim;
  }
}

Tensor BoxHead::forward(const Tensor& pooled) {
  Tensor x = ops::flatten(pooled, 1);
  for (const auto& fc : fcs_) x = ops::relu(fc->forward(x));
  return x;
}

BoxPredictor::BoxPredictor(int in_dim, int num_classes, Generator& gen, const ContextPtr& ctx,
                           DType dtype)
    : num_classes_(num_classes) {
  WSVIS_CHECK(in_dim > 0 && num_classes > 0, "BoxPredictor: in_dim ", in_dim,
              " and num_classes ", num_classes, " must be positive");
  cls_score_ = register_module(
      "cls_score", std::make_shared<layers::Linear>(in_dim, num_classes + 1, gen, ctx, dtype));
  bbox_pred_ = register_module(
      "bbox_pred", std::make_shared<layers::Linear>(in_dim, 4 * num_classes, gen, ctx, dtype));
  layers::init::normal_(cls_score_->weight(), 0.0, 0.01, gen);
  layers::init::normal_(bbox_pred_->weight(), 0.0, 0.001, gen);
  layers::init::constant_(cls_score_->bias(), 0.0);
  layers::init::constant_(bbox_pred_->bias(), 0.0);
}

std::pair<Tensor, Tensor> BoxPredictor::forward(const Tensor& x) {
  return {cls_score_->forward(x), bbox_pred_->forward(x)};
}

BoxLosses fast_rcnn_losses(const Tensor& scores, const Tensor& deltas, const SampledRois& rois,
                           const kernels::BoxCoderWeights& weights, double smooth_l1_beta) {
  const int64_t R = rois.size();
  WSVIS_CHECK(scores.dim() == 2 && scores.size(0) == R && deltas.dim() == 2 &&
                  deltas.size(0) == R && deltas.size(1) == 4 * (scores.size(1) - 1),
              "fast_rcnn_losses: scores ", scores.shape_str(), " and deltas ", deltas.shape_str(),
              " do not fit ", R, " RoIs");
  const int64_t K = scores.size(1) - 1;
  const ContextPtr& ctx = scores.context_ptr();
  BoxLosses l;
  l.loss_cls = ops::cross_entropy(
      scores, Tensor::from_vector(rois.gt_classes, {R}, ctx, DType::i64), -100, ops::Reduction::mean);
  std::vector<int64_t> fg_rows;
  std::vector<RcnnBox> fg_src, fg_dst;
  for (int64_t r = 0; r < R; ++r) {
    const int64_t c = rois.gt_classes[size_t(r)];
    if (c < 0 || c >= K) continue;
    fg_rows.push_back(r * K + c);
    fg_src.push_back(rois.proposal_boxes[size_t(r)]);
    fg_dst.push_back(rois.gt_boxes[size_t(r)]);
  }
  const int64_t F = int64_t(fg_rows.size());
  std::vector<float> targets(size_t(F) * 4);
  if (F > 0)
    kernels::cpu::box_encode<float>(&fg_src[0][0], &fg_dst[0][0], F, weights, targets.data());
  const Tensor pred = ops::index_select(ops::reshape(deltas, {R * K, 4}), 0,
                                        Tensor::from_vector(fg_rows, {F}, ctx, DType::i64));
  const Tensor loss = ops::smooth_l1(pred, Tensor::from_vector(targets, {F, 4}, ctx, scores.dtype()),
                                     smooth_l1_beta, ops::Reduction::sum);
  l.loss_box_reg = ops::mul_scalar(loss, 1.0 / double(std::max<int64_t>(R, 1)));
  return l;
}

std::vector<RcnnDetections> fast_rcnn_inference(const Tensor& scores, const Tensor& deltas,
                                                const std::vector<std::vector<RcnnBox>>& proposals,
                                                const std::vector<ImageSize>& image_sizes,
                                                const BoxInferenceOptions& options) {
  WSVIS_CHECK(proposals.size() == image_sizes.size(), "fast_rcnn_inference: ", proposals.size(),
              " proposal lists for ", image_sizes.size(), " images");
  NoGradGuard no_grad;
  const int64_t K = scores.size(1) - 1;
  const std::vector<float> prob = ops::softmax(scores, 1).to_vector<float>();
  const std::vector<float> d = deltas.to_vector<float>();
  std::vector<RcnnDetections> out;
  int64_t row = 0;
  for (size_t n = 0; n < proposals.size(); ++n) {
    std::vector<RcnnBox> boxes;
    std::vector<float> box_scores;
    std::vector<int32_t> classes;
    for (const RcnnBox& p : proposals[n]) {
      std::vector<float> decoded(size_t(4 * K));
      kernels::cpu::box_decode<float>(p.data(), &d[size_t(row * 4 * K)], 1, K, options.weights,
                                      decoded.data());
      kernels::cpu::clip_boxes<float>(decoded.data(), K, float(image_sizes[n].height),
                                      float(image_sizes[n].width));
      for (int64_t c = 0; c < K; ++c) {
        const float s = prob[size_t(row * (K + 1) + c)];
        const float* b = &decoded[size_t(4 * c)];
        if (!(s > options.score_threshold)) continue;
        if (!(std::isfinite(b[0]) && std::isfinite(b[1]) && std::isfinite(b[2]) && std::isfinite(b[3])))
          continue;
        boxes.push_back({b[0], b[1], b[2], b[3]});
        box_scores.push_back(s);
        classes.push_back(int32_t(c));
      }
      ++row;
    }
    RcnnDetections det;
    for (int64_t i : host_batched_nms(boxes, box_scores, classes, options.nms_threshold,
                                      options.detections_per_image)) {
      det.boxes.push_back(boxes[size_t(i)]);
      det.scores.push_back(box_scores[size_t(i)]);
      det.classes.push_back(classes[size_t(i)]);
    }
    out.push_back(std::move(det));
  }
  WSVIS_CHECK(row == scores.size(0), "fast_rcnn_inference: ", scores.size(0), " score rows for ",
              row, " proposals");
  return out;
}

}  // namespace wsvis::models
