// Tests of ops::upsample_nearest2d and ops::upsample_bilinear2d: torch's known outputs, naive
// references written here, gradient checks in double (up- and downsampling, odd sizes), the
// gather formulation the CUDA backward uses, CUDA parity, misuse.
#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/ops/upsample.h"
#include "kernels/upsample.h"
#include "kernels/upsample_math.h"
#include "tests/support/testing.h"

namespace wsvis {
namespace {

using testing::cpu_context;
using testing::gradcheck;
using testing::random_input;
using testing::tensors_close;

// Both ops are linear in x: central differences in double are exact up to rounding (~1e-10),
// so 1e-6 absolute + 1e-5 relative leaves a wide margin while any wrong weight or index is O(0.1).
testing::GradcheckOptions grad_opts(uint64_t seed) {
  testing::GradcheckOptions o;
  o.atol = 1e-6;
  o.rtol = 1e-5;
  o.seed = seed;
  return o;
}

struct SizePair {
  int H, W, OH, OW;
};

// Up, down, mixed, identity, odd, and size-1 cases.
const std::vector<SizePair> kSizes = {
    {5, 7, 11, 3}, {2, 2, 4, 4}, {4, 4, 7, 9}, {9, 6, 4, 2}, {3, 5, 3, 5},
    {1, 4, 3, 1},  {6, 3, 12, 6}, {7, 13, 2, 5}, {4, 6, 1, 1},
};

// ---- nearest --------------------------------------------------------------------------------

// floor(dst * in / out) in exact integer arithmetic (torch computes it in float; for these small
// sizes the two agree because dst * in / out is never within float rounding of an integer
// unless it is one).
std::vector<double> naive_nearest(const std::vector<double>& x, int64_t planes, const SizePair& s) {
  std::vector<double> y(static_cast<size_t>(planes * s.OH * s.OW));
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t oh = 0; oh < s.OH; ++oh)
      for (int64_t ow = 0; ow < s.OW; ++ow) {
        const int64_t ih = std::min<int64_t>(oh * s.H / s.OH, s.H - 1);
        const int64_t iw = std::min<int64_t>(ow * s.W / s.OW, s.W - 1);
        y[static_cast<size_t>((p * s.OH + oh) * s.OW + ow)] =
            x[static_cast<size_t>((p * s.H + ih) * s.W + iw)];
      }
  return y;
}

TEST(UpsampleNearest, KnownValues) {
  auto ctx = cpu_context();
  // torch: F.interpolate([[1, 2], [3, 4]], size=(4, 4)) repeats each pixel 2x2.
  Tensor x = Tensor::from_vector<double>({1, 2, 3, 4}, {1, 1, 2, 2}, ctx);
  EXPECT_TRUE(tensors_close(ops::upsample_nearest2d(x, 4, 4),
                            Tensor::from_vector<double>({1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3,
                                                         4, 4},
                                                        {1, 1, 4, 4}, ctx),
                            0, 0));
  // torch: size 3 from 2 picks floor(dst * 2 / 3) = 0, 0, 1.
  EXPECT_TRUE(tensors_close(ops::upsample_nearest2d(x, 1, 3),
                            Tensor::from_vector<double>({1, 1, 2}, {1, 1, 1, 3}, ctx), 0, 0));
}

TEST(UpsampleNearest, ForwardMatchesNaive) {
  auto ctx = cpu_context();
  Generator gen(2);
  for (const SizePair& s : kSizes) {
    Tensor x = Tensor::uniform({2, 3, s.H, s.W}, -1, 1, gen, ctx, DType::f64);
    const auto expect = naive_nearest(x.to_vector<double>(), 6, s);
    EXPECT_TRUE(tensors_close(ops::upsample_nearest2d(x, s.OH, s.OW),
                              Tensor::from_vector(expect, {2, 3, s.OH, s.OW}, ctx), 0, 0))
        << s.H << "x" << s.W << " -> " << s.OH << "x" << s.OW;
  }
}

TEST(UpsampleNearest, Gradcheck) {
  auto ctx = cpu_context();
  for (uint64_t seed : {1, 2, 3})
    for (const SizePair& s : kSizes) {
      Generator gen(seed);
      Tensor x = random_input({1, 2, s.H, s.W}, gen, ctx);
      auto fn = [&](const std::vector<Tensor>& in) {
        return ops::upsample_nearest2d(in[0], s.OH, s.OW);
      };
      EXPECT_TRUE(gradcheck(fn, {x}, grad_opts(seed)))
          << "seed " << seed << " " << s.H << "x" << s.W << " -> " << s.OH << "x" << s.OW;
    }
}

// ---- bilinear -------------------------------------------------------------------------------

// Bilinear in double, with torch's source-coordinate rule written out independently.
std::vector<double> naive_bilinear(const std::vector<double>& x, int64_t planes, const SizePair& s,
                                   bool align_corners) {
  auto source = [align_corners](int64_t dst, int64_t in, int64_t out) {
    if (align_corners) return out > 1 ? dst * static_cast<double>(in - 1) / (out - 1) : 0.0;
    return std::max((dst + 0.5) * static_cast<double>(in) / out - 0.5, 0.0);
  };
  std::vector<double> y(static_cast<size_t>(planes * s.OH * s.OW));
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t oh = 0; oh < s.OH; ++oh)
      for (int64_t ow = 0; ow < s.OW; ++ow) {
        const double sh = source(oh, s.H, s.OH), sw = source(ow, s.W, s.OW);
        const int64_t h0 = std::min<int64_t>(static_cast<int64_t>(sh), s.H - 1);
        const int64_t w0 = std::min<int64_t>(static_cast<int64_t>(sw), s.W - 1);
        const int64_t h1 = std::min<int64_t>(h0 + 1, s.H - 1), w1 = std::min<int64_t>(w0 + 1, s.W - 1);
        const double lh = std::min(sh - h0, 1.0), lw = std::min(sw - w0, 1.0);
        auto at = [&](int64_t h, int64_t w) { return x[static_cast<size_t>((p * s.H + h) * s.W + w)]; };
        y[static_cast<size_t>((p * s.OH + oh) * s.OW + ow)] =
            (1 - lh) * ((1 - lw) * at(h0, w0) + lw * at(h0, w1)) +
            lh * ((1 - lw) * at(h1, w0) + lw * at(h1, w1));
      }
  return y;
}

