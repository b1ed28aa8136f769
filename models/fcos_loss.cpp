#include "models/fcos_loss.h"

#include <algorithm>
#include <vector>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/loss.h"
#include "engine/ops/reduce.h"
#include "engine/ops/shape.h"

namespace wsvis::models {

Tensor FcosLosses::total() const { return ops::add(ops::add(cls, loc), ctr); }

namespace {

// Column c of an (M, 4) tensor as (M).
Tensor column(const Tensor& t, int c) {
  return ops::reshape(ops::slice(t, 1, c, c + 1), {t.size(0)});
}

double reduce(const FcosLossOptions& options, double value) {
  return options.reduce_mean ? options.reduce_mean(value) : value;
}

Tensor rows_tensor(const std::vector<int64_t>& rows, const ContextPtr& ctx) {
  return Tensor::from_vector(rows, {static_cast<int64_t>(rows.size())}, ctx);
}

void check_flat(const FcosFlatPredictions& flat, const FcosTargets& targets, const char* who) {
  const int64_t rows = targets.layout.rows();
  WSVIS_CHECK(flat.logits.defined() && flat.logits.dim() == 2 && flat.logits.size(0) == rows &&
                  flat.logits.size(1) == targets.num_classes,
              who, ": logits must be (", rows, ", ", targets.num_classes, "), got ",
              flat.logits.defined() ? flat.logits.shape_str() : std::string("undefined"));
  WSVIS_CHECK(flat.reg.defined() && flat.reg.shape() == Shape({rows, 4}), who,
              ": reg must be (", rows, ", 4)");
  WSVIS_CHECK(flat.ctrness.defined() && flat.ctrness.shape() == Shape({rows}), who,
              ": ctrness must be (", rows, ")");
}

}  // namespace

Tensor fcos_giou_loss(const Tensor& pred, const Tensor& target) {
  WSVIS_CHECK(pred.dim() == 2 && pred.size(1) == 4 && target.shape() == pred.shape(),
              "fcos_giou_loss: pred and target must both be (M, 4), got ", pred.shape_str(),
              " and ", target.shape_str());
  const int64_t m = pred.size(0);
  // (M, 4, 2): prediction and target side by side, so one max over the last dim gives the
  // elementwise max, and one over the negation the elementwise min.
  const Tensor pair =
      ops::concat({ops::reshape(pred, {m, 4, 1}), ops::reshape(target, {m, 4, 1})}, 2);
  const Tensor hi = ops::max(pair, 2).values;
  const Tensor lo = ops::neg(ops::max(ops::neg(pair), 2).values);
  auto area = [](const Tensor& ltrb) {
    return ops::mul(ops::add(column(ltrb, 0), column(ltrb, 2)),
                    ops::add(column(ltrb, 1), column(ltrb, 3)));
  };
  const Tensor inter = area(lo);
  const Tensor enclosing = area(hi);
  const Tensor uni = ops::sub(ops::add(area(target), area(pred)), inter);
  const Tensor iou = ops::div(ops::add_scalar(inter, 1.0), ops::add_scalar(uni, 1.0));
  const Tensor giou = ops::sub(iou, ops::div(ops::sub(enclosing, uni), enclosing));
  return ops::add_scalar(ops::neg(giou), 1.0);
}

FcosLosses fcos_losses(const FcosFlatPredictions& flat, const FcosTargets& targets,
                       const FcosLossOptions& options) {
  check_flat(flat, targets, "fcos_losses");
  const ContextPtr& ctx = flat.logits.context_ptr();
  const DType dtype = flat.logits.dtype();
  const int64_t rows = targets.layout.rows();
  const int64_t classes = targets.num_classes;
  const int64_t m = targets.num_positives();

  FcosLosses out;
  out.num_pos = m;
  out.num_pos_avg = std::max(reduce(options, double(m)), 1.0);
  double ctr_sum = 0;
  for (float c : targets.ctr_targets) ctr_sum += c;
  out.loss_denorm = std::max(reduce(options, ctr_sum), 1e-6);

  // One-hot class targets, built on the host (negatives: all zero).
  std::vector<float> onehot(size_t(rows) * size_t(classes), 0.0f);
  for (int64_t r : targets.positives)
    onehot[size_t(r) * size_t(classes) + size_t(targets.labels[size_t(r)])] = 1.0f;
  const Tensor class_target = Tensor::from_vector(onehot, {rows, classes}, ctx, dtype);
  out.cls = ops::mul_scalar(ops::sigmoid_focal_loss(flat.logits, class_target, options.focal_alpha,
                                                    options.focal_gamma, ops::Reduction::sum),
                            1.0 / out.num_pos_avg);

  // Positives only: regression and centreness.
  const Tensor pos = rows_tensor(targets.positives, ctx);
  std::vector<float> reg_t(size_t(m) * 4);
  for (int64_t i = 0; i < m; ++i)
    std::copy_n(&targets.reg_targets[size_t(targets.positives[size_t(i)]) * 4], 4,
                &reg_t[size_t(i) * 4]);
  const Tensor reg_target = Tensor::from_vector(reg_t, {m, 4}, ctx, dtype);
  const Tensor ctr_target = Tensor::from_vector(targets.ctr_targets, {m}, ctx, dtype);
  const Tensor reg_pred = ops::index_select(flat.reg, 0, pos);
  const Tensor ctr_pred = ops::index_select(flat.ctrness, 0, pos);
  out.loc = ops::mul_scalar(ops::sum(ops::mul(fcos_giou_loss(reg_pred, reg_target), ctr_target)),
                            1.0 / out.loss_denorm);
  out.ctr = ops::mul_scalar(
      ops::bce_with_logits(ctr_pred, ctr_target, Tensor(), ops::Reduction::sum),
      1.0 / out.num_pos_avg);
  return out;
}

FcosPositives gather_fcos_positives(const FcosFlatPredictions& flat, const FcosTargets& targets) {
  check_flat(flat, targets, "gather_fcos_positives");
  const ContextPtr& ctx = flat.logits.context_ptr();
  FcosPositives p;
  p.rows = rows_tensor(targets.positives, ctx);
  for (int64_t r : targets.positives) {
    const int level = targets.level_of(r);
    const int64_t in_level = r - targets.layout.level_begin[size_t(level)];
    const int64_t location = in_level % targets.layout.locations(level);
    p.image_index.push_back(static_cast<int64_t>(in_level / targets.layout.locations(level)));
    p.gt_index.push_back(targets.gt_index[size_t(r)]);
    p.level.push_back(level);
    p.location.push_back(targets.layout.location_xy(level, location));
  }
  if (flat.top_feats.defined()) {
    WSVIS_CHECK(flat.top_feats.dim() == 2 && flat.top_feats.size(0) == targets.layout.rows(),
                "gather_fcos_positives: top_feats must be (", targets.layout.rows(),
                ", P), got ", flat.top_feats.shape_str());
    p.controller = ops::index_select(flat.top_feats, 0, p.rows);
  }
  NoGradGuard no_grad;
  if (p.size() == 0) {
    p.quality = Tensor::zeros({0}, flat.logits.dtype(), ctx);
    return p;
  }
  const Tensor logits = ops::index_select(flat.logits.detach(), 0, p.rows);
  const Tensor ctr = ops::index_select(flat.ctrness.detach(), 0, p.rows);
  p.quality = ops::mul(ops::sigmoid(ops::max(logits, 1).values), ops::sigmoid(ctr));
  return p;
}

}  // namespace wsvis::models
