// Shape ops: forward values against naive index loops written here, gradients against central
// differences in double, CUDA against the CPU twin, and misuse.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/ops/shape.h"
#include "tests/support/testing.h"

namespace wsvis {
namespace {

using testing::cpu_context;
using testing::cuda_parity;
using testing::gradcheck;
using testing::random_input;
using testing::tensors_close;

// Linear ops: the central difference is exact up to rounding (~1e-16 / eps = 1e-10), so the
// default gradcheck tolerances (atol 1e-6, rtol 1e-5) leave a wide margin.
const testing::GradcheckOptions kLinear{};
// Pure copies: CUDA moves the same bits, and scatter-adds of a few float terms differ from the
// CPU's order by a few ulps only.
constexpr double kCopyTol = 1e-6;

// Row-major flat offset of `idx` in `shape`.
int64_t flat(const Shape& shape, const std::vector<int64_t>& idx) {
  int64_t off = 0;
  for (size_t d = 0; d < shape.size(); ++d) off = off * shape[d] + idx[d];
  return off;
}

// Multi-index of flat offset `f` in `shape`.
std::vector<int64_t> unflat(const Shape& shape, int64_t f) {
  std::vector<int64_t> idx(shape.size());
  for (int d = static_cast<int>(shape.size()) - 1; d >= 0; --d) {
    idx[static_cast<size_t>(d)] = f % shape[static_cast<size_t>(d)];
    f /= shape[static_cast<size_t>(d)];
  }
  return idx;
}

Tensor i64_tensor(const std::vector<int64_t>& v, const Shape& shape, const ContextPtr& ctx) {
  return Tensor::from_vector<int64_t>(v, shape, ctx);
}

// Runs fn and checks that it throws wsvis::Error whose message contains every part.
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

// ---- reshape / flatten ---------------------------------------------------------------------

TEST(Reshape, SharesStorageAndInfersMinusOne) {
  auto ctx = cpu_context();
  Generator gen(1);
  Tensor a = random_input({2, 3, 4}, gen, ctx, DType::f64, false);
  Tensor r = ops::reshape(a, {4, -1});
  EXPECT_EQ(r.shape(), (Shape{4, 6}));
  EXPECT_TRUE(r.same_storage(a));
  EXPECT_EQ(r.to_vector<double>(), a.to_vector<double>());
  EXPECT_EQ(ops::reshape(a, {-1}).shape(), (Shape{24}));
}

TEST(Reshape, Gradcheck) {
  auto ctx = cpu_context();
  for (uint64_t seed : {1, 2, 3}) {
    Generator gen(seed);
    Tensor a = random_input({2, 3, 2}, gen, ctx);
    EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& x) { return ops::reshape(x[0], {3, -1}); },
                          {a}, kLinear));
  }
}

TEST(Flatten, ShapesAndGradcheck) {
  auto ctx = cpu_context();
  Generator gen(4);
  Tensor a = random_input({2, 3, 4, 5}, gen, ctx);
  EXPECT_EQ(ops::flatten(a).shape(), (Shape{2, 60}));
  EXPECT_EQ(ops::flatten(a, 2).shape(), (Shape{2, 3, 20}));
  EXPECT_EQ(ops::flatten(a, 0).shape(), (Shape{120}));
  EXPECT_EQ(ops::flatten(a, -1).shape(), (Shape{2, 3, 4, 5}));
  EXPECT_EQ(ops::flatten(Tensor::zeros({}, DType::f32, ctx)).shape(), (Shape{1}));
  EXPECT_EQ(ops::flatten(a).to_vector<double>(), a.to_vector<double>());
  Tensor small = random_input({2, 2, 3}, gen, ctx);
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& x) { return ops::flatten(x[0]); }, {small},
                        kLinear));
}

TEST(Reshape, Misuse) {
  auto ctx = cpu_context();
  Tensor a = Tensor::zeros({2, 3}, DType::f32, ctx);
  expect_error_with([&] { ops::reshape(a, {4, 2}); }, {"reshape", "(2, 3)", "(4, 2)"});
  EXPECT_THROW(ops::reshape(a, {-1, -1}), Error);
  EXPECT_THROW(ops::reshape(a, {-1, 4}), Error);
  EXPECT_THROW(ops::reshape(Tensor(), {6}), Error);
  EXPECT_THROW(ops::flatten(a, 2), Error);
}

// ---- permute --------------------------------------------------------------------------------

