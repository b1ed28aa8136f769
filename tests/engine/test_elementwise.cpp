// Elementwise ops: gradients against central differences (f64, CPU), forward values against
// naive loops and <cmath>, CUDA against the CPU twin, and the errors of misuse.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "engine/ops/elementwise.h"
#include "engine/tensor.h"
#include "tests/support/testing.h"

namespace wsvis {
namespace {

using testing::cpu_context;
using testing::cuda_parity;
using testing::gradcheck;
using testing::GradcheckOptions;
using testing::random_input;
using testing::tensors_close;

using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

// f64 central differences with eps 1e-6 have truncation error ~eps^2 * f''' and rounding
// error ~1e-16 / eps = 1e-10, far inside atol 1e-6 + rtol 1e-5 on every smooth op here.
GradcheckOptions grad_opts(uint64_t seed) {
  GradcheckOptions opts;
  opts.seed = seed;
  opts.atol = 1e-6;
  opts.rtol = 1e-5;
  return opts;
}

// f32 CUDA vs f32 CPU: both compute each element with one or two correctly rounded (or
// 1-2 ulp) operations, so a few ulp of 1 (~1e-7) is the expected gap; 1e-5 leaves room for
// libm vs CUDA exp/log/pow differences and gradient sums over broadcast dims.
constexpr double kParityAtol = 1e-5;
constexpr double kParityRtol = 1e-5;

// Random values in [lo, hi) moved at least `margin` away from each of `kinks`, so a
// central difference never straddles a point where the op is not differentiable.
Tensor input_away_from(const Shape& shape, Generator& gen, const ContextPtr& ctx,
                       std::vector<double> kinks, double lo = -1, double hi = 1,
                       double margin = 0.05) {
  std::vector<double> v(static_cast<size_t>(shape_numel(shape)));
  for (double& x : v) {
    x = gen.uniform(lo, hi);
    for (double k : kinks)
      if (std::fabs(x - k) < margin) x = k + (x >= k ? margin : -margin);
  }
  Tensor t = Tensor::from_vector(v, shape, ctx, DType::f64);
  t.set_requires_grad(true);
  return t;
}

// Row-major multi-index of flat index `i` in `shape`.
std::vector<int64_t> unravel(int64_t i, const Shape& shape) {
  std::vector<int64_t> idx(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    idx[d] = i % shape[d];
    i /= shape[d];
  }
  return idx;
}

// Flat index into a tensor of `shape` (aligned at the end with the output index `out_idx`,
// size-1 dims pinned to 0): the broadcasting rule written out independently of the kernels.
int64_t broadcast_flat(const std::vector<int64_t>& out_idx, const Shape& shape) {
  int64_t flat = 0;
  const size_t lead = out_idx.size() - shape.size();
  for (size_t d = 0; d < shape.size(); ++d)
    flat = flat * shape[d] + (shape[d] == 1 ? 0 : out_idx[d + lead]);
  return flat;
}

struct BinaryCase {
  const char* name;
  std::function<Tensor(const Tensor&, const Tensor&)> op;
  std::function<double(double, double)> ref;
};

std::vector<BinaryCase> binary_cases() {
  return {
      {"add", [](const Tensor& a, const Tensor& b) { return ops::add(a, b); },
       [](double a, double b) { return a + b; }},
      {"sub", [](const Tensor& a, const Tensor& b) { return ops::sub(a, b); },
       [](double a, double b) { return a - b; }},
      {"mul", [](const Tensor& a, const Tensor& b) { return ops::mul(a, b); },
       [](double a, double b) { return a * b; }},
      {"div", [](const Tensor& a, const Tensor& b) { return ops::div(a, b); },
       [](double a, double b) { return a / b; }},
  };
}

struct ShapePair {
  Shape a, b, out;
};

// Equal shapes (the fast path), trailing-dim broadcasting, size-1 vectors, 0-d operands on
// either side, broadcasting on both sides at once, and per-channel / mixed patterns whose
// dims the op merges before calling the kernel.
std::vector<ShapePair> shape_pairs() {
  return {{{2, 3}, {2, 3}, {2, 3}},       {{2, 3, 4}, {3, 1}, {2, 3, 4}},
          {{1}, {2, 3}, {2, 3}},          {{}, {2, 3}, {2, 3}},
          {{2, 3}, {}, {2, 3}},           {{2, 1, 4}, {3, 1}, {2, 3, 4}},
          {{}, {}, {}},                   {{4, 1, 2, 1, 3}, {5, 1, 1, 3}, {4, 5, 2, 1, 3}},
          {{2, 3, 4, 5}, {3, 1, 1}, {2, 3, 4, 5}}, {{2, 1, 4, 5}, {2, 3, 1, 1}, {2, 3, 4, 5}}};
}

// ---- binary ops ------------------------------------------------------------------------

TEST(Elementwise, BinaryGradcheckWithBroadcasting) {
  auto ctx = cpu_context();
  for (const BinaryCase& c : binary_cases())
    for (const ShapePair& s : shape_pairs())
      for (uint64_t seed : {1, 2, 3}) {
        Generator gen(seed);
        Tensor a = random_input(s.a, gen, ctx);
        // b in [0.5, 1.5]: away from 0 so that div is smooth.
        Tensor b = random_input(s.b, gen, ctx, DType::f64, true, 0.5, 1.5);
        EXPECT_TRUE(gradcheck([&](const std::vector<Tensor>& x) { return c.op(x[0], x[1]); },
                              {a, b}, grad_opts(seed)))
            << c.name << " " << shape_str(s.a) << " with " << shape_str(s.b) << " seed " << seed;
      }
}

TEST(Elementwise, BinaryGradcheckWhenOnlyOneInputRequiresGrad) {
  auto ctx = cpu_context();
  for (const BinaryCase& c : binary_cases())
    for (int which = 0; which < 2; ++which) {
      Generator gen(5);
      Tensor a = random_input({2, 3, 4}, gen, ctx, DType::f64, which == 0);
      Tensor b = random_input({3, 1}, gen, ctx, DType::f64, which == 1, 0.5, 1.5);
      EXPECT_TRUE(gradcheck([&](const std::vector<Tensor>& x) { return c.op(x[0], x[1]); },
                            {a, b}, grad_opts(5)))
          << c.name << " with only input " << which << " requiring grad";
    }
}

TEST(Elementwise, BinaryForwardMatchesNaiveBroadcastLoop) {
  auto ctx = cpu_context();
  Generator gen(9);
  for (const BinaryCase& c : binary_cases())
    for (const ShapePair& s : shape_pairs()) {
      Tensor a = random_input(s.a, gen, ctx, DType::f64, false);
      Tensor b = random_input(s.b, gen, ctx, DType::f64, false, 0.5, 1.5);
      Tensor out = c.op(a, b);
      ASSERT_EQ(out.shape(), s.out) << c.name << " " << shape_str(s.a) << " " << shape_str(s.b);
      const std::vector<double> va = a.to_vector<double>(), vb = b.to_vector<double>();
      std::vector<double> expected(static_cast<size_t>(shape_numel(s.out)));
      for (int64_t i = 0; i < shape_numel(s.out); ++i) {
        const std::vector<int64_t> idx = unravel(i, s.out);
        expected[static_cast<size_t>(i)] =
            c.ref(va[static_cast<size_t>(broadcast_flat(idx, s.a))],
                  vb[static_cast<size_t>(broadcast_flat(idx, s.b))]);
      }
      // Each element is one IEEE operation on the same doubles: exact.
      EXPECT_TRUE(tensors_close(out, Tensor::from_vector(expected, s.out, ctx), 0, 0))
          << c.name << " " << shape_str(s.a) << " " << shape_str(s.b);
    }
}

TEST(Elementwise, BinaryHandValues) {
  auto ctx = cpu_context();
  Tensor a = Tensor::from_vector<double>({1, 2, 3, 4, 5, 6}, {2, 3}, ctx);
  Tensor col = Tensor::from_vector<double>({10, 20}, {2, 1}, ctx);
  Tensor scalar = Tensor::from_vector<double>({2}, {}, ctx);
  EXPECT_EQ(ops::add(a, col).to_vector<double>(), (std::vector<double>{11, 12, 13, 24, 25, 26}));
  EXPECT_EQ(ops::sub(col, a).to_vector<double>(), (std::vector<double>{9, 8, 7, 16, 15, 14}));
  EXPECT_EQ(ops::mul(scalar, a).to_vector<double>(), (std::vector<double>{2, 4, 6, 8, 10, 12}));
  EXPECT_EQ(ops::div(a, scalar).to_vector<double>(),
            (std::vector<double>{0.5, 1, 1.5, 2, 2.5, 3}));
  Tensor zero_d = ops::add(scalar, scalar);
  EXPECT_EQ(zero_d.dim(), 0);
  EXPECT_EQ(zero_d.item<double>(), 4);
}

TEST(Elementwise, EmptyBroadcastGivesEmptyOutputAndGradients) {
  auto ctx = cpu_context();
  Generator gen(3);
  Tensor a = random_input({0, 3}, gen, ctx);
  Tensor b = random_input({3}, gen, ctx);
  Tensor out = ops::mul(a, b);
  EXPECT_EQ(out.shape(), (Shape{0, 3}));
  out.backward(Tensor::zeros({0, 3}, DType::f64, ctx));
  EXPECT_EQ(a.grad().shape(), (Shape{0, 3}));
  // b was broadcast along a dim of size 0: its gradient is a sum of nothing.
  EXPECT_EQ(b.grad().to_vector<double>(), (std::vector<double>{0, 0, 0}));
}

// ---- sum_to_shape -----------------------------------------------------------------------

TEST(Elementwise, SumToShapeValues) {
  auto ctx = cpu_context();
  std::vector<double> v(24);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>(i);
  Tensor g = Tensor::from_vector(v, {2, 3, 4}, ctx);
  // (3, 1): sum over dims 0 and 2 -> row j gets sum_{i,k} (12 i + 4 j + k) = 48 + 32 j + 12.
  EXPECT_EQ(ops::sum_to_shape(g, {3, 1}).to_vector<double>(), (std::vector<double>{60, 92, 124}));
  EXPECT_EQ(ops::sum_to_shape(g, {3, 1}).shape(), (Shape{3, 1}));
  // (4,): sum over dims 0 and 1 -> k gets sum_{i,j} (12 i + 4 j + k) = 6 k + 36 + 24.
  EXPECT_EQ(ops::sum_to_shape(g, {4}).to_vector<double>(), (std::vector<double>{60, 66, 72, 78}));
  // 0-d: everything; (1, 1, 1): everything with the rank kept.
  Tensor all = ops::sum_to_shape(g, {});
  EXPECT_EQ(all.dim(), 0);
  EXPECT_EQ(all.item<double>(), 276);
  EXPECT_EQ(ops::sum_to_shape(g, {1, 1, 1}).shape(), (Shape{1, 1, 1}));
  // Same shape: unchanged.
  EXPECT_EQ(ops::sum_to_shape(g, {2, 3, 4}).to_vector<double>(), v);
}

TEST(Elementwise, SumToShapeGradcheck) {
  auto ctx = cpu_context();
  for (uint64_t seed : {1, 2, 3}) {
    Generator gen(seed);
    Tensor g = random_input({2, 3, 4}, gen, ctx);
    for (const Shape& target : std::vector<Shape>{{3, 1}, {4}, {}, {2, 1, 4}})
      EXPECT_TRUE(gradcheck([&](const std::vector<Tensor>& x) {
                    return ops::sum_to_shape(x[0], target);
                  }, {g}, grad_opts(seed)))
          << shape_str(target);
  }
}

// ---- unary and scalar ops --------------------------------------------------------------

struct UnaryCase {
  const char* name;
  std::function<Tensor(const Tensor&)> op;
  std::function<double(double)> ref;
  double lo, hi;              // input range (positive for log, sqrt, pow, s / a)
  std::vector<double> kinks;  // points the gradcheck inputs stay away from
};

std::vector<UnaryCase> unary_cases() {
  auto sigmoid_ref = [](double x) { return 1 / (1 + std::exp(-x)); };
  return {
      {"neg", [](const Tensor& a) { return ops::neg(a); }, [](double x) { return -x; }, -1, 1, {}},
      {"exp", [](const Tensor& a) { return ops::exp(a); }, [](double x) { return std::exp(x); },
       -2, 2, {}},
      {"log", [](const Tensor& a) { return ops::log(a); }, [](double x) { return std::log(x); },
       0.5, 2, {}},
      {"sqrt", [](const Tensor& a) { return ops::sqrt(a); },
       [](double x) { return std::sqrt(x); }, 0.5, 2, {}},
      {"pow2.5", [](const Tensor& a) { return ops::pow(a, 2.5); },
       [](double x) { return std::pow(x, 2.5); }, 0.5, 2, {}},
      {"pow-1.5", [](const Tensor& a) { return ops::pow(a, -1.5); },
       [](double x) { return std::pow(x, -1.5); }, 0.5, 2, {}},
      {"pow3_negative_base", [](const Tensor& a) { return ops::pow(a, 3.0); },
       [](double x) { return std::pow(x, 3.0); }, -2, 2, {}},
      {"pow0", [](const Tensor& a) { return ops::pow(a, 0.0); }, [](double) { return 1.0; }, 0.5,
       2, {}},
      {"abs", [](const Tensor& a) { return ops::abs(a); }, [](double x) { return std::fabs(x); },
       -1, 1, {0.0}},
      {"clamp", [](const Tensor& a) { return ops::clamp(a, -0.5, 0.3); },
       [](double x) { return std::min(std::max(x, -0.5), 0.3); }, -1, 1, {-0.5, 0.3}},
      {"relu", [](const Tensor& a) { return ops::relu(a); },
       [](double x) { return x > 0 ? x : 0.0; }, -1, 1, {0.0}},
      {"sigmoid", [](const Tensor& a) { return ops::sigmoid(a); }, sigmoid_ref, -6, 6, {}},
      {"add_scalar", [](const Tensor& a) { return ops::add_scalar(a, 1.5); },
       [](double x) { return x + 1.5; }, -1, 1, {}},
      {"mul_scalar", [](const Tensor& a) { return ops::mul_scalar(a, -2.5); },
       [](double x) { return x * -2.5; }, -1, 1, {}},
      {"a+s", [](const Tensor& a) { return a + 0.25; }, [](double x) { return x + 0.25; }, -1, 1,
       {}},
      {"a-s", [](const Tensor& a) { return a - 0.25; }, [](double x) { return x - 0.25; }, -1, 1,
       {}},
      {"a*s", [](const Tensor& a) { return a * 3.0; }, [](double x) { return x * 3.0; }, -1, 1,
       {}},
      {"a/s", [](const Tensor& a) { return a / 3.0; }, [](double x) { return x / 3.0; }, -1, 1,
       {}},
      {"s+a", [](const Tensor& a) { return 0.25 + a; }, [](double x) { return 0.25 + x; }, -1, 1,
       {}},
      {"s-a", [](const Tensor& a) { return 0.25 - a; }, [](double x) { return 0.25 - x; }, -1, 1,
       {}},
      {"s*a", [](const Tensor& a) { return 3.0 * a; }, [](double x) { return 3.0 * x; }, -1, 1,
       {}},
      {"s/a", [](const Tensor& a) { return 3.0 / a; }, [](double x) { return 3.0 / x; }, 0.5, 2,
       {}},
      {"-a", [](const Tensor& a) { return -a; }, [](double x) { return -x; }, -1, 1, {}},
  };
}

TEST(Elementwise, UnaryGradcheck) {
  auto ctx = cpu_context();
  for (const UnaryCase& c : unary_cases())
    for (const Shape& shape : std::vector<Shape>{{2, 3}, {}, {4, 1, 3}})
      for (uint64_t seed : {1, 2, 3}) {
        Generator gen(seed);
        Tensor x = input_away_from(shape, gen, ctx, c.kinks, c.lo, c.hi);
        EXPECT_TRUE(gradcheck([&](const std::vector<Tensor>& in) { return c.op(in[0]); }, {x},
                              grad_opts(seed)))
            << c.name << " " << shape_str(shape) << " seed " << seed;
      }
}

TEST(Elementwise, UnaryForwardMatchesCmath) {
  auto ctx = cpu_context();
  Generator gen(21);
  for (const UnaryCase& c : unary_cases()) {
    Tensor x = input_away_from({3, 5}, gen, ctx, {}, c.lo, c.hi, 0);
    const std::vector<double> vx = x.to_vector<double>();
    std::vector<double> expected(vx.size());
    for (size_t i = 0; i < vx.size(); ++i) expected[i] = c.ref(vx[i]);
    // Same double libm calls (sigmoid: a different but equivalent formula): a few ulp.
    EXPECT_TRUE(tensors_close(c.op(x), Tensor::from_vector(expected, {3, 5}, ctx), 1e-15, 1e-14))
        << c.name;
  }
}

TEST(Elementwise, SigmoidIsStableForLargeInputs) {
  auto ctx = cpu_context();
  for (DType dtype : {DType::f32, DType::f64}) {
    Tensor x = Tensor::from_vector<double>({-1000, -50, 0, 100, 1000}, {5}, ctx, dtype);
    const std::vector<double> y = ops::sigmoid(x).to_vector<double>();
    EXPECT_EQ(y[0], 0.0);
    // exp(-50) ~ 2e-22 is a normal float: the naive 1 / (1 + exp(50)) would also give it, but
    // the naive form overflows exp(1000) to inf; here every value must be finite and right.
    EXPECT_NEAR(y[1], std::exp(-50.0), 1e-6 * std::exp(-50.0)) << dtype_name(dtype);
    EXPECT_EQ(y[2], 0.5);
    EXPECT_EQ(y[3], 1.0);
    EXPECT_EQ(y[4], 1.0);
  }
}

// Gradients at the kinks follow torch: relu'(0) = 0, |x|'(0) = 0, clamp passes the gradient
// on the closed interval [lo, hi], pow with exponent 0 has gradient 0.
TEST(Elementwise, GradientsAtKinksFollowTorch) {
  auto ctx = cpu_context();
  auto grad_of = [&](const std::function<Tensor(const Tensor&)>& op, std::vector<double> at) {
    Tensor x = Tensor::from_vector(at, {static_cast<int64_t>(at.size())}, ctx);
    x.set_requires_grad(true);
    op(x).backward(Tensor::ones(x.shape(), DType::f64, ctx));
    return x.grad().to_vector<double>();
  };
  EXPECT_EQ(grad_of([](const Tensor& a) { return ops::relu(a); }, {-1, 0, 2}),
            (std::vector<double>{0, 0, 1}));
  EXPECT_EQ(grad_of([](const Tensor& a) { return ops::abs(a); }, {-1, 0, 2}),
            (std::vector<double>{-1, 0, 1}));
  EXPECT_EQ(grad_of([](const Tensor& a) { return ops::clamp(a, -1, 2); }, {-1.5, -1, 0, 2, 2.5}),
            (std::vector<double>{0, 1, 1, 1, 0}));
  EXPECT_EQ(grad_of([](const Tensor& a) { return ops::pow(a, 0.0); }, {0, 1, -2}),
            (std::vector<double>{0, 0, 0}));
  EXPECT_EQ(ops::pow(Tensor::from_vector<double>({0, -2}, {2}, ctx), 0.0).to_vector<double>(),
            (std::vector<double>{1, 1}));
}

TEST(Elementwise, NanPropagatesThroughReluAndClamp) {
  auto ctx = cpu_context();
  Tensor x = Tensor::from_vector<double>({std::nan(""), 1}, {2}, ctx);
  EXPECT_TRUE(std::isnan(ops::relu(x).to_vector<double>()[0]));
  EXPECT_TRUE(std::isnan(ops::clamp(x, 0, 0.5).to_vector<double>()[0]));
  EXPECT_EQ(ops::clamp(x, 0, 0.5).to_vector<double>()[1], 0.5);
}

TEST(Elementwise, GradientsAccumulateThroughAChain) {
  // y = sum over elements of (a * b + a): dy/da = b + 1 broadcast back onto a's shape.
  auto ctx = cpu_context();
  Tensor a = Tensor::from_vector<double>({1, 2, 3}, {3}, ctx);
  Tensor b = Tensor::from_vector<double>({10, 20}, {2, 1}, ctx);
  a.set_requires_grad(true);
  b.set_requires_grad(true);
  Tensor y = a * b + a;  // (2, 3)
  y.backward(Tensor::ones({2, 3}, DType::f64, ctx));
  EXPECT_EQ(a.grad().to_vector<double>(), (std::vector<double>{32, 32, 32}));
  EXPECT_EQ(b.grad().to_vector<double>(), (std::vector<double>{6, 6}));
}

TEST(Elementwise, GradcheckWhenOneTensorFeedsSeveralInputs) {
  // The same tensor as both operands and again downstream: gradients from every use add up.
  auto ctx = cpu_context();
  for (uint64_t seed : {1, 2, 3}) {
    Generator gen(seed);
    Tensor x = random_input({3, 4}, gen, ctx, DType::f64, true, 0.5, 1.5);
    EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& in) {
                  const Tensor& a = in[0];
                  return a * a + a / (a + 2.0) - ops::sigmoid(a) * ops::log(a);
                }, {x}, grad_opts(seed)));
  }
}

