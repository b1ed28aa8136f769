// Reductions: gradients against central differences (f64, CPU), forward values against naive
// loops, CUDA against the CPU twin (both kernel schedules: rows and columns), and misuse.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "engine/ops/reduce.h"
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

// f64 central differences (eps 1e-6): sums and softmax are smooth, so the numeric gradient
// is good to ~1e-10; atol 1e-6 + rtol 1e-5 is loose enough and still catches any wrong term.
GradcheckOptions grad_opts(uint64_t seed) {
  GradcheckOptions opts;
  opts.seed = seed;
  opts.atol = 1e-6;
  opts.rtol = 1e-5;
  return opts;
}

// f32 CUDA vs f32 CPU. The CPU sums in double, the GPU in float (a tree per row, or a
// sequential column sum): for R values of size ~1 the float error is ~R * 6e-8 absolute in
// the worst case; R <= ~4100 here gives < 3e-4, well under atol 1e-3 + rtol 1e-4. Softmax
// and its gradient are O(1) values built from a handful of float ops: 1e-5.
constexpr double kSumAtol = 1e-3, kSumRtol = 1e-4;
constexpr double kSoftmaxAtol = 1e-5, kSoftmaxRtol = 1e-5;

std::vector<int64_t> unravel(int64_t i, const Shape& shape) {
  std::vector<int64_t> idx(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    idx[d] = i % shape[d];
    i /= shape[d];
  }
  return idx;
}

// sum (or mean) of `x` over the dims flagged in `mask`, keepdim = false, by visiting every
// input element and adding it to the output element whose index drops the flagged dims.
std::vector<double> naive_sum(const Tensor& x, const std::vector<bool>& mask, bool mean) {
  const Shape& shape = x.shape();
  Shape out_shape;
  int64_t count = 1;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (mask[d]) count *= shape[d];
    else out_shape.push_back(shape[d]);
  }
  std::vector<double> out(static_cast<size_t>(shape_numel(out_shape)), 0.0);
  const std::vector<double> v = x.to_vector<double>();
  for (int64_t i = 0; i < x.numel(); ++i) {
    const std::vector<int64_t> idx = unravel(i, shape);
    int64_t flat = 0;
    for (size_t d = 0; d < shape.size(); ++d)
      if (!mask[d]) flat = flat * shape[d] + idx[d];
    out[static_cast<size_t>(flat)] += v[static_cast<size_t>(i)];
  }
  if (mean)
    for (double& o : out) o /= static_cast<double>(count);
  return out;
}

struct DimsCase {
  std::vector<int> dims;
  std::vector<bool> mask;  // the same dims as flags on a (2, 3, 4) tensor
};

// Every dim set of a rank-3 tensor worth telling apart: all (empty), single dims (outer,
// middle, last), negative dims, contiguous pairs and the non-contiguous pair {0, 2}.
std::vector<DimsCase> dims_cases() {
  return {{{}, {true, true, true}},         {{0}, {true, false, false}},
          {{1}, {false, true, false}},      {{-1}, {false, false, true}},
          {{0, 2}, {true, false, true}},    {{2, 0}, {true, false, true}},
          {{0, 1}, {true, true, false}},    {{-2, -1}, {false, true, true}},
          {{0, 1, 2}, {true, true, true}}};
}

std::string dims_str(const std::vector<int>& dims) {
  std::string s = "{";
  for (int d : dims) s += std::to_string(d) + ",";
  return s + "}";
}

Shape reduced(const Shape& shape, const std::vector<bool>& mask, bool keepdim) {
  Shape out;
  for (size_t d = 0; d < shape.size(); ++d)
    if (!mask[d]) out.push_back(shape[d]);
    else if (keepdim) out.push_back(1);
  return out;
}

// ---- sum and mean ----------------------------------------------------------------------

TEST(Reduce, SumAndMeanGradcheck) {
  auto ctx = cpu_context();
  for (const DimsCase& c : dims_cases())
    for (bool keepdim : {false, true})
      for (uint64_t seed : {1, 2, 3}) {
        Generator gen(seed);
        Tensor x = random_input({2, 3, 4}, gen, ctx);
        EXPECT_TRUE(gradcheck([&](const std::vector<Tensor>& in) {
                      return ops::sum(in[0], c.dims, keepdim);
                    }, {x}, grad_opts(seed)))
            << "sum " << dims_str(c.dims) << " keepdim " << keepdim;
        EXPECT_TRUE(gradcheck([&](const std::vector<Tensor>& in) {
                      return ops::mean(in[0], c.dims, keepdim);
                    }, {x}, grad_opts(seed)))
            << "mean " << dims_str(c.dims) << " keepdim " << keepdim;
      }
}

