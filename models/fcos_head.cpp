#include "models/fcos_head.h"

#include <cmath>
#include <string>

#include "engine/error.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/shape.h"
#include "layers/init.h"
#include "layers/norm.h"

namespace wsvis::models {

std::shared_ptr<layers::Conv2d> make_fcos_head_conv(int in_channels, int out_channels,
                                                    double bias_value, Generator& gen,
                                                    const ContextPtr& ctx, DType dtype) {
  layers::Conv2dOptions o;
  o.in_channels = in_channels;
  o.out_channels = out_channels;
  o.kernel = 3;
  o.padding = 1;
  o.bias = true;
  auto conv = std::make_shared<layers::Conv2d>(o, gen, ctx, dtype);
  // The constructor drew torch's default init; AdelaiDet re-initialises every head conv.
  layers::init::normal_(conv->weight(), 0.0, 0.01, gen);
  layers::init::constant_(conv->bias(), bias_value);
  return conv;
}

Scale::Scale(double init, const ContextPtr& ctx, DType dtype) {
  register_parameter("scale", Tensor::full({1}, init, dtype, ctx));
}

Tensor Scale::forward(const Tensor& x) { return ops::mul(x, scale()); }

FCOSHead::FCOSHead(const FCOSHeadOptions& options, Generator& gen, const ContextPtr& ctx)
    : options_(options) {
  const FCOSHeadOptions& o = options_;
  WSVIS_CHECK(o.in_channels > 0 && o.num_classes > 0 && o.num_levels > 0 && o.num_convs >= 0,
              "FCOSHead: in_channels ", o.in_channels, ", num_classes ", o.num_classes,
              ", num_levels ", o.num_levels, " must be positive and num_convs ", o.num_convs,
              " non-negative");
  WSVIS_CHECK(o.norm_groups >= 0 && (o.norm_groups == 0 || o.in_channels % o.norm_groups == 0),
              "FCOSHead: in_channels ", o.in_channels, " is not divisible into ", o.norm_groups,
              " GroupNorm groups");
  WSVIS_CHECK(o.prior_prob > 0 && o.prior_prob < 1, "FCOSHead: prior_prob ", o.prior_prob,
              " must lie in (0, 1)");

  // Registration order as AdelaiDet: cls_tower, bbox_tower, cls_logits, bbox_pred, ctrness,
  // scales (its share_tower is empty and holds no state).
  auto make_tower = [&] {
    auto tower = std::make_shared<layers::Sequential>();
    for (int i = 0; i < o.num_convs; ++i) {
      tower->append(make_fcos_head_conv(o.in_channels, o.in_channels, 0.0, gen, ctx, o.dtype));
      if (o.norm_groups > 0)
        tower->append(
            std::make_shared<layers::GroupNorm>(o.norm_groups, o.in_channels, ctx, o.dtype));
      tower->append(std::make_shared<layers::ReLU>());
    }
    return tower;
  };
  cls_tower_ = register_module("cls_tower", make_tower());
  bbox_tower_ = register_module("bbox_tower", make_tower());
  const double cls_bias = -std::log((1.0 - o.prior_prob) / o.prior_prob);
  cls_logits_ = register_module(
      "cls_logits", make_fcos_head_conv(o.in_channels, o.num_classes, cls_bias, gen, ctx, o.dtype));
  bbox_pred_ = register_module(
      "bbox_pred", make_fcos_head_conv(o.in_channels, 4, 0.0, gen, ctx, o.dtype));
  ctrness_ = register_module(
      "ctrness", make_fcos_head_conv(o.in_channels, 1, 0.0, gen, ctx, o.dtype));
  // A Sequential used as torch's ModuleList: it only names its children scales.0, scales.1, ...
  auto scales = register_module("scales", std::make_shared<layers::Sequential>());
  for (int l = 0; l < o.num_levels; ++l)
    scales_.push_back(scales->append(std::make_shared<Scale>(1.0, ctx, o.dtype)));
}

FCOSHeadOutput FCOSHead::forward(const std::vector<Tensor>& features, layers::Conv2d* controller,
                                 bool keep_bbox_towers) {
  WSVIS_CHECK(features.size() == static_cast<size_t>(options_.num_levels), "FCOSHead: got ",
              features.size(), " feature maps for ", options_.num_levels, " levels");
  FCOSHeadOutput out;
  for (size_t l = 0; l < features.size(); ++l) {
    const Tensor& f = features[l];
    WSVIS_CHECK(f.dim() == 4 && f.size(1) == options_.in_channels, "FCOSHead: level ", l,
                " feature must be (N, ", options_.in_channels, ", H, W), got ", f.shape_str());
    const Tensor cls = cls_tower_->forward(f);
    const Tensor box = bbox_tower_->forward(f);
    out.logits.push_back(cls_logits_->forward(cls));
    out.ctrness.push_back(ctrness_->forward(box));
    out.reg.push_back(ops::relu(scales_[l]->forward(bbox_pred_->forward(box))));
    if (controller) out.top_feats.push_back(controller->forward(box));
    if (keep_bbox_towers) out.bbox_towers.push_back(box);
  }
  return out;
}

namespace {
// (N, D, H, W) maps of every level -> (sum_l N * H_l * W_l, D) rows, level-major.
Tensor flatten_levels(const std::vector<Tensor>& maps) {
  std::vector<Tensor> rows;
  rows.reserve(maps.size());
  for (const Tensor& m : maps)
    rows.push_back(ops::reshape(ops::permute(m, {0, 2, 3, 1}), {-1, m.size(1)}));
  return rows.size() == 1 ? rows[0] : ops::concat(rows, 0);
}
}  // namespace

FcosFlatPredictions flatten_fcos_predictions(const FCOSHeadOutput& out) {
  WSVIS_CHECK(!out.logits.empty() && out.reg.size() == out.logits.size() &&
                  out.ctrness.size() == out.logits.size() &&
                  (out.top_feats.empty() || out.top_feats.size() == out.logits.size()),
              "flatten_fcos_predictions: per-level lists of unequal length (logits ",
              out.logits.size(), ", reg ", out.reg.size(), ", ctrness ", out.ctrness.size(),
              ", top_feats ", out.top_feats.size(), ")");
  FcosFlatPredictions flat;
  flat.logits = flatten_levels(out.logits);
  flat.reg = flatten_levels(out.reg);
  flat.ctrness = ops::reshape(flatten_levels(out.ctrness), {-1});
  if (!out.top_feats.empty()) flat.top_feats = flatten_levels(out.top_feats);
  return flat;
}

}  // namespace wsvis::models
