// Learning-rate schedules as pure functions of the iteration, and LrScheduler, which sets an
// optimizer's base lr from one of them at the optimizer's own step count (so a resumed run,
// whose step count comes back from the checkpoint, continues on the same curve).
//
//   poly (IRN):  lr(it) = base * (1 - it / max_iter)^power            (power 0.9)
//   detectron2 WarmupMultiStepLR:
//     lr(it) = base * warmup(it) * gamma^(number of milestones <= it)
//     warmup(it) = it >= warmup_iters ? 1 : linear: f * (1 - it/W) + it/W ; constant: f
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace wsvis::optim {

class SGD;

// it in [0, max_iter]; 0 at it == max_iter (IRN's PolyOptimizer: the global step before the
// update, starting at 0).
double poly_lr(double base_lr, int64_t iter, int64_t max_iter, double power);

enum class WarmupMethod { linear, constant };

struct WarmupMultiStep {
  double base_lr = 0.01;
  std::vector<int64_t> milestones;  // sorted ascending; gamma applies from each one on
  double gamma = 0.1;
  double warmup_factor = 0.001;  // detectron2's SOLVER.WARMUP_FACTOR
  int64_t warmup_iters = 1000;   // SOLVER.WARMUP_ITERS (0: no warm-up)
  WarmupMethod warmup_method = WarmupMethod::linear;
};
// detectron2's _get_warmup_factor_at_iter.
double warmup_factor_at(WarmupMethod method, int64_t iter, int64_t warmup_iters,
                        double warmup_factor);
double warmup_multistep_lr(const WarmupMultiStep& schedule, int64_t iter);

// Sets optimizer.set_lr(lr_at(optimizer.step_count())) on update(): call it before each step.
class LrScheduler {
 public:
  LrScheduler(SGD& optimizer, std::function<double(int64_t iter)> lr_at);
  static LrScheduler poly(SGD& optimizer, double base_lr, int64_t max_iter, double power);
  static LrScheduler warmup_multistep(SGD& optimizer, WarmupMultiStep schedule);

  double update();  // returns the lr it set
  double lr_at(int64_t iter) const { return lr_at_(iter); }

 private:
  SGD* optimizer_;
  std::function<double(int64_t)> lr_at_;
};

}  // namespace wsvis::optim
