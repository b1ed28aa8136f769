// Tests of the colour side of the pairwise family (kernels/pairwise.h); the loss is in
// test_pairwise.cpp.
//  - sRGB -> Lab against skimage.color.rgb2lab values (float64) of pure colours and a few
//    others; uint8 and float inputs agree.
//  - Colour wheel: every entry against data/flow_color.h's wheel and the spec's table; the
//    spec's check values; flow_to_color byte-identical to data::flow_to_color (both variants,
//    per-frame and fixed normalisation, unknown flow, BGR).
//  - Downsampling (avg-pool + truncation + channel reversal) and the neighbour similarity
//    against naive references written here from AdelaiDet's code (unfold with zero padding,
//    norm over channels, exp, times the unfolded validity).
//  - CUDA parity against the CPU twin (skipped without a GPU).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "data/flow_color.h"
#include "kernels/pairwise.h"
#include "tests/kernels/pairwise_testing.h"
#include "tests/support/testing.h"

namespace wsvis {
namespace {

using testing::all_close;
using testing::ref_unfold;
using testing::uniform;

namespace kc = kernels::cpu;
using kernels::FlowWheelVariant;
using kernels::PairwiseParams;

// ---- Lab ------------------------------------------------------------------------------------

struct LabCase {
  uint8_t r, g, b;
  double L, a, bb;
};
// skimage.color.rgb2lab (float64) of uint8 colours. Pure red/green/blue are the values quoted
// for skimage ((53.24, 80.09, 67.20) etc.); white is not exactly (100, 0, 0) because skimage's
// matrix rows do not sum exactly to its D65 white point.
const LabCase kLabCases[] = {
    {255, 255, 255, 100.0, -0.0024549379, 0.0046534212},
    {255, 0, 0, 53.2405879437, 80.0923082257, 67.2027510444},
    {0, 255, 0, 87.7350994883, -86.1830297444, 83.1797031754},
    {0, 0, 255, 32.2956725650, 79.1855909118, -107.8573002067},
    {128, 128, 128, 53.5850134522, -0.0014726456, 0.0027914515},
    {0, 0, 0, 0.0, 0.0, 0.0},
    {1, 2, 3, 0.5098250675, -0.1224903048, -0.4704960766},  // linear branches of both f's
    {200, 100, 50, 53.6295080054, 36.3051641894, 45.3804718762},
};

TEST(PairwiseLab, MatchesSkimageValues) {
  const int64_t n = sizeof(kLabCases) / sizeof(kLabCases[0]);
  // Pack the colours as one (1, 3, 1, n) image; also a float copy in [0, 1].
  std::vector<uint8_t> rgb(3 * n);
  std::vector<float> rgbf(3 * n);
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t c[3] = {kLabCases[i].r, kLabCases[i].g, kLabCases[i].b};
    for (int k = 0; k < 3; ++k) {
      rgb[k * n + i] = c[k];
      rgbf[k * n + i] = static_cast<float>(c[k] / 255.0);
    }
  }
  std::vector<double> lab(3 * n);
  std::vector<float> labf(3 * n), labff(3 * n);
  kc::rgb_to_lab(rgb.data(), 1, 1, n, lab.data());
  kc::rgb_to_lab(rgb.data(), 1, 1, n, labf.data());
  kc::rgb_to_lab(rgbf.data(), 1, 1, n, labff.data());
  for (int64_t i = 0; i < n; ++i) {
    SCOPED_TRACE(::testing::Message() << "rgb (" << int(kLabCases[i].r) << ", "
                                      << int(kLabCases[i].g) << ", " << int(kLabCases[i].b) << ")");
    EXPECT_NEAR(lab[i], kLabCases[i].L, 1e-8);
    EXPECT_NEAR(lab[n + i], kLabCases[i].a, 1e-8);
    EXPECT_NEAR(lab[2 * n + i], kLabCases[i].bb, 1e-8);
    // float output: the double result rounded once (AdelaiDet casts skimage's output).
    for (int k = 0; k < 3; ++k) EXPECT_EQ(labf[k * n + i], static_cast<float>(lab[k * n + i]));
    // float input in [0, 1]: v/255 rounded to float first, so a few 1e-5 of difference.
    for (int k = 0; k < 3; ++k) EXPECT_NEAR(labff[k * n + i], lab[k * n + i], 1e-4);
  }
}

// ---- colour wheel ---------------------------------------------------------------------------

TEST(PairwiseFlowColor, WheelMatchesDataAndSpec) {
  const auto& wheel = data::flow_color_wheel();
  for (int k = 0; k < kernels::kFlowWheelEntries; ++k)
    for (int c = 0; c < 3; ++c)
      EXPECT_EQ(kernels::flow_wheel_channel(k, c), int(wheel[size_t(k)][size_t(c)])) << k << "," << c;
  // Spec A.8's listed entries.
  const int entries[][4] = {{0, 255, 0, 0},  {15, 255, 255, 0}, {21, 0, 255, 0},  {25, 0, 255, 255},
                            {36, 0, 0, 255}, {49, 255, 0, 255}, {54, 255, 0, 43}};
  for (const auto& e : entries)
    for (int c = 0; c < 3; ++c) EXPECT_EQ(kernels::flow_wheel_channel(e[0], c), e[1 + c]) << e[0];
}

TEST(PairwiseFlowColor, SpecCheckValues) {
  struct Check {
    double u, v;
    FlowWheelVariant variant;
    int r, g, b;
  };
  const Check checks[] = {
      {1, 0, FlowWheelVariant::flow_vis, 255, 0, 0},     {0, 1, FlowWheelVariant::flow_vis, 255, 229, 0},
      {-1, 0, FlowWheelVariant::flow_vis, 0, 209, 255},  {0, -1, FlowWheelVariant::flow_vis, 88, 0, 255},
      {0.5, 0, FlowWheelVariant::flow_vis, 255, 127, 127}, {0, 0, FlowWheelVariant::flow_vis, 255, 255, 255},
      {1, 0, FlowWheelVariant::raft, 255, 16, 0},        {-1, 0, FlowWheelVariant::raft, 0, 186, 255},
      {0, -1, FlowWheelVariant::raft, 107, 0, 255},
  };
  for (const Check& c : checks) {
    uint8_t rgb[3];
    kernels::flow_uv_to_rgb(c.u, c.v, c.variant, rgb);
    EXPECT_EQ(int(rgb[0]), c.r) << c.u << "," << c.v << " variant " << int(c.variant);
    EXPECT_EQ(int(rgb[1]), c.g) << c.u << "," << c.v << " variant " << int(c.variant);
    EXPECT_EQ(int(rgb[2]), c.b) << c.u << "," << c.v << " variant " << int(c.variant);
  }
}

// Flow (N, 2, H, W) with a mix of random vectors, axis-aligned ones, zeros, unknown values and
// the RAFT edge case (v = -0.0, u > 0, where a = +1 exactly).
std::vector<float> test_flow(int64_t N, int64_t H, int64_t W, std::mt19937& rng) {
  std::vector<float> flow = uniform<float>(N * 2 * H * W, -20, 20, rng);
  const int64_t plane = H * W;
  for (int64_t n = 0; n < N; ++n) {
    float* u = flow.data() + n * 2 * plane;
    float* v = u + plane;
    for (int64_t p = 0; p < plane; p += 7) u[p] = 0, v[p] = 0;
    for (int64_t p = 3; p < plane; p += 11) u[p] = float(p % 5) - 2, v[p] = 0;
    for (int64_t p = 5; p < plane; p += 13) u[p] = 0, v[p] = float(p % 3) - 1;
    for (int64_t p = 6; p < plane; p += 17) u[p] = 3.0f, v[p] = -0.0f;
    for (int64_t p = 9; p < plane; p += 23) u[p] = 2e9f;  // unknown
  }
  return flow;
}

TEST(PairwiseFlowColor, ByteIdenticalToDataFlowToColor) {
  std::mt19937 rng(5);
  const int64_t N = 2, H = 23, W = 31, plane = H * W;
  const std::vector<float> flow = test_flow(N, H, W, rng);
  for (FlowWheelVariant variant : {FlowWheelVariant::flow_vis, FlowWheelVariant::raft})
    for (double rad_max : {0.0, 12.5})
      for (bool bgr : {false, true}) {
        SCOPED_TRACE(::testing::Message() << "variant " << int(variant) << " rad_max " << rad_max
                                          << " bgr " << bgr);
        std::vector<uint8_t> out(N * 3 * plane, 7);
        kc::flow_to_color(flow.data(), N, H, W, variant, rad_max, bgr, nullptr, 0, out.data());
        for (int64_t n = 0; n < N; ++n) {
          data::Flow f(static_cast<int>(W), static_cast<int>(H));
          for (int64_t p = 0; p < plane; ++p) {
            f.uv[2 * p] = flow[n * 2 * plane + p];
            f.uv[2 * p + 1] = flow[n * 2 * plane + plane + p];
          }
          const data::Image img = data::flow_to_color(
              f, variant == FlowWheelVariant::raft ? data::FlowWheel::raft : data::FlowWheel::flow_vis,
              rad_max, bgr);
          int64_t mismatches = 0;
          for (int64_t p = 0; p < plane; ++p)
            for (int c = 0; c < 3; ++c)
              mismatches += out[(n * 3 + c) * plane + p] != img.data[size_t(3 * p + c)];
          EXPECT_EQ(mismatches, 0) << "image " << n;
        }
      }
}

// ---- downsampling and similarity --------------------------------------------------------------

TEST(PairwiseColour, DownsampleMatchesAvgPoolAndTruncation) {
  std::mt19937 rng(3);
  const int64_t N = 2, C = 3, Hf = 37, Wf = 45, s = 4, H = Hf / s, W = Wf / s;
  std::vector<uint8_t> img(N * C * Hf * Wf);
  for (auto& v : img) v = static_cast<uint8_t>(rng() % 256);
  std::vector<float> imgf(img.begin(), img.end());
  for (bool rev : {false, true}) {
    std::vector<uint8_t> out(N * C * H * W), outf(N * C * H * W);
    kc::downsample_image(img.data(), N, C, Hf, Wf, int(s), rev, out.data());
    kc::downsample_image(imgf.data(), N, C, Hf, Wf, int(s), rev, outf.data());
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t y = 0; y < H; ++y)
          for (int64_t x = 0; x < W; ++x) {
            int sum = 0;
            for (int64_t i = 0; i < s; ++i)
              for (int64_t j = 0; j < s; ++j) sum += img[((n * C + c) * Hf + y * s + i) * Wf + x * s + j];
            const int expect = sum / 16;  // avg_pool2d then .byte(): truncation
            const int64_t co = rev ? C - 1 - c : c;
            EXPECT_EQ(int(out[((n * C + co) * H + y) * W + x]), expect);
            EXPECT_EQ(int(outf[((n * C + co) * H + y) * W + x]), expect);
          }
  }
}