TEST(Reduce, SumAllAndMeanAllGradcheck) {
  auto ctx = cpu_context();
  for (const Shape& shape : std::vector<Shape>{{2, 3}, {}, {1, 2, 1, 3, 2}})
    for (uint64_t seed : {1, 2, 3}) {
      Generator gen(seed);
      Tensor x = random_input(shape, gen, ctx);
      EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& in) { return ops::sum(in[0]); }, {x},
                            grad_opts(seed)))
          << shape_str(shape);
      EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& in) { return ops::mean(in[0]); }, {x},
                            grad_opts(seed)))
          << shape_str(shape);
    }
}

TEST(Reduce, SumAndMeanMatchNaiveLoops) {
  auto ctx = cpu_context();
  Generator gen(4);
  Tensor x = random_input({2, 3, 4}, gen, ctx, DType::f64, false);
  for (const DimsCase& c : dims_cases())
    for (bool keepdim : {false, true}) {
      const Shape expected_shape = reduced(x.shape(), c.mask, keepdim);
      Tensor s = ops::sum(x, c.dims, keepdim);
      Tensor m = ops::mean(x, c.dims, keepdim);
      ASSERT_EQ(s.shape(), expected_shape) << dims_str(c.dims);
      ASSERT_EQ(m.shape(), expected_shape) << dims_str(c.dims);
      // Different summation orders of <= 24 doubles of size <= 1: a few ulp.
      EXPECT_TRUE(tensors_close(
          s, Tensor::from_vector(naive_sum(x, c.mask, false), expected_shape, ctx), 1e-14, 1e-14))
          << dims_str(c.dims);
      EXPECT_TRUE(tensors_close(
          m, Tensor::from_vector(naive_sum(x, c.mask, true), expected_shape, ctx), 1e-14, 1e-14))
          << dims_str(c.dims);
    }
}

TEST(Reduce, SumHandValuesAndShapes) {
  auto ctx = cpu_context();
  Tensor x = Tensor::from_vector<double>({1, 2, 3, 4, 5, 6}, {2, 3}, ctx);
  EXPECT_EQ(ops::sum(x, {0}).to_vector<double>(), (std::vector<double>{5, 7, 9}));
  EXPECT_EQ(ops::sum(x, {1}).to_vector<double>(), (std::vector<double>{6, 15}));
  EXPECT_EQ(ops::sum(x, {1}, true).shape(), (Shape{2, 1}));
  EXPECT_EQ(ops::mean(x, {-1}).to_vector<double>(), (std::vector<double>{2, 5}));
  Tensor all = ops::sum(x);
  EXPECT_EQ(all.dim(), 0);
  EXPECT_EQ(all.item<double>(), 21);
  EXPECT_EQ(ops::mean(x).item<double>(), 3.5);
  EXPECT_EQ(ops::sum(x, {}, true).shape(), (Shape{1, 1}));
  // A 0-d tensor reduces to itself; dim 0 / -1 are accepted as in torch.
  Tensor scalar = Tensor::from_vector<double>({2.5}, {}, ctx);
  EXPECT_EQ(ops::sum(scalar).item<double>(), 2.5);
  EXPECT_EQ(ops::sum(scalar, {0}).dim(), 0);
  EXPECT_EQ(ops::mean(scalar, {-1}, true).item<double>(), 2.5);
}

TEST(Reduce, SumOverEmptyDimsGivesZerosAndMeanGivesNan) {
  auto ctx = cpu_context();
  Tensor x = Tensor::zeros({2, 0, 3}, DType::f64, ctx);
  Tensor s = ops::sum(x, {1});
  EXPECT_EQ(s.shape(), (Shape{2, 3}));
  EXPECT_EQ(s.to_vector<double>(), std::vector<double>(6, 0.0));
  EXPECT_EQ(ops::sum(x).item<double>(), 0.0);
  EXPECT_TRUE(std::isnan(ops::mean(x).item<double>()));
  // Reducing the other dims of an empty tensor leaves an empty result.
  EXPECT_EQ(ops::sum(x, {0, 2}).shape(), (Shape{0}));
  // Backward through an empty reduction: a gradient of the input's (empty) shape.
  Tensor y = Tensor::zeros({2, 0, 3}, DType::f64, ctx);
  y.set_requires_grad(true);
  ops::sum(y, {1}).backward(Tensor::ones({2, 3}, DType::f64, ctx));
  EXPECT_EQ(y.grad().shape(), (Shape{2, 0, 3}));
}