TEST(Permute, MatchesNaiveLoop) {
  auto ctx = cpu_context();
  Generator gen(5);
  const Shape shape{2, 3, 4, 5};
  Tensor a = random_input(shape, gen, ctx, DType::f64, false);
  const std::vector<int> order{2, 0, 3, 1};
  Tensor p = ops::permute(a, order);
  const Shape out_shape{4, 2, 5, 3};
  ASSERT_EQ(p.shape(), out_shape);
  const std::vector<double> av = a.to_vector<double>(), pv = p.to_vector<double>();
  for (int64_t f = 0; f < p.numel(); ++f) {
    const std::vector<int64_t> o = unflat(out_shape, f);
    std::vector<int64_t> src(4);
    for (size_t i = 0; i < 4; ++i) src[static_cast<size_t>(order[i])] = o[i];
    ASSERT_EQ(pv[static_cast<size_t>(f)], av[static_cast<size_t>(flat(shape, src))]) << f;
  }
  // Negative entries count from the end; integer tensors permute too.
  Tensor ints = i64_tensor({0, 1, 2, 3, 4, 5}, {2, 3}, ctx);
  EXPECT_EQ(ops::permute(ints, {-1, 0}).to_vector<int64_t>(),
            (std::vector<int64_t>{0, 3, 1, 4, 2, 5}));
}

TEST(Permute, Gradcheck) {
  auto ctx = cpu_context();
  for (uint64_t seed : {1, 2, 3}) {
    Generator gen(seed);
    Tensor a = random_input({2, 3, 2, 2}, gen, ctx);
    EXPECT_TRUE(gradcheck(
        [](const std::vector<Tensor>& x) { return ops::permute(x[0], {3, 1, 0, 2}); }, {a},
        kLinear));
  }
}

TEST(Permute, Misuse) {
  auto ctx = cpu_context();
  Tensor a = Tensor::zeros({2, 3, 4}, DType::f32, ctx);
  expect_error_with([&] { ops::permute(a, {0, 1}); }, {"permute", "(2, 3, 4)"});
  expect_error_with([&] { ops::permute(a, {0, 1, 1}); }, {"permute", "repeated"});
  EXPECT_THROW(ops::permute(a, {0, 1, 3}), Error);
}

// ---- concat ---------------------------------------------------------------------------------

TEST(Concat, MatchesNaiveLoop) {
  auto ctx = cpu_context();
  Generator gen(6);
  for (int dim : {0, 1, 2, -1}) {
    const int axis = dim < 0 ? dim + 3 : dim;
    std::vector<Tensor> xs;
    std::vector<int64_t> lens{2, 1, 3};
    for (int64_t len : lens) {
      Shape s{2, 3, 4};
      s[static_cast<size_t>(axis)] = len;
      xs.push_back(random_input(s, gen, ctx, DType::f64, false));
    }
    Tensor c = ops::concat(xs, dim);
    Shape out_shape{2, 3, 4};
    out_shape[static_cast<size_t>(axis)] = 6;
    ASSERT_EQ(c.shape(), out_shape);
    const std::vector<double> cv = c.to_vector<double>();
    for (int64_t f = 0; f < c.numel(); ++f) {
      std::vector<int64_t> idx = unflat(out_shape, f);
      size_t which = 0;
      while (idx[static_cast<size_t>(axis)] >= lens[which]) idx[static_cast<size_t>(axis)] -= lens[which++];
      const double expected =
          xs[which].to_vector<double>()[static_cast<size_t>(flat(xs[which].shape(), idx))];
      ASSERT_EQ(cv[static_cast<size_t>(f)], expected) << "dim " << dim << " at " << f;
    }
  }
}

TEST(Concat, EmptyPiecesAndIntegers) {
  auto ctx = cpu_context();
  Tensor a = i64_tensor({1, 2}, {1, 2}, ctx);
  Tensor empty = Tensor::empty({0, 2}, DType::i64, ctx);
  Tensor b = i64_tensor({3, 4, 5, 6}, {2, 2}, ctx);
  Tensor c = ops::concat({a, empty, b}, 0);
  EXPECT_EQ(c.shape(), (Shape{3, 2}));
  EXPECT_EQ(c.to_vector<int64_t>(), (std::vector<int64_t>{1, 2, 3, 4, 5, 6}));
}

TEST(Concat, Gradcheck) {
  auto ctx = cpu_context();
  for (uint64_t seed : {1, 2, 3}) {
    Generator gen(seed);
    Tensor a = random_input({2, 1, 3}, gen, ctx);
    Tensor b = random_input({2, 2, 3}, gen, ctx, DType::f64, false);  // a constant in between
    Tensor c = random_input({2, 3, 3}, gen, ctx);
    EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& x) { return ops::concat(x, 1); },
                          {a, b, c}, kLinear));
  }
}