// get_images_color_similarity, in double, one image at a time (as AdelaiDet calls it).
std::vector<double> ref_similarity(const std::vector<double>& feat, const std::vector<double>& mask,
                                   int64_t N, int64_t C, int64_t H, int64_t W, int d,
                                   double factor) {
  const std::vector<double> unf = ref_unfold(feat, N, C, H, W, d);
  const std::vector<double> unm = ref_unfold(mask, N, 1, H, W, d);
  std::vector<double> sim(N * 8 * H * W);
  for (int64_t n = 0; n < N; ++n)
    for (int e = 0; e < 8; ++e)
      for (int64_t p = 0; p < H * W; ++p) {
        double sq = 0;
        for (int64_t c = 0; c < C; ++c) {
          const double diff = feat[(n * C + c) * H * W + p] - unf[((n * C + c) * 8 + e) * H * W + p];
          sq += diff * diff;
        }
        sim[(n * 8 + e) * H * W + p] = std::exp(-std::sqrt(sq) * factor) * unm[(n * 8 + e) * H * W + p];
      }
  return sim;
}

TEST(PairwiseColour, SimilarityMatchesUnfoldReference) {
  std::mt19937 rng(4);
  const int64_t N = 2, C = 3, H = 11, W = 14, plane = H * W;
  // Lab-like values spread enough that some edges pass 0.3 and some do not.
  std::vector<double> lab = uniform<double>(N * C * plane, -3, 3, rng);
  std::vector<uint8_t> valid(N * plane);
  for (int64_t i = 0; i < N * plane; ++i) valid[i] = (i % plane) / W < H - 2 ? 1 : 0;  // padded bottom
  const std::vector<double> vd(valid.begin(), valid.end()), ones(N * plane, 1.0);
  for (int d : {1, 2, 3}) {
    SCOPED_TRACE(::testing::Message() << "dilation " << d);
    std::vector<double> sim(N * 8 * plane), sim_all(N * 8 * plane);
    kc::neighbour_similarity(lab.data(), N, C, H, W, valid.data(), d, 1.0,
                             kernels::kColorSimilarityTheta, sim.data());
    kc::neighbour_similarity(lab.data(), N, C, H, W, nullptr, d, 1.0,
                             kernels::kColorSimilarityTheta, sim_all.data());
    EXPECT_TRUE(all_close(sim, ref_similarity(lab, vd, N, C, H, W, d, 0.5), 1e-15, 1e-13));
    EXPECT_TRUE(all_close(sim_all, ref_similarity(lab, ones, N, C, H, W, d, 0.5), 1e-15, 1e-13));
  }
  // Flow colours: uint8 in, [0, 1] colours, theta 0.5.
  std::vector<uint8_t> rgb(N * C * plane);
  for (auto& v : rgb) v = static_cast<uint8_t>(200 + rng() % 56);  // close colours: sims near 0.6
  std::vector<double> rgbd(rgb.size());
  for (size_t i = 0; i < rgb.size(); ++i) rgbd[i] = rgb[i] / 255.0;
  std::vector<float> fsim(N * 8 * plane);
  kc::neighbour_similarity(rgb.data(), N, C, H, W, nullptr, 2, 1.0 / 255.0,
                           kernels::kFlowSimilarityTheta, fsim.data());
  EXPECT_TRUE(all_close(fsim, ref_similarity(rgbd, ones, N, C, H, W, 2, 1.0 / 0.5), 1e-6, 1e-5));
}