TEST(Reduce, SumOfFiveDimsNonContiguousSets) {
  auto ctx = cpu_context();
  Generator gen(8);
  Tensor x = random_input({2, 3, 2, 4, 3}, gen, ctx, DType::f64, false);
  const std::vector<bool> mask = {true, false, true, false, true};
  Tensor s = ops::sum(x, {0, 2, 4});
  EXPECT_TRUE(tensors_close(s, Tensor::from_vector(naive_sum(x, mask, false), {3, 4}, ctx), 1e-13,
                            1e-13));
  // Size-1 dims between, around and inside the reduced sets (the op merges them into runs).
  Tensor ones = random_input({2, 1, 3, 1, 4}, gen, ctx, DType::f64, false);
  for (const std::vector<bool>& m : std::vector<std::vector<bool>>{
           {true, false, true, false, false}, {false, true, false, false, true},
           {true, false, false, false, true}, {false, false, true, true, false},
           {false, true, false, true, false}, {true, true, true, true, true}}) {
    std::vector<int> dims;
    Shape out_shape;
    for (int d = 0; d < 5; ++d) {
      if (m[static_cast<size_t>(d)]) dims.push_back(d);
      else out_shape.push_back(ones.shape()[static_cast<size_t>(d)]);
    }
    EXPECT_TRUE(tensors_close(ops::sum(ones, dims),
                              Tensor::from_vector(naive_sum(ones, m, false), out_shape, ctx),
                              1e-14, 1e-14))
        << dims_str(dims);
  }
  Tensor x_grad = random_input({2, 3, 2, 4, 3}, gen, ctx);
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& in) { return ops::mean(in[0], {4, 0, 2}); },
                        {x_grad}, grad_opts(8)));
}

// ---- max -------------------------------------------------------------------------------

TEST(Reduce, MaxGradcheck) {
  auto ctx = cpu_context();
  for (int dim : {0, 1, 2, -1})
    for (bool keepdim : {false, true})
      for (uint64_t seed : {1, 2, 3}) {
        Generator gen(seed);
        // Continuous random values: ties (where max is not differentiable) have probability 0,
        // and the gap between the two largest is far above eps.
        Tensor x = random_input({2, 3, 4}, gen, ctx);
        EXPECT_TRUE(gradcheck([&](const std::vector<Tensor>& in) {
                      return ops::max(in[0], dim, keepdim).values;
                    }, {x}, grad_opts(seed)))
            << "dim " << dim << " keepdim " << keepdim;
      }
}

TEST(Reduce, MaxValuesAndFirstIndexOfTies) {
  auto ctx = cpu_context();
  Tensor x = Tensor::from_vector<double>({1, 5, 5, 2,    // ties: first index 1
                                          7, 0, 7, 7,    // ties: first index 0
                                          -3, -1, -2, -1},  // ties: first index 1
                                         {3, 4}, ctx);
  ops::MaxResult rows = ops::max(x, 1);
  EXPECT_EQ(rows.values.to_vector<double>(), (std::vector<double>{5, 7, -1}));
  EXPECT_EQ(rows.indices.to_vector<int64_t>(), (std::vector<int64_t>{1, 0, 1}));
  EXPECT_EQ(rows.indices.dtype(), DType::i64);
  ops::MaxResult cols = ops::max(x, 0, true);
  EXPECT_EQ(cols.values.shape(), (Shape{1, 4}));
  EXPECT_EQ(cols.values.to_vector<double>(), (std::vector<double>{7, 5, 7, 7}));
  EXPECT_EQ(cols.indices.to_vector<int64_t>(), (std::vector<int64_t>{1, 0, 1, 1}));
  // The gradient goes to the returned (first) argmax only.
  Tensor y = x.clone();
  y.set_requires_grad(true);
  ops::max(y, 1).values.backward(Tensor::ones({3}, DType::f64, ctx));
  EXPECT_EQ(y.grad().to_vector<double>(),
            (std::vector<double>{0, 1, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0}));
}

