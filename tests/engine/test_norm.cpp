// Tests of ops::batch_norm, ops::frozen_batch_norm and ops::group_norm: forward values against
// naive loops written here, running-stat updates, gradient checks in double, CUDA parity, misuse.
#include <cmath>
#include <vector>

#include "engine/ops/norm.h"
#include "tests/support/testing.h"

namespace wsvis {
namespace {

using testing::cpu_context;
using testing::gradcheck;
using testing::random_input;
using testing::tensors_close;

// Finite differences in double: step 1e-6 leaves truncation ~1e-12 and rounding ~1e-10 on
// these O(1) objectives, so 1e-6 absolute + 1e-5 relative is loose for a correct backward yet
// far below the size of any real mistake (a dropped term is O(0.1)).
testing::GradcheckOptions grad_opts(uint64_t seed) {
  testing::GradcheckOptions o;
  o.atol = 1e-6;
  o.rtol = 1e-5;
  o.seed = seed;
  return o;
}

// Channels-first element access for (N, C, S) data.
struct NCS {
  int64_t N, C, S;
  int64_t at(int64_t n, int64_t c, int64_t s) const { return (n * C + c) * S + s; }
};

NCS ncs_of(const Tensor& x) {
  return {x.size(0), x.size(1), x.dim() == 4 ? x.size(2) * x.size(3) : 1};
}

// ---- batch_norm: forward values -------------------------------------------------------------

// Naive batch norm in double; returns y and the batch mean / biased variance per channel.
std::vector<double> naive_batch_norm(const std::vector<double>& x, NCS d,
                                     const std::vector<double>& mean,
                                     const std::vector<double>& var, const std::vector<double>* w,
                                     const std::vector<double>* b, double eps) {
  std::vector<double> y(x.size());
  for (int64_t n = 0; n < d.N; ++n)
    for (int64_t c = 0; c < d.C; ++c)
      for (int64_t s = 0; s < d.S; ++s) {
        const double xhat = (x[d.at(n, c, s)] - mean[c]) / std::sqrt(var[c] + eps);
        y[d.at(n, c, s)] = xhat * (w ? (*w)[c] : 1.0) + (b ? (*b)[c] : 0.0);
      }
  return y;
}

void naive_channel_stats(const std::vector<double>& x, NCS d, std::vector<double>& mean,
                         std::vector<double>& var) {
  mean.assign(d.C, 0.0);
  var.assign(d.C, 0.0);
  const double M = static_cast<double>(d.N * d.S);
  for (int64_t c = 0; c < d.C; ++c) {
    for (int64_t n = 0; n < d.N; ++n)
      for (int64_t s = 0; s < d.S; ++s) mean[c] += x[d.at(n, c, s)] / M;
    for (int64_t n = 0; n < d.N; ++n)
      for (int64_t s = 0; s < d.S; ++s)
        var[c] += (x[d.at(n, c, s)] - mean[c]) * (x[d.at(n, c, s)] - mean[c]) / M;
  }
}

TEST(BatchNorm, TrainingForwardAndRunningStatsMatchNaive) {
  auto ctx = cpu_context();
  for (const Shape& shape : {Shape{3, 4, 2, 5}, Shape{6, 3}}) {
    Generator gen(3);
    Tensor x = Tensor::uniform(shape, -2, 3, gen, ctx, DType::f64);
    Tensor w = Tensor::uniform({shape[1]}, 0.5, 1.5, gen, ctx, DType::f64);
    Tensor b = Tensor::uniform({shape[1]}, -1, 1, gen, ctx, DType::f64);
    Tensor rm = Tensor::uniform({shape[1]}, -1, 1, gen, ctx, DType::f64);
    Tensor rv = Tensor::uniform({shape[1]}, 0.5, 2, gen, ctx, DType::f64);
    const std::vector<double> rm0 = rm.to_vector<double>(), rv0 = rv.to_vector<double>();
    const double momentum = 0.3, eps = 1e-3;
    Tensor y = ops::batch_norm(x, w, b, rm, rv, /*training=*/true, momentum, eps);

    const NCS d = ncs_of(x);
    std::vector<double> mean, var;
    const std::vector<double> xv = x.to_vector<double>();
    naive_channel_stats(xv, d, mean, var);
    const std::vector<double> wv = w.to_vector<double>(), bv = b.to_vector<double>();
    EXPECT_TRUE(tensors_close(y, Tensor::from_vector(naive_batch_norm(xv, d, mean, var, &wv, &bv,
                                                                      eps),
                                                     shape, ctx),
                              1e-12, 1e-12));
    // Running stats: torch's update, with the unbiased variance.
    const double M = static_cast<double>(d.N * d.S);
    std::vector<double> rm_expect(d.C), rv_expect(d.C);
    for (int64_t c = 0; c < d.C; ++c) {
      rm_expect[c] = (1 - momentum) * rm0[c] + momentum * mean[c];
      rv_expect[c] = (1 - momentum) * rv0[c] + momentum * var[c] * M / (M - 1);
    }
    EXPECT_TRUE(tensors_close(rm, Tensor::from_vector(rm_expect, {d.C}, ctx), 1e-12, 1e-12));
    EXPECT_TRUE(tensors_close(rv, Tensor::from_vector(rv_expect, {d.C}, ctx), 1e-12, 1e-12));
  }
}

TEST(BatchNorm, HandComputedTrainingValues) {
  // One channel, values 1, 2, 3, 4: mean 2.5, biased var 1.25, unbiased var 5/3.
  auto ctx = cpu_context();
  Tensor x = Tensor::from_vector<double>({1, 2, 3, 4}, {4, 1}, ctx);
  Tensor rm = Tensor::from_vector<double>({0}, {1}, ctx);
  Tensor rv = Tensor::from_vector<double>({1}, {1}, ctx);
  Tensor y = ops::batch_norm(x, Tensor(), Tensor(), rm, rv, true, 0.1, 0.0);
  const double s = std::sqrt(1.25);
  EXPECT_TRUE(tensors_close(
      y, Tensor::from_vector<double>({-1.5 / s, -0.5 / s, 0.5 / s, 1.5 / s}, {4, 1}, ctx), 1e-12,
      0));
  EXPECT_NEAR(rm.item<double>(), 0.25, 1e-12);
  EXPECT_NEAR(rv.item<double>(), 0.9 + 0.1 * 5.0 / 3.0, 1e-12);
}

TEST(BatchNorm, EvalForwardMatchesNaiveAndLeavesRunningStats) {
  auto ctx = cpu_context();
  Generator gen(5);
  const Shape shape{2, 3, 3, 4};
  Tensor x = Tensor::uniform(shape, -2, 2, gen, ctx, DType::f64);
  Tensor w = Tensor::uniform({3}, 0.5, 1.5, gen, ctx, DType::f64);
  Tensor b = Tensor::uniform({3}, -1, 1, gen, ctx, DType::f64);
  Tensor rm = Tensor::uniform({3}, -1, 1, gen, ctx, DType::f64);
  Tensor rv = Tensor::uniform({3}, 0.5, 2, gen, ctx, DType::f64);
  const std::vector<double> rm0 = rm.to_vector<double>(), rv0 = rv.to_vector<double>();
  for (int affine = 0; affine < 2; ++affine) {
    Tensor y = ops::batch_norm(x, affine ? w : Tensor(), affine ? b : Tensor(), rm, rv, false);
    const std::vector<double> wv = w.to_vector<double>(), bv = b.to_vector<double>();
    const auto expect = naive_batch_norm(x.to_vector<double>(), ncs_of(x), rm0, rv0,
                                         affine ? &wv : nullptr, affine ? &bv : nullptr, 1e-5);
    EXPECT_TRUE(tensors_close(y, Tensor::from_vector(expect, shape, ctx), 1e-12, 1e-12));
  }
  EXPECT_EQ(rm.to_vector<double>(), rm0);
  EXPECT_EQ(rv.to_vector<double>(), rv0);
}

TEST(BatchNorm, TrainingWithoutRunningStats) {
  auto ctx = cpu_context();
  Generator gen(8);
  Tensor x = Tensor::uniform({4, 2, 3, 3}, -1, 1, gen, ctx, DType::f64);
  Tensor y = ops::batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), true);
  std::vector<double> mean, var;
  naive_channel_stats(x.to_vector<double>(), ncs_of(x), mean, var);
  const auto expect =
      naive_batch_norm(x.to_vector<double>(), ncs_of(x), mean, var, nullptr, nullptr, 1e-5);
  EXPECT_TRUE(tensors_close(y, Tensor::from_vector(expect, x.shape(), ctx), 1e-12, 1e-12));
}

