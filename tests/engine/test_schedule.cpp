// Tests of the learning-rate schedules (poly, detectron2's WarmupMultiStepLR) against values
// worked out by hand, and of LrScheduler driving an optimizer by its step count (also across a
// resume, where the step count is restored).
#include <vector>

#include "engine/optim/schedule.h"
#include "engine/optim/sgd.h"
#include "tests/support/testing.h"

namespace wsvis {
namespace {

using testing::cpu_context;

constexpr double kRel = 1e-14;  // pow and a few products: a couple of ulps

// IRN: base 0.1, max 100, power 0.9.
//   it 0: 0.1;  it 50: 0.1 * 0.5^0.9 = 0.1 * 2^-0.9 = 0.05358867312681466
//   it 99: 0.1 * 0.01^0.9 = 10^-2.8 = 0.0015848931924611135;  it 100: 0
TEST(Schedule, PolyHandValues) {
  EXPECT_DOUBLE_EQ(optim::poly_lr(0.1, 0, 100, 0.9), 0.1);
  EXPECT_NEAR(optim::poly_lr(0.1, 50, 100, 0.9), 0.05358867312681466, kRel * 0.05);
  EXPECT_NEAR(optim::poly_lr(0.1, 99, 100, 0.9), 0.0015848931924611135, 1e-13 * 0.0016);
  EXPECT_EQ(optim::poly_lr(0.1, 100, 100, 0.9), 0.0);
  // power 1 is linear decay: 0.1 * (1 - 25/100) = 0.075
  EXPECT_NEAR(optim::poly_lr(0.1, 25, 100, 1.0), 0.075, kRel * 0.075);
  EXPECT_THROW(optim::poly_lr(0.1, 101, 100, 0.9), Error);
  EXPECT_THROW(optim::poly_lr(0.1, 0, 0, 0.9), Error);
}

// detectron2 defaults scaled down: base 0.02, milestones (60, 80), gamma 0.1, warm-up factor
// 0.001 over 10 iterations.
//   it 0: 0.02 * 0.001 = 2e-5
//   it 3: alpha 0.3, factor 0.001 * 0.7 + 0.3 = 0.3007 -> 0.006014
//   it 5: alpha 0.5, factor 0.5005 -> 0.01001
//   it 10..59: 0.02;  60..79: 0.002;  80..: 0.0002 (bisect_right: a milestone applies from itself)
TEST(Schedule, WarmupMultiStepHandValues) {
  optim::WarmupMultiStep s;
  s.base_lr = 0.02;
  s.milestones = {60, 80};
  s.gamma = 0.1;
  s.warmup_factor = 0.001;
  s.warmup_iters = 10;
  const std::vector<std::pair<int64_t, double>> expected = {
      {0, 2e-5},    {3, 0.006014}, {5, 0.01001}, {9, 0.02 * (0.001 * 0.1 + 0.9)},
      {10, 0.02},   {59, 0.02},    {60, 0.002},  {79, 0.002},
      {80, 0.0002}, {1000, 0.0002}};
  for (const auto& [it, lr] : expected)
    EXPECT_NEAR(optim::warmup_multistep_lr(s, it), lr, kRel * lr) << "iteration " << it;
  s.warmup_method = optim::WarmupMethod::constant;
  EXPECT_NEAR(optim::warmup_multistep_lr(s, 5), 2e-5, kRel * 2e-5);
  EXPECT_DOUBLE_EQ(optim::warmup_multistep_lr(s, 10), 0.02);
  s.warmup_iters = 0;  // no warm-up
  EXPECT_DOUBLE_EQ(optim::warmup_multistep_lr(s, 0), 0.02);
  // A milestone inside the warm-up multiplies too (detectron2's legacy scheduler does).
  s.warmup_iters = 10;
  s.warmup_method = optim::WarmupMethod::linear;
  s.milestones = {5};
  EXPECT_NEAR(optim::warmup_multistep_lr(s, 5), 0.001001, kRel * 0.001);
  s.milestones = {80, 60};
  EXPECT_THROW(optim::warmup_multistep_lr(s, 0), Error);
}

TEST(Schedule, SchedulerSetsGroupLrsFromTheStepCount) {
  auto ctx = cpu_context();
  Tensor a = Tensor::zeros({2}, DType::f32, ctx), b = Tensor::zeros({2}, DType::f32, ctx);
  a.set_requires_grad(true);
  b.set_requires_grad(true);
  optim::SgdOptions o;
  o.lr = 123;  // overwritten by the schedule
  optim::SGD opt({optim::ParamGroup{"backbone", {a}, 1.0, std::nullopt},
                  optim::ParamGroup{"classifier", {b}, 10.0, std::nullopt}},
                 o);
  auto sched = optim::LrScheduler::poly(opt, 0.1, 100, 0.9);
  EXPECT_DOUBLE_EQ(sched.update(), 0.1);
  EXPECT_DOUBLE_EQ(opt.group_lr(1), 1.0);
  for (int i = 0; i < 50; ++i) opt.step();
  sched.update();
  EXPECT_NEAR(opt.lr(), 0.05358867312681466, kRel * 0.05);
  EXPECT_NEAR(opt.group_lr(1), 0.5358867312681466, kRel * 0.5);
  // A resumed optimizer (step count restored) is on the same point of the curve.
  optim::SGD resumed(std::vector<Tensor>{a.detach()}, o);
  resumed.set_step_count(50);
  auto again = optim::LrScheduler::poly(resumed, 0.1, 100, 0.9);
  EXPECT_EQ(again.update(), opt.lr());

  optim::WarmupMultiStep w;
  w.base_lr = 0.02;
  w.milestones = {60};
  w.warmup_iters = 10;
  auto d2 = optim::LrScheduler::warmup_multistep(opt, w);  // step count is 50
  EXPECT_DOUBLE_EQ(d2.update(), 0.02);
  EXPECT_NEAR(d2.lr_at(60), 0.002, kRel * 0.002);
}

}  // namespace
}  // namespace wsvis