TEST(Reduce, MaxMatchesNaiveLoopAndPropagatesNan) {
  auto ctx = cpu_context();
  Generator gen(12);
  Tensor x = random_input({3, 5, 2}, gen, ctx, DType::f64, false);
  const std::vector<double> v = x.to_vector<double>();
  ops::MaxResult m = ops::max(x, 1);
  const std::vector<double> values = m.values.to_vector<double>();
  const std::vector<int64_t> indices = m.indices.to_vector<int64_t>();
  for (int64_t o = 0; o < 3; ++o)
    for (int64_t i = 0; i < 2; ++i) {
      int64_t best = 0;
      auto at = [&](int64_t r) { return v[static_cast<size_t>((o * 5 + r) * 2 + i)]; };
      for (int64_t r = 1; r < 5; ++r)
        if (at(r) > at(best)) best = r;
      EXPECT_EQ(indices[static_cast<size_t>(o * 2 + i)], best);
      EXPECT_EQ(values[static_cast<size_t>(o * 2 + i)], at(best));
    }
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Tensor with_nan = Tensor::from_vector<double>({1, nan, 3, nan}, {1, 4}, ctx);
  ops::MaxResult n = ops::max(with_nan, 1);
  EXPECT_TRUE(std::isnan(n.values.item<double>()));
  EXPECT_EQ(n.indices.item<int64_t>(), 1);
  // 0-d input: itself, index 0.
  ops::MaxResult s = ops::max(Tensor::from_vector<double>({4}, {}, ctx), 0);
  EXPECT_EQ(s.values.dim(), 0);
  EXPECT_EQ(s.values.item<double>(), 4);
  EXPECT_EQ(s.indices.item<int64_t>(), 0);
}

// ---- softmax and log_softmax -----------------------------------------------------------

TEST(Reduce, SoftmaxAndLogSoftmaxGradcheck) {
  auto ctx = cpu_context();
  for (int dim : {0, 1, 2, -1})
    for (uint64_t seed : {1, 2, 3}) {
      Generator gen(seed);
      Tensor x = random_input({2, 3, 4}, gen, ctx, DType::f64, true, -2, 2);
      EXPECT_TRUE(gradcheck([&](const std::vector<Tensor>& in) { return ops::softmax(in[0], dim); },
                            {x}, grad_opts(seed)))
          << "softmax dim " << dim;
      EXPECT_TRUE(gradcheck([&](const std::vector<Tensor>& in) {
                    return ops::log_softmax(in[0], dim);
                  }, {x}, grad_opts(seed)))
          << "log_softmax dim " << dim;
    }
}

TEST(Reduce, SoftmaxMatchesNaiveFormula) {
  auto ctx = cpu_context();
  Generator gen(31);
  const Shape shape = {2, 3, 4};
  Tensor x = random_input(shape, gen, ctx, DType::f64, false, -3, 3);
  const std::vector<double> v = x.to_vector<double>();
  for (int dim = 0; dim < 3; ++dim) {
    std::vector<double> expected_soft(v.size()), expected_log(v.size());
    for (size_t e = 0; e < v.size(); ++e) {
      std::vector<int64_t> idx = unravel(static_cast<int64_t>(e), shape);
      double total = 0;  // no max subtraction: fine for |x| <= 3
      for (int64_t r = 0; r < shape[static_cast<size_t>(dim)]; ++r) {
        idx[static_cast<size_t>(dim)] = r;
        total += std::exp(v[static_cast<size_t>((idx[0] * 3 + idx[1]) * 4 + idx[2])]);
      }
      expected_soft[e] = std::exp(v[e]) / total;
      expected_log[e] = v[e] - std::log(total);
    }
    EXPECT_TRUE(tensors_close(ops::softmax(x, dim), Tensor::from_vector(expected_soft, shape, ctx),
                              1e-14, 1e-13))
        << dim;
    EXPECT_TRUE(tensors_close(ops::log_softmax(x, dim),
                              Tensor::from_vector(expected_log, shape, ctx), 1e-14, 1e-13))
        << dim;
  }
}