// ---- batch_norm: gradients ------------------------------------------------------------------

TEST(BatchNorm, GradcheckTraining) {
  auto ctx = cpu_context();
  for (uint64_t seed : {1, 2, 3}) {
    for (const Shape& shape : {Shape{3, 2, 3, 2}, Shape{5, 3}}) {
      Generator gen(seed);
      const int64_t C = shape[1];
      Tensor x = random_input(shape, gen, ctx);
      Tensor w = random_input({C}, gen, ctx, DType::f64, true, 0.5, 1.5);
      Tensor b = random_input({C}, gen, ctx);
      Tensor rm = Tensor::zeros({C}, DType::f64, ctx), rv = Tensor::ones({C}, DType::f64, ctx);
      auto fn = [&](const std::vector<Tensor>& in) {
        return ops::batch_norm(in[0], in[1], in[2], rm, rv, true, 0.1, 1e-5);
      };
      EXPECT_TRUE(gradcheck(fn, {x, w, b}, grad_opts(seed))) << "seed " << seed;
      // affine = false: only x.
      Tensor x2 = random_input(shape, gen, ctx);
      EXPECT_TRUE(gradcheck(fn, {x2, Tensor(), Tensor()}, grad_opts(seed))) << "seed " << seed;
    }
  }
}

TEST(BatchNorm, GradcheckEval) {
  auto ctx = cpu_context();
  for (uint64_t seed : {1, 2, 3}) {
    Generator gen(seed);
    Tensor x = random_input({2, 3, 2, 3}, gen, ctx);
    Tensor w = random_input({3}, gen, ctx);
    Tensor b = random_input({3}, gen, ctx);
    Tensor rm = Tensor::uniform({3}, -1, 1, gen, ctx, DType::f64);
    Tensor rv = Tensor::uniform({3}, 0.5, 2, gen, ctx, DType::f64);
    auto fn = [&](const std::vector<Tensor>& in) {
      return ops::batch_norm(in[0], in[1], in[2], rm, rv, false, 0.1, 1e-5);
    };
    EXPECT_TRUE(gradcheck(fn, {x, w, b}, grad_opts(seed))) << "seed " << seed;
  }
}

