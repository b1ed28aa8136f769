// Loss functions with torch semantics unless stated. Reduction::mean and ::sum give a 0-d
// tensor (shape {}), ::none the per-element (or per-sample) losses. Every loss runs as one fused
// forward kernel pass (per-element loss and reduction together) and one fused backward kernel
// computing the gradient analytically; reductions are deterministic on CPU and CUDA.
//
// Where torch's mean would divide by zero (an empty input, or every cross-entropy target
// ignored) these losses return 0 with a zero gradient instead of NaN, as detectron2's losses
// avoid NaN on images without foreground.
//
// Index-like inputs (cross-entropy targets) take no gradient. Floating targets take the exact
// gradient when they require grad. Weights (bce weight, cross-entropy class weights) are
// constants: passing one that requires grad is an error rather than a silently missing gradient.
#pragma once

#include <cstdint>

#include "engine/ops/types.h"
#include "engine/tensor.h"

namespace wsvis::ops {

// F.binary_cross_entropy_with_logits. logits, targets: same shape (any); weight undefined or
// broadcastable to logits (numpy rules). loss = w * (softplus(x) - x t), computed stably.
// Gradients: logits w*g*(sigmoid(x) - t); targets -w*g*x.
Tensor bce_with_logits(const Tensor& logits, const Tensor& targets, const Tensor& weight = Tensor(),
                       Reduction reduction = Reduction::mean);

// F.multilabel_soft_margin_loss. logits, targets: (N, C), C >= 1. Per-sample loss
// -mean_c[t log sigmoid(x) + (1 - t) log sigmoid(-x)] (N); then mean or sum over N.
Tensor multilabel_soft_margin(const Tensor& logits, const Tensor& targets,
                              Reduction reduction = Reduction::mean);

// F.cross_entropy. logits (N, C) with targets i64 (N), or logits (N, C, d1, ...) with targets
// i64 (N, d1, ...) (e.g. (N, C, H, W) and (N, H, W)). class_weight undefined or (C).
// Positions whose target is ignore_index contribute 0 (none: 0 at that position) and leave the
// mean's denominator, which is the sum of class_weight[target] over the other positions (their
// count without weights). Every target ignored: mean 0 (torch: NaN). A target outside [0, C)
// that is not ignore_index throws an Error naming the value.
Tensor cross_entropy(const Tensor& logits, const Tensor& targets, int64_t ignore_index = -100,
                     Reduction reduction = Reduction::mean, const Tensor& class_weight = Tensor());

// torch F.smooth_l1_loss / fvcore smooth_l1_loss. input, target: same shape. d = input - target;
// loss = |d| < beta ? 0.5 d^2 / beta : |d| - 0.5 beta; beta == 0 is plain L1 (beta >= 0).
// Gradients to input and target.
Tensor smooth_l1(const Tensor& input, const Tensor& target, double beta = 1.0,
                 Reduction reduction = Reduction::mean);

// torchvision/fvcore sigmoid_focal_loss. logits, targets: same shape. p = sigmoid(x),
// ce = BCE-with-logits(x, t), p_t = p t + (1 - p)(1 - t), loss = ce (1 - p_t)^gamma, times
// alpha t + (1 - alpha)(1 - t) when alpha >= 0. gamma >= 0. Analytic gradients to logits and
// targets.
Tensor sigmoid_focal_loss(const Tensor& logits, const Tensor& targets, double alpha = 0.25,
                          double gamma = 2.0, Reduction reduction = Reduction::none);

// CondInst/BoxInst dice loss (specs/boxinst_maskrcnn_ytvis.md): probs, targets (N, ...) are
// flattened per row; loss_n = 1 - 2 sum(p t) / (sum p^2 + sum t^2 + eps), result (N) for none,
// mean or sum over N otherwise. eps >= 0. Gradients to probs and targets.
Tensor dice_loss(const Tensor& probs, const Tensor& targets, double eps = 1e-5,
                 Reduction reduction = Reduction::none);

}  // namespace wsvis::ops
