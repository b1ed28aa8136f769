// Tests of RoIAlign (kernels/roi_align.h).
//  - CPU twin against hand-computed cases (a constant map pools to the constant; a linear ramp
//    pools to the ramp's value at the bin centre, since bilinear interpolation is exact on it
//    and the sample grid is symmetric in the bin) and against a naive reference written here
//    from the ROIAlignV2 description (spec part B), with rois partly outside the map, aligned
//    and not, adaptive and fixed sampling.
//  - Gradient check in double of the input gradient by central differences.
//  - FPN level assignment on hand-computed boxes; multi-level RoIAlign against the single-level
//    one applied roi by roi to the assigned map (forward) and level by level (backward).
//  - Empty R and N, out-of-range batch indices.
//  - CUDA parity against the CPU twin (skipped without a GPU).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "kernels/roi_align.h"
#include "tests/support/testing.h"

namespace wsvis {
namespace {

using testing::all_close;
using testing::uniform;

namespace kc = kernels::cpu;
using kernels::FpnLevelParams;
using kernels::RoiLevels;

// Random rois (batch, x1, y1, x2, y2) in an image of img_w x img_h, some reaching outside it,
// a few tiny, and batch indices in [0, N).
std::vector<double> random_rois(int64_t R, int64_t N, double img_w, double img_h,
                                std::mt19937& rng) {
  std::uniform_real_distribution<double> ux(-0.2 * img_w, 1.1 * img_w), uy(-0.2 * img_h, 1.1 * img_h);
  std::uniform_real_distribution<double> size(0.5, 0.7 * std::max(img_w, img_h));
  std::uniform_int_distribution<int64_t> batch(0, std::max<int64_t>(N - 1, 0));
  std::vector<double> rois;
  for (int64_t r = 0; r < R; ++r) {
    const double x1 = ux(rng), y1 = uy(rng);
    const double w = r % 7 == 3 ? 0.3 : size(rng), h = r % 7 == 3 ? 0.2 : size(rng);
    rois.insert(rois.end(), {double(batch(rng)), x1, y1, x1 + w, y1 + h});
  }
  return rois;
}

// ---- naive reference from the written semantics -----------------------------------------------
double ref_bilinear(const double* plane, int64_t H, int64_t W, double y, double x) {
  if (y < -1.0 || y > H || x < -1.0 || x > W) return 0.0;  // outside by more than a pixel
  y = std::max(y, 0.0);
  x = std::max(x, 0.0);
  const int64_t y0 = std::min<int64_t>(static_cast<int64_t>(std::floor(y)), H - 1);
  const int64_t x0 = std::min<int64_t>(static_cast<int64_t>(std::floor(x)), W - 1);
  const int64_t y1 = std::min<int64_t>(y0 + 1, H - 1), x1 = std::min<int64_t>(x0 + 1, W - 1);
  if (y0 == H - 1) y = double(y0);  // on or past the last row: that row alone
  if (x0 == W - 1) x = double(x0);
  const double ly = y - y0, lx = x - x0;
  return (1 - ly) * ((1 - lx) * plane[y0 * W + x0] + lx * plane[y0 * W + x1]) +
         ly * ((1 - lx) * plane[y1 * W + x0] + lx * plane[y1 * W + x1]);
}

std::vector<double> ref_roi_align(const std::vector<double>& input, int64_t N, int64_t C,
                                  int64_t H, int64_t W, const std::vector<double>& rois,
                                  int64_t PH, int64_t PW, double scale, int sampling,
                                  bool aligned) {
  const int64_t R = static_cast<int64_t>(rois.size() / 5);
  std::vector<double> out(R * C * PH * PW, 0.0);
  for (int64_t r = 0; r < R; ++r) {
    const double* b = &rois[5 * r];
    const int64_t n = static_cast<int64_t>(b[0]);
    if (n < 0 || n >= N) continue;
    const double off = aligned ? 0.5 : 0.0;
    const double sx = b[1] * scale - off, sy = b[2] * scale - off;
    double rw = b[3] * scale - off - sx, rh = b[4] * scale - off - sy;
    if (!aligned) rw = std::max(rw, 1.0), rh = std::max(rh, 1.0);
    const double bw = rw / PW, bh = rh / PH;
    const int gh = sampling > 0 ? sampling : std::max(0, int(std::ceil(rh / PH)));
    const int gw = sampling > 0 ? sampling : std::max(0, int(std::ceil(rw / PW)));
    const double count = std::max(gh * gw, 1);
    for (int64_t c = 0; c < C; ++c)
      for (int64_t ph = 0; ph < PH; ++ph)
        for (int64_t pw = 0; pw < PW; ++pw) {
          double sum = 0;
          for (int iy = 0; iy < gh; ++iy)
            for (int ix = 0; ix < gw; ++ix)
              sum += ref_bilinear(&input[(n * C + c) * H * W], H, W,
                                  sy + ph * bh + (iy + 0.5) * bh / gh,
                                  sx + pw * bw + (ix + 0.5) * bw / gw);
          out[((r * C + c) * PH + ph) * PW + pw] = sum / count;
        }
  }
  return out;
}

// ---- hand-computed cases -----------------------------------------------------------------------

TEST(RoiAlignCpu, ConstantMapPoolsToTheConstant) {
  const int64_t N = 2, C = 3, H = 10, W = 13, PH = 7, PW = 7;
  std::vector<float> input(N * C * H * W);
  for (int64_t nc = 0; nc < N * C; ++nc)
    std::fill(input.begin() + nc * H * W, input.begin() + (nc + 1) * H * W, float(nc) - 1.5f);
  // Rois inside the map (scale 0.5: image 26x20), big and small, both images.
  const std::vector<float> rois = {0, 2, 3, 20, 17, 1, 0.5f, 0.5f, 25.5f, 19.5f, 1, 7, 7, 8, 9};
  std::vector<float> out(3 * C * PH * PW);
  for (int sampling : {0, 2})
    for (bool aligned : {true, false}) {
      kc::roi_align_forward(input.data(), N, C, H, W, rois.data(), 3, PH, PW, 0.5, sampling,
                            aligned, out.data());
      for (int64_t r = 0; r < 3; ++r)
        for (int64_t c = 0; c < C; ++c)
          for (int64_t i = 0; i < PH * PW; ++i)
            EXPECT_NEAR(out[(r * C + c) * PH * PW + i], float(int64_t(rois[5 * r]) * C + c) - 1.5f,
                        1e-6)
                << "roi " << r << " channel " << c << " sampling " << sampling;
    }
}

TEST(RoiAlignCpu, LinearRampPoolsToBinCentres) {
  const int64_t H = 12, W = 16, PH = 3, PW = 4;
  std::vector<double> input(H * W);
  auto ramp = [](double y, double x) { return 0.5 + 0.25 * x - 0.125 * y; };
  for (int64_t y = 0; y < H; ++y)
    for (int64_t x = 0; x < W; ++x) input[y * W + x] = ramp(double(y), double(x));
  // Scale 0.5, aligned: feature box x in [1.5, 9.5], y in [2.5, 8.5]; all samples interior.
  const std::vector<double> rois = {0, 4, 6, 20, 18};
  std::vector<double> out(PH * PW);
  kc::roi_align_forward(input.data(), 1, 1, H, W, rois.data(), 1, PH, PW, 0.5, 0, true, out.data());
  for (int64_t ph = 0; ph < PH; ++ph)
    for (int64_t pw = 0; pw < PW; ++pw) {
      const double cx = 1.5 + (pw + 0.5) * 8.0 / PW, cy = 2.5 + (ph + 0.5) * 6.0 / PH;
      EXPECT_NEAR(out[ph * PW + pw], ramp(cy, cx), 1e-12) << ph << "," << pw;
    }
  // Not aligned: no half-pixel offset, so the same roi sits half a pixel further down-right.
  kc::roi_align_forward(input.data(), 1, 1, H, W, rois.data(), 1, PH, PW, 0.5, 2, false, out.data());
  for (int64_t ph = 0; ph < PH; ++ph)
    for (int64_t pw = 0; pw < PW; ++pw) {
      const double cx = 2.0 + (pw + 0.5) * 8.0 / PW, cy = 3.0 + (ph + 0.5) * 6.0 / PH;
      EXPECT_NEAR(out[ph * PW + pw], ramp(cy, cx), 1e-12) << ph << "," << pw;
    }
}

TEST(RoiAlignCpu, OutOfRangeSamplesAndBatchIndex) {
  // A 1x1 roi bin centred at feature (-1.25, -1.25): its single sample is more than a pixel
  // outside, so it pools to 0. Centred at (-0.5, -0.5): clamped to pixel (0, 0).
  const std::vector<double> input = {4, 5, 6, 7};  // 2x2
  std::vector<double> out(1);
  std::vector<double> roi = {0, -1.25, -1.25, -0.25, -0.25};  // aligned: starts at -1.75
  kc::roi_align_forward(input.data(), 1, 1, 2, 2, roi.data(), 1, 1, 1, 1.0, 1, true, out.data());
  EXPECT_EQ(out[0], 0.0);
  roi = {0, -0.5, -0.5, 0.5, 0.5};  // aligned sample at (-0.5, -0.5) -> (0, 0)
  kc::roi_align_forward(input.data(), 1, 1, 2, 2, roi.data(), 1, 1, 1, 1.0, 1, true, out.data());
  EXPECT_EQ(out[0], 4.0);
  roi = {0, 2.0, 2.0, 3.0, 3.0};  // sample at (2, 2) = (H, W): the last pixel
  kc::roi_align_forward(input.data(), 1, 1, 2, 2, roi.data(), 1, 1, 1, 1.0, 1, true, out.data());
  EXPECT_EQ(out[0], 7.0);
  roi = {1, 0, 0, 1, 1};  // batch index 1 of an N = 1 batch: zeros, no gradient
  out[0] = 9;
  kc::roi_align_forward(input.data(), 1, 1, 2, 2, roi.data(), 1, 1, 1, 1.0, 0, true, out.data());
  EXPECT_EQ(out[0], 0.0);
  std::vector<double> grad(4, 9.0), g = {1.0};
  kc::roi_align_backward(g.data(), 1, 1, 2, 2, roi.data(), 1, 1, 1, 1.0, 0, true, grad.data());
  EXPECT_EQ(grad, std::vector<double>(4, 0.0));
}

TEST(RoiAlignCpu, MatchesNaiveReference) {
  std::mt19937 rng(3);
  struct Case { int64_t N, C, H, W, R, PH, PW; double scale; };
  for (const Case s : {Case{2, 3, 13, 17, 23, 7, 7, 0.25}, Case{1, 2, 9, 5, 11, 14, 14, 0.5},
                       Case{3, 1, 1, 1, 5, 2, 3, 1.0}, Case{1, 4, 25, 31, 9, 3, 5, 1.0 / 3}}) {
    const auto input = uniform<double>(s.N * s.C * s.H * s.W, -1, 1, rng);
    const auto rois = random_rois(s.R, s.N, s.W / s.scale, s.H / s.scale, rng);
    for (int sampling : {0, 2})
      for (bool aligned : {true, false}) {
        const auto ref = ref_roi_align(input, s.N, s.C, s.H, s.W, rois, s.PH, s.PW, s.scale,
                                       sampling, aligned);
        std::vector<double> out(ref.size());
        kc::roi_align_forward(input.data(), s.N, s.C, s.H, s.W, rois.data(), s.R, s.PH, s.PW,
                              s.scale, sampling, aligned, out.data());
        EXPECT_TRUE(all_close(out, ref, 1e-12, 1e-12)) << "sampling " << sampling << " aligned " << aligned;
        std::vector<float> inf(input.begin(), input.end()), rf(rois.begin(), rois.end());
        std::vector<float> outf(ref.size());
        kc::roi_align_forward(inf.data(), s.N, s.C, s.H, s.W, rf.data(), s.R, s.PH, s.PW, s.scale,
                              sampling, aligned, outf.data());
        // float rois carry ~1e-5 absolute error at image coordinates ~100; slopes are <= ~2.
        EXPECT_TRUE(all_close(outf, ref, 5e-5, 1e-5));
      }
  }
}

TEST(RoiAlignCpu, GradcheckInput) {
  std::mt19937 rng(4);
  const int64_t N = 2, C = 2, H = 7, W = 9, R = 6, PH = 3, PW = 2;
  const double scale = 0.5;
  auto input = uniform<double>(N * C * H * W, -1, 1, rng);
  const auto rois = random_rois(R, N, W / scale, H / scale, rng);
  const auto G = uniform<double>(R * C * PH * PW, -1, 1, rng);
  for (int sampling : {0, 3}) {
    auto objective = [&]() {
      std::vector<double> out(G.size());
      kc::roi_align_forward(input.data(), N, C, H, W, rois.data(), R, PH, PW, scale, sampling,
                            true, out.data());
      double sum = 0;
      for (size_t i = 0; i < out.size(); ++i) sum += out[i] * G[i];
      return sum;
    };
    std::vector<double> grad(input.size(), 123.0);  // overwritten, not accumulated
    kc::roi_align_backward(G.data(), N, C, H, W, rois.data(), R, PH, PW, scale, sampling, true,
                           grad.data());
    // The output is linear in the input: central differences are exact up to rounding.
    const double eps = 1e-6;
    int nonzero = 0;
    for (size_t i = 0; i < input.size(); ++i) {
      const double saved = input[i];
      input[i] = saved + eps;
      const double plus = objective();
      input[i] = saved - eps;
      const double minus = objective();
      input[i] = saved;
      const double num = (plus - minus) / (2 * eps);
      ASSERT_NEAR(grad[i], num, 1e-8 + 1e-6 * std::fabs(num)) << "element " << i;
      nonzero += std::fabs(num) > 1e-6;
    }
    EXPECT_GT(nonzero, int(input.size()) / 4);
  }
}

TEST(RoiAlignCpu, EmptySizes) {
  std::vector<float> grad(2 * 3 * 4 * 5, 7.0f), input(grad.size(), 1.0f);
  kc::roi_align_forward<float>(input.data(), 2, 3, 4, 5, nullptr, 0, 7, 7, 1.0, 0, true, nullptr);
  kc::roi_align_backward<float>(nullptr, 2, 3, 4, 5, nullptr, 0, 7, 7, 1.0, 0, true, grad.data());
  EXPECT_EQ(grad, std::vector<float>(grad.size(), 0.0f));  // R = 0: the gradient is zero
  kc::roi_align_forward<float>(nullptr, 0, 3, 4, 5, nullptr, 0, 7, 7, 1.0, 0, true, nullptr);
  // N = 0 with a roi: its batch index is out of range, so it pools to 0.
  const std::vector<float> roi = {0, 1, 1, 3, 3};
  std::vector<float> out(3 * 2 * 2, 5.0f);
  kc::roi_align_forward<float>(nullptr, 0, 3, 4, 5, roi.data(), 1, 2, 2, 1.0, 0, true, out.data());
  EXPECT_EQ(out, std::vector<float>(out.size(), 0.0f));
  // An empty map (H = 0) pools to 0 too.
  kc::roi_align_forward<float>(nullptr, 1, 3, 0, 5, roi.data(), 1, 2, 2, 1.0, 0, true, out.data());
  EXPECT_EQ(out, std::vector<float>(out.size(), 0.0f));
  EXPECT_THROW(kc::roi_align_forward<float>(nullptr, 1, 3, 4, 5, roi.data(), 1, 0, 2, 1.0, 0,
                                            true, out.data()),
               Error);
}

// ---- FPN levels and multi-level RoIAlign ---------------------------------------------------------

TEST(FpnLevelsCpu, HandComputedBoxes) {
  // (batch, x1, y1, x2, y2); sqrt(area) -> floor(4 + log2(size / 224 + 1e-8)) in [2, 5] - 2.
  const std::vector<double> rois = {
      0, 0, 0, 224, 224,     // 224 -> 4 -> 2
      0, 10, 10, 122, 122,   // 112 -> 3 -> 1
      0, 0, 0, 448, 448,     // 448 -> 5 -> 3
      0, 0, 0, 56, 56,       // 56  -> 2 -> 0
      0, 0, 0, 28, 28,       // 28  -> 1, clamped to 2 -> 0
      0, 0, 0, 1000, 1000,   // 1000 -> 6, clamped to 5 -> 3
      0, 0, 0, 223, 223,     // 223 -> 3.99.. -> 3 -> 1
      0, 0, 0, 112, 448,     // sqrt(112 * 448) = 224 -> 2
      0, 50, 0, 10, 100,     // negative area -> finest -> 0
      0, 3, 3, 3, 3,         // zero area -> log2(1e-8) -> clamped -> 0
  };
  const std::vector<int32_t> expect = {2, 1, 3, 0, 0, 3, 1, 2, 0, 0};
  std::vector<int32_t> levels(expect.size(), -1);
  kc::fpn_assign_levels(rois.data(), int64_t(expect.size()), FpnLevelParams{}, levels.data());
  EXPECT_EQ(levels, expect);
  std::vector<float> rf(rois.begin(), rois.end());
  kc::fpn_assign_levels(rf.data(), int64_t(expect.size()), FpnLevelParams{}, levels.data());
  EXPECT_EQ(levels, expect);
}

struct Pyramid {
  int64_t N, C;
  RoiLevels levels;
  std::vector<std::vector<double>> maps;
};

Pyramid make_pyramid(int64_t N, int64_t C, int64_t img_h, int64_t img_w, int count,
                     std::mt19937& rng) {
  Pyramid p{N, C, {}, {}};
  p.levels.count = count;
  for (int l = 0; l < count; ++l) {
    const int64_t stride = int64_t(4) << l;  // P2.. at 1/4, 1/8, ...
    p.levels.height[l] = (img_h + stride - 1) / stride;
    p.levels.width[l] = (img_w + stride - 1) / stride;
    p.levels.spatial_scale[l] = 1.0 / double(stride);
    p.maps.push_back(uniform<double>(N * C * p.levels.height[l] * p.levels.width[l], -1, 1, rng));
  }
  return p;
}

TEST(MultiLevelRoiAlignCpu, MatchesSingleLevelPerRoi) {
  std::mt19937 rng(5);
  const Pyramid p = make_pyramid(2, 3, 700, 900, 4, rng);
  const int64_t R = 60, PH = 7, PW = 5;
  const auto rois = random_rois(R, p.N, 900, 700, rng);
  std::vector<int32_t> lv(R);
  kc::fpn_assign_levels(rois.data(), R, FpnLevelParams{}, lv.data());
  std::vector<int> used(p.levels.count, 0);
  for (int32_t l : lv) used[l]++;
  for (int l = 0; l < p.levels.count; ++l) EXPECT_GT(used[l], 0) << "no roi on level " << l;
  const double* feats[4] = {p.maps[0].data(), p.maps[1].data(), p.maps[2].data(), p.maps[3].data()};
  std::vector<double> out(R * p.C * PH * PW);
  kc::multilevel_roi_align_forward(feats, p.levels, p.N, p.C, rois.data(), lv.data(), R, PH, PW, 0,
                                   true, out.data());
  for (int64_t r = 0; r < R; ++r) {
    const int l = lv[r];
    std::vector<double> one(p.C * PH * PW);
    kc::roi_align_forward(feats[l], p.N, p.C, p.levels.height[l], p.levels.width[l], &rois[5 * r],
                          1, PH, PW, p.levels.spatial_scale[l], 0, true, one.data());
    EXPECT_EQ(std::vector<double>(out.begin() + r * one.size(), out.begin() + (r + 1) * one.size()),
              one)
        << "roi " << r;
  }
  // Backward: level l's gradient is the single-level backward of the rois assigned to l (kept
  // in order, so the sums run in the same order and agree exactly).
  const auto G = uniform<double>(out.size(), -1, 1, rng);
  std::vector<std::vector<double>> grads;
  for (int l = 0; l < p.levels.count; ++l) grads.emplace_back(p.maps[l].size(), 77.0);
  double* gp[4] = {grads[0].data(), grads[1].data(), grads[2].data(), grads[3].data()};
  kc::multilevel_roi_align_backward(G.data(), p.levels, p.N, p.C, rois.data(), lv.data(), R, PH,
                                    PW, 0, true, gp);
  for (int l = 0; l < p.levels.count; ++l) {
    std::vector<double> sub_rois, sub_g;
    for (int64_t r = 0; r < R; ++r)
      if (lv[r] == l) {
        sub_rois.insert(sub_rois.end(), &rois[5 * r], &rois[5 * r] + 5);
        sub_g.insert(sub_g.end(), G.begin() + r * p.C * PH * PW, G.begin() + (r + 1) * p.C * PH * PW);
      }
    std::vector<double> expect(p.maps[l].size());
    kc::roi_align_backward(sub_g.data(), p.N, p.C, p.levels.height[l], p.levels.width[l],
                           sub_rois.data(), int64_t(sub_rois.size() / 5), PH, PW,
                           p.levels.spatial_scale[l], 0, true, expect.data());
    EXPECT_EQ(grads[l], expect) << "level " << l;
  }
}

// ---- CUDA parity ----------------------------------------------------------------------------
#if WSVIS_WITH_CUDA
namespace kg = kernels::cuda;

template <typename T>
Tensor dev(const std::vector<T>& v, const ContextPtr& gpu) {
  return Tensor::from_vector(v, {static_cast<int64_t>(v.size())}, gpu);
}

template <typename T>
void roi_align_parity(double atol, double rtol) {
  const ContextPtr gpu = Context::create(Device::cuda(0));
  cudaStream_t st = gpu->stream();
  std::mt19937 rng(31);
  struct Case { int64_t N, C, H, W, R, PH, PW; double scale; };
  for (const Case s : {Case{2, 3, 13, 17, 23, 7, 7, 0.25}, Case{1, 5, 31, 9, 101, 14, 14, 0.5},
                       Case{3, 1, 1, 1, 5, 2, 3, 1.0}, Case{2, 256, 25, 34, 64, 7, 7, 0.125},
                       Case{2, 3, 13, 17, 0, 7, 7, 0.25}, Case{0, 3, 13, 17, 0, 7, 7, 0.25}}) {
    const auto input = uniform<T>(s.N * s.C * s.H * s.W, -1, 1, rng);
    const auto rd = random_rois(s.R, s.N, s.W / s.scale, s.H / s.scale, rng);
    const std::vector<T> rois(rd.begin(), rd.end());
    const auto g = uniform<T>(s.R * s.C * s.PH * s.PW, -1, 1, rng);
    Tensor din = dev(input, gpu), drois = dev(rois, gpu), dg = dev(g, gpu);
    for (int sampling : {0, 2})
      for (bool aligned : {true, false}) {
        SCOPED_TRACE(::testing::Message() << "N" << s.N << " C" << s.C << " " << s.H << "x" << s.W
                                          << " R" << s.R << " sampling " << sampling
                                          << " aligned " << aligned);
        std::vector<T> out(g.size()), grad(input.size());
        kc::roi_align_forward(input.data(), s.N, s.C, s.H, s.W, rois.data(), s.R, s.PH, s.PW,
                              s.scale, sampling, aligned, out.data());
        kc::roi_align_backward(g.data(), s.N, s.C, s.H, s.W, rois.data(), s.R, s.PH, s.PW, s.scale,
                               sampling, aligned, grad.data());
        Tensor dout = dev(std::vector<T>(out.size(), T(-9)), gpu);
        kg::roi_align_forward(st, din.data<T>(), s.N, s.C, s.H, s.W, drois.data<T>(), s.R, s.PH,
                              s.PW, s.scale, sampling, aligned, dout.data<T>());
        EXPECT_TRUE(all_close(dout.to_vector<T>(), out, atol, rtol)) << "forward";
        Tensor dgrad = dev(std::vector<T>(grad.size(), T(-9)), gpu);
        kg::roi_align_backward(st, dg.data<T>(), s.N, s.C, s.H, s.W, drois.data<T>(), s.R, s.PH,
                               s.PW, s.scale, sampling, aligned, dgrad.data<T>());
        // Many bins add into one pixel in a different order (atomics): scale with the count.
        EXPECT_TRUE(all_close(dgrad.to_vector<T>(), grad, 4 * atol, 4 * rtol)) << "backward";
      }
  }
}

TEST(RoiAlignCuda, ParityFloat) {
  WSVIS_REQUIRE_CUDA();
  roi_align_parity<float>(1e-5, 1e-5);
}
TEST(RoiAlignCuda, ParityDouble) {
  WSVIS_REQUIRE_CUDA();
  roi_align_parity<double>(1e-12, 1e-12);
}

TEST(RoiAlignCuda, FpnLevelsAndMultiLevelParity) {
  WSVIS_REQUIRE_CUDA();
  const ContextPtr gpu = Context::create(Device::cuda(0));
  cudaStream_t st = gpu->stream();
  std::mt19937 rng(32);
  const Pyramid pd = make_pyramid(2, 17, 333, 517, 4, rng);
  const int64_t R = 257, PH = 7, PW = 7;
  const auto rd = random_rois(R, pd.N, 517, 333, rng);
  const std::vector<float> rois(rd.begin(), rd.end());
  Tensor drois = dev(rois, gpu);

  std::vector<int32_t> lv(R);
  kc::fpn_assign_levels(rois.data(), R, FpnLevelParams{}, lv.data());
  Tensor dlv = dev(std::vector<int32_t>(R, -5), gpu);
  kg::fpn_assign_levels(st, drois.data<float>(), R, FpnLevelParams{}, dlv.data<int32_t>());
  const auto glv = dlv.to_vector<int32_t>();
  for (int64_t r = 0; r < R; ++r)
    if (glv[r] != lv[r]) {
      // Only a box whose level sits on an integer boundary may round differently (log2f on
      // the device vs the host's).
      const double* b = &rd[5 * r + 1];
      const double v = 4 + std::log2(std::sqrt((b[2] - b[0]) * (b[3] - b[1])) / 224 + 1e-8);
      EXPECT_NEAR(v, std::round(v), 1e-5) << "roi " << r << ": " << glv[r] << " vs " << lv[r];
    }

  std::vector<Tensor> dmaps, dgrads;
  std::vector<std::vector<float>> maps;
  const float* feats[4];
  const float* dfeats[4];
  float* dgp[4];
  for (int l = 0; l < pd.levels.count; ++l) {
    maps.emplace_back(pd.maps[l].begin(), pd.maps[l].end());
    dmaps.push_back(dev(maps[l], gpu));
    dgrads.push_back(dev(std::vector<float>(maps[l].size(), 3.0f), gpu));
    feats[l] = maps[l].data();
    dfeats[l] = dmaps[l].data<float>();
    dgp[l] = dgrads[l].data<float>();
  }
  std::vector<float> out(R * pd.C * PH * PW);
  kc::multilevel_roi_align_forward(feats, pd.levels, pd.N, pd.C, rois.data(), lv.data(), R, PH, PW,
                                   0, true, out.data());
  Tensor dlv_cpu = dev(lv, gpu);  // the CPU's levels, so a boundary flip cannot spoil the check
  Tensor dout = dev(std::vector<float>(out.size(), -9.0f), gpu);
  kg::multilevel_roi_align_forward(st, dfeats, pd.levels, pd.N, pd.C, drois.data<float>(),
                                   dlv_cpu.data<int32_t>(), R, PH, PW, 0, true, dout.data<float>());
  EXPECT_TRUE(all_close(dout.to_vector<float>(), out, 1e-5, 1e-5)) << "multi-level forward";

  const auto G = uniform<float>(out.size(), -1, 1, rng);
  Tensor dG = dev(G, gpu);
  std::vector<std::vector<float>> grads;
  float* gp[4];
  for (int l = 0; l < pd.levels.count; ++l) {
    grads.emplace_back(maps[l].size());
    gp[l] = grads[l].data();
  }
  kc::multilevel_roi_align_backward(G.data(), pd.levels, pd.N, pd.C, rois.data(), lv.data(), R, PH,
                                    PW, 0, true, gp);
  kg::multilevel_roi_align_backward(st, dG.data<float>(), pd.levels, pd.N, pd.C,
                                    drois.data<float>(), dlv_cpu.data<int32_t>(), R, PH, PW, 0,
                                    true, dgp);
  for (int l = 0; l < pd.levels.count; ++l)
    EXPECT_TRUE(all_close(dgrads[l].to_vector<float>(), grads[l], 4e-5, 4e-5)) << "level " << l;
}
#endif

}  // namespace
}  // namespace wsvis
