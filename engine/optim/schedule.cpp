#include "engine/optim/schedule.h"

#include <algorithm>
#include <cmath>

#include "engine/error.h"
#include "engine/optim/sgd.h"

namespace wsvis::optim {

double poly_lr(double base_lr, int64_t iter, int64_t max_iter, double power) {
  WSVIS_CHECK(max_iter > 0, "poly_lr: max_iter must be > 0, got ", max_iter);
  WSVIS_CHECK(iter >= 0 && iter <= max_iter, "poly_lr: iteration ", iter, " outside [0, ", max_iter,
              "]");
  return base_lr * std::pow(1.0 - double(iter) / double(max_iter), power);
}

double warmup_factor_at(WarmupMethod method, int64_t iter, int64_t warmup_iters,
                        double warmup_factor) {
  if (iter >= warmup_iters) return 1.0;
  if (method == WarmupMethod::constant) return warmup_factor;
  const double alpha = double(iter) / double(warmup_iters);
  return warmup_factor * (1.0 - alpha) + alpha;
}

double warmup_multistep_lr(const WarmupMultiStep& s, int64_t iter) {
  WSVIS_CHECK(iter >= 0, "warmup_multistep_lr: negative iteration ", iter);
  WSVIS_CHECK(std::is_sorted(s.milestones.begin(), s.milestones.end()),
              "warmup_multistep_lr: milestones must be sorted ascending");
  // bisect_right: a milestone m applies from iteration m on.
  const auto passed =
      std::upper_bound(s.milestones.begin(), s.milestones.end(), iter) - s.milestones.begin();
  return s.base_lr * warmup_factor_at(s.warmup_method, iter, s.warmup_iters, s.warmup_factor) *
         std::pow(s.gamma, double(passed));
}

LrScheduler::LrScheduler(SGD& optimizer, std::function<double(int64_t)> lr_at)
    : optimizer_(&optimizer), lr_at_(std::move(lr_at)) {
  WSVIS_CHECK(static_cast<bool>(lr_at_), "LrScheduler: empty schedule function");
}

LrScheduler LrScheduler::poly(SGD& optimizer, double base_lr, int64_t max_iter, double power) {
  WSVIS_CHECK(max_iter > 0, "LrScheduler::poly: max_iter must be > 0, got ", max_iter);
  return LrScheduler(optimizer, [=](int64_t it) { return poly_lr(base_lr, it, max_iter, power); });
}

LrScheduler LrScheduler::warmup_multistep(SGD& optimizer, WarmupMultiStep schedule) {
  WSVIS_CHECK(std::is_sorted(schedule.milestones.begin(), schedule.milestones.end()),
              "LrScheduler::warmup_multistep: milestones must be sorted ascending");
  return LrScheduler(optimizer,
                     [s = std::move(schedule)](int64_t it) { return warmup_multistep_lr(s, it); });
}

double LrScheduler::update() {
  const double lr = lr_at_(optimizer_->step_count());
  optimizer_->set_lr(lr);
  return lr;
}

}  // namespace wsvis::optim