TEST(BatchNorm, EvalBackwardUsesSnapshotOfRunningStats) {
  // A training step between an eval forward and its backward updates the running stats in
  // place; the eval node must still differentiate the function it computed.
  auto ctx = cpu_context();
  Generator gen(4);
  Tensor x = random_input({2, 2, 2, 2}, gen, ctx);
  Tensor rm = Tensor::zeros({2}, DType::f64, ctx), rv = Tensor::ones({2}, DType::f64, ctx);
  Tensor y = ops::batch_norm(x, Tensor(), Tensor(), rm, rv, false, 0.5, 0.0);
  {
    NoGradGuard no_grad;
    Tensor other = Tensor::uniform({4, 2}, 5, 9, gen, ctx, DType::f64);
    ops::batch_norm(other, Tensor(), Tensor(), rm, rv, true, 0.5, 0.0);
  }
  EXPECT_NE(rv.to_vector<double>()[0], 1.0);
  y.backward(Tensor::ones(y.shape(), DType::f64, ctx));
  // With running var 1 and eps 0 the gradient is exactly the output gradient.
  EXPECT_TRUE(tensors_close(x.grad(), Tensor::ones(x.shape(), DType::f64, ctx), 0, 0));
}

// ---- frozen_batch_norm ----------------------------------------------------------------------

TEST(FrozenBatchNorm, ForwardMatchesNaive) {
  auto ctx = cpu_context();
  Generator gen(6);
  const Shape shape{2, 3, 4, 5};
  Tensor x = Tensor::uniform(shape, -2, 2, gen, ctx, DType::f64);
  Tensor w = Tensor::uniform({3}, 0.5, 1.5, gen, ctx, DType::f64);
  Tensor b = Tensor::uniform({3}, -1, 1, gen, ctx, DType::f64);
  Tensor rm = Tensor::uniform({3}, -1, 1, gen, ctx, DType::f64);
  Tensor rv = Tensor::uniform({3}, 0.5, 2, gen, ctx, DType::f64);
  Tensor y = ops::frozen_batch_norm(x, w, b, rm, rv);
  const auto expect =
      naive_batch_norm(x.to_vector<double>(), ncs_of(x), rm.to_vector<double>(),
                       rv.to_vector<double>(), nullptr, nullptr, 1e-5);
  std::vector<double> scaled(expect.size());
  const auto wv = w.to_vector<double>(), bv = b.to_vector<double>();
  const NCS d = ncs_of(x);
  for (int64_t n = 0; n < d.N; ++n)
    for (int64_t c = 0; c < d.C; ++c)
      for (int64_t s = 0; s < d.S; ++s)
        scaled[d.at(n, c, s)] = expect[d.at(n, c, s)] * wv[c] + bv[c];
  EXPECT_TRUE(tensors_close(y, Tensor::from_vector(scaled, shape, ctx), 1e-12, 1e-12));
}