// ---- CUDA parity -----------------------------------------------------------------------

TEST(Elementwise, CudaParityBinary) {
  WSVIS_REQUIRE_CUDA();
  auto ctx = cpu_context();
  const std::vector<ShapePair> pairs = {{{3, 7, 13}, {3, 7, 13}, {}}, {{3, 7, 13}, {7, 1}, {}},
                                        {{1}, {5}, {}},               {{}, {7, 13}, {}},
                                        {{7, 13}, {}, {}},            {{0, 3}, {3}, {}},
                                        {{2, 1, 5, 1, 3}, {4, 1, 1, 3}, {}},
                                        {{2, 3, 4, 5}, {3, 1, 1}, {}},
                                        {{2, 1, 4, 5}, {2, 3, 1, 1}, {}}};
  for (const BinaryCase& c : binary_cases())
    for (const ShapePair& s : pairs) {
      Generator gen(17);
      Tensor a = random_input(s.a, gen, ctx, DType::f32);
      Tensor b = random_input(s.b, gen, ctx, DType::f32, true, 0.5, 1.5);
      EXPECT_TRUE(cuda_parity([&](const std::vector<Tensor>& x) { return c.op(x[0], x[1]); },
                              {a, b}, kParityAtol, kParityRtol))
          << c.name << " " << shape_str(s.a) << " " << shape_str(s.b);
    }
}

