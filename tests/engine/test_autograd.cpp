// The autograd graph itself, exercised through two tiny ops defined here (so these tests do
// not depend on the real ops): recording only when needed, accumulation at fan-out and into
// leaves, NoGradGuard, early freeing of nodes, and the errors of misuse.
#include <gtest/gtest.h>

#include <memory>

#include "engine/tensor.h"
#include "tests/support/testing.h"

namespace wsvis {
namespace {

using testing::cpu_context;

// y = c * x, elementwise, double only.
Tensor scale(const Tensor& x, double c, std::shared_ptr<int> witness = nullptr) {
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.context_ptr());
  const double* px = x.data<double>();
  double* py = y.data<double>();
  for (int64_t i = 0; i < x.numel(); ++i) py[i] = c * px[i];
  if (autograd::needs_record({&x})) {
    autograd::record(y, "scale", {x}, [c, witness](const Tensor& g, const std::vector<bool>&) {
      Tensor gx = Tensor::empty(g.shape(), g.dtype(), g.context_ptr());
      for (int64_t i = 0; i < g.numel(); ++i) gx.data<double>()[i] = c * g.data<double>()[i];
      return std::vector<Tensor>{gx};
    });
  }
  return y;
}

// y = a * b, elementwise, double only; captures both inputs for its backward.
Tensor times(const Tensor& a, const Tensor& b) {
  Tensor y = Tensor::empty(a.shape(), a.dtype(), a.context_ptr());
  for (int64_t i = 0; i < a.numel(); ++i)
    y.data<double>()[i] = a.data<double>()[i] * b.data<double>()[i];
  if (autograd::needs_record({&a, &b})) {
    autograd::record(y, "times", {a, b}, [a, b](const Tensor& g, const std::vector<bool>& needs) {
      std::vector<Tensor> grads(2);
      for (int k = 0; k < 2; ++k) {
        if (!needs[static_cast<size_t>(k)]) continue;
        const Tensor& other = k == 0 ? b : a;
        grads[static_cast<size_t>(k)] = Tensor::empty(g.shape(), g.dtype(), g.context_ptr());
        for (int64_t i = 0; i < g.numel(); ++i)
          grads[static_cast<size_t>(k)].data<double>()[i] =
              g.data<double>()[i] * other.data<double>()[i];
      }
      return grads;
    });
  }
  return y;
}

Tensor vec(const ContextPtr& ctx, std::vector<double> v, bool requires_grad) {
  Tensor t = Tensor::from_vector(v, {static_cast<int64_t>(v.size())}, ctx);
  if (requires_grad) t.set_requires_grad(true);
  return t;
}

TEST(Autograd, RecordsOnlyWhenAnInputRequiresGrad) {
  auto ctx = cpu_context();
  Tensor plain = vec(ctx, {1, 2}, false);
  EXPECT_FALSE(scale(plain, 2).requires_grad());
  Tensor x = vec(ctx, {1, 2}, true);
  Tensor y = scale(x, 2);
  EXPECT_TRUE(y.requires_grad());
  EXPECT_FALSE(y.is_leaf());
  EXPECT_TRUE(x.is_leaf());
  NoGradGuard guard;
  EXPECT_FALSE(scale(x, 2).requires_grad());
}

TEST(Autograd, NoGradGuardRestoresThePreviousMode) {
  EXPECT_TRUE(autograd::grad_mode_enabled());
  {
    NoGradGuard outer;
    {
      NoGradGuard inner;
      EXPECT_FALSE(autograd::grad_mode_enabled());
    }
    EXPECT_FALSE(autograd::grad_mode_enabled());
  }
  EXPECT_TRUE(autograd::grad_mode_enabled());
}

TEST(Autograd, ChainRuleThroughAProductAndFanOut) {
  auto ctx = cpu_context();
  Tensor x = vec(ctx, {1.5, -2.0}, true);
  Tensor w = vec(ctx, {3.0, 0.5}, true);
  // L = sum((x*w) * x) = sum(w x^2): dL/dx = 2 w x, dL/dw = x^2. x fans out to two uses.
  Tensor y = times(times(x, w), x);
  y.backward(Tensor::ones({2}, DType::f64, ctx));
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{2 * 3.0 * 1.5, 2 * 0.5 * -2.0}));
  EXPECT_EQ(w.grad().to_vector<double>(), (std::vector<double>{2.25, 4.0}));
}

TEST(Autograd, LeafGradientsAccumulateAcrossBackwardCalls) {
  auto ctx = cpu_context();
  Tensor x = vec(ctx, {1.0, 2.0}, true);
  scale(x, 3).backward(Tensor::ones({2}, DType::f64, ctx));
  scale(x, 4).backward(Tensor::ones({2}, DType::f64, ctx));
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{7.0, 7.0}));
  x.zero_grad();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{0.0, 0.0}));
}