TEST(FrozenBatchNorm, GradcheckAndNoBufferGradients) {
  auto ctx = cpu_context();
  for (uint64_t seed : {1, 2, 3}) {
    Generator gen(seed);
    Tensor x = random_input({2, 3, 3, 2}, gen, ctx);
    Tensor w = Tensor::uniform({3}, 0.5, 1.5, gen, ctx, DType::f64);
    Tensor b = Tensor::uniform({3}, -1, 1, gen, ctx, DType::f64);
    Tensor rm = Tensor::uniform({3}, -1, 1, gen, ctx, DType::f64);
    Tensor rv = Tensor::uniform({3}, 0.5, 2, gen, ctx, DType::f64);
    auto fn = [&](const std::vector<Tensor>& in) {
      return ops::frozen_batch_norm(in[0], w, b, rm, rv);
    };
    EXPECT_TRUE(gradcheck(fn, {x}, grad_opts(seed))) << "seed " << seed;
  }
  // Buffers never receive gradients, even when flagged.
  Generator gen(9);
  Tensor x = random_input({1, 2, 2, 2}, gen, ctx);
  Tensor w = random_input({2}, gen, ctx);
  Tensor one = Tensor::ones({2}, DType::f64, ctx), zero = Tensor::zeros({2}, DType::f64, ctx);
  Tensor y = ops::frozen_batch_norm(x, w, zero, zero, one);
  y.backward(Tensor::ones(y.shape(), DType::f64, ctx));
  EXPECT_TRUE(x.grad().defined());
  EXPECT_FALSE(w.grad().defined());
}

// ---- group_norm -----------------------------------------------------------------------------

std::vector<double> naive_group_norm(const std::vector<double>& x, NCS d, int64_t G,
                                     const std::vector<double>* w, const std::vector<double>* b,
                                     double eps) {
  std::vector<double> y(x.size());
  const int64_t Cg = d.C / G;
  for (int64_t n = 0; n < d.N; ++n)
    for (int64_t g = 0; g < G; ++g) {
      double mean = 0, var = 0;
      const double D = static_cast<double>(Cg * d.S);
      for (int64_t c = g * Cg; c < (g + 1) * Cg; ++c)
        for (int64_t s = 0; s < d.S; ++s) mean += x[d.at(n, c, s)] / D;
      for (int64_t c = g * Cg; c < (g + 1) * Cg; ++c)
        for (int64_t s = 0; s < d.S; ++s)
          var += (x[d.at(n, c, s)] - mean) * (x[d.at(n, c, s)] - mean) / D;
      for (int64_t c = g * Cg; c < (g + 1) * Cg; ++c)
        for (int64_t s = 0; s < d.S; ++s)
          y[d.at(n, c, s)] = (x[d.at(n, c, s)] - mean) / std::sqrt(var + eps) *
                                 (w ? (*w)[c] : 1.0) +
                             (b ? (*b)[c] : 0.0);
    }
  return y;
}