TEST(Reduce, SoftmaxIsStableForLargeInputs) {
  auto ctx = cpu_context();
  for (DType dtype : {DType::f32, DType::f64}) {
    Tensor x = Tensor::from_vector<double>({1000, 1001, -1000, -1001}, {2, 2}, ctx, dtype);
    const std::vector<double> y = ops::softmax(x, 1).to_vector<double>();
    const std::vector<double> ly = ops::log_softmax(x, 1).to_vector<double>();
    const double p = 1 / (1 + std::exp(1.0));  // softmax of (0, 1) at 0
    EXPECT_NEAR(y[0], p, 1e-6) << dtype_name(dtype);
    EXPECT_NEAR(y[1], 1 - p, 1e-6) << dtype_name(dtype);
    EXPECT_NEAR(y[2], 1 - p, 1e-6) << dtype_name(dtype);
    EXPECT_NEAR(ly[0], std::log(p), 1e-5) << dtype_name(dtype);
    EXPECT_NEAR(ly[3], std::log(p), 1e-5) << dtype_name(dtype);
  }
  // 0-d: softmax 1, log_softmax 0.
  Tensor scalar = Tensor::from_vector<double>({3}, {}, ctx);
  EXPECT_EQ(ops::softmax(scalar, 0).item<double>(), 1.0);
  EXPECT_EQ(ops::log_softmax(scalar, -1).item<double>(), 0.0);
}

// ---- CUDA parity -----------------------------------------------------------------------

TEST(Reduce, CudaParitySumAndMean) {
  WSVIS_REQUIRE_CUDA();
  auto ctx = cpu_context();
  struct Case {
    Shape shape;
    std::vector<int> dims;
  };
  // inner == 1 (rows, one block each: R below, at and above one warp and 256 threads) and
  // inner > 1 (columns), non-contiguous sets, empty tensors and empty reduced dims.
  const std::vector<Case> cases = {
      {{3, 7, 13}, {}},  {{3, 7, 13}, {2}},   {{3, 7, 13}, {1}},   {{3, 7, 13}, {0}},
      {{3, 7, 13}, {0, 2}}, {{3, 7, 13}, {1, 2}}, {{5, 4099}, {1}}, {{4099, 3}, {0}},
      {{2, 32}, {1}},    {{300, 37}, {1}},    {{0, 7}, {1}},       {{4, 0}, {1}},
      {{}, {}},          {{2, 1, 3, 1, 5}, {0, 2}}, {{2, 1, 3, 1, 5}, {1, 4}}};
  for (const Case& c : cases)
    for (bool keepdim : {false, true}) {
      Generator gen(41);
      Tensor x = random_input(c.shape, gen, ctx, DType::f32);
      EXPECT_TRUE(cuda_parity([&](const std::vector<Tensor>& in) {
                    return ops::sum(in[0], c.dims, keepdim);
                  }, {x}, kSumAtol, kSumRtol))
          << "sum " << shape_str(c.shape) << " " << dims_str(c.dims);
      int64_t count = 1;  // elements per mean; 0 gives NaN, which tensors_close rejects
      for (size_t d = 0; d < c.shape.size(); ++d)
        if (c.dims.empty() || std::find(c.dims.begin(), c.dims.end(), static_cast<int>(d)) !=
                                  c.dims.end())
          count *= c.shape[d];
      if (count > 0) {
        EXPECT_TRUE(cuda_parity([&](const std::vector<Tensor>& in) {
                      return ops::mean(in[0], c.dims, keepdim);
                    }, {x}, kSumAtol, kSumRtol))
            << "mean " << shape_str(c.shape) << " " << dims_str(c.dims);
      }
    }
}

TEST(Reduce, CudaParityMax) {
  WSVIS_REQUIRE_CUDA();
  auto ctx = cpu_context();
  for (const Shape& shape : std::vector<Shape>{{3, 7, 13}, {5, 1000}, {300, 37}, {0, 9}, {}})
    for (int dim : {0, -1}) {
      if (!shape.empty() && shape[dim < 0 ? shape.size() - 1 : 0] == 0) continue;  // max of nothing
      Generator gen(43);
      Tensor x = random_input(shape, gen, ctx, DType::f32);
      // Values and gradients are copies of input elements: exact.
      EXPECT_TRUE(cuda_parity([&](const std::vector<Tensor>& in) {
                    return ops::max(in[0], dim).values;
                  }, {x}, 0, 0))
          << shape_str(shape) << " dim " << dim;
      if (shape.empty() || shape[0] == 0) continue;
      const ContextPtr gpu = Context::create(Device::cuda(0));
      EXPECT_EQ(ops::max(x.to(gpu), dim).indices.to_vector<int64_t>(),
                ops::max(x, dim).indices.to_vector<int64_t>())
          << shape_str(shape) << " dim " << dim;
    }
  // Ties and NaN: both twins return the first occurrence.
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::vector<double> v(600, 1.0);
  v[50] = v[250] = 2.0;                  // row 0: tie at 50 and 250 (different warps)
  v[300 + 10] = 5.0;                     // row 1: NaN beats 5, the first NaN is at 100
  v[300 + 100] = v[300 + 200] = nan;
  Tensor ties = Tensor::from_vector(v, {2, 300}, ctx, DType::f32);
  const ContextPtr gpu = Context::create(Device::cuda(0));
  EXPECT_EQ(ops::max(ties, 1).indices.to_vector<int64_t>(), (std::vector<int64_t>{50, 100}));
  EXPECT_EQ(ops::max(ties.to(gpu), 1).indices.to_vector<int64_t>(),
            (std::vector<int64_t>{50, 100}));
}

