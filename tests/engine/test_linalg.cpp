// matmul and linear: gradient checks in double, forward values against naive loops, CUDA
// parity (cuBLAS vs OpenBLAS) with TF32 off and on, and misuse.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/ops/linalg.h"
#include "tests/support/testing.h"

namespace wsvis {
namespace {

using testing::cpu_context;
using testing::gradcheck;
using testing::random_input;
using testing::tensors_close;

// Naive (B, M, K) x (B, K, N) in double: the independent reference for the forward.
std::vector<double> naive_bmm(const std::vector<double>& a, const std::vector<double>& b,
                              int64_t B, int64_t M, int64_t K, int64_t N) {
  std::vector<double> out(size_t(B * M * N), 0.0);
  for (int64_t z = 0; z < B; ++z)
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n) {
        double acc = 0;
        for (int64_t k = 0; k < K; ++k) acc += a[z * M * K + m * K + k] * b[z * K * N + k * N + n];
        out[z * M * N + m * N + n] = acc;
      }
  return out;
}

// cuda_parity with the GPU context's TF32 switch chosen by the caller: with TF32 off cuBLAS
// computes in full f32, so the comparison with OpenBLAS can be tight.
::testing::AssertionResult parity(const std::function<Tensor(const std::vector<Tensor>&)>& fn,
                                  const std::vector<Tensor>& cpu_inputs, bool tf32, double atol,
                                  double rtol) {
  const ContextPtr gpu = Context::create(Device::cuda(0));
  gpu->set_tf32(tf32);
  std::vector<Tensor> cpu_in, gpu_in;
  for (const Tensor& x : cpu_inputs) {
    if (!x.defined()) {
      cpu_in.emplace_back();
      gpu_in.emplace_back();
      continue;
    }
    cpu_in.push_back(x.clone().set_requires_grad(true));
    gpu_in.push_back(x.to(gpu).set_requires_grad(true));
  }
  Tensor out_cpu = fn(cpu_in), out_gpu = fn(gpu_in);
  auto fwd = tensors_close(out_gpu, out_cpu, atol, rtol);
  if (!fwd) return ::testing::AssertionFailure() << "forward: " << fwd.message();
  Generator gen(5);
  const Tensor gy = Tensor::randn(out_cpu.shape(), gen, out_cpu.context_ptr(), DType::f32);
  out_cpu.backward(gy);
  out_gpu.backward(gy.to(gpu));
  for (size_t k = 0; k < cpu_in.size(); ++k) {
    if (!cpu_in[k].defined()) continue;
    auto g = tensors_close(gpu_in[k].grad(), cpu_in[k].grad(), atol, rtol);
    if (!g) return ::testing::AssertionFailure() << "gradient of input " << k << ": " << g.message();
  }
  return ::testing::AssertionSuccess();
}

// Double-precision central differences are accurate to ~1e-9 here (eps 1e-6, smooth bilinear
// functions: the truncation term vanishes), so the default gradcheck tolerances (atol 1e-6,
// rtol 1e-5) leave three orders of margin while still catching any wrong index.
TEST(Matmul, GradcheckTwoD) {
  for (uint64_t seed : {1u, 2u, 3u}) {
    Generator gen(seed);
    auto ctx = cpu_context();
    Tensor a = random_input({3, 5}, gen, ctx), b = random_input({5, 4}, gen, ctx);
    EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& in) { return ops::matmul(in[0], in[1]); },
                          {a, b}))
        << "seed " << seed;
  }
}

TEST(Matmul, GradcheckBatched) {
  for (uint64_t seed : {4u, 5u, 6u}) {
    Generator gen(seed);
    auto ctx = cpu_context();
    Tensor a = random_input({2, 3, 4}, gen, ctx), b = random_input({2, 4, 5}, gen, ctx);
    EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& in) { return ops::matmul(in[0], in[1]); },
                          {a, b}))
        << "seed " << seed;
  }
}