TEST(Elementwise, CudaParityUnary) {
  WSVIS_REQUIRE_CUDA();
  auto ctx = cpu_context();
  for (const UnaryCase& c : unary_cases())
    for (const Shape& shape : std::vector<Shape>{{3, 7, 13}, {}, {0, 5}, {4097}}) {
      Generator gen(23);
      Tensor x = random_input(shape, gen, ctx, DType::f32, true, c.lo, c.hi);
      EXPECT_TRUE(cuda_parity([&](const std::vector<Tensor>& in) { return c.op(in[0]); }, {x},
                              kParityAtol, kParityRtol))
          << c.name << " " << shape_str(shape);
    }
}

TEST(Elementwise, CudaParitySumToShape) {
  WSVIS_REQUIRE_CUDA();
  auto ctx = cpu_context();
  Generator gen(29);
  Tensor g = random_input({3, 7, 13}, gen, ctx, DType::f32);
  for (const Shape& target : std::vector<Shape>{{7, 1}, {13}, {}, {3, 1, 13}})
    EXPECT_TRUE(cuda_parity([&](const std::vector<Tensor>& x) {
                  return ops::sum_to_shape(x[0], target);
                }, {g}, kParityAtol, kParityRtol))
        << shape_str(target);
}

// ---- misuse ----------------------------------------------------------------------------