TEST(Concat, Misuse) {
  auto ctx = cpu_context();
  auto other = Context::create(Device::cpu());
  Tensor a = Tensor::zeros({2, 3}, DType::f32, ctx);
  expect_error_with([&] { ops::concat({}, 0); }, {"concat", "empty"});
  expect_error_with([&] { ops::concat({a, Tensor::zeros({3, 3}, DType::f32, ctx)}, 1); },
                    {"concat", "(3, 3)", "(2, 3)"});
  EXPECT_THROW(ops::concat({a, Tensor::zeros({2, 3, 1}, DType::f32, ctx)}, 0), Error);
  EXPECT_THROW(ops::concat({a, Tensor::zeros({2, 3}, DType::f64, ctx)}, 0), Error);
  EXPECT_THROW(ops::concat({a, Tensor::zeros({2, 3}, DType::f32, other)}, 0), Error);
  EXPECT_THROW(ops::concat({a, Tensor()}, 0), Error);
  EXPECT_THROW(ops::concat({Tensor::zeros({}, DType::f32, ctx)}, 0), Error);
  EXPECT_THROW(ops::concat({a}, 2), Error);
}

// ---- slice ----------------------------------------------------------------------------------

// Python's range of a[start:end:step] along a dimension of `size`.
std::vector<int64_t> python_slice(int64_t size, int64_t start, int64_t end, int64_t step) {
  auto clamp = [&](int64_t v) {
    if (v < 0) v += size;
    return v < 0 ? 0 : (v > size ? size : v);
  };
  std::vector<int64_t> picked;
  for (int64_t i = clamp(start); i < clamp(end); i += step) picked.push_back(i);
  return picked;
}

TEST(Slice, MatchesPythonSlicing) {
  auto ctx = cpu_context();
  Generator gen(7);
  const Shape shape{3, 7, 2};
  Tensor a = random_input(shape, gen, ctx, DType::f64, false);
  const std::vector<double> av = a.to_vector<double>();
  struct Case { int64_t start, end, step; };
  for (const Case& c : std::vector<Case>{{0, 7, 1}, {1, 6, 2}, {-3, 100, 1}, {-100, -2, 3},
                                         {5, 2, 1}, {2, 3, 5}, {7, 9, 1}}) {
    Tensor s = ops::slice(a, 1, c.start, c.end, c.step);
    const std::vector<int64_t> rows = python_slice(7, c.start, c.end, c.step);
    ASSERT_EQ(s.shape(), (Shape{3, static_cast<int64_t>(rows.size()), 2}));
    const std::vector<double> sv = s.to_vector<double>();
    for (int64_t f = 0; f < s.numel(); ++f) {
      std::vector<int64_t> idx = unflat(s.shape(), f);
      idx[1] = rows[static_cast<size_t>(idx[1])];
      ASSERT_EQ(sv[static_cast<size_t>(f)], av[static_cast<size_t>(flat(shape, idx))])
          << c.start << ":" << c.end << ":" << c.step;
    }
  }
  EXPECT_EQ(ops::slice(a, -1, 1, 2).shape(), (Shape{3, 7, 1}));
}

TEST(Slice, Gradcheck) {
  auto ctx = cpu_context();
  for (uint64_t seed : {1, 2, 3}) {
    Generator gen(seed);
    Tensor a = random_input({2, 7, 3}, gen, ctx);
    EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& x) { return ops::slice(x[0], 1, -6, 6, 2); },
                          {a}, kLinear));
    EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& x) { return ops::slice(x[0], 0, 1, 2); },
                          {a}, kLinear));
  }
}

TEST(Slice, Misuse) {
  auto ctx = cpu_context();
  Tensor a = Tensor::zeros({2, 3}, DType::f32, ctx);
  expect_error_with([&] { ops::slice(a, 1, 0, 2, 0); }, {"slice", "step"});
  EXPECT_THROW(ops::slice(a, 2, 0, 1), Error);
  EXPECT_THROW(ops::slice(Tensor::zeros({}, DType::f32, ctx), 0, 0, 1), Error);
}

// ---- index_select ---------------------------------------------------------------------------