TEST(GroupNorm, ForwardMatchesNaive) {
  auto ctx = cpu_context();
  Generator gen(10);
  for (const Shape& shape : {Shape{2, 6, 3, 4}, Shape{3, 6}}) {
    Tensor x = Tensor::uniform(shape, -2, 3, gen, ctx, DType::f64);
    Tensor w = Tensor::uniform({6}, 0.5, 1.5, gen, ctx, DType::f64);
    Tensor b = Tensor::uniform({6}, -1, 1, gen, ctx, DType::f64);
    const auto wv = w.to_vector<double>(), bv = b.to_vector<double>();
    for (int groups : {1, 2, 3, 6}) {
      Tensor y = ops::group_norm(x, groups, w, b, 1e-4);
      const auto expect = naive_group_norm(x.to_vector<double>(), ncs_of(x), groups, &wv, &bv, 1e-4);
      EXPECT_TRUE(tensors_close(y, Tensor::from_vector(expect, shape, ctx), 1e-12, 1e-12))
          << "groups " << groups;
      Tensor y_plain = ops::group_norm(x, groups, Tensor(), Tensor(), 1e-4);
      const auto plain =
          naive_group_norm(x.to_vector<double>(), ncs_of(x), groups, nullptr, nullptr, 1e-4);
      EXPECT_TRUE(tensors_close(y_plain, Tensor::from_vector(plain, shape, ctx), 1e-12, 1e-12));
    }
  }
}

TEST(GroupNorm, Gradcheck) {
  auto ctx = cpu_context();
  for (uint64_t seed : {1, 2, 3}) {
    for (int groups : {1, 2, 4}) {  // 1, 2 and C
      Generator gen(seed * 10 + groups);
      Tensor x = random_input({2, 4, 2, 3}, gen, ctx);
      Tensor w = random_input({4}, gen, ctx, DType::f64, true, 0.5, 1.5);
      Tensor b = random_input({4}, gen, ctx);
      auto fn = [&](const std::vector<Tensor>& in) {
        return ops::group_norm(in[0], groups, in[1], in[2]);
      };
      EXPECT_TRUE(gradcheck(fn, {x, w, b}, grad_opts(seed))) << "seed " << seed << " groups " << groups;
      Tensor x2 = random_input({2, 4, 2, 3}, gen, ctx);
      EXPECT_TRUE(gradcheck(fn, {x2, Tensor(), Tensor()}, grad_opts(seed)));
    }
    // (N, C) input: each group holds C / G values.
    Generator gen(seed);
    Tensor x = random_input({3, 6}, gen, ctx);
    Tensor w = random_input({6}, gen, ctx);
    auto fn = [&](const std::vector<Tensor>& in) {
      return ops::group_norm(in[0], 2, in[1], Tensor());
    };
    EXPECT_TRUE(gradcheck(fn, {x, w}, grad_opts(seed)));
  }
}

TEST(GroupNorm, EmptyBatch) {
  auto ctx = cpu_context();
  Tensor x = Tensor::zeros({0, 4, 3, 3}, DType::f32, ctx);
  Tensor y = ops::group_norm(x, 2, Tensor(), Tensor());
  EXPECT_EQ(y.shape(), x.shape());
}

// ---- CUDA parity ----------------------------------------------------------------------------

// f32 on both sides; the statistics are accumulated in double on both, so differences come
// from f32 rounding of inputs/outputs and of the per-element arithmetic: 1e-4 absolute and
// relative is ~100 ulps on O(1) values.
constexpr double kParityAtol = 1e-4, kParityRtol = 1e-4;

TEST(NormCuda, BatchNormParity) {
  WSVIS_REQUIRE_CUDA();
  auto ctx = cpu_context();
  Generator gen(21);
  for (const Shape& shape : {Shape{3, 5, 7, 13}, Shape{2, 3, 1, 1}, Shape{17, 6}}) {
    const int64_t C = shape[1];
    Tensor x = random_input(shape, gen, ctx, DType::f32, true, -2, 3);
    Tensor w = random_input({C}, gen, ctx, DType::f32);
    Tensor b = random_input({C}, gen, ctx, DType::f32);
    Tensor rm = Tensor::uniform({C}, -1, 1, gen, ctx, DType::f32);
    Tensor rv = Tensor::uniform({C}, 0.5, 2, gen, ctx, DType::f32);
    for (bool training : {true, false}) {
      auto fn = [training](const std::vector<Tensor>& in) {
        return ops::batch_norm(in[0], in[1], in[2], in[3], in[4], training);
      };
      EXPECT_TRUE(testing::cuda_parity(fn, {x, w, b, rm, rv}, kParityAtol, kParityRtol))
          << shape_str(shape) << " training " << training;
      EXPECT_TRUE(testing::cuda_parity(fn, {x, Tensor(), Tensor(), rm, rv}, kParityAtol,
                                       kParityRtol));
    }
  }
  // Empty batch in eval mode.
  Tensor x0 = random_input({0, 3, 4, 5}, gen, ctx, DType::f32);
  Tensor rm = Tensor::zeros({3}, DType::f32, ctx), rv = Tensor::ones({3}, DType::f32, ctx);
  auto eval = [](const std::vector<Tensor>& in) {
    return ops::batch_norm(in[0], Tensor(), Tensor(), in[1], in[2], false);
  };
  EXPECT_TRUE(testing::cuda_parity(eval, {x0, rm, rv}, kParityAtol, kParityRtol));
}

