// Tests of ops::max_pool2d, ops::avg_pool2d and ops::global_avg_pool2d: output sizes and values
// against naive loops written here, gradient checks in double, the window ranges the CUDA
// backward gathers over, CUDA parity, misuse.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

#include "engine/ops/pool.h"
#include "kernels/pool.h"
#include "tests/support/testing.h"

namespace wsvis {
namespace {

using testing::cpu_context;
using testing::gradcheck;
using testing::random_input;
using testing::tensors_close;

// Pooling is piecewise linear: central differences in double are exact up to rounding (~1e-10)
// away from kinks, and the inputs below keep kinks (max ties) farther than the step from every
// point, so 1e-6 absolute + 1e-5 relative is ample.
testing::GradcheckOptions grad_opts(uint64_t seed) {
  testing::GradcheckOptions o;
  o.atol = 1e-6;
  o.rtol = 1e-5;
  o.seed = seed;
  return o;
}

// A random permutation of values spaced 0.1 apart: no two inputs within the finite-difference
// step of each other, so no max-pool window has a tie that a perturbation could flip.
Tensor distinct_input(const Shape& shape, Generator& gen, const ContextPtr& ctx) {
  std::vector<double> values(static_cast<size_t>(shape_numel(shape)));
  std::iota(values.begin(), values.end(), 0.0);
  std::shuffle(values.begin(), values.end(), gen.engine());
  for (double& v : values) v = 0.1 * v - 1.0;
  Tensor t = Tensor::from_vector(values, shape, ctx);
  t.set_requires_grad(true);
  return t;
}

struct PoolCase {
  int kh, kw, sh, sw, ph, pw;
  bool ceil_mode;
};

// torch's output size, spelled out independently: ceil or floor of (in + 2p - k) / s plus one,
// dropping a last window that would start in the right padding.
int64_t expected_out(int64_t in, int k, int s, int p, bool ceil_mode) {
  const double q = static_cast<double>(in + 2 * p - k) / s;
  int64_t out = static_cast<int64_t>(ceil_mode ? std::ceil(q) : std::floor(q)) + 1;
  if (ceil_mode && (out - 1) * s >= in + p) --out;
  return out;
}

// Naive pooling over (N*C, H, W) in double, looping over kernel offsets.
std::vector<double> naive_pool(const std::vector<double>& x, int64_t planes, int64_t H, int64_t W,
                               const PoolCase& c, bool is_max, bool count_include_pad,
                               int64_t OH, int64_t OW) {
  std::vector<double> y(static_cast<size_t>(planes * OH * OW));
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t oh = 0; oh < OH; ++oh)
      for (int64_t ow = 0; ow < OW; ++ow) {
        double best = -std::numeric_limits<double>::infinity(), sum = 0;
        int64_t in_padded = 0, in_input = 0;
        for (int i = 0; i < c.kh; ++i)
          for (int j = 0; j < c.kw; ++j) {
            const int64_t h = oh * c.sh - c.ph + i, w = ow * c.sw - c.pw + j;
            if (h < H + c.ph && w < W + c.pw) ++in_padded;  // inside the padded input
            if (h < 0 || h >= H || w < 0 || w >= W) continue;
            ++in_input;
            const double v = x[static_cast<size_t>((p * H + h) * W + w)];
            best = std::max(best, v);
            sum += v;
          }
        y[static_cast<size_t>((p * OH + oh) * OW + ow)] =
            is_max ? best : sum / static_cast<double>(count_include_pad ? in_padded : in_input);
      }
  return y;
}

const std::vector<PoolCase> kCases = {
    {2, 2, 2, 2, 0, 0, false}, {3, 3, 2, 2, 1, 1, false}, {3, 3, 2, 2, 1, 1, true},
    {2, 2, 2, 2, 0, 0, true},  {3, 2, 1, 2, 1, 0, false}, {3, 3, 3, 3, 1, 1, true},
    {1, 1, 2, 2, 0, 0, false}, {2, 3, 3, 2, 1, 1, true},
};

// ---- output sizes and forward values -------------------------------------------------------

TEST(Pool, OutputSizesMatchTorch) {
  // Known torch shapes.
  EXPECT_EQ(kernels::pool_output_size(5, 2, 2, 0, false), 2);
  EXPECT_EQ(kernels::pool_output_size(5, 2, 2, 0, true), 3);
  EXPECT_EQ(kernels::pool_output_size(112, 3, 2, 1, false), 56);  // ResNet stem max pool
  EXPECT_EQ(kernels::pool_output_size(6, 3, 2, 1, true), 4);
  // Ceil mode would start a window in the right padding: dropped (torch gives 2, not 3).
  EXPECT_EQ(kernels::pool_output_size(5, 3, 3, 1, true), 2);
  for (int64_t in = 1; in < 12; ++in)
    for (int k = 1; k < 5; ++k)
      for (int s = 1; s < 4; ++s)
        for (int p = 0; p <= k / 2; ++p)
          for (bool ceil_mode : {false, true}) {
            if (in + 2 * p < k) continue;
            EXPECT_EQ(kernels::pool_output_size(in, k, s, p, ceil_mode),
                      expected_out(in, k, s, p, ceil_mode))
                << in << " " << k << " " << s << " " << p << " " << ceil_mode;
          }
}

TEST(Pool, HandComputedValues) {
  auto ctx = cpu_context();
  std::vector<double> values(16);
  std::iota(values.begin(), values.end(), 0.0);
  Tensor x = Tensor::from_vector(values, {1, 1, 4, 4}, ctx);
  EXPECT_TRUE(tensors_close(ops::max_pool2d(x, 2, 2),
                            Tensor::from_vector<double>({5, 7, 13, 15}, {1, 1, 2, 2}, ctx), 0, 0));
  EXPECT_TRUE(tensors_close(ops::avg_pool2d(x, 2, 2),
                            Tensor::from_vector<double>({2.5, 4.5, 10.5, 12.5}, {1, 1, 2, 2}, ctx),
                            1e-15, 0));
  // Padding 1, kernel 3, stride 2 on 0..15: the corner window holds 0, 1, 4, 5 and 5 zeros of
  // padding: 10 / 9 with count_include_pad, 10 / 4 without.
  Tensor with_pad = ops::avg_pool2d(x, 3, 2, 1, false, true);
  Tensor without_pad = ops::avg_pool2d(x, 3, 2, 1, false, false);
  EXPECT_NEAR(with_pad.to_vector<double>()[0], 10.0 / 9.0, 1e-15);
  EXPECT_NEAR(without_pad.to_vector<double>()[0], 10.0 / 4.0, 1e-15);
  // Global average of 0..15.
  EXPECT_NEAR(ops::global_avg_pool2d(x).item<double>(), 7.5, 1e-15);
}

TEST(Pool, ForwardMatchesNaive) {
  auto ctx = cpu_context();
  Generator gen(3);
  for (const Shape& shape : {Shape{2, 3, 7, 9}, Shape{1, 2, 5, 5}, Shape{1, 1, 6, 4}}) {
    Tensor x = Tensor::uniform(shape, -2, 2, gen, ctx, DType::f64);
    const std::vector<double> xv = x.to_vector<double>();
    const int64_t planes = shape[0] * shape[1], H = shape[2], W = shape[3];
    for (const PoolCase& c : kCases) {
      const int64_t OH = expected_out(H, c.kh, c.sh, c.ph, c.ceil_mode);
      const int64_t OW = expected_out(W, c.kw, c.sw, c.pw, c.ceil_mode);
      const Shape out_shape{shape[0], shape[1], OH, OW};
      Tensor ymax = ops::max_pool2d(x, {c.kh, c.kw}, {c.sh, c.sw}, {c.ph, c.pw}, c.ceil_mode);
      EXPECT_TRUE(tensors_close(
          ymax, Tensor::from_vector(naive_pool(xv, planes, H, W, c, true, true, OH, OW),
                                    out_shape, ctx),
          0, 0))
          << shape_str(shape) << " k " << c.kh << "x" << c.kw << " ceil " << c.ceil_mode;
      for (bool include_pad : {true, false}) {
        Tensor yavg = ops::avg_pool2d(x, {c.kh, c.kw}, {c.sh, c.sw}, {c.ph, c.pw}, c.ceil_mode,
                                      include_pad);
        EXPECT_TRUE(tensors_close(
            yavg, Tensor::from_vector(naive_pool(xv, planes, H, W, c, false, include_pad, OH, OW),
                                      out_shape, ctx),
            1e-14, 1e-14))
            << shape_str(shape) << " k " << c.kh << "x" << c.kw << " ceil " << c.ceil_mode
            << " include_pad " << include_pad;
      }
    }
    // Global average pooling.
    std::vector<double> means(static_cast<size_t>(planes), 0.0);
    for (int64_t p = 0; p < planes; ++p)
      for (int64_t i = 0; i < H * W; ++i) means[p] += xv[p * H * W + i] / (H * W);
    EXPECT_TRUE(tensors_close(ops::global_avg_pool2d(x),
                              Tensor::from_vector(means, {shape[0], shape[1], 1, 1}, ctx), 1e-14,
                              1e-14));
  }
}

TEST(Pool, MaxPoolTiesAndNaN) {
  auto ctx = cpu_context();
  // All-equal window: the gradient goes to the first element only (torch).
  Tensor x = Tensor::ones({1, 1, 2, 2}, DType::f64, ctx);
  x.set_requires_grad(true);
  Tensor y = ops::max_pool2d(x, 2, 2);
  y.backward(Tensor::ones(y.shape(), DType::f64, ctx));
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{1, 0, 0, 0}));
  // NaN propagates.
  Tensor xn = Tensor::from_vector<double>({1, std::nan(""), 3, 2}, {1, 1, 2, 2}, ctx);
  EXPECT_TRUE(std::isnan(ops::max_pool2d(xn, 2, 2).item<double>()));
}