TEST(IndexSelect, MatchesNaiveLoop) {
  auto ctx = cpu_context();
  Generator gen(8);
  const Shape shape{3, 5, 2};
  Tensor a = random_input(shape, gen, ctx, DType::f64, false);
  const std::vector<double> av = a.to_vector<double>();
  const std::vector<int64_t> picks{4, 0, 4, 2};
  Tensor out = ops::index_select(a, 1, i64_tensor(picks, {4}, ctx));
  ASSERT_EQ(out.shape(), (Shape{3, 4, 2}));
  const std::vector<double> ov = out.to_vector<double>();
  for (int64_t f = 0; f < out.numel(); ++f) {
    std::vector<int64_t> idx = unflat(out.shape(), f);
    idx[1] = picks[static_cast<size_t>(idx[1])];
    ASSERT_EQ(ov[static_cast<size_t>(f)], av[static_cast<size_t>(flat(shape, idx))]);
  }
  // Dim 0, an empty index, integer data.
  EXPECT_EQ(ops::index_select(a, 0, i64_tensor({}, {0}, ctx)).shape(), (Shape{0, 5, 2}));
  Tensor ints = i64_tensor({10, 11, 12}, {3}, ctx);
  EXPECT_EQ(ops::index_select(ints, 0, i64_tensor({2, 2, 0}, {3}, ctx)).to_vector<int64_t>(),
            (std::vector<int64_t>{12, 12, 10}));
}

TEST(IndexSelect, BackwardAccumulatesDuplicates) {
  auto ctx = cpu_context();
  Tensor a = Tensor::zeros({4}, DType::f64, ctx);
  a.set_requires_grad(true);
  Tensor out = ops::index_select(a, 0, i64_tensor({1, 3, 1, 1}, {4}, ctx));
  out.backward(Tensor::from_vector<double>({1, 2, 3, 4}, {4}, ctx));
  EXPECT_EQ(a.grad().to_vector<double>(), (std::vector<double>{0, 8, 0, 2}));
}

TEST(IndexSelect, Gradcheck) {
  auto ctx = cpu_context();
  for (uint64_t seed : {1, 2, 3}) {
    Generator gen(seed);
    Tensor a = random_input({2, 4, 3}, gen, ctx);
    Tensor idx = i64_tensor({3, 0, 3, 1, 3}, {5}, ctx);
    for (int dim : {1, -2}) {
      EXPECT_TRUE(gradcheck(
          [&](const std::vector<Tensor>& x) { return ops::index_select(x[0], dim, idx); }, {a},
          kLinear));
    }
  }
}

TEST(IndexSelect, Misuse) {
  auto ctx = cpu_context();
  auto other = Context::create(Device::cpu());
  Tensor a = Tensor::zeros({3, 5}, DType::f32, ctx);
  expect_error_with([&] { ops::index_select(a, 1, i64_tensor({1, 7, 2}, {3}, ctx)); },
                    {"index_select", "value 7", "size 5"});
  expect_error_with([&] { ops::index_select(a, 0, i64_tensor({-1}, {1}, ctx)); },
                    {"index_select", "value -1", "size 3"});
  EXPECT_THROW(ops::index_select(a, 0, Tensor::zeros({2}, DType::i32, ctx)), Error);
  EXPECT_THROW(ops::index_select(a, 0, Tensor::zeros({2}, DType::f32, ctx)), Error);
  EXPECT_THROW(ops::index_select(a, 0, Tensor::zeros({1, 2}, DType::i64, ctx)), Error);
  EXPECT_THROW(ops::index_select(a, 0, Tensor::zeros({2}, DType::i64, other)), Error);
  EXPECT_THROW(ops::index_select(a, 2, Tensor::zeros({2}, DType::i64, ctx)), Error);
}

// ---- gather ---------------------------------------------------------------------------------

TEST(Gather, MatchesNaiveLoop) {
  auto ctx = cpu_context();
  Generator gen(9);
  const Shape shape{3, 4, 5};
  Tensor a = random_input(shape, gen, ctx, DType::f64, false);
  const std::vector<double> av = a.to_vector<double>();
  for (int dim : {0, 1, 2}) {
    const Shape index_shape{2, 3, 4};  // smaller than a in the other dims
    std::vector<int64_t> picks(static_cast<size_t>(shape_numel(index_shape)));
    for (int64_t& p : picks) p = gen.randint(0, shape[static_cast<size_t>(dim)]);
    Tensor out = ops::gather(a, dim, i64_tensor(picks, index_shape, ctx));
    ASSERT_EQ(out.shape(), index_shape);
    const std::vector<double> ov = out.to_vector<double>();
    for (int64_t f = 0; f < out.numel(); ++f) {
      std::vector<int64_t> idx = unflat(index_shape, f);
      idx[static_cast<size_t>(dim)] = picks[static_cast<size_t>(f)];
      ASSERT_EQ(ov[static_cast<size_t>(f)], av[static_cast<size_t>(flat(shape, idx))]) << dim;
    }
  }
}