TEST(NormCuda, BatchNormRunningStatsParity) {
  WSVIS_REQUIRE_CUDA();
  auto ctx = cpu_context();
  auto gpu = Context::create(Device::cuda(0));
  Generator gen(22);
  Tensor x = Tensor::uniform({5, 7, 9, 11}, -2, 3, gen, ctx);
  Tensor rm = Tensor::uniform({7}, -1, 1, gen, ctx), rv = Tensor::uniform({7}, 0.5, 2, gen, ctx);
  Tensor rm_gpu = rm.to(gpu), rv_gpu = rv.to(gpu);
  ops::batch_norm(x, Tensor(), Tensor(), rm, rv, true, 0.2);
  ops::batch_norm(x.to(gpu), Tensor(), Tensor(), rm_gpu, rv_gpu, true, 0.2);
  EXPECT_TRUE(tensors_close(rm_gpu, rm, 1e-6, 1e-5));
  EXPECT_TRUE(tensors_close(rv_gpu, rv, 1e-6, 1e-5));
}

TEST(NormCuda, FrozenBatchNormParity) {
  WSVIS_REQUIRE_CUDA();
  auto ctx = cpu_context();
  Generator gen(23);
  for (const Shape& shape : {Shape{2, 5, 7, 13}, Shape{0, 5, 3, 3}}) {
    Tensor x = random_input(shape, gen, ctx, DType::f32);
    Tensor w = Tensor::uniform({5}, 0.5, 1.5, gen, ctx);
    Tensor b = Tensor::uniform({5}, -1, 1, gen, ctx);
    Tensor rm = Tensor::uniform({5}, -1, 1, gen, ctx);
    Tensor rv = Tensor::uniform({5}, 0.5, 2, gen, ctx);
    auto fn = [](const std::vector<Tensor>& in) {
      return ops::frozen_batch_norm(in[0], in[1], in[2], in[3], in[4]);
    };
    EXPECT_TRUE(testing::cuda_parity(fn, {x, w, b, rm, rv}, kParityAtol, kParityRtol))
        << shape_str(shape);
  }
}

TEST(NormCuda, GroupNormParity) {
  WSVIS_REQUIRE_CUDA();
  auto ctx = cpu_context();
  Generator gen(24);
  for (const Shape& shape : {Shape{3, 6, 7, 13}, Shape{2, 6, 1, 1}, Shape{0, 6, 4, 4},
                             Shape{5, 6}}) {
    Tensor x = random_input(shape, gen, ctx, DType::f32, true, -2, 3);
    Tensor w = random_input({6}, gen, ctx, DType::f32);
    Tensor b = random_input({6}, gen, ctx, DType::f32);
    for (int groups : {1, 3, 6}) {
      auto fn = [groups](const std::vector<Tensor>& in) {
        return ops::group_norm(in[0], groups, in[1], in[2]);
      };
      EXPECT_TRUE(testing::cuda_parity(fn, {x, w, b}, kParityAtol, kParityRtol))
          << shape_str(shape) << " groups " << groups;
      EXPECT_TRUE(testing::cuda_parity(fn, {x, Tensor(), Tensor()}, kParityAtol, kParityRtol));
    }
  }
}

// ---- misuse ---------------------------------------------------------------------------------

