#include "engine/ops/loss.h"

#include <string>

#include "engine/ops/elementwise.h"
#include "engine/ops/op_utils.h"
#include "engine/ops/shape.h"
#include "kernels/loss.h"

namespace wsvis::ops {

namespace {

using kernels::PointwiseKind;
using kernels::PointwiseParams;

// Scratch for the CUDA reduction (none on the CPU).
Tensor loss_scratch(const Tensor& ref, int64_t rows, int64_t group, int k) {
  int64_t elems = 0;
  if (detail::on_cpu(ref)) {
    elems = kernels::cpu::loss_scratch_elems(rows, group, k);
  } else {
#if WSVIS_WITH_CUDA
    elems = kernels::cuda::loss_scratch_elems(rows, group, k);
#endif
  }
  return elems > 0 ? Tensor::empty({elems}, ref.dtype(), ref.context_ptr()) : Tensor();
}

template <typename T>
T* ptr_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

// Two floating tensors of one dtype, context and shape.
void check_pair(const char* op, const Tensor& a, const char* a_name, const Tensor& b,
                const char* b_name) {
  detail::check_defined(a, op, a_name);
  detail::check_defined(b, op, b_name);
  detail::check_same_context(op, {&a, &b});
  detail::check_floating(a, op, a_name);
  detail::check_floating(b, op, b_name);
  detail::check_same_dtype(op, a, b);
  WSVIS_CHECK(a.shape() == b.shape(), op, ": ", a_name, " ", a.shape_str(), " and ", b_name, " ",
              b.shape_str(), " must have the same shape");
}

// How a pointwise loss over n elements is laid out as rows x group with a scale.
struct Plan {
  int64_t rows = 0, group = 1;
  double scale = 1.0;
  Shape out_shape;
};

Plan elementwise_plan(const Tensor& input, Reduction reduction) {
  const int64_t n = input.numel();
  if (reduction == Reduction::none) return {n, 1, 1.0, input.shape()};
  const double scale = reduction == Reduction::sum ? 1.0 : (n > 0 ? 1.0 / double(n) : 0.0);
  return {1, n, scale, Shape{}};
}

// Runs a pointwise loss kernel and records its fused backward. weight is undefined or has
// input's shape; target gets a gradient only when it requires one.
Tensor pointwise_loss(const char* op, PointwiseKind kind, const PointwiseParams& params,
                      const Tensor& input, const Tensor& target, const Tensor& weight,
                      const Plan& plan) {
  Tensor out = Tensor::empty(plan.out_shape, input.dtype(), input.context_ptr());
  const Tensor scratch = loss_scratch(input, plan.rows, plan.group, 1);
  WSVIS_DISPATCH_FLOATING(input.dtype(), op, [&] {
    using T = scalar_t;
    if (detail::on_cpu(input)) {
      kernels::cpu::pointwise_loss_forward<T>(kind, params, input.data<T>(), target.data<T>(),
                                              ptr_or_null<T>(weight), plan.rows, plan.group,
                                              plan.scale, out.data<T>(), ptr_or_null<T>(scratch));
    } else {
#if WSVIS_WITH_CUDA
      kernels::cuda::pointwise_loss_forward<T>(
          input.context().stream(), kind, params, input.data<T>(), target.data<T>(),
          ptr_or_null<T>(weight), plan.rows, plan.group, plan.scale, out.data<T>(),
          ptr_or_null<T>(scratch));
#endif
    }
  });
  if (autograd::needs_record({&input, &target})) {
    const Tensor x = input.detach(), t = target.detach(), w = weight;
    const int64_t grad_group = plan.group > 0 ? plan.group : 1;
    const double scale = plan.scale;
    autograd::record(out, op, {input, target},
                     [=](const Tensor& g, const std::vector<bool>& needs) -> std::vector<Tensor> {
                       Tensor gx, gt;
                       if (needs[0]) gx = Tensor::empty(x.shape(), x.dtype(), x.context_ptr());
                       if (needs[1]) gt = Tensor::empty(t.shape(), t.dtype(), t.context_ptr());
                       WSVIS_DISPATCH_FLOATING(x.dtype(), op, [&] {
                         using T = scalar_t;
                         if (detail::on_cpu(x)) {
                           kernels::cpu::pointwise_loss_backward<T>(
                               kind, params, x.data<T>(), t.data<T>(), ptr_or_null<T>(w),
                               x.numel(), g.data<T>(), grad_group, scale, ptr_or_null<T>(gx),
                               ptr_or_null<T>(gt));
                         } else {
#if WSVIS_WITH_CUDA
                           kernels::cuda::pointwise_loss_backward<T>(
                               x.context().stream(), kind, params, x.data<T>(), t.data<T>(),
                               ptr_or_null<T>(w), x.numel(), g.data<T>(), grad_group, scale,
                               ptr_or_null<T>(gx), ptr_or_null<T>(gt));
#endif
                         }
                       });
                       return {gx, gt};
                     });
  }
  return out;
}

void check_constant_weight(const Tensor& w, const char* op, const char* what) {
  WSVIS_CHECK(!w.requires_grad(), op, ": ", what, " ", w.describe(), " requires grad, but ",
              op, " treats it as a constant (no gradient to it is computed); pass ", what,
              ".detach()");
}

}  // namespace

Tensor bce_with_logits(const Tensor& logits, const Tensor& targets, const Tensor& weight,
                       Reduction reduction) {
  const char* op = "bce_with_logits";
  check_pair(op, logits, "logits", targets, "targets");
  Tensor weight_full;
  if (weight.defined()) {
    detail::check_same_context(op, {&logits, &weight});
    detail::check_floating(weight, op, "weight");
    detail::check_same_dtype(op, logits, weight);
    check_constant_weight(weight, op, "weight");
    WSVIS_CHECK(detail::broadcast_shapes(weight.shape(), logits.shape(), op) == logits.shape(), op,
                ": weight ", weight.shape_str(), " cannot broadcast to logits ", logits.shape_str());
    weight_full = weight.shape() == logits.shape() ? weight : detail::broadcast_to(weight, logits.shape());
  }
  return pointwise_loss(op, PointwiseKind::bce_logits, PointwiseParams{}, logits, targets,
                        weight_full, elementwise_plan(logits, reduction));
}

Tensor multilabel_soft_margin(const Tensor& logits, const Tensor& targets, Reduction reduction) {
  const char* op = "multilabel_soft_margin";
  check_pair(op, logits, "logits", targets, "targets");
  detail::check_dim(logits, 2, op, "logits", "(N, C)");
  const int64_t n = logits.size(0), c = logits.size(1);
  WSVIS_CHECK(c >= 1, op, ": logits ", logits.shape_str(), " has no classes");
  Plan plan;
  if (reduction == Reduction::none) {
    plan = {n, c, 1.0 / double(c), Shape{n}};
  } else {
    const double scale = reduction == Reduction::sum ? 1.0 / double(c)
                                                     : (n > 0 ? 1.0 / double(n * c) : 0.0);
    plan = {1, n * c, scale, Shape{}};
  }
  return pointwise_loss(op, PointwiseKind::bce_logits, PointwiseParams{}, logits, targets,
                        Tensor(), plan);
}

Tensor smooth_l1(const Tensor& input, const Tensor& target, double beta, Reduction reduction) {
  const char* op = "smooth_l1";
  check_pair(op, input, "input", target, "target");
  WSVIS_CHECK(beta >= 0, op, ": beta must be >= 0, got ", beta);
  PointwiseParams params;
  params.beta = beta;
  return pointwise_loss(op, PointwiseKind::smooth_l1, params, input, target, Tensor(),
                        elementwise_plan(input, reduction));
}

Tensor sigmoid_focal_loss(const Tensor& logits, const Tensor& targets, double alpha, double gamma,
                          Reduction reduction) {
  const char* op = "sigmoid_focal_loss";
  check_pair(op, logits, "logits", targets, "targets");
  WSVIS_CHECK(gamma >= 0, op, ": gamma must be >= 0, got ", gamma);
  PointwiseParams params;
  params.alpha = alpha;
  params.gamma = gamma;
  return pointwise_loss(op, PointwiseKind::focal, params, logits, targets, Tensor(),
                        elementwise_plan(logits, reduction));
}

Tensor cross_entropy(const Tensor& logits, const Tensor& targets, int64_t ignore_index,
                     Reduction reduction, const Tensor& class_weight) {
  const char* op = "cross_entropy";
  detail::check_defined(logits, op, "logits");
  detail::check_defined(targets, op, "targets");
  detail::check_same_context(op, {&logits, &targets, &class_weight});
  detail::check_floating(logits, op, "logits");
  WSVIS_CHECK(logits.dim() >= 2, op, ": logits must be (N, C) or (N, C, d1, ...), got ",
              logits.shape_str());
  WSVIS_CHECK(targets.dtype() == DType::i64, op, ": targets must be i64 class indices, got ",
              targets.describe());
  Shape expected_targets = logits.shape();
  expected_targets.erase(expected_targets.begin() + 1);
  WSVIS_CHECK(targets.shape() == expected_targets, op, ": targets ", targets.shape_str(),
              " do not match logits ", logits.shape_str(), " (expected ",
              wsvis::shape_str(expected_targets), ")");
  const int64_t batch = logits.size(0), classes = logits.size(1);
  WSVIS_CHECK(classes >= 1, op, ": logits ", logits.shape_str(), " has no classes");
  const int64_t spatial = batch > 0 ? targets.numel() / batch : 0;
  if (class_weight.defined()) {
    detail::check_floating(class_weight, op, "class_weight");
    detail::check_same_dtype(op, logits, class_weight);
    WSVIS_CHECK(class_weight.dim() == 1 && class_weight.size(0) == classes, op,
                ": class_weight must be (C) = (", classes, "), got ", class_weight.shape_str());
    check_constant_weight(class_weight, op, "class_weight");
  }
  detail::check_index_range(targets, classes, true, ignore_index, op, "target");

  const bool reduce = reduction != Reduction::none;
  const bool mean = reduction == Reduction::mean;
  Tensor out = Tensor::empty(reduce ? Shape{} : targets.shape(), logits.dtype(),
                             logits.context_ptr());
  Tensor denominator = mean ? Tensor::empty({1}, logits.dtype(), logits.context_ptr()) : Tensor();
  const int64_t positions = batch * spatial;
  const Tensor scratch = reduce ? loss_scratch(logits, 1, positions, 2) : Tensor();
  WSVIS_DISPATCH_FLOATING(logits.dtype(), op, [&] {
    using T = scalar_t;
    if (detail::on_cpu(logits)) {
      kernels::cpu::cross_entropy_forward<T>(
          logits.data<T>(), targets.data<int64_t>(), ptr_or_null<T>(class_weight), batch,
          classes, spatial, ignore_index, reduce, mean, out.data<T>(),
          ptr_or_null<T>(denominator), ptr_or_null<T>(scratch));
    } else {
#if WSVIS_WITH_CUDA
      kernels::cuda::cross_entropy_forward<T>(
          logits.context().stream(), logits.data<T>(), targets.data<int64_t>(),
          ptr_or_null<T>(class_weight), batch, classes, spatial, ignore_index, reduce, mean,
          out.data<T>(), ptr_or_null<T>(denominator), ptr_or_null<T>(scratch));
#endif
    }
  });
  if (autograd::needs_record({&logits})) {
    const Tensor x = logits.detach(), y = targets, w = class_weight;
    autograd::record(
        out, op, {logits},
        [=](const Tensor& g, const std::vector<bool>&) -> std::vector<Tensor> {
          Tensor gx = Tensor::empty(x.shape(), x.dtype(), x.context_ptr());
          WSVIS_DISPATCH_FLOATING(x.dtype(), op, [&] {
            using T = scalar_t;
            if (detail::on_cpu(x)) {
              kernels::cpu::cross_entropy_backward<T>(
                  x.data<T>(), y.data<int64_t>(), ptr_or_null<T>(w), batch, classes, spatial,
                  ignore_index, g.data<T>(), reduce, ptr_or_null<T>(denominator), gx.data<T>());
            } else {
#if WSVIS_WITH_CUDA
              kernels::cuda::cross_entropy_backward<T>(
                  x.context().stream(), x.data<T>(), y.data<int64_t>(), ptr_or_null<T>(w), batch,
                  classes, spatial, ignore_index, g.data<T>(), reduce,
                  ptr_or_null<T>(denominator), gx.data<T>());
#endif
            }
          });
          return {gx};
        });
  }
  return out;
}

Tensor dice_loss(const Tensor& probs, const Tensor& targets, double eps, Reduction reduction) {
  const char* op = "dice_loss";
  check_pair(op, probs, "probs", targets, "targets");
  WSVIS_CHECK(probs.dim() >= 1, op, ": probs must be (N, ...), got a 0-d tensor");
  WSVIS_CHECK(eps >= 0, op, ": eps must be >= 0, got ", eps);
  const int64_t rows = probs.size(0);
  int64_t cols = 1;
  for (int d = 1; d < probs.dim(); ++d) cols *= probs.size(d);
  Tensor row_loss = Tensor::empty({rows}, probs.dtype(), probs.context_ptr());
  Tensor stats = Tensor::empty({rows, 2}, probs.dtype(), probs.context_ptr());
  const Tensor scratch = loss_scratch(probs, rows, cols, 3);
  WSVIS_DISPATCH_FLOATING(probs.dtype(), op, [&] {
    using T = scalar_t;
    if (detail::on_cpu(probs)) {
      kernels::cpu::dice_forward<T>(probs.data<T>(), targets.data<T>(), rows, cols, eps,
                                    row_loss.data<T>(), stats.data<T>(), ptr_or_null<T>(scratch));
    } else {
#if WSVIS_WITH_CUDA
      kernels::cuda::dice_forward<T>(probs.context().stream(), probs.data<T>(),
                                     targets.data<T>(), rows, cols, eps, row_loss.data<T>(),
                                     stats.data<T>(), ptr_or_null<T>(scratch));
#endif
    }
  });
  Tensor out = row_loss;
  double scale = 1.0;
  int64_t grad_group = 1;
  if (reduction != Reduction::none) {
    // Sum the per-row losses with the pointwise identity kernel (same deterministic reduction).
    scale = reduction == Reduction::sum ? 1.0 : (rows > 0 ? 1.0 / double(rows) : 0.0);
    grad_group = rows > 0 ? rows : 1;
    out = Tensor::empty({}, probs.dtype(), probs.context_ptr());
    const Tensor sum_scratch = loss_scratch(probs, 1, rows, 1);
    WSVIS_DISPATCH_FLOATING(probs.dtype(), op, [&] {
      using T = scalar_t;
      if (detail::on_cpu(probs)) {
        kernels::cpu::pointwise_loss_forward<T>(PointwiseKind::identity, PointwiseParams{},
                                                row_loss.data<T>(), nullptr, nullptr, 1, rows,
                                                scale, out.data<T>(), ptr_or_null<T>(sum_scratch));
      } else {
#if WSVIS_WITH_CUDA
        kernels::cuda::pointwise_loss_forward<T>(
            probs.context().stream(), PointwiseKind::identity, PointwiseParams{},
            row_loss.data<T>(), nullptr, nullptr, 1, rows, scale, out.data<T>(),
            ptr_or_null<T>(sum_scratch));
#endif
      }
    });
  }
  if (autograd::needs_record({&probs, &targets})) {
    const Tensor p = probs.detach(), t = targets.detach();
    autograd::record(out, op, {probs, targets},
                     [=](const Tensor& g, const std::vector<bool>& needs) -> std::vector<Tensor> {
                       Tensor gp, gt;
                       if (needs[0]) gp = Tensor::empty(p.shape(), p.dtype(), p.context_ptr());
                       if (needs[1]) gt = Tensor::empty(t.shape(), t.dtype(), t.context_ptr());
                       WSVIS_DISPATCH_FLOATING(p.dtype(), op, [&] {
                         using T = scalar_t;
                         if (detail::on_cpu(p)) {
                           kernels::cpu::dice_backward<T>(
                               p.data<T>(), t.data<T>(), stats.data<T>(), rows, cols, g.data<T>(),
                               grad_group, scale, ptr_or_null<T>(gp), ptr_or_null<T>(gt));
                         } else {
#if WSVIS_WITH_CUDA
                           kernels::cuda::dice_backward<T>(
                               p.context().stream(), p.data<T>(), t.data<T>(), stats.data<T>(),
                               rows, cols, g.data<T>(), grad_group, scale, ptr_or_null<T>(gp),
                               ptr_or_null<T>(gt));
#endif
                         }
                       });
                       return {gp, gt};
                     });
  }
  return out;
}

}  // namespace wsvis::ops