// ---- CUDA parity ----------------------------------------------------------------------------
#if WSVIS_WITH_CUDA
namespace kg = kernels::cuda;
using testing::dev;
using testing::host;

TEST(PairwiseCuda, ColourParity) {
  WSVIS_REQUIRE_CUDA();
  const ContextPtr gpu = Context::create(Device::cuda(0));
  cudaStream_t st = gpu->stream();
  std::mt19937 rng(31);
  struct Case { int64_t N, H, W; };
  for (const Case s : {Case{1, 1, 1}, Case{2, 23, 37}, Case{3, 50, 67}, Case{0, 4, 4}, Case{2, 0, 5}}) {
    SCOPED_TRACE(::testing::Message() << s.N << "x" << s.H << "x" << s.W);
    const int64_t plane = s.H * s.W, Hf = 4 * s.H + 3, Wf = 4 * s.W + 1;
    // Downsampling (exact: integer sums).
    std::vector<uint8_t> img(s.N * 3 * Hf * Wf);
    for (auto& v : img) v = static_cast<uint8_t>(rng() % 256);
    std::vector<float> imgf(img.begin(), img.end());
    std::vector<uint8_t> small(s.N * 3 * plane);
    kc::downsample_image(imgf.data(), s.N, 3, Hf, Wf, 4, true, small.data());
    Tensor dimg = dev(imgf, gpu), dsmall = dev(std::vector<uint8_t>(small.size(), 7), gpu);
    kg::downsample_image(st, dimg.data<float>(), s.N, 3, Hf, Wf, 4, true, dsmall.data<uint8_t>());
    EXPECT_EQ(host<uint8_t>(dsmall, small.size()), small) << "downsample";
    // Lab (double maths on both sides; the device pow/cbrt are within 1-2 ulp).
    std::vector<float> lab(s.N * 3 * plane);
    kc::rgb_to_lab(small.data(), s.N, s.H, s.W, lab.data());
    Tensor dlab = dev(std::vector<float>(lab.size(), -9), gpu);
    kg::rgb_to_lab(st, dsmall.data<uint8_t>(), s.N, s.H, s.W, dlab.data<float>());
    EXPECT_TRUE(all_close(host<float>(dlab, lab.size()), lab, 1e-5, 1e-6)) << "lab";
    // Similarity on the CPU's Lab (float: expf/sqrtf differ by an ulp or two).
    std::vector<uint8_t> valid(s.N * plane);
    for (auto& v : valid) v = rng() % 5 != 0;
    std::vector<float> sim(s.N * 8 * plane);
    kc::neighbour_similarity(lab.data(), s.N, 3, s.H, s.W, valid.data(), 2, 1.0, 2.0, sim.data());
    Tensor dl2 = dev(lab, gpu), dvalid = dev(valid, gpu), dsim = dev(std::vector<float>(sim.size(), -9), gpu);
    kg::neighbour_similarity(st, dl2.data<float>(), s.N, 3, s.H, s.W, dvalid.data<uint8_t>(), 2,
                             1.0, 2.0, dsim.data<float>());
    EXPECT_TRUE(all_close(host<float>(dsim, sim.size()), sim, 1e-6, 1e-5)) << "similarity";
    // Flow colours: the device rounds every operation as the host does (no FMA contraction);
    // only atan2 may differ by an ulp, which can move a byte by one in rare pixels.
    const std::vector<float> flow = test_flow(s.N, s.H, s.W, rng);
    Tensor dflow = dev(flow, gpu);
    const size_t ws = kg::flow_to_color_workspace_bytes(s.N);
    Tensor dws = Tensor::empty({int64_t(ws) + 8}, DType::u8, gpu);
    for (FlowWheelVariant variant : {FlowWheelVariant::flow_vis, FlowWheelVariant::raft})
      for (double rad : {0.0, 9.0}) {
        std::vector<uint8_t> col(s.N * 3 * plane);
        kc::flow_to_color(flow.data(), s.N, s.H, s.W, variant, rad, false, nullptr, 0, col.data());
        Tensor dcol = dev(std::vector<uint8_t>(col.size(), 7), gpu);
        kg::flow_to_color(st, dflow.data<float>(), s.N, s.H, s.W, variant, rad, false,
                          dws.raw_data(), ws, dcol.data<uint8_t>());
        const std::vector<uint8_t> got = host<uint8_t>(dcol, col.size());
        size_t off = 0, far = 0;
        for (size_t i = 0; i < col.size(); ++i) {
          off += got[i] != col[i];
          far += std::abs(int(got[i]) - int(col[i])) > 1;
        }
        EXPECT_EQ(far, 0u) << "flow colour variant " << int(variant) << " rad " << rad;
        EXPECT_LE(off, col.size() / 10000) << "flow colour variant " << int(variant);
      }
  }
}
#endif  // WSVIS_WITH_CUDA

}  // namespace
}  // namespace wsvis