TEST(Elementwise, IncompatibleShapesNameBothShapes) {
  auto ctx = cpu_context();
  Tensor a = Tensor::zeros({2, 3}, DType::f32, ctx);
  Tensor b = Tensor::zeros({4}, DType::f32, ctx);
  for (const BinaryCase& c : binary_cases()) EXPECT_THROW(c.op(a, b), Error) << c.name;
  try {
    ops::add(a, b);
    FAIL() << "add of (2, 3) and (4,) did not throw";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("add"), std::string::npos) << message;
    EXPECT_NE(message.find("(2, 3)"), std::string::npos) << message;
    EXPECT_NE(message.find("(4,)"), std::string::npos) << message;
  }
}

TEST(Elementwise, RejectsIntegerDtypes) {
  auto ctx = cpu_context();
  Tensor ints = Tensor::zeros({2, 3}, DType::i32, ctx);
  Tensor longs = Tensor::zeros({2, 3}, DType::i64, ctx);
  for (const BinaryCase& c : binary_cases()) {
    EXPECT_THROW(c.op(ints, ints), Error) << c.name;
    EXPECT_THROW(c.op(longs, longs), Error) << c.name;
  }
  for (const UnaryCase& c : unary_cases()) EXPECT_THROW(c.op(ints), Error) << c.name;
  EXPECT_THROW(ops::sum_to_shape(ints, {3}), Error);
}