// ---- gradients ------------------------------------------------------------------------------

TEST(Pool, GradcheckMaxPool) {
  auto ctx = cpu_context();
  for (uint64_t seed : {1, 2, 3}) {
    for (const PoolCase& c : kCases) {
      Generator gen(seed);
      Tensor x = distinct_input({2, 2, 5, 7}, gen, ctx);
      auto fn = [&](const std::vector<Tensor>& in) {
        return ops::max_pool2d(in[0], {c.kh, c.kw}, {c.sh, c.sw}, {c.ph, c.pw}, c.ceil_mode);
      };
      EXPECT_TRUE(gradcheck(fn, {x}, grad_opts(seed)))
          << "seed " << seed << " k " << c.kh << "x" << c.kw << " ceil " << c.ceil_mode;
    }
  }
}

TEST(Pool, GradcheckAvgPool) {
  auto ctx = cpu_context();
  for (uint64_t seed : {1, 2, 3}) {
    for (const PoolCase& c : kCases) {
      for (bool include_pad : {true, false}) {
        Generator gen(seed);
        Tensor x = random_input({2, 2, 5, 6}, gen, ctx);
        auto fn = [&](const std::vector<Tensor>& in) {
          return ops::avg_pool2d(in[0], {c.kh, c.kw}, {c.sh, c.sw}, {c.ph, c.pw}, c.ceil_mode,
                                 include_pad);
        };
        EXPECT_TRUE(gradcheck(fn, {x}, grad_opts(seed)))
            << "seed " << seed << " k " << c.kh << "x" << c.kw << " include_pad " << include_pad;
      }
    }
  }
}