TEST(Reduce, CudaParitySoftmax) {
  WSVIS_REQUIRE_CUDA();
  auto ctx = cpu_context();
  // Few long rows (1024-thread blocks), many short rows (256-thread cap), columns, empties.
  for (const Shape& shape :
       std::vector<Shape>{{3, 7, 13}, {5, 1000}, {300, 37}, {0, 9}, {6, 0}, {}})
    for (int dim : {0, 1, -1}) {
      if (static_cast<int>(shape.size()) <= dim) continue;
      Generator gen(47);
      Tensor x = random_input(shape, gen, ctx, DType::f32, true, -4, 4);
      EXPECT_TRUE(cuda_parity([&](const std::vector<Tensor>& in) {
                    return ops::softmax(in[0], dim);
                  }, {x}, kSoftmaxAtol, kSoftmaxRtol))
          << "softmax " << shape_str(shape) << " dim " << dim;
      EXPECT_TRUE(cuda_parity([&](const std::vector<Tensor>& in) {
                    return ops::log_softmax(in[0], dim);
                  }, {x}, kSoftmaxAtol, kSoftmaxRtol))
          << "log_softmax " << shape_str(shape) << " dim " << dim;
    }
}

// ---- misuse ----------------------------------------------------------------------------

TEST(Reduce, RejectsDimsOutOfRangeOrRepeated) {
  auto ctx = cpu_context();
  Tensor x = Tensor::zeros({2, 3}, DType::f32, ctx);
  EXPECT_THROW(ops::sum(x, {2}), Error);
  EXPECT_THROW(ops::sum(x, {-3}), Error);
  EXPECT_THROW(ops::sum(x, {0, 0}), Error);
  EXPECT_THROW(ops::sum(x, {1, -1}), Error);
  EXPECT_THROW(ops::mean(x, {5}), Error);
  EXPECT_THROW(ops::max(x, 2), Error);
  EXPECT_THROW(ops::softmax(x, -3), Error);
  EXPECT_THROW(ops::log_softmax(x, 2), Error);
  Tensor scalar = Tensor::zeros({}, DType::f32, ctx);
  EXPECT_THROW(ops::sum(scalar, {1}), Error);
  EXPECT_THROW(ops::max(scalar, 1), Error);
  EXPECT_THROW(ops::softmax(scalar, -2), Error);
}

TEST(Reduce, RejectsIntegerDtypes) {
  auto ctx = cpu_context();
  Tensor ints = Tensor::zeros({2, 3}, DType::i64, ctx);
  EXPECT_THROW(ops::sum(ints), Error);
  EXPECT_THROW(ops::sum(ints, {0}), Error);
  EXPECT_THROW(ops::mean(ints), Error);
  EXPECT_THROW(ops::max(ints, 0), Error);
  EXPECT_THROW(ops::softmax(ints, 0), Error);
  EXPECT_THROW(ops::log_softmax(Tensor::zeros({2}, DType::u8, ctx), 0), Error);
}

TEST(Reduce, RejectsMaxOverAnEmptyDimAndUndefinedInputs) {
  auto ctx = cpu_context();
  EXPECT_THROW(ops::max(Tensor::zeros({3, 0}, DType::f32, ctx), 1), Error);
  EXPECT_NO_THROW(ops::max(Tensor::zeros({0, 3}, DType::f32, ctx), 1));  // nothing to reduce
  EXPECT_THROW(ops::sum(Tensor()), Error);
  EXPECT_THROW(ops::mean(Tensor(), {0}), Error);
  EXPECT_THROW(ops::max(Tensor(), 0), Error);
  EXPECT_THROW(ops::softmax(Tensor(), 0), Error);
}

}  // namespace
}  // namespace wsvis