TEST(Matmul, GradcheckOnlyOneInputRequiresGrad) {
  Generator gen(9);
  auto ctx = cpu_context();
  Tensor a = random_input({3, 4}, gen, ctx, DType::f64, false), b = random_input({4, 2}, gen, ctx);
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& in) { return ops::matmul(in[0], in[1]); },
                        {a, b}));
  EXPECT_FALSE(a.grad().defined());
}

TEST(Matmul, ForwardMatchesHandComputed) {
  auto ctx = cpu_context();
  // [[1, 2], [3, 4]] x [[5, 6, 7], [8, 9, 10]] = [[21, 24, 27], [47, 54, 61]]
  Tensor a = Tensor::from_vector<double>({1, 2, 3, 4}, {2, 2}, ctx);
  Tensor b = Tensor::from_vector<double>({5, 6, 7, 8, 9, 10}, {2, 3}, ctx);
  Tensor expected = Tensor::from_vector<double>({21, 24, 27, 47, 54, 61}, {2, 3}, ctx);
  EXPECT_TRUE(tensors_close(ops::matmul(a, b), expected, 0, 0));
}

TEST(Matmul, ForwardMatchesNaiveLoopBatchedFloatAndDouble) {
  for (DType dtype : {DType::f64, DType::f32}) {
    Generator gen(11);
    auto ctx = cpu_context();
    const int64_t B = 3, M = 7, K = 13, N = 5;
    Tensor a = Tensor::uniform({B, M, K}, -1, 1, gen, ctx, dtype);
    Tensor b = Tensor::uniform({B, K, N}, -1, 1, gen, ctx, dtype);
    Tensor ref = Tensor::from_vector<double>(
        naive_bmm(a.to_vector<double>(), b.to_vector<double>(), B, M, K, N), {B, M, N}, ctx);
    // f32: 13-term dot products of values in [-1, 1]: rounding error below 1e-5.
    const double tol = dtype == DType::f64 ? 1e-13 : 1e-5;
    EXPECT_TRUE(tensors_close(ops::matmul(a, b), ref.to_dtype(dtype), tol, tol));
  }
}

TEST(Matmul, EmptyInnerDimensionGivesZerosAndEmptyRowsGiveEmpty) {
  auto ctx = cpu_context();
  Tensor a = Tensor::empty({3, 0}, DType::f64, ctx), b = Tensor::empty({0, 2}, DType::f64, ctx);
  EXPECT_TRUE(tensors_close(ops::matmul(a, b), Tensor::zeros({3, 2}, DType::f64, ctx), 0, 0));
  Tensor c = Tensor::empty({0, 4}, DType::f64, ctx), d = Tensor::ones({4, 2}, DType::f64, ctx);
  EXPECT_EQ(ops::matmul(c, d).shape(), (Shape{0, 2}));
}

TEST(Linear, GradcheckWithAndWithoutBias) {
  for (uint64_t seed : {1u, 2u, 3u}) {
    Generator gen(seed);
    auto ctx = cpu_context();
    Tensor x = random_input({4, 6}, gen, ctx), w = random_input({3, 6}, gen, ctx);
    Tensor b = random_input({3}, gen, ctx);
    EXPECT_TRUE(gradcheck(
        [](const std::vector<Tensor>& in) { return ops::linear(in[0], in[1], in[2]); }, {x, w, b}))
        << "seed " << seed;
    EXPECT_TRUE(gradcheck(
        [](const std::vector<Tensor>& in) { return ops::linear(in[0], in[1], Tensor()); }, {x, w}))
        << "seed " << seed;
  }
}

TEST(Linear, GradcheckWhenOnlyOneInputRequiresGrad) {
  Generator gen(7);
  auto ctx = cpu_context();
  auto fn = [](const std::vector<Tensor>& in) { return ops::linear(in[0], in[1], in[2]); };
  Tensor x = random_input({3, 5}, gen, ctx), w = random_input({2, 5}, gen, ctx, DType::f64, false);
  Tensor b = random_input({2}, gen, ctx, DType::f64, false);
  EXPECT_TRUE(gradcheck(fn, {x, w, b}));
  Tensor x2 = random_input({3, 5}, gen, ctx, DType::f64, false), w2 = random_input({2, 5}, gen, ctx);
  EXPECT_TRUE(gradcheck(fn, {x2, w2, b}));
  Tensor b2 = random_input({2}, gen, ctx);
  EXPECT_TRUE(gradcheck(fn, {x2, w, b2}));
}

