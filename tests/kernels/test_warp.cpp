// Tests of the warp family (kernels/warp.h).
//  - CPU twin against hand-computed cases and against an independent grid_sample reference
//    written here (normalised grid, torch's unnormalisation, explicit corner bounds), in float
//    and double, zeros and border padding, flows that reach well outside the image.
//  - Gradient checks in double by central differences of L = <warp(x, flow), R> against the
//    raw-pointer backward kernels; flows have fractional parts in [0.1, 0.9] so no sample sits
//    on an integer coordinate, where bilinear interpolation is not differentiable.
//  - Mask warping against a naive reference (warp as float, threshold, scan for the box).
//  - CUDA parity against the CPU twin on fresh random inputs with odd and empty sizes (skipped
//    without a GPU).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "kernels/warp.h"
#include "tests/support/testing.h"

namespace wsvis {
namespace {

using testing::all_close;
using testing::uniform;

namespace kc = kernels::cpu;
using kernels::WarpPadding;

// Flow whose every value is an integer plus a fraction in [0.1, 0.9] (either sign), so the
// source point x + u never lies within 0.1 of an integer.
std::vector<double> fractional_flow(size_t n, int max_int, std::mt19937& rng) {
  std::uniform_int_distribution<int> whole(-max_int, max_int);
  std::uniform_real_distribution<double> frac(0.1, 0.9);
  std::vector<double> v(n);
  for (auto& x : v) x = whole(rng) + frac(rng);
  return v;
}

// ---- independent reference: torch's grid_sample_2d_cpu, align_corners=false --------------
double ref_grid_sample_pixel(const double* plane, int64_t H, int64_t W, double x, double y,
                             double u, double v, WarpPadding padding) {
  // The grid a caller would build from a pixel flow, then torch's unnormalisation.
  const double gx = (2.0 * (x + u) + 1.0) / W - 1.0;
  const double gy = (2.0 * (y + v) + 1.0) / H - 1.0;
  double ix = ((gx + 1.0) * W - 1.0) / 2.0;
  double iy = ((gy + 1.0) * H - 1.0) / 2.0;
  if (padding == WarpPadding::border) {
    ix = std::min(double(W - 1), std::max(ix, 0.0));
    iy = std::min(double(H - 1), std::max(iy, 0.0));
  }
  const double x0 = std::floor(ix), y0 = std::floor(iy);
  auto at = [&](double yy, double xx) {
    if (xx < 0 || xx >= W || yy < 0 || yy >= H) return 0.0;
    return plane[static_cast<int64_t>(yy) * W + static_cast<int64_t>(xx)];
  };
  const double nw = (x0 + 1 - ix) * (y0 + 1 - iy), ne = (ix - x0) * (y0 + 1 - iy);
  const double sw = (x0 + 1 - ix) * (iy - y0), se = (ix - x0) * (iy - y0);
  return nw * at(y0, x0) + ne * at(y0, x0 + 1) + sw * at(y0 + 1, x0) + se * at(y0 + 1, x0 + 1);
}

std::vector<double> ref_warp(const std::vector<double>& x, const std::vector<double>& flow,
                             int64_t N, int64_t C, int64_t H, int64_t W, WarpPadding padding) {
  std::vector<double> out(x.size());
  const int64_t plane = H * W;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t y = 0; y < H; ++y)
        for (int64_t xx = 0; xx < W; ++xx) {
          const double u = flow[n * 2 * plane + y * W + xx];
          const double v = flow[n * 2 * plane + plane + y * W + xx];
          out[(n * C + c) * plane + y * W + xx] =
              ref_grid_sample_pixel(x.data() + (n * C + c) * plane, H, W, double(xx), double(y),
                                    u, v, padding);
        }
  return out;
}

// ---- hand-computed cases ----------------------------------------------------------------

TEST(WarpCpu, IntegerShiftMovesTheImage) {
  const int64_t H = 3, W = 4;
  std::vector<float> x(H * W);
  for (int64_t i = 0; i < H * W; ++i) x[i] = float(i + 1);
  std::vector<float> flow(2 * H * W, 0.0f);
  for (int64_t i = 0; i < H * W; ++i) flow[i] = 1.0f;  // u = 1: sample one pixel to the right
  std::vector<float> out(H * W);
  kc::warp_forward(x.data(), flow.data(), 1, 1, H, W, WarpPadding::zeros, out.data());
  for (int64_t y = 0; y < H; ++y)
    for (int64_t xx = 0; xx < W; ++xx)
      EXPECT_EQ(out[y * W + xx], xx + 1 < W ? x[y * W + xx + 1] : 0.0f) << y << "," << xx;
  kc::warp_forward(x.data(), flow.data(), 1, 1, H, W, WarpPadding::border, out.data());
  for (int64_t y = 0; y < H; ++y)
    for (int64_t xx = 0; xx < W; ++xx)
      EXPECT_EQ(out[y * W + xx], x[y * W + std::min(xx + 1, W - 1)]) << y << "," << xx;

  // v = -1: sample one row up; the first row falls outside.
  std::fill(flow.begin(), flow.end(), 0.0f);
  for (int64_t i = 0; i < H * W; ++i) flow[H * W + i] = -1.0f;
  kc::warp_forward(x.data(), flow.data(), 1, 1, H, W, WarpPadding::zeros, out.data());
  for (int64_t y = 0; y < H; ++y)
    for (int64_t xx = 0; xx < W; ++xx)
      EXPECT_EQ(out[y * W + xx], y > 0 ? x[(y - 1) * W + xx] : 0.0f) << y << "," << xx;
}

TEST(WarpCpu, HalfPixelFlowAveragesNeighbours) {
  const int64_t H = 2, W = 5, C = 2;
  std::vector<double> x(C * H * W);
  for (size_t i = 0; i < x.size(); ++i) x[i] = double(i * i % 7) - 2.5;
  std::vector<double> flow(2 * H * W, 0.0);
  for (int64_t i = 0; i < H * W; ++i) flow[i] = 0.5;
  std::vector<double> out(x.size());
  kc::warp_forward(x.data(), flow.data(), 1, C, H, W, WarpPadding::zeros, out.data());
  for (int64_t c = 0; c < C; ++c)
    for (int64_t y = 0; y < H; ++y)
      for (int64_t xx = 0; xx < W; ++xx) {
        const double* p = x.data() + c * H * W + y * W;
        // The last column's right neighbour is outside: zeros padding gives half the pixel.
        const double expect = 0.5 * p[xx] + (xx + 1 < W ? 0.5 * p[xx + 1] : 0.0);
        EXPECT_DOUBLE_EQ(out[c * H * W + y * W + xx], expect);
      }
  // A quarter pixel down-right: the four-neighbour weights 9/16, 3/16, 3/16, 1/16.
  std::fill(flow.begin(), flow.end(), 0.25);
  kc::warp_forward(x.data(), flow.data(), 1, C, H, W, WarpPadding::border, out.data());
  const double* p = x.data();
  EXPECT_DOUBLE_EQ(out[0], 9.0 / 16 * p[0] + 3.0 / 16 * p[1] + 3.0 / 16 * p[W] + 1.0 / 16 * p[W + 1]);
}

TEST(WarpCpu, ZeroFlowIsIdentity) {
  std::mt19937 rng(1);
  const int64_t N = 2, C = 3, H = 5, W = 7;
  const auto x = uniform<float>(N * C * H * W, -1, 1, rng);
  const std::vector<float> flow(N * 2 * H * W, 0.0f);
  std::vector<float> out(x.size());
  for (WarpPadding pad : {WarpPadding::zeros, WarpPadding::border}) {
    kc::warp_forward(x.data(), flow.data(), N, C, H, W, pad, out.data());
    EXPECT_EQ(out, x);
  }
}

// ---- against the independent grid_sample reference ------------------------------------------

TEST(WarpCpu, MatchesGridSampleReference) {
  std::mt19937 rng(2);
  struct Case { int64_t N, C, H, W; };
  for (const Case s : {Case{1, 1, 1, 1}, Case{2, 3, 5, 7}, Case{1, 4, 13, 6}, Case{3, 2, 1, 9}}) {
    const auto x = uniform<double>(s.N * s.C * s.H * s.W, -2, 2, rng);
    // Displacements up to 1.5x the image size: many samples partly or wholly outside.
    std::vector<double> flow(s.N * 2 * s.H * s.W);
    std::uniform_real_distribution<double> du(-1.5 * s.W, 1.5 * s.W), dv(-1.5 * s.H, 1.5 * s.H);
    for (int64_t n = 0; n < s.N; ++n)
      for (int64_t i = 0; i < s.H * s.W; ++i) {
        flow[n * 2 * s.H * s.W + i] = du(rng);
        flow[n * 2 * s.H * s.W + s.H * s.W + i] = dv(rng);
      }
    for (WarpPadding pad : {WarpPadding::zeros, WarpPadding::border}) {
      const auto ref = ref_warp(x, flow, s.N, s.C, s.H, s.W, pad);
      std::vector<double> out(x.size());
      kc::warp_forward(x.data(), flow.data(), s.N, s.C, s.H, s.W, pad, out.data());
      // The reference goes through the normalisation round trip: ~1e-15 relative.
      EXPECT_TRUE(all_close(out, ref, 1e-12, 1e-12)) << s.N << "x" << s.C << "x" << s.H << "x" << s.W;
      std::vector<float> xf(x.begin(), x.end()), ff(flow.begin(), flow.end()), outf(x.size());
      kc::warp_forward(xf.data(), ff.data(), s.N, s.C, s.H, s.W, pad, outf.data());
      // float: source coordinates up to ~30 carry ~2e-6 absolute error, times |x| <= 2 and
      // weight slopes of 1 per pixel.
      EXPECT_TRUE(all_close(outf, ref, 2e-5, 1e-5));
    }
  }
}

TEST(WarpCpu, EmptySizes) {
  std::vector<float> buf(8, 1.0f);
  for (WarpPadding pad : {WarpPadding::zeros, WarpPadding::border}) {
    kc::warp_forward<float>(nullptr, nullptr, 0, 3, 4, 5, pad, nullptr);
    kc::warp_forward<float>(nullptr, nullptr, 2, 3, 0, 5, pad, nullptr);
    kc::warp_backward_input<float>(nullptr, nullptr, 0, 3, 4, 5, pad, false, nullptr, 0, nullptr);
    kc::warp_backward_input<float>(nullptr, buf.data(), 1, 0, 2, 2, pad, true, nullptr, 0, nullptr);
  }
  // C == 0: the flow gradient is zero and must still be written.
  std::vector<float> flow(8, 0.3f), gflow(8, 5.0f);
  kc::warp_backward_flow<float>(nullptr, nullptr, flow.data(), 1, 0, 2, 2, WarpPadding::zeros,
                                gflow.data());
  EXPECT_EQ(gflow, std::vector<float>(8, 0.0f));
  EXPECT_EQ(kc::warp_backward_input_workspace_bytes(2, 3, 4, true), 0u);
}

// ---- gradient checks in double -------------------------------------------------------------

struct GradCase {
  int64_t N, C, H, W;
  WarpPadding padding;
};

void check_gradients(const GradCase& s, uint32_t seed) {
  std::mt19937 rng(seed);
  const int64_t plane = s.H * s.W;
  auto x = uniform<double>(s.N * s.C * plane, -1, 1, rng);
  // Displacements of up to +-2 whole pixels plus a fraction: some samples leave the image
  // (zeros padding: partial taps; border padding: clamped, zero flow gradient).
  auto flow = fractional_flow(s.N * 2 * plane, 2, rng);
  const auto R = uniform<double>(x.size(), -1, 1, rng);
  auto objective = [&]() {
    std::vector<double> out(x.size());
    kc::warp_forward(x.data(), flow.data(), s.N, s.C, s.H, s.W, s.padding, out.data());
    double sum = 0;
    for (size_t i = 0; i < out.size(); ++i) sum += out[i] * R[i];
    return sum;
  };
  std::vector<double> gx(x.size()), gflow(flow.size());
  kc::warp_backward_input(R.data(), flow.data(), s.N, s.C, s.H, s.W, s.padding, false, nullptr, 0,
                          gx.data());
  kc::warp_backward_flow(R.data(), x.data(), flow.data(), s.N, s.C, s.H, s.W, s.padding,
                         gflow.data());
  // eps 1e-6 keeps every perturbed point at least 0.1 - 1e-6 from an integer: the objective
  // is a polynomial of degree 2 in each flow value there, so central differences are exact up
  // to rounding (~1e-16 / 1e-6 = 1e-10 relative to the objective).
  const double eps = 1e-6, atol = 1e-7, rtol = 1e-6;
  auto numeric = [&](std::vector<double>& v, size_t i) {
    const double saved = v[i];
    v[i] = saved + eps;
    const double plus = objective();
    v[i] = saved - eps;
    const double minus = objective();
    v[i] = saved;
    return (plus - minus) / (2 * eps);
  };
  for (size_t i = 0; i < x.size(); ++i) {
    const double num = numeric(x, i);
    ASSERT_NEAR(gx[i], num, atol + rtol * std::fabs(num)) << "grad x[" << i << "]";
  }
  int nonzero = 0;
  for (size_t i = 0; i < flow.size(); ++i) {
    const double num = numeric(flow, i);
    ASSERT_NEAR(gflow[i], num, atol + rtol * std::fabs(num)) << "grad flow[" << i << "]";
    nonzero += std::fabs(num) > 1e-3;
  }
  EXPECT_GT(nonzero, int(flow.size()) / 8) << "the check saw too few non-zero flow gradients";
}

TEST(WarpCpu, GradcheckZerosPadding) { check_gradients({2, 3, 5, 6, WarpPadding::zeros}, 3); }
TEST(WarpCpu, GradcheckBorderPadding) { check_gradients({2, 3, 5, 6, WarpPadding::border}, 4); }
TEST(WarpCpu, GradcheckOddSizes) {
  check_gradients({1, 1, 7, 3, WarpPadding::zeros}, 5);
  check_gradients({1, 2, 1, 5, WarpPadding::border}, 6);
}

// ---- mask warping -----------------------------------------------------------------------------

struct MaskResult {
  std::vector<uint8_t> out;
  std::vector<int32_t> boxes, areas;
};

// Naive: warp the masks as float channels, threshold, scan for the box.
template <typename V>
MaskResult ref_masks(const std::vector<V>& masks, const std::vector<float>& flow, int64_t K,
                     int64_t H, int64_t W) {
  std::vector<float> mf(masks.size()), warped(masks.size());
  for (size_t i = 0; i < masks.size(); ++i) mf[i] = kernels::mask_value(masks[i]);
  kc::warp_forward(mf.data(), flow.data(), 1, K, H, W, WarpPadding::zeros, warped.data());
  MaskResult r;
  r.out.resize(masks.size());
  for (int64_t k = 0; k < K; ++k) {
    int x0 = 1 << 30, y0 = 1 << 30, x1 = -1, y1 = -1, area = 0;
    for (int64_t y = 0; y < H; ++y)
      for (int64_t x = 0; x < W; ++x) {
        const bool fg = warped[(k * H + y) * W + x] >= 0.5f;
        r.out[(k * H + y) * W + x] = fg;
        if (!fg) continue;
        x0 = std::min<int>(x0, x);
        y0 = std::min<int>(y0, y);
        x1 = std::max<int>(x1, x);
        y1 = std::max<int>(y1, y);
        ++area;
      }
    if (area == 0) r.boxes.insert(r.boxes.end(), {0, 0, 0, 0});
    else r.boxes.insert(r.boxes.end(), {x0, y0, x1 + 1, y1 + 1});
    r.areas.push_back(area);
  }
  return r;
}

template <typename V>
MaskResult run_cpu_masks(const std::vector<V>& masks, const std::vector<float>& flow, int64_t K,
                         int64_t H, int64_t W) {
  MaskResult r;
  r.out.assign(K * H * W, 7);
  r.boxes.assign(4 * K, -7);
  r.areas.assign(K, -7);
  kc::warp_masks(masks.data(), flow.data(), K, H, W, r.out.data(), r.boxes.data(), r.areas.data());
  return r;
}

TEST(WarpMasksCpu, ShiftedRectangleAndEmptyMask) {
  const int64_t K = 2, H = 6, W = 8;
  std::vector<uint8_t> masks(K * H * W, 0);
  for (int64_t y = 1; y <= 3; ++y)
    for (int64_t x = 2; x <= 5; ++x) masks[y * W + x] = 255;  // mask 0: columns 2..5, rows 1..3
  // mask 1 stays empty. Flow (u, v) = (-1, 2): out(x, y) = in(x - 1, y + 2), so the rectangle
  // moves one column right and two rows up; rows 1..3 -> -1..1, clipped to 0..1.
  std::vector<float> flow(2 * H * W);
  std::fill(flow.begin(), flow.begin() + H * W, -1.0f);
  std::fill(flow.begin() + H * W, flow.end(), 2.0f);
  const MaskResult r = run_cpu_masks(masks, flow, K, H, W);
  EXPECT_EQ(std::vector<int32_t>(r.boxes.begin(), r.boxes.begin() + 4),
            (std::vector<int32_t>{3, 0, 7, 2}));
  EXPECT_EQ(r.areas[0], 4 * 2);
  EXPECT_EQ(std::vector<int32_t>(r.boxes.begin() + 4, r.boxes.end()),
            (std::vector<int32_t>{0, 0, 0, 0}));
  EXPECT_EQ(r.areas[1], 0);
  EXPECT_EQ(r.out[0 * W + 3], 1);
  EXPECT_EQ(r.out[2 * W + 3], 0);
  // A half-pixel shift of a binary mask: value 0.5 at the leading edge is foreground (>= 0.5).
  std::fill(flow.begin(), flow.end(), 0.0f);
  std::fill(flow.begin(), flow.begin() + H * W, 0.5f);
  const MaskResult h = run_cpu_masks(masks, flow, 1, H, W);
  EXPECT_EQ(std::vector<int32_t>(h.boxes.begin(), h.boxes.end()),
            (std::vector<int32_t>{1, 1, 6, 4}));
}

TEST(WarpMasksCpu, MatchesNaiveReference) {
  std::mt19937 rng(8);
  const int64_t K = 5, H = 19, W = 23;
  // Blob masks: random ellipses, soft (float) and binary (uint8 with 0/1 and 0/255).
  std::vector<float> soft(K * H * W);
  std::vector<uint8_t> bin(K * H * W), bin255(K * H * W);
  std::uniform_real_distribution<double> cx(0, W), cy(0, H), rad(2, 8);
  for (int64_t k = 0; k < K; ++k) {
    const double ox = cx(rng), oy = cy(rng), rx = rad(rng), ry = rad(rng);
    for (int64_t y = 0; y < H; ++y)
      for (int64_t x = 0; x < W; ++x) {
        const double d = std::hypot((x - ox) / rx, (y - oy) / ry);
        const size_t i = (k * H + y) * W + x;
        soft[i] = static_cast<float>(std::max(0.0, 1.2 - d));
        bin[i] = d < 1.0;
        bin255[i] = d < 1.0 ? 255 : 0;
      }
  }
  if (K > 4) std::fill(soft.begin() + 4 * H * W, soft.end(), 0.0f);  // one empty soft mask
  const auto flow = uniform<float>(2 * H * W, -3.3, 3.3, rng);
  {
    const MaskResult got = run_cpu_masks(soft, flow, K, H, W), ref = ref_masks(soft, flow, K, H, W);
    EXPECT_EQ(got.out, ref.out);
    EXPECT_EQ(got.boxes, ref.boxes);
    EXPECT_EQ(got.areas, ref.areas);
  }
  const MaskResult a = run_cpu_masks(bin, flow, K, H, W), b = run_cpu_masks(bin255, flow, K, H, W);
  const MaskResult ref = ref_masks(bin, flow, K, H, W);
  EXPECT_EQ(a.out, ref.out);
  EXPECT_EQ(a.boxes, ref.boxes);
  EXPECT_EQ(a.areas, ref.areas);
  EXPECT_EQ(b.out, a.out);
  EXPECT_EQ(b.boxes, a.boxes);
  // Optional outputs may be skipped.
  std::vector<int32_t> boxes(4 * K);
  kc::warp_masks(bin.data(), flow.data(), K, H, W, nullptr, boxes.data(), nullptr);
  EXPECT_EQ(boxes, a.boxes);
  kc::warp_masks<float>(nullptr, flow.data(), 0, H, W, nullptr, nullptr, nullptr);
}

// ---- CUDA parity ----------------------------------------------------------------------------
#if WSVIS_WITH_CUDA
namespace kg = kernels::cuda;

template <typename T>
Tensor dev(const std::vector<T>& v, const ContextPtr& gpu) {
  return Tensor::from_vector(v, {static_cast<int64_t>(v.size())}, gpu);
}

struct ParityCase { int64_t N, C, H, W; };
const ParityCase kParityCases[] = {{1, 1, 1, 1}, {2, 5, 17, 23}, {1, 37, 9, 11}, {3, 2, 31, 1},
                                   {0, 3, 4, 5}, {2, 0, 4, 5},   {2, 3, 0, 5},   {1, 64, 40, 52}};

template <typename T>
void warp_parity(double atol, double rtol) {
  const ContextPtr gpu = Context::create(Device::cuda(0));
  cudaStream_t st = gpu->stream();
  std::mt19937 rng(21);
  for (const ParityCase s : kParityCases) {
    const int64_t plane = s.H * s.W;
    const auto x = uniform<T>(s.N * s.C * plane, -1, 1, rng);
    const auto flow = uniform<T>(s.N * 2 * plane, -4.5, 4.5, rng);
    const auto g = uniform<T>(x.size(), -1, 1, rng);
    Tensor dx = dev(x, gpu), dflow = dev(flow, gpu), dg = dev(g, gpu);
    for (WarpPadding pad : {WarpPadding::zeros, WarpPadding::border}) {
      SCOPED_TRACE(::testing::Message() << s.N << "x" << s.C << "x" << s.H << "x" << s.W
                                        << " padding " << int(pad));
      std::vector<T> out(x.size()), gx(x.size()), gflow(flow.size());
      kc::warp_forward(x.data(), flow.data(), s.N, s.C, s.H, s.W, pad, out.data());
      kc::warp_backward_input(g.data(), flow.data(), s.N, s.C, s.H, s.W, pad, true, nullptr, 0,
                              gx.data());
      kc::warp_backward_flow(g.data(), x.data(), flow.data(), s.N, s.C, s.H, s.W, pad,
                             gflow.data());

      Tensor dout = dev(std::vector<T>(x.size(), T(-9)), gpu);
      kg::warp_forward(st, dx.data<T>(), dflow.data<T>(), s.N, s.C, s.H, s.W, pad, dout.data<T>());
      EXPECT_TRUE(all_close(dout.to_vector<T>(), out, atol, rtol)) << "forward";

      Tensor dgx = dev(std::vector<T>(x.size(), T(-9)), gpu);
      kg::warp_backward_input(st, dg.data<T>(), dflow.data<T>(), s.N, s.C, s.H, s.W, pad, false,
                              nullptr, 0, dgx.data<T>());
      EXPECT_TRUE(all_close(dgx.to_vector<T>(), gx, atol, rtol)) << "backward input, atomic";

      const size_t ws = kg::warp_backward_input_workspace_bytes(s.N, s.H, s.W, true);
      Tensor dws = Tensor::empty({static_cast<int64_t>(ws) + 1}, DType::u8, gpu);
      std::vector<T> det[2];
      for (int run = 0; run < 2; ++run) {
        Tensor d = dev(std::vector<T>(x.size(), T(-9)), gpu);
        kg::warp_backward_input(st, dg.data<T>(), dflow.data<T>(), s.N, s.C, s.H, s.W, pad, true,
                                dws.data<uint8_t>(), ws, d.data<T>());
        det[run] = d.to_vector<T>();
      }
      EXPECT_TRUE(all_close(det[0], gx, atol, rtol)) << "backward input, deterministic";
      EXPECT_EQ(det[0], det[1]) << "deterministic path differs between runs";

      Tensor dgf = dev(std::vector<T>(flow.size(), T(-9)), gpu);
      kg::warp_backward_flow(st, dg.data<T>(), dx.data<T>(), dflow.data<T>(), s.N, s.C, s.H, s.W,
                             pad, dgf.data<T>());
      // Sums over C channels in a different order than the CPU: tolerance grows with C.
      const double cscale = std::sqrt(double(std::max<int64_t>(s.C, 1)));
      EXPECT_TRUE(all_close(dgf.to_vector<T>(), gflow, atol * cscale, rtol * cscale))
          << "backward flow";
    }
  }
}

// float: forward and scatter add at most 4 taps per contribution, a few ulp of O(1) values
// (1e-5 leaves room for fused multiply-adds on the GPU, which the CPU does not use).
TEST(WarpCuda, ParityFloat) {
  WSVIS_REQUIRE_CUDA();
  warp_parity<float>(1e-5, 1e-5);
}
TEST(WarpCuda, ParityDouble) {
  WSVIS_REQUIRE_CUDA();
  warp_parity<double>(1e-12, 1e-12);
}

TEST(WarpCuda, MaskParity) {
  WSVIS_REQUIRE_CUDA();
  const ContextPtr gpu = Context::create(Device::cuda(0));
  cudaStream_t st = gpu->stream();
  std::mt19937 rng(22);
  struct Case { int64_t K, H, W; };
  for (const Case s : {Case{1, 1, 1}, Case{7, 37, 53}, Case{3, 300, 211}, Case{0, 4, 4},
                       Case{2, 0, 5}}) {
    SCOPED_TRACE(::testing::Message() << s.K << "x" << s.H << "x" << s.W);
    const int64_t n = s.K * s.H * s.W;
    auto soft = uniform<float>(n, -0.2, 1.2, rng);
    std::vector<uint8_t> bin(n);
    for (int64_t i = 0; i < n; ++i) bin[i] = soft[i] > 0.6f;
    // The last mask is empty (when there is one): its box must come back as (0, 0, 0, 0).
    if (s.K > 1)
      for (int64_t i = (s.K - 1) * s.H * s.W; i < n; ++i) soft[i] = 0.0f, bin[i] = 0;
    const auto flow = uniform<float>(2 * s.H * s.W, -5.5, 5.5, rng);
    Tensor dflow = dev(flow, gpu);
    auto compare = [&](const MaskResult& cpu, Tensor& dout, Tensor& dboxes, Tensor& dareas,
                       const std::vector<float>& as_float) {
      const auto out = dout.to_vector<uint8_t>();
      const auto boxes = dboxes.to_vector<int32_t>();
      const auto areas = dareas.to_vector<int32_t>();
      // A pixel may flip only where the warped value sits at the threshold (FMA rounding):
      // recompute it in double and require it within 1e-5 of 0.5.
      std::vector<double> mf(as_float.begin(), as_float.end()), fd(flow.begin(), flow.end());
      std::vector<double> warped(mf.size());
      kc::warp_forward(mf.data(), fd.data(), 1, s.K, s.H, s.W, WarpPadding::zeros, warped.data());
      int flips = 0;
      for (int64_t i = 0; i < n; ++i)
        if (out[i] != cpu.out[i]) {
          ++flips;
          EXPECT_NEAR(warped[i], 0.5, 1e-5) << "pixel " << i;
        }
      if (flips == 0) {
        EXPECT_EQ(boxes, cpu.boxes);
        EXPECT_EQ(areas, cpu.areas);
      }
      // Boxes and areas must describe the GPU's own masks exactly.
      std::vector<uint8_t> out_copy = out;
      const MaskResult self = ref_masks(out_copy, std::vector<float>(2 * s.H * s.W, 0.0f), s.K,
                                        s.H, s.W);
      EXPECT_EQ(boxes, self.boxes);
      EXPECT_EQ(areas, self.areas);
    };
    {
      const MaskResult cpu = run_cpu_masks(soft, flow, s.K, s.H, s.W);
      Tensor dm = dev(soft, gpu), dout = dev(std::vector<uint8_t>(n, 7), gpu);
      Tensor db = dev(std::vector<int32_t>(4 * s.K, -7), gpu), da = dev(std::vector<int32_t>(s.K, -7), gpu);
      kg::warp_masks(st, dm.data<float>(), dflow.data<float>(), s.K, s.H, s.W, dout.data<uint8_t>(),
                     db.data<int32_t>(), da.data<int32_t>());
      compare(cpu, dout, db, da, soft);
    }
    {
      const MaskResult cpu = run_cpu_masks(bin, flow, s.K, s.H, s.W);
      Tensor dm = dev(bin, gpu), dout = dev(std::vector<uint8_t>(n, 7), gpu);
      Tensor db = dev(std::vector<int32_t>(4 * s.K, -7), gpu), da = dev(std::vector<int32_t>(s.K, -7), gpu);
      kg::warp_masks(st, dm.data<uint8_t>(), dflow.data<float>(), s.K, s.H, s.W,
                     dout.data<uint8_t>(), db.data<int32_t>(), da.data<int32_t>());
      std::vector<float> bf(bin.begin(), bin.end());
      compare(cpu, dout, db, da, bf);
    }
  }
}
#endif

}  // namespace
}  // namespace wsvis
