// conv2d and conv_transpose2d: forward against a naive direct convolution (7 loops) and a
// naive scatter, gradient checks in double, im2col/col2im adjointness, CUDA parity (cuDNN vs
// the CPU im2col+GEMM twin, and the CUDA im2col kernels vs their CPU twins), and misuse.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/ops/conv.h"
#include "kernels/im2col.h"
#include "tests/support/testing.h"

namespace wsvis {
namespace {

using testing::cpu_context;
using testing::gradcheck;
using testing::random_input;
using testing::tensors_close;

struct ConvCase {
  const char* name;
  Shape x, w;  // conv2d: w (C_out, C_in/groups, kh, kw); transpose: w (C_in, C_out/groups, kh, kw)
  int sh, sw, ph, pw, dh, dw, groups;
  int oph = 0, opw = 0;  // output_padding (transpose only)
};

ops::Conv2dOptions conv_opts(const ConvCase& c) {
  ops::Conv2dOptions o;
  o.stride = {c.sh, c.sw}, o.padding = {c.ph, c.pw}, o.dilation = {c.dh, c.dw}, o.groups = c.groups;
  return o;
}

ops::ConvTranspose2dOptions transpose_opts(const ConvCase& c) {
  ops::ConvTranspose2dOptions o;
  o.stride = {c.sh, c.sw}, o.padding = {c.ph, c.pw}, o.dilation = {c.dh, c.dw}, o.groups = c.groups;
  o.output_padding = {c.oph, c.opw};
  return o;
}

// Direct convolution, one output element at a time: (n, co, oh, ow) x (ci, i, j).
Tensor naive_conv2d(const Tensor& x, const Tensor& w, const Tensor& b, const ConvCase& c) {
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const int64_t K = w.size(0), Cg = w.size(1), kh = w.size(2), kw = w.size(3);
  const int64_t Kg = K / c.groups;
  const int64_t P = (H + 2 * c.ph - c.dh * (kh - 1) - 1) / c.sh + 1;
  const int64_t Q = (W + 2 * c.pw - c.dw * (kw - 1) - 1) / c.sw + 1;
  const auto xv = x.to_vector<double>(), wv = w.to_vector<double>();
  const auto bv = b.defined() ? b.to_vector<double>() : std::vector<double>(size_t(K), 0.0);
  std::vector<double> out(size_t(N * K * P * Q));
  for (int64_t n = 0; n < N; ++n)
    for (int64_t co = 0; co < K; ++co)
      for (int64_t oh = 0; oh < P; ++oh)
        for (int64_t ow = 0; ow < Q; ++ow) {
          double acc = bv[co];
          const int64_t g = co / Kg;
          for (int64_t ci = 0; ci < Cg; ++ci)
            for (int64_t i = 0; i < kh; ++i)
              for (int64_t j = 0; j < kw; ++j) {
                const int64_t ih = oh * c.sh - c.ph + i * c.dh, iw = ow * c.sw - c.pw + j * c.dw;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                acc += xv[((n * C + g * Cg + ci) * H + ih) * W + iw] *
                       wv[((co * Cg + ci) * kh + i) * kw + j];
              }
          out[((n * K + co) * P + oh) * Q + ow] = acc;
        }
  (void)C;
  return Tensor::from_vector(out, {N, K, P, Q}, x.context_ptr());
}

// Transposed convolution as a scatter: every input pixel adds weight * value into the output
// window it maps to (the definition in the torch docs), then bias.
Tensor naive_conv_transpose2d(const Tensor& x, const Tensor& w, const Tensor& b, const ConvCase& c) {
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const int64_t Kg = w.size(1), kh = w.size(2), kw = w.size(3);
  const int64_t Cg = C / c.groups, K = Kg * c.groups;
  const int64_t P = (H - 1) * c.sh - 2 * c.ph + c.dh * (kh - 1) + c.oph + 1;
  const int64_t Q = (W - 1) * c.sw - 2 * c.pw + c.dw * (kw - 1) + c.opw + 1;
  const auto xv = x.to_vector<double>(), wv = w.to_vector<double>();
  std::vector<double> out(size_t(N * K * P * Q), 0.0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t ci = 0; ci < C; ++ci)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t ww = 0; ww < W; ++ww) {
          const double v = xv[((n * C + ci) * H + h) * W + ww];
          const int64_t g = ci / Cg;
          for (int64_t ko = 0; ko < Kg; ++ko)
            for (int64_t i = 0; i < kh; ++i)
              for (int64_t j = 0; j < kw; ++j) {
                const int64_t oh = h * c.sh - c.ph + i * c.dh, ow = ww * c.sw - c.pw + j * c.dw;
                if (oh < 0 || oh >= P || ow < 0 || ow >= Q) continue;
                out[((n * K + g * Kg + ko) * P + oh) * Q + ow] +=
                    v * wv[((ci * Kg + ko) * kh + i) * kw + j];
              }
        }
  if (b.defined()) {
    const auto bv = b.to_vector<double>();
    for (int64_t i = 0; i < N * K * P * Q; ++i) out[i] += bv[(i / (P * Q)) % K];
  }
  return Tensor::from_vector(out, {N, K, P, Q}, x.context_ptr());
}

// Cases cover stride 2, padding, dilation 2, groups 2 and 3, non-square kernels and inputs,
// 1x1 (the GEMM-only path) and a kernel as large as the padded input.
const std::vector<ConvCase> kConvCases = {
    {"plain3x3", {2, 3, 6, 5}, {4, 3, 3, 3}, 1, 1, 0, 0, 1, 1, 1},
    {"stride2_pad1", {2, 3, 7, 6}, {4, 3, 3, 3}, 2, 2, 1, 1, 1, 1, 1},
    {"dilation2", {1, 2, 7, 8}, {3, 2, 3, 2}, 1, 1, 1, 2, 2, 2, 1},
    {"groups2_nonsquare", {2, 4, 6, 7}, {6, 2, 2, 3}, 1, 2, 1, 0, 1, 1, 2},
    {"groups3_stride2_dil2", {1, 6, 9, 8}, {3, 2, 3, 3}, 2, 1, 2, 1, 2, 2, 3},
    {"pointwise", {2, 5, 4, 3}, {3, 5, 1, 1}, 1, 1, 0, 0, 1, 1, 1},
    {"pointwise_stride2", {1, 4, 5, 5}, {2, 4, 1, 1}, 2, 2, 0, 0, 1, 1, 1},
    {"kernel_fills_input", {1, 2, 3, 4}, {2, 2, 5, 4}, 1, 1, 1, 0, 1, 1, 1},
};

const std::vector<ConvCase> kTransposeCases = {
    {"plain", {2, 3, 4, 5}, {3, 2, 3, 3}, 1, 1, 0, 0, 1, 1, 1},
    {"stride2_pad1_outpad1", {2, 3, 4, 3}, {3, 4, 3, 3}, 2, 2, 1, 1, 1, 1, 1, 1, 1},
    {"groups2_nonsquare", {1, 4, 3, 5}, {4, 3, 2, 3}, 2, 1, 1, 1, 1, 1, 2, 1, 0},
    {"dilation2_outpad_lt_dilation", {1, 2, 4, 4}, {2, 2, 3, 2}, 1, 2, 1, 0, 2, 2, 1, 1, 1},
    {"upsample2x_like_maskrcnn", {2, 4, 3, 3}, {4, 2, 2, 2}, 2, 2, 0, 0, 1, 1, 1},
};

// Forward values in double agree to rounding (sums of < 100 products of O(1) values).
TEST(Conv2d, ForwardMatchesNaiveDirectConvolution) {
  Generator gen(1);
  auto ctx = cpu_context();
  for (const ConvCase& c : kConvCases)
    for (bool with_bias : {true, false}) {
      Tensor x = Tensor::uniform(c.x, -1, 1, gen, ctx, DType::f64);
      Tensor w = Tensor::uniform(c.w, -1, 1, gen, ctx, DType::f64);
      Tensor b = with_bias ? Tensor::uniform({c.w[0]}, -1, 1, gen, ctx, DType::f64) : Tensor();
      EXPECT_TRUE(tensors_close(ops::conv2d(x, w, b, conv_opts(c)), naive_conv2d(x, w, b, c),
                                1e-12, 1e-12))
          << c.name << (with_bias ? " with bias" : " without bias");
    }
}

TEST(Conv2d, ForwardFloatMatchesNaive) {
  Generator gen(2);
  auto ctx = cpu_context();
  const ConvCase& c = kConvCases[4];
  Tensor x = Tensor::uniform(c.x, -1, 1, gen, ctx, DType::f32);
  Tensor w = Tensor::uniform(c.w, -1, 1, gen, ctx, DType::f32);
  Tensor b = Tensor::uniform({c.w[0]}, -1, 1, gen, ctx, DType::f32);
  // f32 sums of 18 products of values in [-1, 1]: rounding below 1e-5.
  EXPECT_TRUE(tensors_close(ops::conv2d(x, w, b, conv_opts(c)),
                            naive_conv2d(x, w, b, c).to_dtype(DType::f32), 1e-5, 1e-5));
}

TEST(ConvTranspose2d, ForwardMatchesNaiveScatter) {
  Generator gen(3);
  auto ctx = cpu_context();
  for (const ConvCase& c : kTransposeCases)
    for (bool with_bias : {true, false}) {
      Tensor x = Tensor::uniform(c.x, -1, 1, gen, ctx, DType::f64);
      Tensor w = Tensor::uniform(c.w, -1, 1, gen, ctx, DType::f64);
      Tensor b = with_bias ? Tensor::uniform({c.w[1] * c.groups}, -1, 1, gen, ctx, DType::f64)
                           : Tensor();
      EXPECT_TRUE(tensors_close(ops::conv_transpose2d(x, w, b, transpose_opts(c)),
                                naive_conv_transpose2d(x, w, b, c), 1e-12, 1e-12))
          << c.name << (with_bias ? " with bias" : " without bias");
    }
}

// im2col and col2im are adjoint: <im2col(x), c> == <x, col2im(c)> for any x and c.
TEST(Im2col, Col2imIsTheAdjoint) {
  Generator gen(4);
  kernels::Im2colGeometry g;
  g.channels = 3, g.height = 7, g.width = 6, g.kernel_h = 3, g.kernel_w = 2;
  g.pad_h = 1, g.pad_w = 2, g.stride_h = 2, g.stride_w = 3, g.dilation_h = 2, g.dilation_w = 3;
  g.out_h = kernels::conv_out_size(g.height, g.kernel_h, g.pad_h, g.stride_h, g.dilation_h);
  g.out_w = kernels::conv_out_size(g.width, g.kernel_w, g.pad_w, g.stride_w, g.dilation_w);
  std::vector<double> x(size_t(g.channels * g.height * g.width)), cols(size_t(g.col_rows() * g.col_cols()));
  for (double& v : x) v = gen.uniform(-1, 1);
  for (double& v : cols) v = gen.uniform(-1, 1);
  std::vector<double> x_cols(cols.size()), cols_image(x.size());
  kernels::cpu::im2col(x.data(), g, x_cols.data());
  kernels::cpu::col2im(cols.data(), g, cols_image.data());
  double lhs = 0, rhs = 0;
  for (size_t i = 0; i < cols.size(); ++i) lhs += x_cols[i] * cols[i];
  for (size_t i = 0; i < x.size(); ++i) rhs += x[i] * cols_image[i];
  EXPECT_NEAR(lhs, rhs, 1e-12);
}

// Gradient checks: the ops are bilinear, so double central differences are exact up to
// rounding (~1e-9); the default atol 1e-6 / rtol 1e-5 leaves a wide margin yet catches any
// misplaced index. Shapes are tiny to keep the finite differences fast.
TEST(Conv2d, Gradcheck) {
  for (const ConvCase& c : kConvCases)
    for (uint64_t seed : {1u, 2u}) {
      Generator gen(seed);
      auto ctx = cpu_context();
      Tensor x = random_input(c.x, gen, ctx), w = random_input(c.w, gen, ctx);
      Tensor b = random_input({c.w[0]}, gen, ctx);
      const ops::Conv2dOptions o = conv_opts(c);
      EXPECT_TRUE(gradcheck(
          [o](const std::vector<Tensor>& in) { return ops::conv2d(in[0], in[1], in[2], o); },
          {x, w, b}))
          << c.name << " seed " << seed;
      EXPECT_TRUE(gradcheck(
          [o](const std::vector<Tensor>& in) { return ops::conv2d(in[0], in[1], Tensor(), o); },
          {x, w}))
          << c.name << " seed " << seed << " without bias";
    }
}

TEST(ConvTranspose2d, Gradcheck) {
  for (const ConvCase& c : kTransposeCases)
    for (uint64_t seed : {1u, 2u, 3u}) {
      Generator gen(seed);
      auto ctx = cpu_context();
      Tensor x = random_input(c.x, gen, ctx), w = random_input(c.w, gen, ctx);
      Tensor b = random_input({c.w[1] * c.groups}, gen, ctx);
      const ops::ConvTranspose2dOptions o = transpose_opts(c);
      EXPECT_TRUE(gradcheck(
          [o](const std::vector<Tensor>& in) {
            return ops::conv_transpose2d(in[0], in[1], in[2], o);
          },
          {x, w, b}))
          << c.name << " seed " << seed;
    }
}

// Only one of input / weight requires grad: the node saves only what that gradient reads.
TEST(Conv2d, GradcheckWhenOnlyOneInputRequiresGrad) {
  Generator gen(8);
  auto ctx = cpu_context();
  const ConvCase& c = kConvCases[3];
  const ops::Conv2dOptions o = conv_opts(c);
  auto fn = [o](const std::vector<Tensor>& in) { return ops::conv2d(in[0], in[1], Tensor(), o); };
  Tensor x = random_input(c.x, gen, ctx), w = random_input(c.w, gen, ctx, DType::f64, false);
  EXPECT_TRUE(gradcheck(fn, {x, w}));
  EXPECT_FALSE(w.grad().defined());
  Tensor x2 = random_input(c.x, gen, ctx, DType::f64, false), w2 = random_input(c.w, gen, ctx);
  EXPECT_TRUE(gradcheck(fn, {x2, w2}));
  EXPECT_FALSE(x2.grad().defined());
  const ConvCase& t = kTransposeCases[1];
  const ops::ConvTranspose2dOptions to = transpose_opts(t);
  auto tfn = [to](const std::vector<Tensor>& in) {
    return ops::conv_transpose2d(in[0], in[1], Tensor(), to);
  };
  EXPECT_TRUE(gradcheck(tfn, {random_input(t.x, gen, ctx),
                              random_input(t.w, gen, ctx, DType::f64, false)}));
  EXPECT_TRUE(gradcheck(tfn, {random_input(t.x, gen, ctx, DType::f64, false),
                              random_input(t.w, gen, ctx)}));
}

TEST(Conv2d, EmptyBatch) {
  Generator gen(5);
  auto ctx = cpu_context();
  Tensor x = random_input({0, 3, 5, 5}, gen, ctx), w = random_input({4, 3, 3, 3}, gen, ctx);
  Tensor b = random_input({4}, gen, ctx);
  Tensor y = ops::conv2d(x, w, b, {1, 1});
  EXPECT_EQ(y.shape(), (Shape{0, 4, 5, 5}));
  y.backward(Tensor::zeros(y.shape(), DType::f64, ctx));
  EXPECT_TRUE(tensors_close(w.grad(), Tensor::zeros(w.shape(), DType::f64, ctx), 0, 0));
  EXPECT_TRUE(tensors_close(b.grad(), Tensor::zeros({4}, DType::f64, ctx), 0, 0));
  Tensor yt = ops::conv_transpose2d(random_input({0, 4, 3, 3}, gen, ctx),
                                    random_input({4, 2, 2, 2}, gen, ctx), Tensor(), {2});
  EXPECT_EQ(yt.shape(), (Shape{0, 2, 6, 6}));
}

// ---- CUDA parity -----------------------------------------------------------------------------
// Like testing::cuda_parity, with the GPU context's TF32 switch chosen by the caller.
::testing::AssertionResult parity(const std::function<Tensor(const std::vector<Tensor>&)>& fn,
                                  const std::vector<Tensor>& cpu_inputs, bool tf32, double atol,
                                  double rtol) {
  const ContextPtr gpu = Context::create(Device::cuda(0));
  gpu->set_tf32(tf32);
  std::vector<Tensor> cpu_in, gpu_in;
  for (const Tensor& x : cpu_inputs) {
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
    auto g = tensors_close(gpu_in[k].grad(), cpu_in[k].grad(), atol, rtol);
    if (!g) return ::testing::AssertionFailure() << "gradient of input " << k << ": " << g.message();
  }
  return ::testing::AssertionSuccess();
}

// TF32 off (CUDNN_FMA_MATH): cuDNN and OpenBLAS both sum f32 products, in different orders
// (and Winograd/FFT algorithms transform the inputs): for these sums of <= ~300 products of
// O(1) values, 1e-4 absolute + relative is a safe bound (seen errors ~1e-6).
// TF32 on (the default): each operand is rounded to 10 mantissa bits (relative 2^-11), so
// sums of ~300 O(1) products can move by ~1e-2; 3e-2 atol/rtol.
TEST(Conv2dCuda, ParityWithCpu) {
  WSVIS_REQUIRE_CUDA();
  Generator gen(41);
  auto ctx = cpu_context();
  std::vector<ConvCase> cases = kConvCases;
  cases.push_back({"odd_7x13", {3, 5, 7, 13}, {8, 5, 3, 3}, 1, 1, 1, 1, 1, 1, 1});
  cases.push_back({"odd_7x13_groups", {2, 6, 7, 13}, {9, 2, 3, 5}, 2, 1, 1, 2, 1, 1, 3});
  cases.push_back({"resnet_like", {2, 32, 14, 14}, {16, 32, 3, 3}, 1, 1, 1, 1, 1, 1, 1});
  for (const ConvCase& c : cases) {
    Tensor x = Tensor::uniform(c.x, -1, 1, gen, ctx), w = Tensor::uniform(c.w, -1, 1, gen, ctx);
    Tensor b = Tensor::uniform({c.w[0]}, -1, 1, gen, ctx);
    const ops::Conv2dOptions o = conv_opts(c);
    auto fn = [o](const std::vector<Tensor>& in) { return ops::conv2d(in[0], in[1], in[2], o); };
    EXPECT_TRUE(parity(fn, {x, w, b}, false, 1e-4, 1e-4)) << c.name << " fp32";
    EXPECT_TRUE(parity(fn, {x, w, b}, true, 3e-2, 3e-2)) << c.name << " tf32";
  }
}

TEST(ConvTranspose2dCuda, ParityWithCpu) {
  WSVIS_REQUIRE_CUDA();
  Generator gen(42);
  auto ctx = cpu_context();
  std::vector<ConvCase> cases;
  for (const ConvCase& c : kTransposeCases)  // cuDNN needs output_padding < stride
    if (c.oph < c.sh && c.opw < c.sw) cases.push_back(c);
  cases.push_back({"odd_7x13", {2, 6, 7, 13}, {6, 4, 3, 3}, 2, 2, 1, 1, 1, 1, 2, 1, 0});
  for (const ConvCase& c : cases) {
    Tensor x = Tensor::uniform(c.x, -1, 1, gen, ctx), w = Tensor::uniform(c.w, -1, 1, gen, ctx);
    Tensor b = Tensor::uniform({c.w[1] * c.groups}, -1, 1, gen, ctx);
    const ops::ConvTranspose2dOptions o = transpose_opts(c);
    auto fn = [o](const std::vector<Tensor>& in) {
      return ops::conv_transpose2d(in[0], in[1], in[2], o);
    };
    EXPECT_TRUE(parity(fn, {x, w, b}, false, 1e-4, 1e-4)) << c.name << " fp32";
    EXPECT_TRUE(parity(fn, {x, w, b}, true, 3e-2, 3e-2)) << c.name << " tf32";
  }
}

TEST(Conv2dCuda, EmptyBatch) {
  WSVIS_REQUIRE_CUDA();
  auto gpu = Context::create(Device::cuda(0));
  Tensor x = Tensor::zeros({0, 3, 5, 5}, DType::f32, gpu).set_requires_grad(true);
  Tensor w = Tensor::ones({4, 3, 3, 3}, DType::f32, gpu).set_requires_grad(true);
  Tensor y = ops::conv2d(x, w, Tensor(), {1, 1});
  EXPECT_EQ(y.shape(), (Shape{0, 4, 5, 5}));
  y.backward(Tensor::zeros(y.shape(), DType::f32, gpu));
  EXPECT_TRUE(tensors_close(w.grad(), Tensor::zeros(w.shape(), DType::f32, cpu_context()), 0, 0));
}

// The CUDA im2col / col2im twins (kept for parity and as a fallback) against the CPU ones:
// the same formula per element, so the results agree exactly.
TEST(Im2colCuda, ParityWithCpu) {
  WSVIS_REQUIRE_CUDA();
  auto gpu = Context::create(Device::cuda(0));
  auto ctx = cpu_context();
  Generator gen(43);
  for (const ConvCase& c : kConvCases) {
    kernels::Im2colGeometry g;
    g.channels = c.x[1], g.height = c.x[2], g.width = c.x[3];
    g.kernel_h = int(c.w[2]), g.kernel_w = int(c.w[3]);
    g.pad_h = c.ph, g.pad_w = c.pw, g.stride_h = c.sh, g.stride_w = c.sw;
    g.dilation_h = c.dh, g.dilation_w = c.dw;
    g.out_h = kernels::conv_out_size(g.height, g.kernel_h, g.pad_h, g.stride_h, g.dilation_h);
    g.out_w = kernels::conv_out_size(g.width, g.kernel_w, g.pad_w, g.stride_w, g.dilation_w);
    Tensor image = Tensor::uniform({g.channels, g.height, g.width}, -1, 1, gen, ctx);
    Tensor cols = Tensor::uniform({g.col_rows(), g.col_cols()}, -1, 1, gen, ctx);
    Tensor cpu_cols = Tensor::empty(cols.shape(), DType::f32, ctx);
    Tensor cpu_image = Tensor::empty(image.shape(), DType::f32, ctx);
    kernels::cpu::im2col(image.data<float>(), g, cpu_cols.data<float>());
    kernels::cpu::col2im(cols.data<float>(), g, cpu_image.data<float>());
#if WSVIS_WITH_CUDA  // a build without the CUDA backend has skipped above
    Tensor gpu_image_in = image.to(gpu), gpu_cols_in = cols.to(gpu);
    Tensor gpu_cols = Tensor::empty(cols.shape(), DType::f32, gpu);
    Tensor gpu_image = Tensor::empty(image.shape(), DType::f32, gpu);
    kernels::cuda::im2col(gpu->stream(), gpu_image_in.data<float>(), g, gpu_cols.data<float>());
    kernels::cuda::col2im(gpu->stream(), gpu_cols_in.data<float>(), g, gpu_image.data<float>());
    // im2col copies values: exact. col2im sums the same terms in the same order: exact too.
    EXPECT_TRUE(tensors_close(gpu_cols, cpu_cols, 0, 0)) << c.name;
    EXPECT_TRUE(tensors_close(gpu_image, cpu_image, 0, 0)) << c.name;
#endif
  }
}

// ---- misuse ----------------------------------------------------------------------------------
TEST(Conv2d, Misuse) {
  auto ctx = cpu_context(), other = cpu_context();
  Tensor x = Tensor::zeros({1, 4, 5, 5}, DType::f32, ctx);
  Tensor w = Tensor::zeros({6, 4, 3, 3}, DType::f32, ctx);
  const ops::Conv2dOptions g3{1, 0, 1, 3};
  EXPECT_THROW(ops::conv2d(x, Tensor::zeros({6, 3, 3, 3}, DType::f32, ctx), Tensor()), Error);  // channels
  EXPECT_THROW(ops::conv2d(x, Tensor::zeros({6, 1, 3, 3}, DType::f32, ctx), Tensor(), g3), Error);  // groups do not divide C_in
  EXPECT_THROW(ops::conv2d(x, Tensor::zeros({5, 2, 3, 3}, DType::f32, ctx), Tensor(), {1, 0, 1, 2}),
               Error);                                                                   // groups do not divide C_out
  EXPECT_THROW(ops::conv2d(Tensor::zeros({4, 5, 5}, DType::f32, ctx), w, Tensor()), Error);  // rank
  EXPECT_THROW(ops::conv2d(x, Tensor::zeros({6, 4, 3}, DType::f32, ctx), Tensor()), Error);  // w rank
  EXPECT_THROW(ops::conv2d(x.to_dtype(DType::f64), w, Tensor()), Error);                   // dtype
  EXPECT_THROW(ops::conv2d(x, w, Tensor::zeros({6}, DType::f64, ctx)), Error);             // bias dtype
  EXPECT_THROW(ops::conv2d(x, w, Tensor::zeros({5}, DType::f32, ctx)), Error);             // bias size
  EXPECT_THROW(ops::conv2d(x, Tensor::zeros({6, 4, 3, 3}, DType::f32, other), Tensor()), Error);
  EXPECT_THROW(ops::conv2d(x, w, Tensor::zeros({6}, DType::f32, other)), Error);           // context
  EXPECT_THROW(ops::conv2d(x, Tensor::zeros({6, 4, 7, 3}, DType::f32, ctx), Tensor()), Error);  // too big
  EXPECT_THROW(ops::conv2d(x, w, Tensor(), {0}), Error);                                   // stride 0
  EXPECT_THROW(ops::conv2d(x, w, Tensor(), {1, -1}), Error);                               // padding
  EXPECT_THROW(ops::conv2d(x, w, Tensor(), {1, 0, 1, 0}), Error);                          // groups 0
  EXPECT_THROW(ops::conv2d(Tensor::zeros({1, 4, 0, 5}, DType::f32, ctx), w, Tensor()), Error);  // empty
  EXPECT_THROW(ops::conv2d(x.to_dtype(DType::i32), w.to_dtype(DType::i32), Tensor()), Error);
  EXPECT_THROW(ops::conv2d(Tensor(), w, Tensor()), Error);
}

TEST(ConvTranspose2d, Misuse) {
  auto ctx = cpu_context(), other = cpu_context();
  Tensor x = Tensor::zeros({1, 4, 5, 5}, DType::f32, ctx);
  Tensor w = Tensor::zeros({4, 3, 3, 3}, DType::f32, ctx);
  EXPECT_THROW(ops::conv_transpose2d(x, Tensor::zeros({3, 3, 3, 3}, DType::f32, ctx), Tensor()),
               Error);                                                                  // channels
  ops::ConvTranspose2dOptions g3;
  g3.groups = 3;
  EXPECT_THROW(ops::conv_transpose2d(x, w, Tensor(), g3), Error);                      // groups do not divide C_in
  ops::ConvTranspose2dOptions bad_outpad;
  bad_outpad.stride = 2, bad_outpad.output_padding = 2;
  EXPECT_THROW(ops::conv_transpose2d(x, w, Tensor(), bad_outpad), Error);              // outpad
  EXPECT_THROW(ops::conv_transpose2d(Tensor::zeros({4, 5, 5}, DType::f32, ctx), w, Tensor()), Error);
  EXPECT_THROW(ops::conv_transpose2d(x.to_dtype(DType::f64), w, Tensor()), Error);     // dtype
  EXPECT_THROW(ops::conv_transpose2d(x, w, Tensor::zeros({4}, DType::f32, ctx)), Error);  // bias
  EXPECT_THROW(ops::conv_transpose2d(x, Tensor::zeros({4, 3, 3, 3}, DType::f32, other), Tensor()),
               Error);                                                                  // context
  ops::ConvTranspose2dOptions big_pad;
  big_pad.padding = 4;
  EXPECT_THROW(ops::conv_transpose2d(x, w, Tensor(), big_pad), Error);                 // empty output
}

}  // namespace
}  // namespace wsvis