TEST(Linear, ForwardMatchesNaiveLoop) {
  Generator gen(21);
  auto ctx = cpu_context();
  const int64_t N = 5, in = 7, out = 3;
  Tensor x = Tensor::uniform({N, in}, -1, 1, gen, ctx, DType::f64);
  Tensor w = Tensor::uniform({out, in}, -1, 1, gen, ctx, DType::f64);
  Tensor b = Tensor::uniform({out}, -1, 1, gen, ctx, DType::f64);
  const auto xv = x.to_vector<double>(), wv = w.to_vector<double>(), bv = b.to_vector<double>();
  std::vector<double> ref(size_t(N * out));
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < out; ++o) {
      double acc = bv[o];
      for (int64_t i = 0; i < in; ++i) acc += xv[n * in + i] * wv[o * in + i];
      ref[n * out + o] = acc;
    }
  EXPECT_TRUE(tensors_close(ops::linear(x, w, b), Tensor::from_vector(ref, {N, out}, ctx), 1e-13,
                            1e-13));
}

TEST(Linear, EmptyBatchGivesEmptyOutputAndZeroWeightGradient) {
  Generator gen(3);
  auto ctx = cpu_context();
  Tensor x = random_input({0, 4}, gen, ctx), w = random_input({2, 4}, gen, ctx);
  Tensor b = random_input({2}, gen, ctx);
  Tensor y = ops::linear(x, w, b);
  EXPECT_EQ(y.shape(), (Shape{0, 2}));
  y.backward(Tensor::zeros({0, 2}, DType::f64, ctx));
  EXPECT_TRUE(tensors_close(w.grad(), Tensor::zeros({2, 4}, DType::f64, ctx), 0, 0));
  EXPECT_TRUE(tensors_close(b.grad(), Tensor::zeros({2}, DType::f64, ctx), 0, 0));
}

// ---- CUDA parity ---------------------------------------------------------------------------
// TF32 off: cuBLAS and OpenBLAS both sum f32 products, in different orders; with <= 64-term dot
// products of O(1) values the difference stays below 1e-5, so 1e-4 is a safe bound.
// TF32 on (the context default): inputs are rounded to a 10-bit mantissa (relative 2^-11), so a
// 64-term dot product of O(1) values can be off by ~1e-2 absolute; 2e-2 atol/rtol.
TEST(MatmulCuda, ParityWithCpu) {
  WSVIS_REQUIRE_CUDA();
  Generator gen(31);
  auto ctx = cpu_context();
  auto fn = [](const std::vector<Tensor>& in) { return ops::matmul(in[0], in[1]); };
  const std::vector<std::pair<Shape, Shape>> cases = {
      {{7, 13}, {13, 5}}, {{1, 1}, {1, 1}}, {{64, 33}, {33, 17}}, {{3, 7, 13}, {3, 13, 9}},
      {{0, 13}, {13, 5}}, {{4, 0}, {0, 3}}, {{2, 1, 64}, {2, 64, 31}}};
  for (const auto& [sa, sb] : cases) {
    Tensor a = Tensor::uniform(sa, -1, 1, gen, ctx), b = Tensor::uniform(sb, -1, 1, gen, ctx);
    EXPECT_TRUE(parity(fn, {a, b}, false, 1e-4, 1e-4)) << shape_str(sa) << " x " << shape_str(sb);
    EXPECT_TRUE(parity(fn, {a, b}, true, 2e-2, 2e-2)) << shape_str(sa) << " x " << shape_str(sb);
  }
}