TEST(Pool, GradcheckGlobalAvgPool) {
  auto ctx = cpu_context();
  for (uint64_t seed : {1, 2, 3}) {
    Generator gen(seed);
    Tensor x = random_input({2, 3, 3, 5}, gen, ctx);
    auto fn = [](const std::vector<Tensor>& in) { return ops::global_avg_pool2d(in[0]); };
    EXPECT_TRUE(gradcheck(fn, {x}, grad_opts(seed))) << "seed " << seed;
  }
}

// The CUDA backward gathers, for input index i, over outputs [pool_first_output,
// pool_last_output): that range must be exactly the outputs whose window contains i.
TEST(Pool, GatherRangesAreExactlyTheCoveringWindows) {
  for (int64_t in = 1; in < 12; ++in)
    for (int k = 1; k < 5; ++k)
      for (int s = 1; s < 4; ++s)
        for (int p = 0; p <= k / 2; ++p)
          for (bool ceil_mode : {false, true}) {
            if (in + 2 * p < k) continue;
            const int64_t out = kernels::pool_output_size(in, k, s, p, ceil_mode);
            for (int64_t i = 0; i < in; ++i) {
              const int64_t first = kernels::pool_first_output(i, k, s, p);
              const int64_t last = kernels::pool_last_output(i, s, p, out);
              for (int64_t o = 0; o < out; ++o) {
                const bool covers = o * s - p <= i && i < o * s - p + k;
                EXPECT_EQ(covers, first <= o && o < last)
                    << "in " << in << " k " << k << " s " << s << " p " << p << " i " << i
                    << " o " << o;
              }
            }
          }
}

// ---- CUDA parity ----------------------------------------------------------------------------

// f32 on both sides. Max pool selects the same element on both (exact); average sums a few
// f32 values in possibly different order: 1e-5 absolute and relative is tens of ulps.
constexpr double kParityAtol = 1e-5, kParityRtol = 1e-5;

