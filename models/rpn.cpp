#include "models/rpn.h"

#include <cmath>
#include <string>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/loss.h"
#include "engine/ops/shape.h"
#include "layers/init.h"

namespace wsvis::models {

kernels::AnchorSpec RpnOptions::anchor_spec(int level) const {
  WSVIS_CHECK(level >= 0 && level < int(strides.size()) && strides.size() == anchor_sizes.size(),
              "RpnOptions: level ", level, " with ", strides.size(), " strides and ",
              anchor_sizes.size(), " anchor sizes");
  WSVIS_CHECK(!aspect_ratios.empty() && int(aspect_ratios.size()) <= kernels::AnchorSpec::kMax,
              "RpnOptions: 1..", kernels::AnchorSpec::kMax, " aspect ratios, got ",
              aspect_ratios.size());
  kernels::AnchorSpec s;
  s.num_sizes = 1;
  s.sizes[0] = anchor_sizes[size_t(level)];
  s.num_ratios = int(aspect_ratios.size());
  for (size_t i = 0; i < aspect_ratios.size(); ++i) s.ratios[i] = aspect_ratios[i];
  s.stride = strides[size_t(level)];
  s.offset = 0.0;
  return s;
}

namespace {

std::shared_ptr<layers::Conv2d> rpn_conv(int in, int out, int kernel, Generator& gen,
                                         const ContextPtr& ctx, DType dtype) {
  layers::Conv2dOptions o;
  o.in_channels = in;
  o.out_channels = out;
  o.kernel = kernel;
  o.padding = kernel / 2;
  auto conv = std::make_shared<layers::Conv2d>(o, gen, ctx, dtype);
  layers::init::normal_(conv->weight(), 0.0, 0.01, gen);
  layers::init::constant_(conv->bias(), 0.0);
  return conv;
}

}  // namespace

RpnHead::RpnHead(int in_channels, int anchors_per_cell, Generator& gen, const ContextPtr& ctx,
                 DType dtype)
    : anchors_per_cell_(anchors_per_cell) {
  WSVIS_CHECK(in_channels > 0 && anchors_per_cell > 0, "RpnHead: in_channels ", in_channels,
              " and anchors_per_cell ", anchors_per_cell, " must be positive");
  conv_ = register_module("conv", rpn_conv(in_channels, in_channels, 3, gen, ctx, dtype));
  objectness_ = register_module("objectness_logits",
                                rpn_conv(in_channels, anchors_per_cell, 1, gen, ctx, dtype));
  deltas_ = register_module("anchor_deltas",
                            rpn_conv(in_channels, 4 * anchors_per_cell, 1, gen, ctx, dtype));
}

std::pair<Tensor, Tensor> RpnHead::forward(const std::vector<Tensor>& features) {
  WSVIS_CHECK(!features.empty(), "RpnHead: no feature maps");
  std::vector<Tensor> logits, deltas;
  const int64_t A = anchors_per_cell_;
  for (const Tensor& f : features) {
    const Tensor t = ops::relu(conv_->forward(f));
    const int64_t N = f.size(0), H = f.size(2), W = f.size(3);
    // (N, A, H, W) -> (N, H*W*A); (N, A*4, H, W) -> (N, A, 4, H, W) -> (N, H*W*A, 4).
    logits.push_back(ops::reshape(ops::permute(objectness_->forward(t), {0, 2, 3, 1}), {N, H * W * A}));
    deltas.push_back(ops::reshape(
        ops::permute(ops::reshape(deltas_->forward(t), {N, A, 4, H, W}), {0, 3, 4, 1, 2}),
        {N, H * W * A, 4}));
  }
  return {ops::concat(logits, 1), ops::concat(deltas, 1)};
}

RpnAnchors rpn_anchors(const RpnOptions& options,
                       const std::vector<std::pair<int64_t, int64_t>>& sizes) {
  WSVIS_CHECK(sizes.size() == options.strides.size(), "rpn_anchors: ", sizes.size(),
              " feature maps for ", options.strides.size(), " levels");
  RpnAnchors a;
  a.level_begin.push_back(0);
  for (size_t l = 0; l < sizes.size(); ++l) {
    const kernels::AnchorSpec spec = options.anchor_spec(int(l));
    const int64_t count = sizes[l].first * sizes[l].second * spec.anchors_per_cell();
    const size_t at = a.boxes.size();
    a.boxes.resize(at + size_t(count));
    if (count > 0)
      kernels::cpu::anchors<float>(&a.boxes[at][0], sizes[l].first, sizes[l].second, spec);
    a.level_begin.push_back(int64_t(a.boxes.size()));
  }
  return a;
}

RpnTargets compute_rpn_targets(const RpnAnchors& anchors, const std::vector<RcnnInstances>& gts,
                               const RpnOptions& options, Generator& gen) {
  const int64_t T = int64_t(anchors.boxes.size());
  RpnTargets t;
  for (const RcnnInstances& gt : gts) {
    const int64_t G = gt.size();
    const MatchResult m =
        match_quality(box_iou_matrix(gt.boxes, anchors.boxes), G, T, options.iou_low,
                      options.iou_high, options.allow_low_quality_matches);
    std::vector<int64_t> labels(m.labels.begin(), m.labels.end());
    const SampledIndices s = subsample_labels(labels, options.batch_size_per_image,
                                              options.positive_fraction, 0, gen);
    std::vector<int8_t> sampled(size_t(T), -1);
    for (int64_t i : s.positive) sampled[size_t(i)] = 1;
    for (int64_t i : s.negative) sampled[size_t(i)] = 0;
    std::vector<float> deltas(size_t(T) * 4, 0.f);
    if (G > 0) {
      std::vector<RcnnBox> matched(static_cast<size_t>(T));
      for (int64_t i = 0; i < T; ++i) matched[size_t(i)] = gt.boxes[size_t(m.matches[size_t(i)])];
      if (T > 0)
        kernels::cpu::box_encode<float>(&anchors.boxes[0][0], &matched[0][0], T,
                                        kernels::BoxCoderWeights::rpn(), deltas.data());
    }
    t.labels.push_back(std::move(sampled));
    t.deltas.push_back(std::move(deltas));
  }
  return t;
}

RpnLosses rpn_losses(const Tensor& objectness, const Tensor& deltas, const RpnTargets& targets,
                     const RpnOptions& options) {
  const int64_t N = objectness.size(0), T = objectness.size(1);
  WSVIS_CHECK(int64_t(targets.labels.size()) == N && deltas.shape() == Shape({N, T, 4}),
              "rpn_losses: objectness ", objectness.shape_str(), ", deltas ", deltas.shape_str(),
              " and targets of ", targets.labels.size(), " images do not agree");
  std::vector<int64_t> valid_rows, pos_rows;
  std::vector<float> valid_labels, pos_deltas;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t i = 0; i < T; ++i) {
      const int8_t label = targets.labels[size_t(n)][size_t(i)];
      if (label < 0) continue;
      valid_rows.push_back(n * T + i);
      valid_labels.push_back(float(label));
      if (label == 1) {
        pos_rows.push_back(n * T + i);
        const float* d = &targets.deltas[size_t(n)][size_t(i) * 4];
        pos_deltas.insert(pos_deltas.end(), d, d + 4);
      }
    }
  const ContextPtr& ctx = objectness.context_ptr();
  const DType dt = objectness.dtype();
  const double normalizer = double(options.batch_size_per_image * N);
  auto rows = [&](const std::vector<int64_t>& r) {
    return Tensor::from_vector(r, {int64_t(r.size())}, ctx, DType::i64);
  };
  const Tensor logits = ops::index_select(ops::reshape(objectness, {N * T}), 0, rows(valid_rows));
  const Tensor labels =
      Tensor::from_vector(valid_labels, {int64_t(valid_labels.size())}, ctx, dt);
  const Tensor pred = ops::index_select(ops::reshape(deltas, {N * T, 4}), 0, rows(pos_rows));
  const Tensor gt = Tensor::from_vector(pos_deltas, {int64_t(pos_rows.size()), 4}, ctx, dt);
  RpnLosses l;
  l.loss_rpn_cls = ops::mul_scalar(ops::bce_with_logits(logits, labels, Tensor(), ops::Reduction::sum),
                                   options.loss_weight / normalizer);
  l.loss_rpn_loc = ops::mul_scalar(ops::smooth_l1(pred, gt, options.smooth_l1_beta, ops::Reduction::sum),
                                   options.loss_weight / normalizer);
  return l;
}