TEST(Gather, Gradcheck) {
  auto ctx = cpu_context();
  for (uint64_t seed : {1, 2, 3}) {
    Generator gen(seed);
    Tensor a = random_input({3, 4}, gen, ctx);
    // Duplicates along dim 1 so the scatter-add has to accumulate.
    Tensor idx = i64_tensor({0, 0, 3, 2, 1, 2, 3, 3, 3}, {3, 3}, ctx);
    EXPECT_TRUE(gradcheck([&](const std::vector<Tensor>& x) { return ops::gather(x[0], 1, idx); },
                          {a}, kLinear));
    Tensor idx0 = i64_tensor({2, 0, 1, 2, 2, 2}, {2, 3}, ctx);
    EXPECT_TRUE(gradcheck([&](const std::vector<Tensor>& x) { return ops::gather(x[0], 0, idx0); },
                          {a}, kLinear));
  }
}

TEST(Gather, Misuse) {
  auto ctx = cpu_context();
  auto other = Context::create(Device::cpu());
  Tensor a = Tensor::zeros({3, 4}, DType::f32, ctx);
  expect_error_with([&] { ops::gather(a, 1, i64_tensor({0, 9}, {1, 2}, ctx)); },
                    {"gather", "value 9", "size 4"});
  EXPECT_THROW(ops::gather(a, 1, Tensor::zeros({3}, DType::i64, ctx)), Error);
  EXPECT_THROW(ops::gather(a, 1, Tensor::zeros({4, 1}, DType::i64, ctx)), Error);
  EXPECT_THROW(ops::gather(a, 1, Tensor::zeros({3, 1}, DType::i32, ctx)), Error);
  EXPECT_THROW(ops::gather(a, 1, Tensor::zeros({3, 1}, DType::i64, other)), Error);
}

// ---- CUDA parity ----------------------------------------------------------------------------

TEST(ShapeCuda, ParityOnOddAndEmptySizes) {
  WSVIS_REQUIRE_CUDA();
  auto ctx = cpu_context();
  Generator gen(21);
  for (const Shape& shape : std::vector<Shape>{{7, 13, 3}, {1, 5, 1}, {0, 13, 3}}) {
    Tensor a = random_input(shape, gen, ctx, DType::f32);
    Tensor b = random_input({shape[0], 4, shape[2]}, gen, ctx, DType::f32);
    EXPECT_TRUE(cuda_parity([](const std::vector<Tensor>& x) { return ops::permute(x[0], {2, 0, 1}); },
                            {a}, kCopyTol, 0));
    EXPECT_TRUE(cuda_parity([](const std::vector<Tensor>& x) { return ops::concat(x, 1); }, {a, b},
                            kCopyTol, 0));
    EXPECT_TRUE(cuda_parity(
        [](const std::vector<Tensor>& x) { return ops::slice(x[0], 1, -11, 12, 3); }, {a},
        kCopyTol, 0));
    EXPECT_TRUE(cuda_parity(
        [](const std::vector<Tensor>& x) { return ops::reshape(ops::flatten(x[0]), {-1}); }, {a},
        kCopyTol, 0));
    // index_select / gather: index tensors are built on whichever device the input lives on.
    const int64_t cols = shape[1];
    std::vector<int64_t> picks{cols - 1, 0, cols - 1, 2, 1};
    EXPECT_TRUE(cuda_parity(
        [&](const std::vector<Tensor>& x) {
          return ops::index_select(x[0], 1, i64_tensor(picks, {5}, x[0].context_ptr()));
        },
        {a}, kCopyTol, 1e-6));
    std::vector<int64_t> gpicks(static_cast<size_t>(shape[0] * 9 * shape[2]));
    for (int64_t& p : gpicks) p = gen.randint(0, cols);
    EXPECT_TRUE(cuda_parity(
        [&](const std::vector<Tensor>& x) {
          return ops::gather(x[0], 1, i64_tensor(gpicks, {shape[0], 9, shape[2]}, x[0].context_ptr()));
        },
        {a}, kCopyTol, 1e-6));
  }
}

TEST(ShapeCuda, IndexOutOfRangeNamesTheValue) {
  WSVIS_REQUIRE_CUDA();
  auto gpu = Context::create(Device::cuda(0));
  Tensor a = Tensor::zeros({3, 5}, DType::f32, gpu);
  expect_error_with([&] { ops::index_select(a, 1, i64_tensor({1, 2, 4, 5, 0}, {5}, gpu)); },
                    {"index_select", "value 5", "position 3", "size 5"});
  expect_error_with([&] { ops::gather(a, 0, i64_tensor({0, 1, 2, 3}, {1, 4}, gpu)); },
                    {"gather", "value 3", "size 3"});
}

}  // namespace
}  // namespace wsvis