TEST(PoolCuda, Parity) {
  WSVIS_REQUIRE_CUDA();
  auto ctx = cpu_context();
  Generator gen(31);
  for (const Shape& shape : {Shape{2, 3, 7, 13}, Shape{1, 5, 9, 4}, Shape{0, 3, 6, 6}}) {
    Tensor x = random_input(shape, gen, ctx, DType::f32);
    for (const PoolCase& c : kCases) {
      auto max_fn = [c](const std::vector<Tensor>& in) {
        return ops::max_pool2d(in[0], {c.kh, c.kw}, {c.sh, c.sw}, {c.ph, c.pw}, c.ceil_mode);
      };
      EXPECT_TRUE(testing::cuda_parity(max_fn, {x}, kParityAtol, kParityRtol))
          << shape_str(shape) << " k " << c.kh << "x" << c.kw << " ceil " << c.ceil_mode;
      for (bool include_pad : {true, false}) {
        auto avg_fn = [c, include_pad](const std::vector<Tensor>& in) {
          return ops::avg_pool2d(in[0], {c.kh, c.kw}, {c.sh, c.sw}, {c.ph, c.pw}, c.ceil_mode,
                                 include_pad);
        };
        EXPECT_TRUE(testing::cuda_parity(avg_fn, {x}, kParityAtol, kParityRtol))
            << shape_str(shape) << " k " << c.kh << "x" << c.kw << " include_pad "
            << include_pad;
      }
    }
    auto global_fn = [](const std::vector<Tensor>& in) { return ops::global_avg_pool2d(in[0]); };
    EXPECT_TRUE(testing::cuda_parity(global_fn, {x}, kParityAtol, kParityRtol));
  }
  // A large plane for the one-warp-per-plane global average.
  Tensor big = random_input({2, 3, 45, 67}, gen, ctx, DType::f32);
  auto global_fn = [](const std::vector<Tensor>& in) { return ops::global_avg_pool2d(in[0]); };
  EXPECT_TRUE(testing::cuda_parity(global_fn, {big}, kParityAtol, kParityRtol));
}

// ---- misuse ---------------------------------------------------------------------------------

TEST(PoolMisuse, Rejected) {
  auto ctx = cpu_context();
  Tensor x = Tensor::zeros({1, 2, 5, 5}, DType::f32, ctx);
  EXPECT_THROW(ops::max_pool2d(Tensor::zeros({2, 5, 5}, DType::f32, ctx), 2, 2), Error);  // rank
  EXPECT_THROW(ops::avg_pool2d(Tensor::zeros({2, 5, 5}, DType::f32, ctx), 2, 2), Error);
  EXPECT_THROW(ops::global_avg_pool2d(Tensor::zeros({2, 5}, DType::f32, ctx)), Error);
  EXPECT_THROW(ops::max_pool2d(Tensor::zeros({1, 2, 5, 5}, DType::i32, ctx), 2, 2), Error);  // dtype
  EXPECT_THROW(ops::avg_pool2d(Tensor::zeros({1, 2, 5, 5}, DType::u8, ctx), 2, 2), Error);
  EXPECT_THROW(ops::global_avg_pool2d(Tensor::zeros({1, 2, 5, 5}, DType::i64, ctx)), Error);
  EXPECT_THROW(ops::max_pool2d(x, 0, 1), Error);              // kernel
  EXPECT_THROW(ops::max_pool2d(x, 2, 0), Error);              // stride
  EXPECT_THROW(ops::avg_pool2d(x, {2, 2}, {1, -1}), Error);
  EXPECT_THROW(ops::max_pool2d(x, 3, 1, 2), Error);           // padding above half the kernel
  EXPECT_THROW(ops::avg_pool2d(x, 2, 1, -1), Error);
  EXPECT_THROW(ops::max_pool2d(x, 6, 1), Error);              // kernel larger than the input
  EXPECT_THROW(ops::avg_pool2d(x, {2, 8}, 1, {0, 1}), Error);
  EXPECT_THROW(ops::max_pool2d(Tensor::zeros({1, 2, 0, 5}, DType::f32, ctx), 1, 1), Error);
  EXPECT_THROW(ops::global_avg_pool2d(Tensor::zeros({1, 2, 0, 5}, DType::f32, ctx)), Error);
  EXPECT_THROW(ops::max_pool2d(Tensor(), 2, 2), Error);
  EXPECT_THROW(ops::global_avg_pool2d(Tensor()), Error);
}

TEST(PoolMisuse, EmptyBatchIsFine) {
  auto ctx = cpu_context();
  Tensor x = Tensor::zeros({0, 3, 6, 6}, DType::f32, ctx);
  EXPECT_EQ(ops::max_pool2d(x, 2, 2).shape(), (Shape{0, 3, 3, 3}));
  EXPECT_EQ(ops::avg_pool2d(x, 3, 2, 1, true).shape(), (Shape{0, 3, 4, 4}));
  EXPECT_EQ(ops::global_avg_pool2d(x).shape(), (Shape{0, 3, 1, 1}));
}

}  // namespace
}  // namespace wsvis
