// Loss ops: forward values against naive double loops written here (in the textbook, not the
// numerically stable, form) and hand-computed numbers, gradients against central differences in
// double for every reduction, CUDA against the CPU twin, and misuse.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "engine/ops/loss.h"
#include "tests/support/testing.h"

namespace wsvis {
namespace {

using ops::Reduction;
using testing::cpu_context;
using testing::cuda_parity;
using testing::gradcheck;
using testing::random_input;
using testing::tensors_close;

// Smooth functions of O(1) inputs: central differences with eps 1e-6 carry ~1e-10 rounding
// error, so atol 1e-7 / rtol 1e-5 leaves two orders of magnitude of margin and still catches
// any wrong term.
const testing::GradcheckOptions kSmooth{1e-6, 1e-7, 1e-5, 7};
// f32 CUDA vs f32 CPU: exp/log differ by a few ulps and reductions add in another order
// (error ~ sqrt(n) * 6e-8 relative for the sizes here), so 1e-5 absolute + 1e-4 relative.
constexpr double kParityAtol = 1e-5, kParityRtol = 1e-4;
// Forward values against double references computed a different way: rounding only.
constexpr double kForwardTol = 1e-12;

const std::vector<Reduction> kAllReductions{Reduction::none, Reduction::mean, Reduction::sum};

const char* name(Reduction r) {
  return r == Reduction::none ? "none" : (r == Reduction::mean ? "mean" : "sum");
}

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// Applies a reduction to per-element losses on the host.
std::vector<double> reduce_ref(const std::vector<double>& losses, Reduction r) {
  if (r == Reduction::none) return losses;
  double sum = 0;
  for (double v : losses) sum += v;
  if (r == Reduction::mean) sum = losses.empty() ? 0.0 : sum / double(losses.size());
  return {sum};
}

Tensor from(const std::vector<double>& v, const Shape& shape, const ContextPtr& ctx) {
  return Tensor::from_vector<double>(v, shape, ctx);
}

Tensor expected_tensor(const std::vector<double>& v, Reduction r, const Shape& none_shape,
                       const ContextPtr& ctx) {
  return from(v, r == Reduction::none ? none_shape : Shape{}, ctx);
}

template <typename Fn>
void expect_error_with(Fn fn, const std::vector<std::string>& parts) {
  try {
    fn();
    ADD_FAILURE() << "expected a wsvis::Error";
  } catch (const Error& e) {
    const std::string message = e.what();
    for (const std::string& p : parts)
      EXPECT_NE(message.find(p), std::string::npos) << "message `" << message << "` lacks `" << p
                                                   << "`";
  }
}

// Targets in {0, 1} as f64 (or f32).
Tensor binary_targets(const Shape& shape, Generator& gen, const ContextPtr& ctx,
                      DType dtype = DType::f64) {
  std::vector<double> v(static_cast<size_t>(shape_numel(shape)));
  for (double& x : v) x = gen.uniform(0, 1) < 0.4 ? 1.0 : 0.0;
  return Tensor::from_vector<double>(v, shape, ctx, dtype);
}

// ---- bce_with_logits -------------------------------------------------------------------------

TEST(BceWithLogits, HandComputedValues) {
  auto ctx = cpu_context();
  // x = 0: log 2 whatever the target; x = 2, t = 1: log(1 + e^-2); x = -3, t = 1: log(1 + e^3).
  Tensor x = from({0, 0, 2, -3}, {4}, ctx), t = from({0, 1, 1, 1}, {4}, ctx);
  const std::vector<double> expected{std::log(2.0), std::log(2.0), std::log1p(std::exp(-2.0)),
                                     std::log1p(std::exp(3.0))};
  EXPECT_TRUE(tensors_close(ops::bce_with_logits(x, t, Tensor(), Reduction::none),
                            from(expected, {4}, ctx), kForwardTol, 0));
  // Large logits stay finite (the naive form would give log(0)).
  Tensor big = from({100, -100}, {2}, ctx), zeros = from({0, 1}, {2}, ctx);
  EXPECT_TRUE(tensors_close(ops::bce_with_logits(big, zeros, Tensor(), Reduction::none),
                            from({100, 100}, {2}, ctx), 1e-12, 0));
}

TEST(BceWithLogits, MatchesNaiveWithBroadcastWeight) {
  auto ctx = cpu_context();
  Generator gen(1);
  const Shape shape{3, 4};
  Tensor x = random_input(shape, gen, ctx, DType::f64, false, -3, 3);
  Tensor t = random_input(shape, gen, ctx, DType::f64, false, 0, 1);
  Tensor w = random_input({4}, gen, ctx, DType::f64, false, 0.2, 2);
  const auto xv = x.to_vector<double>(), tv = t.to_vector<double>(), wv = w.to_vector<double>();
  std::vector<double> losses;
  for (size_t i = 0; i < xv.size(); ++i) {
    const double p = sigmoid(xv[i]);
    losses.push_back(-wv[i % 4] * (tv[i] * std::log(p) + (1 - tv[i]) * std::log(1 - p)));
  }
  for (Reduction r : kAllReductions)
    EXPECT_TRUE(tensors_close(ops::bce_with_logits(x, t, w, r),
                              expected_tensor(reduce_ref(losses, r), r, shape, ctx), 1e-12, 1e-12))
        << name(r);
  // A (3, 1) weight broadcasts along the other dimension.
  Tensor w_col = random_input({3, 1}, gen, ctx, DType::f64, false, 0.2, 2);
  Tensor w_full = from({w_col.to_vector<double>()[0], w_col.to_vector<double>()[0],
                        w_col.to_vector<double>()[0], w_col.to_vector<double>()[0],
                        w_col.to_vector<double>()[1], w_col.to_vector<double>()[1],
                        w_col.to_vector<double>()[1], w_col.to_vector<double>()[1],
                        w_col.to_vector<double>()[2], w_col.to_vector<double>()[2],
                        w_col.to_vector<double>()[2], w_col.to_vector<double>()[2]},
                       shape, ctx);
  EXPECT_TRUE(tensors_close(ops::bce_with_logits(x, t, w_col, Reduction::none),
                            ops::bce_with_logits(x, t, w_full, Reduction::none), 0, 0));
}

TEST(BceWithLogits, Gradcheck) {
  auto ctx = cpu_context();
  for (uint64_t seed : {1, 2, 3}) {
    Generator gen(seed);
    Tensor x = random_input({3, 4}, gen, ctx, DType::f64, true, -3, 3);
    Tensor t = random_input({3, 4}, gen, ctx, DType::f64, true, 0, 1);
    Tensor w = random_input({4}, gen, ctx, DType::f64, false, 0.2, 2);
    for (Reduction r : kAllReductions) {
      EXPECT_TRUE(gradcheck([&](const std::vector<Tensor>& in) {
        return ops::bce_with_logits(in[0], in[1], w, r);
      }, {x, t}, kSmooth)) << name(r) << " seed " << seed;
      EXPECT_TRUE(gradcheck([&](const std::vector<Tensor>& in) {
        return ops::bce_with_logits(in[0], in[1], Tensor(), r);
      }, {x, t}, kSmooth)) << name(r) << " seed " << seed;
    }
  }
}

// ---- multilabel_soft_margin -----------------------------------------------------------------

TEST(MultilabelSoftMargin, MatchesNaive) {
  auto ctx = cpu_context();
  Generator gen(2);
  Tensor x = random_input({3, 5}, gen, ctx, DType::f64, false, -3, 3);
  Tensor t = binary_targets({3, 5}, gen, ctx);
  const auto xv = x.to_vector<double>(), tv = t.to_vector<double>();
  std::vector<double> per_sample(3, 0.0);
  for (size_t i = 0; i < xv.size(); ++i)
    per_sample[i / 5] -= (tv[i] * std::log(sigmoid(xv[i])) +
                          (1 - tv[i]) * std::log(sigmoid(-xv[i]))) / 5.0;
  for (Reduction r : kAllReductions)
    EXPECT_TRUE(tensors_close(ops::multilabel_soft_margin(x, t, r),
                              expected_tensor(reduce_ref(per_sample, r), r, {3}, ctx), 1e-12,
                              1e-12))
        << name(r);
  // Zero logits: every sample's loss is log 2.
  Tensor z = Tensor::zeros({2, 3}, DType::f64, ctx);
  EXPECT_NEAR(ops::multilabel_soft_margin(z, binary_targets({2, 3}, gen, ctx)).item<double>(),
              std::log(2.0), 1e-15);
}

TEST(MultilabelSoftMargin, Gradcheck) {
  auto ctx = cpu_context();
  for (uint64_t seed : {1, 2, 3}) {
    Generator gen(seed);
    Tensor x = random_input({3, 4}, gen, ctx, DType::f64, true, -3, 3);
    Tensor t = random_input({3, 4}, gen, ctx, DType::f64, true, 0, 1);
    for (Reduction r : kAllReductions)
      EXPECT_TRUE(gradcheck([&](const std::vector<Tensor>& in) {
        return ops::multilabel_soft_margin(in[0], in[1], r);
      }, {x, t}, kSmooth)) << name(r) << " seed " << seed;
  }
}

// ---- cross_entropy --------------------------------------------------------------------------

// Naive cross entropy over logits (N, C, S) given flat vectors; returns per-position losses
// (0 where ignored) and the mean's denominator.
struct CeRef {
  std::vector<double> losses;
  double denominator = 0;
};
CeRef cross_entropy_ref(const std::vector<double>& x, const std::vector<int64_t>& y, int64_t n,
                        int64_t c, int64_t s, int64_t ignore, const std::vector<double>& w) {
  CeRef ref;
  for (int64_t b = 0; b < n; ++b)
    for (int64_t p = 0; p < s; ++p) {
      const int64_t target = y[static_cast<size_t>(b * s + p)];
      if (target == ignore) {
        ref.losses.push_back(0);
        continue;
      }
      double z = 0;
      for (int64_t k = 0; k < c; ++k) z += std::exp(x[static_cast<size_t>((b * c + k) * s + p)]);
      const double softmax_y = std::exp(x[static_cast<size_t>((b * c + target) * s + p)]) / z;
      const double wy = w.empty() ? 1.0 : w[static_cast<size_t>(target)];
      ref.losses.push_back(-wy * std::log(softmax_y));
      ref.denominator += wy;
    }
  return ref;
}

TEST(CrossEntropy, HandComputedValue) {
  auto ctx = cpu_context();
  // logits (1, 2, 3), (1, 1, 1) with targets 2, 0:
  // log(e + e^2 + e^3) - 3 = 0.40760596444437, log 3 = 1.09861228866811.
  Tensor x = from({1, 2, 3, 1, 1, 1}, {2, 3}, ctx);
  Tensor y = Tensor::from_vector<int64_t>({2, 0}, {2}, ctx);
  EXPECT_TRUE(tensors_close(ops::cross_entropy(x, y, -100, Reduction::none),
                            from({0.40760596444437, 1.09861228866811}, {2}, ctx), 1e-13, 0));
  EXPECT_NEAR(ops::cross_entropy(x, y).item<double>(), (0.40760596444437 + 1.09861228866811) / 2,
              1e-13);
  // Class weights (1, 1, 3): weighted mean (3 * 0.4076 + 1 * 1.0986) / (3 + 1).
  Tensor w = from({1, 1, 3}, {3}, ctx);
  EXPECT_NEAR(ops::cross_entropy(x, y, -100, Reduction::mean, w).item<double>(),
              (3 * 0.40760596444437 + 1.09861228866811) / 4, 1e-13);
}

struct CeCase {
  Shape logits_shape;  // (N, C, ...)
  bool weighted;
};

TEST(CrossEntropy, MatchesNaiveWithIgnoreAndWeights) {
  auto ctx = cpu_context();
  Generator gen(3);
  for (const CeCase& cc : std::vector<CeCase>{{{5, 4}, false}, {{5, 4}, true},
                                              {{2, 3, 3, 4}, false}, {{2, 3, 3, 4}, true}}) {
    const Shape& ls = cc.logits_shape;
    const int64_t n = ls[0], c = ls[1], s = shape_numel(ls) / (n * c);
    Shape ts = ls;
    ts.erase(ts.begin() + 1);
    Tensor x = random_input(ls, gen, ctx, DType::f64, false, -3, 3);
    std::vector<int64_t> yv(static_cast<size_t>(n * s));
    for (int64_t& v : yv) v = gen.uniform(0, 1) < 0.25 ? 255 : gen.randint(0, c);
    yv[0] = 255;  // at least one ignored position
    Tensor y = Tensor::from_vector<int64_t>(yv, ts, ctx);
    std::vector<double> wv;
    Tensor w;
    if (cc.weighted) {
      w = random_input({c}, gen, ctx, DType::f64, false, 0.2, 2);
      wv = w.to_vector<double>();
    }
    const CeRef ref = cross_entropy_ref(x.to_vector<double>(), yv, n, c, s, 255, wv);
    double sum = 0;
    for (double v : ref.losses) sum += v;
    EXPECT_TRUE(tensors_close(ops::cross_entropy(x, y, 255, Reduction::none, w),
                              from(ref.losses, ts, ctx), 1e-12, 1e-12));
    EXPECT_NEAR(ops::cross_entropy(x, y, 255, Reduction::sum, w).item<double>(), sum, 1e-12);
    EXPECT_NEAR(ops::cross_entropy(x, y, 255, Reduction::mean, w).item<double>(),
                sum / ref.denominator, 1e-12);
  }
}

TEST(CrossEntropy, AllIgnoredGivesZeroNotNaN) {
  auto ctx = cpu_context();
  Generator gen(4);
  Tensor x = random_input({3, 4}, gen, ctx);
  Tensor y = Tensor::from_vector<int64_t>({-100, -100, -100}, {3}, ctx);
  Tensor loss = ops::cross_entropy(x, y);
  EXPECT_EQ(loss.item<double>(), 0.0);
  loss.backward();
  EXPECT_EQ(x.grad().to_vector<double>(), std::vector<double>(12, 0.0));
}

TEST(CrossEntropy, Gradcheck) {
  auto ctx = cpu_context();
  for (uint64_t seed : {1, 2, 3}) {
    for (const CeCase& cc : std::vector<CeCase>{{{4, 3}, false}, {{4, 3}, true},
                                                {{2, 3, 2, 3}, false}, {{2, 3, 2, 3}, true}}) {
      Generator gen(seed);
      const Shape& ls = cc.logits_shape;
      const int64_t c = ls[1];
      Shape ts = ls;
      ts.erase(ts.begin() + 1);
      Tensor x = random_input(ls, gen, ctx, DType::f64, true, -2, 2);
      std::vector<int64_t> yv(static_cast<size_t>(shape_numel(ts)));
      for (int64_t& v : yv) v = gen.randint(0, c);
      yv[1] = -1;  // ignore_index -1 at one position
      Tensor y = Tensor::from_vector<int64_t>(yv, ts, ctx);
      Tensor w = cc.weighted ? random_input({c}, gen, ctx, DType::f64, false, 0.2, 2) : Tensor();
      for (Reduction r : kAllReductions)
        EXPECT_TRUE(gradcheck([&](const std::vector<Tensor>& in) {
          return ops::cross_entropy(in[0], y, -1, r, w);
        }, {x}, kSmooth)) << name(r) << " " << shape_str(ls) << " weighted " << cc.weighted;
    }
  }
}

// ---- smooth_l1 ------------------------------------------------------------------------------

// input, target pairs whose difference is at least 0.05 away from the kinks of smooth L1 with
// this beta (|d| = beta, and d = 0 for beta 0), so central differences see a smooth function.
void away_from_kink(double beta, const Shape& shape, Generator& gen, const ContextPtr& ctx,
                    Tensor* input, Tensor* target) {
  *input = random_input(shape, gen, ctx, DType::f64, true, -2, 2);
  std::vector<double> iv = input->to_vector<double>(), tv(iv.size());
  for (size_t i = 0; i < iv.size(); ++i) {
    const double sign = gen.uniform(0, 1) < 0.5 ? -1 : 1;
    const double mag = beta > 0 && gen.uniform(0, 1) < 0.5 ? gen.uniform(0.05, beta - 0.05)
                                                           : gen.uniform(beta + 0.05, beta + 1.5);
    tv[i] = iv[i] - sign * mag;
  }
  *target = from(tv, shape, ctx);
  target->set_requires_grad(true);
}

TEST(SmoothL1, MatchesNaive) {
  auto ctx = cpu_context();
  Generator gen(5);
  for (double beta : {0.0, 0.5, 1.0}) {
    Tensor x, t;
    away_from_kink(beta, {4, 3}, gen, ctx, &x, &t);
    const auto xv = x.to_vector<double>(), tv = t.to_vector<double>();
    std::vector<double> losses;
    for (size_t i = 0; i < xv.size(); ++i) {
      const double d = std::fabs(xv[i] - tv[i]);
      losses.push_back(beta == 0 ? d : (d < beta ? 0.5 * d * d / beta : d - 0.5 * beta));
    }
    for (Reduction r : kAllReductions)
      EXPECT_TRUE(tensors_close(ops::smooth_l1(x, t, beta, r),
                                expected_tensor(reduce_ref(losses, r), r, {4, 3}, ctx), 1e-12,
                                1e-12))
          << "beta " << beta << " " << name(r);
  }
  // Hand-computed: d = 0.25 with beta 0.5 -> 0.0625; d = -2 -> 1.75.
  Tensor x = from({0.25, -2}, {2}, ctx), z = from({0, 0}, {2}, ctx);
  EXPECT_TRUE(tensors_close(ops::smooth_l1(x, z, 0.5, Reduction::none), from({0.0625, 1.75}, {2}, ctx),
                            1e-15, 0));
}

TEST(SmoothL1, Gradcheck) {
  auto ctx = cpu_context();
  for (uint64_t seed : {1, 2, 3}) {
    for (double beta : {0.0, 0.5}) {
      Generator gen(seed);
      Tensor x, t;
      away_from_kink(beta, {3, 4}, gen, ctx, &x, &t);
      for (Reduction r : kAllReductions)
        EXPECT_TRUE(gradcheck([&](const std::vector<Tensor>& in) {
          return ops::smooth_l1(in[0], in[1], beta, r);
        }, {x, t}, kSmooth)) << "beta " << beta << " " << name(r) << " seed " << seed;
    }
  }
}

// ---- sigmoid_focal_loss ---------------------------------------------------------------------

double focal_ref(double x, double t, double alpha, double gamma) {
  const double p = sigmoid(x);
  const double ce = -(t * std::log(p) + (1 - t) * std::log(1 - p));
  const double p_t = p * t + (1 - p) * (1 - t);
  double loss = ce * std::pow(1 - p_t, gamma);
  if (alpha >= 0) loss *= alpha * t + (1 - alpha) * (1 - t);
  return loss;
}

TEST(SigmoidFocalLoss, MatchesNaive) {
  auto ctx = cpu_context();
  Generator gen(6);
  Tensor x = random_input({4, 5}, gen, ctx, DType::f64, false, -3, 3);
  Tensor t = binary_targets({4, 5}, gen, ctx);
  const auto xv = x.to_vector<double>(), tv = t.to_vector<double>();
  for (double alpha : {-1.0, 0.25})
    for (double gamma : {0.0, 2.0}) {
      std::vector<double> losses;
      for (size_t i = 0; i < xv.size(); ++i) losses.push_back(focal_ref(xv[i], tv[i], alpha, gamma));
      for (Reduction r : kAllReductions)
        EXPECT_TRUE(tensors_close(ops::sigmoid_focal_loss(x, t, alpha, gamma, r),
                                  expected_tensor(reduce_ref(losses, r), r, {4, 5}, ctx), 1e-12,
                                  1e-12))
            << "alpha " << alpha << " gamma " << gamma << " " << name(r);
    }
  // Hand-computed: x = 0, t = 1, alpha 0.25, gamma 2: 0.25 * log 2 * 0.5^2.
  EXPECT_NEAR(ops::sigmoid_focal_loss(from({0}, {1}, ctx), from({1}, {1}, ctx)).item<double>(),
              0.25 * std::log(2.0) * 0.25, 1e-15);
}

TEST(SigmoidFocalLoss, Gradcheck) {
  auto ctx = cpu_context();
  for (uint64_t seed : {1, 2, 3})
    for (double alpha : {-1.0, 0.25})
      for (double gamma : {0.0, 2.0, 1.5}) {
        Generator gen(seed);
        Tensor x = random_input({3, 4}, gen, ctx, DType::f64, true, -3, 3);
        Tensor soft = random_input({3, 4}, gen, ctx, DType::f64, true, 0, 1);
        Tensor hard = binary_targets({3, 4}, gen, ctx);
        for (Reduction r : kAllReductions) {
          auto fn = [&](const std::vector<Tensor>& in) {
            return ops::sigmoid_focal_loss(in[0], in[1], alpha, gamma, r);
          };
          EXPECT_TRUE(gradcheck(fn, {x, soft}, kSmooth))
              << "soft alpha " << alpha << " gamma " << gamma << " " << name(r);
          EXPECT_TRUE(gradcheck(fn, {x, hard}, kSmooth))
              << "hard alpha " << alpha << " gamma " << gamma << " " << name(r);
        }
      }
}

// ---- dice_loss ------------------------------------------------------------------------------

TEST(DiceLoss, MatchesNaiveAndHandValue) {
  auto ctx = cpu_context();
  Generator gen(7);
  const Shape shape{3, 2, 4};
  Tensor p = random_input(shape, gen, ctx, DType::f64, false, 0, 1);
  Tensor t = binary_targets(shape, gen, ctx);
  const auto pv = p.to_vector<double>(), tv = t.to_vector<double>();
  std::vector<double> losses;
  for (size_t n = 0; n < 3; ++n) {
    double pt = 0, pp = 0, tt = 0;
    for (size_t j = 0; j < 8; ++j) {
      pt += pv[n * 8 + j] * tv[n * 8 + j];
      pp += pv[n * 8 + j] * pv[n * 8 + j];
      tt += tv[n * 8 + j] * tv[n * 8 + j];
    }
    losses.push_back(1 - 2 * pt / (pp + tt + 1e-5));
  }
  for (Reduction r : kAllReductions)
    EXPECT_TRUE(tensors_close(ops::dice_loss(p, t, 1e-5, r),
                              expected_tensor(reduce_ref(losses, r), r, {3}, ctx), 1e-12, 1e-12))
        << name(r);
  // p = t = (1, 0): 1 - 2 / (1 + 1 + eps) with eps 0 -> 0; p = (1, 0), t = (0, 1) -> 1.
  Tensor a = from({1, 0, 1, 0}, {2, 2}, ctx), b = from({1, 0, 0, 1}, {2, 2}, ctx);
  EXPECT_TRUE(tensors_close(ops::dice_loss(a, b, 0.0), from({0, 1}, {2}, ctx), 1e-15, 0));
}

TEST(DiceLoss, Gradcheck) {
  auto ctx = cpu_context();
  for (uint64_t seed : {1, 2, 3}) {
    Generator gen(seed);
    Tensor p = random_input({3, 2, 3}, gen, ctx, DType::f64, true, 0, 1);
    Tensor t = random_input({3, 2, 3}, gen, ctx, DType::f64, true, 0, 1);
    for (Reduction r : kAllReductions)
      EXPECT_TRUE(gradcheck([&](const std::vector<Tensor>& in) {
        return ops::dice_loss(in[0], in[1], 1e-5, r);
      }, {p, t}, kSmooth)) << name(r) << " seed " << seed;
  }
}

// ---- empty inputs ---------------------------------------------------------------------------

TEST(Losses, EmptyBatch) {
  auto ctx = cpu_context();
  Tensor x = Tensor::zeros({0, 4}, DType::f64, ctx);
  x.set_requires_grad(true);
  Tensor y = Tensor::zeros({0}, DType::i64, ctx);
  EXPECT_EQ(ops::cross_entropy(x, y).item<double>(), 0.0);
  EXPECT_EQ(ops::cross_entropy(x, y, -100, Reduction::none).shape(), (Shape{0}));
  EXPECT_EQ(ops::bce_with_logits(x, x.detach()).item<double>(), 0.0);
  EXPECT_EQ(ops::dice_loss(x, x.detach(), 1e-5, Reduction::none).shape(), (Shape{0}));
  Tensor loss = ops::sigmoid_focal_loss(x, x.detach(), 0.25, 2.0, Reduction::sum);
  EXPECT_EQ(loss.item<double>(), 0.0);
  loss.backward();
  EXPECT_EQ(x.grad().shape(), (Shape{0, 4}));
}

// ---- misuse ---------------------------------------------------------------------------------

TEST(Losses, Misuse) {
  auto ctx = cpu_context();
  auto other = Context::create(Device::cpu());
  Tensor x = Tensor::zeros({3, 4}, DType::f32, ctx);
  Tensor t = Tensor::zeros({3, 4}, DType::f32, ctx);
  // Target out of range names the value and the class count.
  expect_error_with([&] {
    ops::cross_entropy(x, Tensor::from_vector<int64_t>({0, 7, 1}, {3}, ctx));
  }, {"cross_entropy", "value 7", "size 4"});
  expect_error_with([&] {
    ops::cross_entropy(x, Tensor::from_vector<int64_t>({0, -5, 1}, {3}, ctx));
  }, {"value -5"});
  EXPECT_THROW(ops::cross_entropy(x, Tensor::zeros({3}, DType::i32, ctx)), Error);
  EXPECT_THROW(ops::cross_entropy(x, Tensor::zeros({3}, DType::f32, ctx)), Error);
  EXPECT_THROW(ops::cross_entropy(x, Tensor::zeros({4}, DType::i64, ctx)), Error);
  EXPECT_THROW(ops::cross_entropy(Tensor::zeros({3}, DType::f32, ctx),
                                  Tensor::zeros({}, DType::i64, ctx)), Error);
  EXPECT_THROW(ops::cross_entropy(x, Tensor::zeros({3}, DType::i64, ctx), -100, Reduction::mean,
                                  Tensor::ones({3}, DType::f32, ctx)), Error);
  EXPECT_THROW(ops::cross_entropy(x, Tensor::zeros({3}, DType::i64, other)), Error);
  Tensor cw = Tensor::ones({4}, DType::f32, ctx);
  cw.set_requires_grad(true);
  expect_error_with([&] {
    ops::cross_entropy(x, Tensor::zeros({3}, DType::i64, ctx), -100, Reduction::mean, cw);
  }, {"class_weight", "constant"});
  // Shape, dtype, rank and context mismatches of the pointwise losses.
  Tensor wrong = Tensor::zeros({4, 3}, DType::f32, ctx);
  expect_error_with([&] { ops::bce_with_logits(x, wrong); }, {"bce_with_logits", "(3, 4)", "(4, 3)"});
  EXPECT_THROW(ops::smooth_l1(x, wrong), Error);
  EXPECT_THROW(ops::sigmoid_focal_loss(x, wrong), Error);
  EXPECT_THROW(ops::dice_loss(x, wrong), Error);
  EXPECT_THROW(ops::multilabel_soft_margin(x, wrong), Error);
  EXPECT_THROW(ops::bce_with_logits(x, Tensor::zeros({3, 4}, DType::f64, ctx)), Error);
  EXPECT_THROW(ops::bce_with_logits(x, Tensor::zeros({3, 4}, DType::i64, ctx)), Error);
  EXPECT_THROW(ops::bce_with_logits(x, Tensor::zeros({3, 4}, DType::f32, other)), Error);
  EXPECT_THROW(ops::bce_with_logits(x, t, Tensor::ones({3}, DType::f32, ctx)), Error);
  EXPECT_THROW(ops::bce_with_logits(x, t, Tensor::ones({1, 3, 4}, DType::f32, ctx)), Error);
  EXPECT_THROW(ops::multilabel_soft_margin(Tensor::zeros({2, 3, 4}, DType::f32, ctx),
                                           Tensor::zeros({2, 3, 4}, DType::f32, ctx)), Error);
  EXPECT_THROW(ops::dice_loss(Tensor::zeros({}, DType::f32, ctx), Tensor::zeros({}, DType::f32, ctx)),
               Error);
  EXPECT_THROW(ops::smooth_l1(x, t, -0.5), Error);
  EXPECT_THROW(ops::sigmoid_focal_loss(x, t, 0.25, -1.0), Error);
  EXPECT_THROW(ops::bce_with_logits(Tensor(), t), Error);
}

// ---- CUDA parity ----------------------------------------------------------------------------

TEST(LossCuda, PointwiseParity) {
  WSVIS_REQUIRE_CUDA();
  auto ctx = cpu_context();
  Generator gen(31);
  for (const Shape& shape : std::vector<Shape>{{7, 13}, {1, 1}, {0, 13}, {301, 257}}) {
    Tensor x = random_input(shape, gen, ctx, DType::f32, true, -4, 4);
    Tensor t = random_input(shape, gen, ctx, DType::f32, true, 0, 1);
    Tensor w = random_input({shape[1]}, gen, ctx, DType::f32, false, 0.2, 2);
    for (Reduction r : kAllReductions) {
      const std::string what = shape_str(shape) + " " + name(r);
      EXPECT_TRUE(cuda_parity([&](const std::vector<Tensor>& in) {
        return ops::bce_with_logits(in[0], in[1], in[2], r);
      }, {x, t, w}, kParityAtol, kParityRtol)) << "bce " << what;
      EXPECT_TRUE(cuda_parity([&](const std::vector<Tensor>& in) {
        return ops::multilabel_soft_margin(in[0], in[1], r);
      }, {x, t}, kParityAtol, kParityRtol)) << "multilabel " << what;
      EXPECT_TRUE(cuda_parity([&](const std::vector<Tensor>& in) {
        return ops::smooth_l1(in[0], in[1], 0.5, r);
      }, {x, t}, kParityAtol, kParityRtol)) << "smooth_l1 " << what;
      EXPECT_TRUE(cuda_parity([&](const std::vector<Tensor>& in) {
        return ops::sigmoid_focal_loss(in[0], in[1], 0.25, 2.0, r);
      }, {x, t}, kParityAtol, kParityRtol)) << "focal " << what;
      // Dice on (N, 1, H, W)-like rows: probs in (0, 1), binary targets that take a gradient.
      Tensor hard = binary_targets(shape, gen, ctx, DType::f32);
      hard.set_requires_grad(true);
      EXPECT_TRUE(cuda_parity([&](const std::vector<Tensor>& in) {
        return ops::dice_loss(in[0], in[1], 1e-5, r);
      }, {t, hard}, kParityAtol, kParityRtol)) << "dice " << what;
    }
  }
}

TEST(LossCuda, CrossEntropyParity) {
  WSVIS_REQUIRE_CUDA();
  auto ctx = cpu_context();
  Generator gen(32);
  for (const Shape& ls : std::vector<Shape>{{7, 13}, {0, 5}, {513, 81}, {2, 3, 7, 13},
                                            {0, 3, 7, 13}, {3, 2, 67, 45}}) {
    const int64_t c = ls[1];
    Shape ts = ls;
    ts.erase(ts.begin() + 1);
    Tensor x = random_input(ls, gen, ctx, DType::f32, true, -4, 4);
    std::vector<int64_t> yv(static_cast<size_t>(shape_numel(ts)));
    for (int64_t& v : yv) v = gen.uniform(0, 1) < 0.2 ? 255 : gen.randint(0, c);
    Tensor y = Tensor::from_vector<int64_t>(yv, ts, ctx);
    Tensor w = random_input({c}, gen, ctx, DType::f32, false, 0.2, 2);
    for (Reduction r : kAllReductions)
      for (bool weighted : {false, true})
        EXPECT_TRUE(cuda_parity([&](const std::vector<Tensor>& in) {
          return ops::cross_entropy(in[0], in[1], 255, r, weighted ? in[2] : Tensor());
        }, {x, y, w}, kParityAtol, kParityRtol))
            << shape_str(ls) << " " << name(r) << " weighted " << weighted;
  }
}

TEST(LossCuda, TargetOutOfRangeNamesTheValue) {
  WSVIS_REQUIRE_CUDA();
  auto gpu = Context::create(Device::cuda(0));
  Tensor x = Tensor::zeros({4, 3}, DType::f32, gpu);
  expect_error_with([&] {
    ops::cross_entropy(x, Tensor::from_vector<int64_t>({0, -100, 2, 3}, {4}, gpu));
  }, {"cross_entropy", "value 3", "position 3", "size 3"});
}

}  // namespace
}  // namespace wsvis
