#include "models/roi_heads.h"

#include <cmath>

#include "engine/autograd.h"
#include "engine/error.h"

namespace wsvis::models {

SampledRois label_and_sample_proposals(const std::vector<std::vector<RcnnBox>>& proposals,
                                       const std::vector<RcnnInstances>& gts,
                                       const RoiHeadsOptions& options, Generator& gen) {
  WSVIS_CHECK(proposals.size() == gts.size(), "label_and_sample_proposals: ", proposals.size(),
              " proposal lists for ", gts.size(), " images");
  const int64_t bg = options.num_classes;
  SampledRois out;
  for (size_t n = 0; n < gts.size(); ++n) {
    const RcnnInstances& gt = gts[n];
    std::vector<RcnnBox> boxes = proposals[n];
    if (options.proposal_append_gt) boxes.insert(boxes.end(), gt.boxes.begin(), gt.boxes.end());
    const int64_t G = gt.size(), P = int64_t(boxes.size());
    const MatchResult m = match_quality(box_iou_matrix(gt.boxes, boxes), G, P,
                                        options.iou_threshold, options.iou_threshold, false);
    std::vector<int64_t> classes(size_t(P), bg);
    for (int64_t p = 0; p < P; ++p) {
      if (G == 0) continue;
      const int64_t c = gt.classes[size_t(m.matches[size_t(p)])];
      WSVIS_CHECK(c >= 0 && c < bg, "label_and_sample_proposals: GT class ", c, " outside [0, ",
                  bg, ")");
      if (m.labels[size_t(p)] == 1) classes[size_t(p)] = c;
      else if (m.labels[size_t(p)] == -1) classes[size_t(p)] = -1;
    }
    const SampledIndices s = subsample_labels(classes, options.batch_size_per_image,
                                              options.positive_fraction, bg, gen);
    for (const auto* part : {&s.positive, &s.negative})
      for (int64_t p : *part) {
        out.image_index.push_back(int64_t(n));
        out.proposal_boxes.push_back(boxes[size_t(p)]);
        out.gt_classes.push_back(classes[size_t(p)]);
        out.gt_index.push_back(G > 0 ? m.matches[size_t(p)] : -1);
        out.gt_boxes.push_back(G > 0 ? gt.boxes[size_t(m.matches[size_t(p)])] : RcnnBox{0, 0, 0, 0});
      }
  }
  return out;
}

Tensor pool_rois(const std::vector<Tensor>& features, const std::vector<int>& strides,
                 const std::vector<RcnnBox>& boxes, const std::vector<int64_t>& image_index,
                 int resolution, int sampling_ratio, bool aligned) {
  WSVIS_CHECK(!features.empty() && features.size() == strides.size() &&
                  boxes.size() == image_index.size(),
              "pool_rois: ", features.size(), " maps, ", strides.size(), " strides, ",
              boxes.size(), " boxes, ", image_index.size(), " image indices");
  const int64_t R = int64_t(boxes.size());
  std::vector<float> rois;
  for (int64_t r = 0; r < R; ++r) {
    rois.push_back(float(image_index[size_t(r)]));
    rois.insert(rois.end(), boxes[size_t(r)].begin(), boxes[size_t(r)].end());
  }
  const ContextPtr& ctx = features[0].context_ptr();
  const Tensor roi_tensor = Tensor::from_vector(rois, {R, 5}, ctx, features[0].dtype());
  std::vector<double> scales;
  for (int s : strides) scales.push_back(1.0 / s);
  const int min_level = int(std::lround(std::log2(strides.front())));
  const int max_level = int(std::lround(std::log2(strides.back())));
  const Tensor levels = ops::fpn_assign_levels(roi_tensor, min_level, max_level);
  ops::RoiAlignParams p;
  p.pooled_h = p.pooled_w = resolution;
  p.sampling_ratio = sampling_ratio;
  p.aligned = aligned;
  return ops::multilevel_roi_align(features, scales, roi_tensor, levels, p);
}

StandardRoiHeads::StandardRoiHeads(const RoiHeadsOptions& options, Generator& gen,
                                   const ContextPtr& ctx)
    : options_(options) {
  const RoiHeadsOptions& o = options_;
  const int64_t pooled = int64_t(o.in_channels) * o.box_resolution * o.box_resolution;
  box_head_ = register_module(
      "box_head", std::make_shared<BoxHead>(pooled, o.box_num_fc, o.box_fc_dim, gen, ctx, o.dtype));
  box_predictor_ = register_module(
      "box_predictor", std::make_shared<BoxPredictor>(o.box_fc_dim, o.num_classes, gen, ctx, o.dtype));
  if (o.mask_on)
    mask_head_ = register_module("mask_head",
                                 std::make_shared<MaskHead>(o.in_channels, o.mask_num_conv,
                                                            o.mask_conv_dim, o.num_classes, gen,
                                                            ctx, o.dtype));
}

RoiHeadsOutput StandardRoiHeads::forward(const std::vector<Tensor>& features,
                                         const std::vector<std::vector<RcnnBox>>& proposals,
                                         const std::vector<ImageSize>& image_sizes,
                                         const std::vector<RcnnInstances>* gts, Generator* gen) {
  const RoiHeadsOptions& o = options_;
  WSVIS_CHECK(features.size() == o.strides.size(), "StandardRoiHeads: ", features.size(),
              " feature maps for ", o.strides.size(), " strides");
  const int mask_side = 2 * o.mask_resolution;
  RoiHeadsOutput out;
  if (is_training()) {
    WSVIS_CHECK(gts != nullptr && gen != nullptr,
                "StandardRoiHeads: training needs the ground truth and a generator");
    out.rois = label_and_sample_proposals(proposals, *gts, o, *gen);
    const Tensor pooled = pool_rois(features, o.strides, out.rois.proposal_boxes,
                                    out.rois.image_index, o.box_resolution, o.sampling_ratio,
                                    o.aligned);
    const auto [scores, deltas] = box_predictor_->forward(box_head_->forward(pooled));
    const BoxLosses bl = fast_rcnn_losses(scores, deltas, out.rois, o.inference.weights,
                                          o.smooth_l1_beta);
    out.loss_cls = bl.loss_cls;
    out.loss_box_reg = bl.loss_box_reg;
    if (mask_head_) {
      // Foreground RoIs only, with their proposal boxes.
      std::vector<RcnnBox> fg_boxes;
      std::vector<int64_t> fg_image, fg_classes;
      std::vector<float> targets;
      for (int64_t r = 0; r < out.rois.size(); ++r) {
        const int64_t c = out.rois.gt_classes[size_t(r)];
        if (c < 0 || c >= o.num_classes) continue;
        fg_boxes.push_back(out.rois.proposal_boxes[size_t(r)]);
        fg_image.push_back(out.rois.image_index[size_t(r)]);
        fg_classes.push_back(c);
        const std::vector<float> t =
            mask_rcnn_targets((*gts)[size_t(fg_image.back())], {fg_boxes.back()},
                              {out.rois.gt_index[size_t(r)]}, mask_side);
        targets.insert(targets.end(), t.begin(), t.end());
      }
      if (fg_boxes.empty()) {
        out.loss_mask = Tensor::zeros({}, features[0].dtype(), features[0].context_ptr());
      } else {
        const Tensor logits = mask_head_->forward(pool_rois(features, o.strides, fg_boxes,
                                                            fg_image, o.mask_resolution,
                                                            o.sampling_ratio, o.aligned));
        out.loss_mask = mask_rcnn_loss(logits, fg_classes, targets);
      }
    }
    return out;
  }
  NoGradGuard no_grad;
  std::vector<RcnnBox> all;
  if ([&] {
        for (const auto& p : proposals) if (!p.empty()) return false;
        return true;
      }()) {
    out.detections.resize(proposals.size());
    return out;
  }
  std::vector<int64_t> image;
  for (size_t n = 0; n < proposals.size(); ++n)
    for (const RcnnBox& b : proposals[n]) all.push_back(b), image.push_back(int64_t(n));
  const Tensor pooled = pool_rois(features, o.strides, all, image, o.box_resolution,
                                  o.sampling_ratio, o.aligned);
  const auto [scores, deltas] = box_predictor_->forward(box_head_->forward(pooled));
  out.detections = fast_rcnn_inference(scores, deltas, proposals, image_sizes, o.inference);
  if (mask_head_) {
    int64_t total = 0;
    for (const RcnnDetections& d : out.detections) total += d.size();
    if (total == 0) return out;
    std::vector<RcnnBox> boxes;
    std::vector<int64_t> det_image, classes;
    for (size_t n = 0; n < out.detections.size(); ++n)
      for (int64_t i = 0; i < out.detections[n].size(); ++i) {
        boxes.push_back(out.detections[n].boxes[size_t(i)]);
        det_image.push_back(int64_t(n));
        classes.push_back(out.detections[n].classes[size_t(i)]);
      }
    const std::vector<float> probs = mask_rcnn_probs(
        mask_head_->forward(pool_rois(features, o.strides, boxes, det_image, o.mask_resolution,
                                      o.sampling_ratio, o.aligned)),
        classes);
    size_t at = 0;
    const size_t plane = size_t(mask_side) * size_t(mask_side);
    for (RcnnDetections& d : out.detections) {
      d.mask_size = mask_side;
      d.mask_probs.assign(probs.begin() + long(at * plane), probs.begin() + long((at + d.size()) * plane));
      at += size_t(d.size());
    }
  }
  return out;
}

}  // namespace wsvis::models