TEST(UpsampleBilinear, KnownTorchValues2x2To4x4) {
  auto ctx = cpu_context();
  Tensor x = Tensor::from_vector<double>({1, 2, 3, 4}, {1, 1, 2, 2}, ctx);
  // align_corners = False: source rows/cols 0 (clamped from -0.25), 0.25, 0.75, 1 (1.25 clamped
  // to the last pixel): torch gives
  //   1.00 1.25 1.75 2.00 / 1.50 1.75 2.25 2.50 / 2.50 2.75 3.25 3.50 / 3.00 3.25 3.75 4.00
  EXPECT_TRUE(tensors_close(ops::upsample_bilinear2d(x, 4, 4, false),
                            Tensor::from_vector<double>({1.00, 1.25, 1.75, 2.00, 1.50, 1.75, 2.25,
                                                         2.50, 2.50, 2.75, 3.25, 3.50, 3.00, 3.25,
                                                         3.75, 4.00},
                                                        {1, 1, 4, 4}, ctx),
                            1e-15, 0));
  // align_corners = True: sources 0, 1/3, 2/3, 1 along both axes: x00 + 2 * fh + fw.
  std::vector<double> expect;
  for (int h = 0; h < 4; ++h)
    for (int w = 0; w < 4; ++w) expect.push_back(1.0 + 2.0 * h / 3.0 + 1.0 * w / 3.0);
  EXPECT_TRUE(tensors_close(ops::upsample_bilinear2d(x, 4, 4, true),
                            Tensor::from_vector(expect, {1, 1, 4, 4}, ctx), 1e-15, 0));
}