TEST(NormMisuse, BatchNorm) {
  auto ctx = cpu_context(), other = cpu_context();
  Tensor x = Tensor::zeros({2, 3, 4, 4}, DType::f32, ctx);
  Tensor c3 = Tensor::ones({3}, DType::f32, ctx);
  Tensor c4 = Tensor::ones({4}, DType::f32, ctx);
  Tensor c3_f64 = Tensor::ones({3}, DType::f64, ctx);
  Tensor c3_other = Tensor::ones({3}, DType::f32, other);
  // shape mismatch of weight / running stats
  EXPECT_THROW(ops::batch_norm(x, c4, c3, c3, c3, true), Error);
  EXPECT_THROW(ops::batch_norm(x, c3, c3, c4, c3, false), Error);
  // dtype mismatch and integer input
  EXPECT_THROW(ops::batch_norm(x, c3_f64, c3, c3, c3, true), Error);
  EXPECT_THROW(ops::batch_norm(Tensor::zeros({2, 3, 4, 4}, DType::i32, ctx), c3, c3, c3, c3, true),
               Error);
  // wrong rank
  EXPECT_THROW(ops::batch_norm(Tensor::zeros({2, 3, 4}, DType::f32, ctx), c3, c3, c3, c3, true),
               Error);
  // one value per channel in training; eval without running stats; only one running stat
  EXPECT_THROW(ops::batch_norm(Tensor::zeros({1, 3, 1, 1}, DType::f32, ctx), c3, c3, c3, c3, true),
               Error);
  EXPECT_THROW(ops::batch_norm(Tensor::zeros({0, 3, 2, 2}, DType::f32, ctx), c3, c3, c3, c3, true),
               Error);
  EXPECT_THROW(ops::batch_norm(x, c3, c3, Tensor(), Tensor(), false), Error);
  EXPECT_THROW(ops::batch_norm(x, c3, c3, c3, Tensor(), true), Error);
  // undefined input, contexts mixed
  EXPECT_THROW(ops::batch_norm(Tensor(), c3, c3, c3, c3, true), Error);
  EXPECT_THROW(ops::batch_norm(x, c3_other, c3, c3, c3, true), Error);
  EXPECT_THROW(ops::batch_norm(x, c3, c3, c3_other, c3, false), Error);
}

TEST(NormMisuse, FrozenBatchNorm) {
  auto ctx = cpu_context(), other = cpu_context();
  Tensor x = Tensor::zeros({2, 3, 4, 4}, DType::f32, ctx);
  Tensor c3 = Tensor::ones({3}, DType::f32, ctx);
  EXPECT_THROW(ops::frozen_batch_norm(x, Tensor::ones({2}, DType::f32, ctx), c3, c3, c3), Error);
  EXPECT_THROW(ops::frozen_batch_norm(x, c3, c3, c3, Tensor()), Error);
  EXPECT_THROW(ops::frozen_batch_norm(x, c3, Tensor::ones({3}, DType::f64, ctx), c3, c3), Error);
  EXPECT_THROW(ops::frozen_batch_norm(Tensor::zeros({3, 4}, DType::u8, ctx), c3, c3, c3, c3),
               Error);
  EXPECT_THROW(ops::frozen_batch_norm(Tensor::zeros({2, 3, 4, 4, 1}, DType::f32, ctx), c3, c3, c3,
                                      c3),
               Error);
  EXPECT_THROW(ops::frozen_batch_norm(x, c3, c3, Tensor::ones({3}, DType::f32, other), c3), Error);
}

TEST(NormMisuse, GroupNorm) {
  auto ctx = cpu_context(), other = cpu_context();
  Tensor x = Tensor::zeros({2, 6, 4, 4}, DType::f32, ctx);
  Tensor c6 = Tensor::ones({6}, DType::f32, ctx);
  EXPECT_THROW(ops::group_norm(x, 4, c6, c6), Error);   // 4 does not divide 6
  EXPECT_THROW(ops::group_norm(x, 0, c6, c6), Error);
  EXPECT_THROW(ops::group_norm(x, 12, c6, c6), Error);
  EXPECT_THROW(ops::group_norm(x, 2, Tensor::ones({3}, DType::f32, ctx), c6), Error);
  EXPECT_THROW(ops::group_norm(x, 2, c6, Tensor::ones({6}, DType::f64, ctx)), Error);
  EXPECT_THROW(ops::group_norm(Tensor::zeros({2, 6, 4}, DType::f32, ctx), 2, c6, c6), Error);
  EXPECT_THROW(ops::group_norm(Tensor::zeros({2, 6, 0, 4}, DType::f32, ctx), 2, c6, c6), Error);
  EXPECT_THROW(ops::group_norm(Tensor::zeros({2, 6}, DType::i64, ctx), 2, c6, c6), Error);
  EXPECT_THROW(ops::group_norm(x, 2, Tensor::ones({6}, DType::f32, other), c6), Error);
}

}  // namespace
}  // namespace wsvis
