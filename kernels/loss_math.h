// Per-element loss maths shared by the CPU and CUDA twins of the loss kernels (kernels/loss.h),
// and the "term" / "finish" functors that both twins' reduction drivers call: a term adds the
// contribution of flat element f to K accumulators, a finisher turns a row's K totals into
// outputs. The twins then differ only in how they schedule terms and sum accumulators.
#pragma once

#include <math.h>

#include <cstdint>

#include "kernels/common.h"

namespace wsvis::kernels {

// ---- float/double maths under one name (device code and host code alike) -----------------
WSVIS_HD inline float lm_exp(float x) { return expf(x); }
WSVIS_HD inline double lm_exp(double x) { return exp(x); }
WSVIS_HD inline float lm_log(float x) { return logf(x); }
WSVIS_HD inline double lm_log(double x) { return log(x); }
WSVIS_HD inline float lm_log1p(float x) { return log1pf(x); }
WSVIS_HD inline double lm_log1p(double x) { return log1p(x); }
WSVIS_HD inline float lm_abs(float x) { return fabsf(x); }
WSVIS_HD inline double lm_abs(double x) { return fabs(x); }
WSVIS_HD inline float lm_pow(float x, float y) { return powf(x, y); }
WSVIS_HD inline double lm_pow(double x, double y) { return pow(x, y); }

// Which pointwise loss a pointwise kernel computes (uniform over a launch: no divergence).
enum class PointwiseKind : int {
  bce_logits = 0,  // softplus(x) - x*t                          (torch BCE-with-logits)
  smooth_l1 = 1,   // |d| < beta ? 0.5 d^2 / beta : |d| - beta/2  (d = x - t; beta 0: |d|)
  focal = 2,       // torchvision sigmoid_focal_loss
  identity = 3,    // x (sums an existing per-row loss)
};

struct PointwiseParams {
  double beta = 1.0;    // smooth_l1
  double alpha = 0.25;  // focal; < 0 disables the class balance factor
  double gamma = 2.0;   // focal
};

// sigmoid without overflow for large |x|.
template <typename T>
WSVIS_HD inline T stable_sigmoid(T x) {
  if (x >= T(0)) return T(1) / (T(1) + lm_exp(-x));
  const T e = lm_exp(x);
  return e / (T(1) + e);
}

// log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)): exact for large |x| in either sign.
template <typename T>
WSVIS_HD inline T softplus(T x) {
  return (x > T(0) ? x : T(0)) + lm_log1p(lm_exp(-lm_abs(x)));
}

// -[t log sigmoid(x) + (1 - t) log sigmoid(-x)] = softplus(x) - x t.
template <typename T>
WSVIS_HD inline T bce_logits_value(T x, T t) {
  return softplus(x) - x * t;
}

// gamma * q^(gamma - 1), the derivative of q^gamma, with its limits at q = 0: the factor it
// multiplies vanishes there (q = p or 1 - p for binary targets), so 0 is the limit for
// gamma < 1, and pow(0, 0) = 1 covers gamma = 1.
template <typename T>
WSVIS_HD inline T focal_pow_derivative(T q, T gamma) {
  if (gamma == T(0)) return T(0);
  if (q > T(0) || gamma >= T(1)) return gamma * lm_pow(q, gamma - T(1));
  return T(0);
}

template <typename T>
WSVIS_HD inline T focal_balance(T t, T alpha) {
  return alpha >= T(0) ? alpha * t + (T(1) - alpha) * (T(1) - t) : T(1);
}

// loss = A(t) * ce(x, t) * q^gamma with p = sigmoid(x), q = 1 - p_t = p + t - 2 p t.
template <typename T>
WSVIS_HD inline T focal_value(T x, T t, T alpha, T gamma) {
  const T p = stable_sigmoid(x);
  const T q = p + t - T(2) * p * t;
  const T m = gamma == T(0) ? T(1) : lm_pow(q, gamma);
  return focal_balance(t, alpha) * bce_logits_value(x, t) * m;
}

// d loss / dx and d loss / dt of focal_value.
template <typename T>
WSVIS_HD inline void focal_grads(T x, T t, T alpha, T gamma, T* dx, T* dt) {
  const T p = stable_sigmoid(x);
  const T q = p + t - T(2) * p * t;
  const T m = gamma == T(0) ? T(1) : lm_pow(q, gamma);
  const T dm_dq = focal_pow_derivative(q, gamma);
  const T ce = bce_logits_value(x, t);
  const T a = focal_balance(t, alpha);
  const T da_dt = alpha >= T(0) ? T(2) * alpha - T(1) : T(0);
  // dq/dx = p (1 - p) (1 - 2t), dq/dt = 1 - 2p, dce/dx = p - t, dce/dt = -x.
  *dx = a * ((p - t) * m + ce * dm_dq * p * (T(1) - p) * (T(1) - T(2) * t));
  *dt = da_dt * ce * m + a * (-x * m + ce * dm_dq * (T(1) - T(2) * p));
}

template <typename T>
WSVIS_HD inline T smooth_l1_value(T d, T beta) {
  const T ad = lm_abs(d);
  return ad < beta ? T(0.5) * d * d / beta : ad - T(0.5) * beta;
}

// d/dd; at d = 0 with beta = 0 the subgradient 0 (torch's sign(0)).
template <typename T>
WSVIS_HD inline T smooth_l1_grad(T d, T beta) {
  if (lm_abs(d) < beta) return d / beta;
  return d > T(0) ? T(1) : (d < T(0) ? T(-1) : T(0));
}

template <typename T>
WSVIS_HD inline T pointwise_value(PointwiseKind kind, const PointwiseParams& p, T x, T t) {
  switch (kind) {
    case PointwiseKind::bce_logits: return bce_logits_value(x, t);
    case PointwiseKind::smooth_l1: return smooth_l1_value(x - t, T(p.beta));
    case PointwiseKind::focal: return focal_value(x, t, T(p.alpha), T(p.gamma));
    case PointwiseKind::identity: return x;
  }
  return T(0);
}

template <typename T>
WSVIS_HD inline void pointwise_grads(PointwiseKind kind, const PointwiseParams& p, T x, T t,
                                     T* dx, T* dt) {
  switch (kind) {
    case PointwiseKind::bce_logits:
      *dx = stable_sigmoid(x) - t;
      *dt = -x;
      return;
    case PointwiseKind::smooth_l1: {
      const T g = smooth_l1_grad(x - t, T(p.beta));
      *dx = g;
      *dt = -g;
      return;
    }
    case PointwiseKind::focal: focal_grads(x, t, T(p.alpha), T(p.gamma), dx, dt); return;
    case PointwiseKind::identity:
      *dx = T(1);
      *dt = T(0);
      return;
  }
}

// ---- terms: add element f's contribution to acc[0..K) ---------------------------------------

template <typename T>
struct PointwiseTerm {
  static constexpr int K = 1;
  PointwiseKind kind;
  PointwiseParams params;
  const T* input;
  const T* target;  // null for identity
  const T* weight;  // null: 1; else same length as input
  template <typename A>
  WSVIS_HD void operator()(int64_t f, A* acc) const {
    T v = pointwise_value(kind, params, input[f], target ? target[f] : T(0));
    if (weight) v *= weight[f];
    acc[0] += A(v);
  }
};

// Cross entropy at flat position f of (N, S) for logits (N, C, S): acc += {loss, weight}.
template <typename T>
struct CrossEntropyTerm {
  static constexpr int K = 2;
  const T* logits;
  const int64_t* targets;
  const T* class_weight;  // null: 1
  int64_t classes, spatial, ignore_index;
  template <typename A>
  WSVIS_HD void operator()(int64_t f, A* acc) const {
    const int64_t y = targets[f];
    if (y == ignore_index) return;
    const int64_t n = f / spatial, s = f % spatial;
    const T* x = logits + n * classes * spatial + s;
    T mx = x[0];
    for (int64_t c = 1; c < classes; ++c) mx = x[c * spatial] > mx ? x[c * spatial] : mx;
    T sum = T(0);
    for (int64_t c = 0; c < classes; ++c) sum += lm_exp(x[c * spatial] - mx);
    const T w = class_weight ? class_weight[y] : T(1);
    acc[0] += A(w * (mx + lm_log(sum) - x[y * spatial]));
    acc[1] += A(w);
  }
};

// Dice sums of one element: acc += {p t, p^2, t^2}.
template <typename T>
struct DiceTerm {
  static constexpr int K = 3;
  const T* probs;
  const T* targets;
  template <typename A>
  WSVIS_HD void operator()(int64_t f, A* acc) const {
    const T p = probs[f], t = targets[f];
    acc[0] += A(p * t);
    acc[1] += A(p * p);
    acc[2] += A(t * t);
  }
};

// ---- finishers: outputs of row r from its totals ---------------------------------------------

template <typename T>
struct ScaleFinish {
  T* out;
  double scale;
  template <typename A>
  WSVIS_HD void operator()(int64_t r, const A* total) const {
    out[r] = T(total[0] * A(scale));
  }
};

// Per-position (none) or summed cross entropy; with `mean`, divides by the summed weight and
// stores that denominator for the backward (0 when every target is ignored: the loss is then
// 0, not torch's NaN).
template <typename T>
struct CrossEntropyFinish {
  T* out;
  T* denominator;  // used with mean only
  bool mean;
  template <typename A>
  WSVIS_HD void operator()(int64_t r, const A* total) const {
    if (!mean) {
      out[r] = T(total[0]);
      return;
    }
    denominator[r] = T(total[1]);
    out[r] = total[1] != A(0) ? T(total[0] / total[1]) : T(0);
  }
};

// loss = 1 - 2 a / d with a = sum p t, d = sum p^2 + sum t^2 + eps; stats keep (a, d).
template <typename T>
struct DiceFinish {
  T* loss;
  T* stats;
  double eps;
  template <typename A>
  WSVIS_HD void operator()(int64_t r, const A* total) const {
    const A a = total[0];
    const A d = total[1] + total[2] + A(eps);
    loss[r] = T(A(1) - A(2) * a / d);
    stats[2 * r] = T(a);
    stats[2 * r + 1] = T(d);
  }
};

// ---- per-element backward bodies ------------------------------------------------------------

// Gradient of element i of a pointwise loss; g is the loss gradient already scaled.
template <typename T>
WSVIS_HD inline void pointwise_backward_at(PointwiseKind kind, const PointwiseParams& params,
                                           const T* input, const T* target, const T* weight,
                                           int64_t i, T g, T* grad_input, T* grad_target) {
  T dx = T(0), dt = T(0);
  pointwise_grads(kind, params, input[i], target ? target[i] : T(0), &dx, &dt);
  if (weight) g *= weight[i];
  if (grad_input) grad_input[i] = g * dx;
  if (grad_target) grad_target[i] = g * dt;
}

// Gradient of every class at position f of cross entropy; g already includes 1/denominator.
template <typename T>
WSVIS_HD inline void cross_entropy_backward_at(const T* logits, const int64_t* targets,
                                               const T* class_weight, int64_t classes,
                                               int64_t spatial, int64_t ignore_index, int64_t f,
                                               T g, T* grad_logits) {
  const int64_t n = f / spatial, s = f % spatial;
  const int64_t base = n * classes * spatial + s;
  const int64_t y = targets[f];
  if (y == ignore_index) {
    for (int64_t c = 0; c < classes; ++c) grad_logits[base + c * spatial] = T(0);
    return;
  }
  const T* x = logits + base;
  T mx = x[0];
  for (int64_t c = 1; c < classes; ++c) mx = x[c * spatial] > mx ? x[c * spatial] : mx;
  T sum = T(0);
  for (int64_t c = 0; c < classes; ++c) sum += lm_exp(x[c * spatial] - mx);
  const T scale = g * (class_weight ? class_weight[y] : T(1));
  for (int64_t c = 0; c < classes; ++c) {
    const T softmax = lm_exp(x[c * spatial] - mx) / sum;
    grad_logits[base + c * spatial] = scale * (softmax - (c == y ? T(1) : T(0)));
  }
}

// Dice gradient at element i of row r = i / cols; g is the row's loss gradient (scaled).
// d loss / dp = -2 (t d - 2 a p) / d^2, and symmetrically for t.
template <typename T>
WSVIS_HD inline void dice_backward_at(const T* probs, const T* targets, const T* stats,
                                      int64_t i, int64_t cols, T g, T* grad_probs,
                                      T* grad_targets) {
  const int64_t r = i / cols;
  const T a = stats[2 * r], d = stats[2 * r + 1];
  const T p = probs[i], t = targets[i];
  const T k = T(-2) * g / (d * d);
  if (grad_probs) grad_probs[i] = k * (t * d - T(2) * a * p);
  if (grad_targets) grad_targets[i] = k * (p * d - T(2) * a * t);
}

}  // namespace wsvis::kernels