TEST(UpsampleBilinear, ForwardMatchesNaive) {
  auto ctx = cpu_context();
  Generator gen(4);
  for (const SizePair& s : kSizes)
    for (bool align : {false, true}) {
      Tensor x = Tensor::uniform({2, 2, s.H, s.W}, -1, 1, gen, ctx, DType::f64);
      const auto expect = naive_bilinear(x.to_vector<double>(), 4, s, align);
      EXPECT_TRUE(tensors_close(ops::upsample_bilinear2d(x, s.OH, s.OW, align),
                                Tensor::from_vector(expect, {2, 2, s.OH, s.OW}, ctx), 1e-14,
                                1e-14))
          << s.H << "x" << s.W << " -> " << s.OH << "x" << s.OW << " align " << align;
    }
}

TEST(UpsampleBilinear, Gradcheck) {
  auto ctx = cpu_context();
  for (uint64_t seed : {1, 2, 3})
    for (const SizePair& s : kSizes)
      for (bool align : {false, true}) {
        Generator gen(seed);
        Tensor x = random_input({1, 2, s.H, s.W}, gen, ctx);
        auto fn = [&](const std::vector<Tensor>& in) {
          return ops::upsample_bilinear2d(in[0], s.OH, s.OW, align);
        };
        EXPECT_TRUE(gradcheck(fn, {x}, grad_opts(seed)))
            << "seed " << seed << " " << s.H << "x" << s.W << " -> " << s.OH << "x" << s.OW
            << " align " << align;
      }
}

// ---- the gather formulation of the CUDA backward ---------------------------------------------

// The CUDA backward computes, for each input pixel, the sum over the outputs that read it,
// finding them by binary search (nearest_first_output / bilinear_first_output). This runs the
// same per-input-pixel loop on the host with the same shared helpers and compares it with the
// CPU scatter backward, so the index maths of the gather is checked without a GPU.
TEST(UpsampleGather, MatchesScatterBackward) {
  Generator gen(12);
  std::vector<SizePair> sizes = kSizes;
  sizes.push_back({13, 1, 40, 3});
  sizes.push_back({31, 17, 7, 50});
  for (const SizePair& s : sizes) {
    std::vector<double> gy(static_cast<size_t>(s.OH * s.OW));
    for (double& v : gy) v = gen.uniform(-1, 1);
    std::vector<double> scatter(static_cast<size_t>(s.H * s.W));
    // nearest
    kernels::cpu::upsample_nearest2d_backward(gy.data(), 1, s.H, s.W, s.OH, s.OW, scatter.data());
    for (int64_t ih = 0; ih < s.H; ++ih)
      for (int64_t iw = 0; iw < s.W; ++iw) {
        double sum = 0;
        for (int64_t oh = kernels::nearest_first_output(ih, s.H, s.OH);
             oh < kernels::nearest_first_output(ih + 1, s.H, s.OH); ++oh)
          for (int64_t ow = kernels::nearest_first_output(iw, s.W, s.OW);
               ow < kernels::nearest_first_output(iw + 1, s.W, s.OW); ++ow)
            sum += gy[static_cast<size_t>(oh * s.OW + ow)];
        EXPECT_NEAR(sum, scatter[static_cast<size_t>(ih * s.W + iw)], 1e-12)
            << "nearest " << s.H << "x" << s.W << " -> " << s.OH << "x" << s.OW;
      }
    // bilinear
    for (bool align : {false, true}) {
      kernels::cpu::upsample_bilinear2d_backward(gy.data(), 1, s.H, s.W, s.OH, s.OW, align,
                                                 scatter.data());
      const double scale_h = kernels::bilinear_scale<double>(s.H, s.OH, align);
      const double scale_w = kernels::bilinear_scale<double>(s.W, s.OW, align);
      for (int64_t ih = 0; ih < s.H; ++ih)
        for (int64_t iw = 0; iw < s.W; ++iw) {
          double sum = 0;
          const int64_t oh0 = kernels::bilinear_first_output(ih - 1, scale_h, s.H, s.OH, align);
          const int64_t oh1 = kernels::bilinear_first_output(ih + 1, scale_h, s.H, s.OH, align);
          const int64_t ow0 = kernels::bilinear_first_output(iw - 1, scale_w, s.W, s.OW, align);
          const int64_t ow1 = kernels::bilinear_first_output(iw + 1, scale_w, s.W, s.OW, align);
          for (int64_t oh = oh0; oh < oh1; ++oh)
            for (int64_t ow = ow0; ow < ow1; ++ow)
              sum += kernels::tap_weight(kernels::bilinear_tap(scale_h, oh, s.H, align), ih) *
                     kernels::tap_weight(kernels::bilinear_tap(scale_w, ow, s.W, align), iw) *
                     gy[static_cast<size_t>(oh * s.OW + ow)];
          EXPECT_NEAR(sum, scatter[static_cast<size_t>(ih * s.W + iw)], 1e-12)
              << "bilinear " << s.H << "x" << s.W << " -> " << s.OH << "x" << s.OW << " align "
              << align << " at " << ih << "," << iw;
        }
    }
  }
}