TEST(Elementwise, RejectsMixedDtypes) {
  auto ctx = cpu_context();
  Tensor f = Tensor::zeros({2, 3}, DType::f32, ctx);
  Tensor d = Tensor::zeros({2, 3}, DType::f64, ctx);
  for (const BinaryCase& c : binary_cases()) EXPECT_THROW(c.op(f, d), Error) << c.name;
}

TEST(Elementwise, RejectsTensorsOfTwoContexts) {
  auto ctx1 = Context::create(Device::cpu());
  auto ctx2 = Context::create(Device::cpu());
  Tensor a = Tensor::zeros({2, 3}, DType::f32, ctx1);
  Tensor b = Tensor::zeros({2, 3}, DType::f32, ctx2);
  for (const BinaryCase& c : binary_cases()) EXPECT_THROW(c.op(a, b), Error) << c.name;
}

TEST(Elementwise, RejectsUndefinedTensors) {
  auto ctx = cpu_context();
  Tensor a = Tensor::zeros({2}, DType::f32, ctx);
  for (const BinaryCase& c : binary_cases()) {
    EXPECT_THROW(c.op(a, Tensor()), Error) << c.name;
    EXPECT_THROW(c.op(Tensor(), a), Error) << c.name;
  }
  for (const UnaryCase& c : unary_cases()) EXPECT_THROW(c.op(Tensor()), Error) << c.name;
}

TEST(Elementwise, SumToShapeRejectsShapesThatDoNotBroadcast) {
  auto ctx = cpu_context();
  Tensor g = Tensor::zeros({2, 3}, DType::f64, ctx);
  EXPECT_THROW(ops::sum_to_shape(g, {4}), Error);        // 4 vs 3
  EXPECT_THROW(ops::sum_to_shape(g, {2, 2, 3}), Error);  // more dims than g
  EXPECT_THROW(ops::sum_to_shape(g, {2, 1, 1}), Error);  // more dims than g
  EXPECT_THROW(ops::sum_to_shape(g, {3, 3}), Error);     // 3 vs 2
}

}  // namespace
}  // namespace wsvis