TEST(Autograd, AccumulatesInPlaceIntoAPreallocatedGradBuffer) {
  auto ctx = cpu_context();
  Tensor grad_buffer = Tensor::zeros({4}, DType::f64, ctx);  // e.g. a model's contiguous grads
  Tensor x = vec(ctx, {1.0, 2.0}, true);
  x.set_grad(grad_buffer.narrow0(2, 2));
  scale(x, 5).backward(Tensor::ones({2}, DType::f64, ctx));
  EXPECT_EQ(grad_buffer.to_vector<double>(), (std::vector<double>{0, 0, 5, 5}));
  EXPECT_TRUE(x.grad().same_storage(grad_buffer));
}

TEST(Autograd, SeedGradientIsNotAliasedByALeaf) {
  auto ctx = cpu_context();
  Tensor x = vec(ctx, {1.0}, true);
  Tensor seed = Tensor::ones({1}, DType::f64, ctx);
  x.backward(seed);
  x.backward(seed);  // accumulates into x's own copy, not into `seed`
  EXPECT_EQ(x.grad().item<double>(), 2.0);
  EXPECT_EQ(seed.item<double>(), 1.0);
}

TEST(Autograd, IntermediateGradientsAreFreedUnlessRetained) {
  auto ctx = cpu_context();
  Tensor x = vec(ctx, {1.0, 2.0}, true);
  Tensor h = scale(x, 2);
  Tensor kept = scale(x, 3);
  kept.retain_grad();
  Tensor y = times(h, kept);
  y.backward(Tensor::ones({2}, DType::f64, ctx));
  EXPECT_FALSE(h.grad().defined());
  EXPECT_TRUE(kept.grad().defined());
  // dL/dx = d(6 x^2)/dx = 12 x
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{12.0, 24.0}));
}

TEST(Autograd, NodesAreFreedAsBackwardWalksTheGraph) {
  auto ctx = cpu_context();
  auto witness = std::make_shared<int>(0);
  Tensor x = vec(ctx, {1.0}, true);
  Tensor y = scale(scale(x, 2, witness), 3);
  EXPECT_EQ(witness.use_count(), 2);  // held by the closure of the first node
  y.backward(Tensor::ones({1}, DType::f64, ctx));
  EXPECT_EQ(witness.use_count(), 1) << "the node's closure outlived its backward";
  EXPECT_THROW(y.backward(Tensor::ones({1}, DType::f64, ctx)), Error);
}

TEST(Autograd, MisuseIsReportedClearly) {
  auto ctx = cpu_context();
  Tensor x = vec(ctx, {1.0, 2.0}, true);
  Tensor y = scale(x, 2);
  EXPECT_THROW(y.backward(), Error);  // two elements and no gradient given
  EXPECT_THROW(y.backward(Tensor::ones({3}, DType::f64, ctx)), Error);
  EXPECT_THROW(y.backward(Tensor::ones({2}, DType::f32, ctx)), Error);
  Tensor plain = vec(ctx, {1.0}, false);
  EXPECT_THROW(scale(plain, 2).backward(), Error);
  EXPECT_THROW(y.set_requires_grad(false), Error);
  Tensor d = y.detach();
  EXPECT_FALSE(d.requires_grad());
}

TEST(Autograd, GradcheckHarnessCatchesAWrongBackward) {
  // A deliberately wrong backward must fail gradcheck: the harness can fail.
  auto ctx = cpu_context();
  auto wrong = [](const std::vector<Tensor>& in) {
    const Tensor& x = in[0];
    Tensor y = Tensor::empty(x.shape(), x.dtype(), x.context_ptr());
    for (int64_t i = 0; i < x.numel(); ++i) y.data<double>()[i] = x.data<double>()[i] * x.data<double>()[i];
    if (autograd::needs_record({&x}))
      autograd::record(y, "wrong_square", {x}, [x](const Tensor& g, const std::vector<bool>&) {
        Tensor gx = g.clone();  // should be 2 x g
        return std::vector<Tensor>{gx};
      });
    return y;
  };
  Generator gen(1);
  Tensor x = testing::random_input({5}, gen, ctx);
  EXPECT_FALSE(testing::gradcheck(wrong, {x}));
  auto right = [](const std::vector<Tensor>& in) { return times(in[0], in[0]); };
  EXPECT_TRUE(testing::gradcheck(right, {x}));
}

}  // namespace
}  // namespace wsvis