std::vector<RpnProposals> find_top_rpn_proposals(const std::vector<float>& objectness,
                                                 const std::vector<float>& deltas,
                                                 const RpnAnchors& anchors,
                                                 const std::vector<ImageSize>& image_sizes,
                                                 int64_t pre_nms_topk, int64_t post_nms_topk,
                                                 const RpnOptions& options) {
  const int64_t T = int64_t(anchors.boxes.size());
  const int64_t N = int64_t(image_sizes.size());
  WSVIS_CHECK(int64_t(objectness.size()) == N * T && int64_t(deltas.size()) == N * T * 4,
              "find_top_rpn_proposals: ", objectness.size(), " logits and ", deltas.size(),
              " deltas for ", N, " images of ", T, " anchors");
  const int L = int(anchors.level_begin.size()) - 1;
  std::vector<RpnProposals> out;
  for (int64_t n = 0; n < N; ++n) {
    std::vector<RcnnBox> boxes;
    std::vector<float> scores;
    std::vector<int32_t> level_ids;
    for (int l = 0; l < L; ++l) {
      const int64_t begin = anchors.level_begin[size_t(l)], end = anchors.level_begin[size_t(l) + 1];
      const std::vector<float> level_logits(objectness.begin() + n * T + begin,
                                            objectness.begin() + n * T + end);
      for (int64_t k : top_k_indices(level_logits, pre_nms_topk)) {
        const int64_t a = begin + k;
        RcnnBox box;
        kernels::cpu::box_decode<float>(&anchors.boxes[size_t(a)][0], &deltas[size_t((n * T + a) * 4)],
                                        1, 1, kernels::BoxCoderWeights::rpn(), box.data());
        boxes.push_back(box);
        scores.push_back(level_logits[size_t(k)]);
        level_ids.push_back(l);
      }
    }
    // Clip, drop non-finite and empty boxes, NMS by level (detectron2 find_top_rpn_proposals).
    const ImageSize& size = image_sizes[size_t(n)];
    std::vector<RcnnBox> kept_boxes;
    std::vector<float> kept_scores;
    std::vector<int32_t> kept_levels;
    for (size_t i = 0; i < boxes.size(); ++i) {
      RcnnBox b = boxes[i];
      bool finite = std::isfinite(scores[i]);
      for (float v : b) finite = finite && std::isfinite(v);
      if (!finite) continue;
      kernels::cpu::clip_boxes<float>(b.data(), 1, float(size.height), float(size.width));
      if (!(b[2] - b[0] > options.min_box_size && b[3] - b[1] > options.min_box_size)) continue;
      kept_boxes.push_back(b);
      kept_scores.push_back(scores[i]);
      kept_levels.push_back(level_ids[i]);
    }
    RpnProposals p;
    for (int64_t i : host_batched_nms(kept_boxes, kept_scores, kept_levels,
                                      options.nms_threshold, post_nms_topk)) {
      p.boxes.push_back(kept_boxes[size_t(i)]);
      p.logits.push_back(kept_scores[size_t(i)]);
    }
    out.push_back(std::move(p));
  }
  return out;
}