// ---- CUDA parity ----------------------------------------------------------------------------

// f32 on both sides with identical index maths (kernels/upsample_math.h, no FMA in the source
// coordinate); outputs mix at most four values: 1e-5 absolute and relative is tens of ulps.
constexpr double kParityAtol = 1e-5, kParityRtol = 1e-5;

TEST(UpsampleCuda, Parity) {
  WSVIS_REQUIRE_CUDA();
  auto ctx = cpu_context();
  Generator gen(41);
  std::vector<SizePair> sizes = kSizes;
  sizes.push_back({7, 13, 64, 33});
  sizes.push_back({50, 37, 7, 13});
  for (const SizePair& s : sizes)
    for (int64_t n : {2, 0}) {
      Tensor x = random_input({n, 3, s.H, s.W}, gen, ctx, DType::f32);
      auto nearest = [s](const std::vector<Tensor>& in) {
        return ops::upsample_nearest2d(in[0], s.OH, s.OW);
      };
      EXPECT_TRUE(testing::cuda_parity(nearest, {x}, kParityAtol, kParityRtol))
          << "nearest " << s.H << "x" << s.W << " -> " << s.OH << "x" << s.OW << " n " << n;
      for (bool align : {false, true}) {
        auto bilinear = [s, align](const std::vector<Tensor>& in) {
          return ops::upsample_bilinear2d(in[0], s.OH, s.OW, align);
        };
        EXPECT_TRUE(testing::cuda_parity(bilinear, {x}, kParityAtol, kParityRtol))
            << "bilinear " << s.H << "x" << s.W << " -> " << s.OH << "x" << s.OW << " align "
            << align << " n " << n;
      }
    }
}

// ---- misuse ---------------------------------------------------------------------------------

TEST(UpsampleMisuse, Rejected) {
  auto ctx = cpu_context();
  Tensor x = Tensor::zeros({1, 2, 3, 3}, DType::f32, ctx);
  EXPECT_THROW(ops::upsample_nearest2d(Tensor::zeros({2, 3, 3}, DType::f32, ctx), 4, 4), Error);
  EXPECT_THROW(ops::upsample_bilinear2d(Tensor::zeros({1, 1, 2, 3, 3}, DType::f32, ctx), 4, 4),
               Error);
  EXPECT_THROW(ops::upsample_nearest2d(Tensor::zeros({1, 2, 3, 3}, DType::i32, ctx), 4, 4), Error);
  EXPECT_THROW(ops::upsample_bilinear2d(Tensor::zeros({1, 2, 3, 3}, DType::u8, ctx), 4, 4), Error);
  EXPECT_THROW(ops::upsample_nearest2d(x, 0, 4), Error);
  EXPECT_THROW(ops::upsample_bilinear2d(x, 4, -1), Error);
  EXPECT_THROW(ops::upsample_bilinear2d(Tensor::zeros({1, 2, 0, 3}, DType::f32, ctx), 4, 4), Error);
  EXPECT_THROW(ops::upsample_nearest2d(Tensor(), 4, 4), Error);
}

TEST(UpsampleMisuse, EmptyBatchIsFine) {
  auto ctx = cpu_context();
  Tensor x = Tensor::zeros({0, 2, 3, 3}, DType::f32, ctx);
  EXPECT_EQ(ops::upsample_nearest2d(x, 5, 7).shape(), (Shape{0, 2, 5, 7}));
  EXPECT_EQ(ops::upsample_bilinear2d(x, 5, 7).shape(), (Shape{0, 2, 5, 7}));
}

}  // namespace
}  // namespace wsvis