TEST(LinearCuda, ParityWithCpu) {
  WSVIS_REQUIRE_CUDA();
  Generator gen(32);
  auto ctx = cpu_context();
  for (int64_t N : {0, 1, 7, 50}) {
    Tensor x = Tensor::uniform({N, 13}, -1, 1, gen, ctx);
    Tensor w = Tensor::uniform({9, 13}, -1, 1, gen, ctx);
    Tensor b = Tensor::uniform({9}, -1, 1, gen, ctx);
    auto with_bias = [](const std::vector<Tensor>& in) { return ops::linear(in[0], in[1], in[2]); };
    auto no_bias = [](const std::vector<Tensor>& in) { return ops::linear(in[0], in[1], Tensor()); };
    EXPECT_TRUE(parity(with_bias, {x, w, b}, false, 1e-4, 1e-4)) << "N = " << N;
    EXPECT_TRUE(parity(no_bias, {x, w}, false, 1e-4, 1e-4)) << "N = " << N;
    EXPECT_TRUE(testing::cuda_parity(with_bias, {x, w, b}, 2e-2, 2e-2)) << "N = " << N;
  }
}

// ---- misuse ----------------------------------------------------------------------------------
TEST(Matmul, InnerDimensionMismatchNamesBothShapes) {
  auto ctx = cpu_context();
  Tensor a = Tensor::zeros({2, 3}, DType::f32, ctx), b = Tensor::zeros({4, 5}, DType::f32, ctx);
  try {
    ops::matmul(a, b);
    FAIL() << "expected wsvis::Error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("(2, 3)"), std::string::npos) << msg;
    EXPECT_NE(msg.find("(4, 5)"), std::string::npos) << msg;
  }
}

TEST(Matmul, Misuse) {
  auto ctx = cpu_context(), other = cpu_context();
  Tensor a = Tensor::zeros({2, 3}, DType::f32, ctx);
  EXPECT_THROW(ops::matmul(a, Tensor::zeros({3, 2}, DType::f64, ctx)), Error);     // dtype
  EXPECT_THROW(ops::matmul(a, Tensor::zeros({3, 2}, DType::f32, other)), Error);   // context
  EXPECT_THROW(ops::matmul(a, Tensor::zeros({2, 3, 2}, DType::f32, ctx)), Error);  // rank mix
  EXPECT_THROW(ops::matmul(Tensor::zeros({3}, DType::f32, ctx),
                           Tensor::zeros({3}, DType::f32, ctx)), Error);            // rank 1
  EXPECT_THROW(ops::matmul(Tensor::zeros({2, 2, 3}, DType::f32, ctx),
                           Tensor::zeros({3, 3, 2}, DType::f32, ctx)), Error);      // batch
  EXPECT_THROW(ops::matmul(Tensor::zeros({2, 3}, DType::i32, ctx),
                           Tensor::zeros({3, 2}, DType::i32, ctx)), Error);         // integer
  EXPECT_THROW(ops::matmul(Tensor(), a), Error);                                    // undefined
}

TEST(Linear, Misuse) {
  auto ctx = cpu_context(), other = cpu_context();
  Tensor x = Tensor::zeros({4, 6}, DType::f32, ctx), w = Tensor::zeros({3, 6}, DType::f32, ctx);
  EXPECT_THROW(ops::linear(x, Tensor::zeros({3, 5}, DType::f32, ctx), Tensor()), Error);  // in
  EXPECT_THROW(ops::linear(x, w, Tensor::zeros({4}, DType::f32, ctx)), Error);    // bias size
  EXPECT_THROW(ops::linear(x, w, Tensor::zeros({3}, DType::f64, ctx)), Error);    // bias dtype
  EXPECT_THROW(ops::linear(x, w, Tensor::zeros({3}, DType::f32, other)), Error);  // context
  EXPECT_THROW(ops::linear(x, Tensor::zeros({3, 6}, DType::f32, other), Tensor()), Error);
  EXPECT_THROW(ops::linear(Tensor::zeros({4, 6, 1}, DType::f32, ctx), w, Tensor()), Error);
  EXPECT_THROW(ops::linear(x.to_dtype(DType::f64), w, Tensor()), Error);          // dtype
}

}  // namespace
}  // namespace wsvis