Rpn::Rpn(const RpnOptions& options, Generator& gen, const ContextPtr& ctx) : options_(options) {
  WSVIS_CHECK(options.strides.size() == options.anchor_sizes.size() && !options.strides.empty(),
              "Rpn: ", options.strides.size(), " strides and ", options.anchor_sizes.size(),
              " anchor sizes");
  head_ = register_module("rpn_head", std::make_shared<RpnHead>(options.in_channels,
                                                                options.anchors_per_cell(), gen,
                                                                ctx, options.dtype));
}

RpnOutput Rpn::forward(const std::vector<Tensor>& features,
                       const std::vector<ImageSize>& image_sizes,
                       const std::vector<RcnnInstances>* gts, Generator* gen) {
  WSVIS_CHECK(features.size() == options_.strides.size(), "Rpn: ", features.size(),
              " feature maps for ", options_.strides.size(), " levels");
  const int64_t N = features[0].size(0);
  WSVIS_CHECK(int64_t(image_sizes.size()) == N, "Rpn: ", image_sizes.size(),
              " image sizes for a batch of ", N);
  std::vector<std::pair<int64_t, int64_t>> sizes;
  for (const Tensor& f : features) sizes.emplace_back(f.size(2), f.size(3));
  const RpnAnchors anchors = rpn_anchors(options_, sizes);
  const auto [objectness, deltas] = head_->forward(features);
  RpnOutput out;
  const bool training = is_training();
  if (training) {
    WSVIS_CHECK(gts != nullptr && gen != nullptr && int64_t(gts->size()) == N,
                "Rpn: training needs the ground truth of every image and a generator");
    out.targets = compute_rpn_targets(anchors, *gts, options_, *gen);
    out.losses = rpn_losses(objectness, deltas, out.targets, options_);
  }
  NoGradGuard no_grad;
  out.proposals = find_top_rpn_proposals(
      objectness.detach().to_vector<float>(), deltas.detach().to_vector<float>(), anchors,
      image_sizes, training ? options_.pre_nms_topk_train : options_.pre_nms_topk_test,
      training ? options_.post_nms_topk_train : options_.post_nms_topk_test, options_);
  return out;
}

}  // namespace wsvis::models
