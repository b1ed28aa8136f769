// Tests of the pairwise family (kernels/pairwise.h), colour side and pairwise loss. The
// projection loss has its own file (test_projection_loss.cpp).
//  - sRGB -> Lab against skimage.color.rgb2lab values (float64) of pure colours and a few
//    others; uint8 and float inputs agree.
//  - Colour wheel: every entry against data/flow_color.h's wheel and the spec's table; the
//    spec's check values; flow_to_color byte-identical to data::flow_to_color (both variants,
//    per-frame and fixed normalisation, unknown flow, BGR).
//  - Downsampling (avg-pool + truncation + channel reversal) and the neighbour similarity
//    against naive references written here from AdelaiDet's code (unfold with zero padding,
//    norm over channels, exp, times the unfolded validity).
//  - Box rects against AdelaiDet's full-resolution bitmask sampled at [2::4, 2::4].
//  - The fused pairwise loss against a naive unfold-style reference (AdelaiDet's
//    compute_pairwise_term and weighting, in double, over every pixel of the map), colour-only
//    and motion-aware; the gradient by central differences in double; zero gradient outside
//    each box plus the dilation margin.
//  - CUDA parity against the CPU twin on odd and empty sizes (skipped without a GPU).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "data/flow_color.h"
#include "kernels/pairwise.h"
#include "tests/support/testing.h"

namespace wsvis {
namespace {

using testing::all_close;
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

// AdelaiDet's unfold_wo_center: (N, C, H, W) -> (N, C, 8, H, W), SAME zero padding.
std::vector<double> ref_unfold(const std::vector<double>& x, int64_t N, int64_t C, int64_t H,
                               int64_t W, int d) {
  std::vector<double> out(N * C * 8 * H * W, 0.0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int ki = 0; ki < 3; ++ki)
        for (int kj = 0; kj < 3; ++kj) {
          const int kk = ki * 3 + kj;
          if (kk == 4) continue;
          const int e = kk < 4 ? kk : kk - 1;
          for (int64_t y = 0; y < H; ++y)
            for (int64_t xx = 0; xx < W; ++xx) {
              const int64_t sy = y - d + ki * d, sx = xx - d + kj * d;
              if (sy < 0 || sy >= H || sx < 0 || sx >= W) continue;
              out[(((n * C + c) * 8 + e) * H + y) * W + xx] = x[((n * C + c) * H + sy) * W + sx];
            }
        }
  return out;
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

// ---- box rects --------------------------------------------------------------------------------

// AdelaiDet: bitmask_full[int(y1):int(y2 + 1), int(x1):int(x2 + 1)] = 1, then [2::4, 2::4].
std::vector<uint8_t> ref_box_bitmask(const float* box, int64_t H, int64_t W) {
  const int64_t Hf = 4 * H, Wf = 4 * W;
  auto clampi = [](int64_t v, int64_t hi) { return std::min(std::max<int64_t>(v, 0), hi); };
  const int64_t y0 = clampi(int64_t(box[1]), Hf), y1 = clampi(int64_t(float(box[3] + 1.0f)), Hf);
  const int64_t x0 = clampi(int64_t(box[0]), Wf), x1 = clampi(int64_t(float(box[2] + 1.0f)), Wf);
  std::vector<uint8_t> m(H * W, 0);
  for (int64_t y = 0; y < H; ++y)
    for (int64_t x = 0; x < W; ++x) {
      const int64_t fy = 4 * y + 2, fx = 4 * x + 2;
      m[y * W + x] = fy >= y0 && fy < y1 && fx >= x0 && fx < x1;
    }
  return m;
}

std::vector<uint8_t> rect_bitmask(const int32_t* r, int64_t H, int64_t W) {
  std::vector<uint8_t> m(H * W, 0);
  for (int64_t y = 0; y < H; ++y)
    for (int64_t x = 0; x < W; ++x) m[y * W + x] = x >= r[0] && x <= r[2] && y >= r[1] && y <= r[3];
  return m;
}

// Random boxes on the full-resolution (4H, 4W) image: interior, touching the edges, the whole
// image, thin ones that may miss every stride-4 sample.
std::vector<float> random_boxes(int64_t K, int64_t H, int64_t W, std::mt19937& rng) {
  std::uniform_real_distribution<double> u01(0, 1);
  const double Hf = 4.0 * H, Wf = 4.0 * W;
  std::vector<float> boxes(4 * K);
  for (int64_t k = 0; k < K; ++k) {
    float* b = boxes.data() + 4 * k;
    const int kind = int(k % 5);
    if (kind == 0) {
      b[0] = 0, b[1] = 0, b[2] = float(Wf), b[3] = float(Hf);
    } else if (kind == 1) {  // thin
      b[0] = float(u01(rng) * (Wf - 3)), b[1] = float(u01(rng) * (Hf - 3));
      b[2] = b[0] + float(u01(rng) * 2.5), b[3] = b[1] + float(u01(rng) * 2.5);
    } else {
      const double x0 = u01(rng) * Wf * 0.7, y0 = u01(rng) * Hf * 0.7;
      b[0] = float(x0), b[1] = float(y0);
      b[2] = float(kind == 2 ? Wf : x0 + u01(rng) * (Wf - x0));
      b[3] = float(kind == 3 ? Hf : y0 + u01(rng) * (Hf - y0));
    }
  }
  return boxes;
}

TEST(PairwiseBoxes, RectsMatchAdelaiDetBitmasks) {
  std::mt19937 rng(8);
  const int64_t H = 19, W = 26, K = 200;
  std::vector<float> boxes = random_boxes(K, H, W, rng);
  // Integer-valued corners exercise the inclusive ends exactly.
  for (int64_t k = 0; k < K; k += 3)
    for (int c = 0; c < 4; ++c) boxes[4 * k + c] = std::floor(boxes[4 * k + c]);
  std::vector<int32_t> rects(4 * K);
  kc::box_mask_rects(boxes.data(), K, H, W, 4, rects.data());
  int empties = 0;
  for (int64_t k = 0; k < K; ++k) {
    EXPECT_EQ(rect_bitmask(rects.data() + 4 * k, H, W), ref_box_bitmask(boxes.data() + 4 * k, H, W))
        << "box " << k << ": " << boxes[4 * k] << " " << boxes[4 * k + 1] << " " << boxes[4 * k + 2]
        << " " << boxes[4 * k + 3];
    empties += kernels::rect_empty(rects.data() + 4 * k);
  }
  EXPECT_GT(empties, 0);  // the thin boxes include some that miss every sample
}

// ---- pairwise loss ------------------------------------------------------------------------------

double ref_logsigmoid(double z) { return z >= 0 ? -std::log1p(std::exp(-z)) : z - std::log1p(std::exp(z)); }

// AdelaiDet: compute_pairwise_term on every pixel, then
//   weights = (sim[im_inds] >= tc) [* (flow_sim[im_inds] >= tf)] * bitmask
//   loss = sum(pairwise * weights) / max(sum(weights), 1).
// Returns (loss, weight sum).
std::pair<double, double> ref_pairwise(const std::vector<double>& logits, const std::vector<int32_t>& im_inds,
                                       const std::vector<uint8_t>& bitmasks, const std::vector<double>& csim,
                                       const std::vector<double>* fsim, int64_t K, int64_t H,
                                       int64_t W, int d, double tc, double tf) {
  const int64_t plane = H * W;
  std::vector<double> lf(K * plane), lb(K * plane);
  for (int64_t i = 0; i < K * plane; ++i) {
    lf[i] = ref_logsigmoid(logits[i]);
    lb[i] = ref_logsigmoid(-logits[i]);
  }
  const std::vector<double> uf = ref_unfold(lf, K, 1, H, W, d), ub = ref_unfold(lb, K, 1, H, W, d);
  double num = 0, den = 0;
  for (int64_t k = 0; k < K; ++k)
    for (int e = 0; e < 8; ++e)
      for (int64_t p = 0; p < plane; ++p) {
        const double sf = lf[k * plane + p] + uf[(k * 8 + e) * plane + p];
        const double sb = lb[k * plane + p] + ub[(k * 8 + e) * plane + p];
        const double m = std::max(sf, sb);
        const double loss = -(std::log(std::exp(sf - m) + std::exp(sb - m)) + m);
        const int64_t sidx = (int64_t(im_inds[k]) * 8 + e) * plane + p;
        double w = csim[sidx] >= tc ? 1.0 : 0.0;
        if (fsim) w *= (*fsim)[sidx] >= tf ? 1.0 : 0.0;
        w *= bitmasks[k * plane + p];
        num += loss * w;
        den += w;
      }
  return {num / std::max(den, 1.0), den};
}

struct PairwiseProblem {
  int64_t K, N, H, W;
  std::vector<double> logits, csim, fsim;
  std::vector<int32_t> im_inds, rects;
  std::vector<uint8_t> bitmasks;
};

PairwiseProblem make_problem(int64_t K, int64_t N, int64_t H, int64_t W, double logit_range,
                             std::mt19937& rng) {
  PairwiseProblem p{K, N, H, W, {}, {}, {}, {}, {}, {}};
  p.logits = uniform<double>(K * H * W, -logit_range, logit_range, rng);
  // A few saturated logits: the log-space formulation must stay finite there.
  for (int64_t i = 0; i < K * H * W; i += 37) p.logits[size_t(i)] = (i % 2 ? 1 : -1) * 40.0;
  // Similarities spread over [0, 1] so both thresholds cut; stored exactly as float values so
  // the float and double runs see the same edges. Non-zero even where the neighbour is off the
  // map: the loss must follow AdelaiDet there too (zero-padded log-probabilities).
  p.csim = uniform<double>(N * 8 * H * W, 0, 1, rng);
  p.fsim = uniform<double>(N * 8 * H * W, 0.2, 1, rng);
  for (auto* v : {&p.csim, &p.fsim})
    for (auto& x : *v) x = double(float(x));
  p.im_inds.resize(K);
  for (int64_t k = 0; k < K; ++k) p.im_inds[k] = int32_t(rng() % N);
  const std::vector<float> boxes = random_boxes(K, H, W, rng);
  p.rects.resize(4 * K);
  kc::box_mask_rects(boxes.data(), K, H, W, 4, p.rects.data());
  p.bitmasks.resize(K * H * W);
  for (int64_t k = 0; k < K; ++k) {
    const std::vector<uint8_t> m = ref_box_bitmask(boxes.data() + 4 * k, H, W);
    std::copy(m.begin(), m.end(), p.bitmasks.begin() + k * H * W);
  }
  return p;
}

template <typename T>
std::pair<double, double> run_forward(const PairwiseProblem& p, bool motion, const PairwiseParams& params) {
  const std::vector<T> z(p.logits.begin(), p.logits.end()), cs(p.csim.begin(), p.csim.end()),
      fs(p.fsim.begin(), p.fsim.end());
  T loss = T(-1), stats[2] = {T(-1), T(-1)};
  kc::pairwise_loss_forward(z.data(), p.im_inds.data(), p.rects.data(), p.K, p.N, p.H, p.W,
                            cs.data(), motion ? fs.data() : nullptr, params, nullptr, 0, &loss,
                            stats);
  EXPECT_NEAR(double(loss), double(stats[0]) / std::max(double(stats[1]), 1.0), 1e-6 * std::fabs(double(loss)) + 1e-12);
  return {double(loss), double(stats[1])};
}

TEST(PairwiseLoss, FusedEqualsUnfoldReference) {
  std::mt19937 rng(11);
  struct Size { int64_t K, N, H, W; };
  for (const Size s : {Size{6, 2, 17, 23}, Size{10, 3, 9, 31}, Size{3, 1, 4, 5}, Size{5, 2, 40, 36}})
    for (bool motion : {false, true})
      for (int d : {2, 1, 3}) {
        SCOPED_TRACE(::testing::Message() << s.K << "x" << s.H << "x" << s.W << " motion "
                                          << motion << " dilation " << d);
        const PairwiseProblem p = make_problem(s.K, s.N, s.H, s.W, 6.0, rng);
        PairwiseParams params;
        params.dilation = d;
        const auto ref = ref_pairwise(p.logits, p.im_inds, p.bitmasks, p.csim,
                                      motion ? &p.fsim : nullptr, p.K, p.H, p.W, d,
                                      params.color_thresh, params.flow_thresh);
        ASSERT_GT(ref.second, 0);
        const auto got = run_forward<double>(p, motion, params);
        EXPECT_EQ(got.second, ref.second);  // the same edges count
        EXPECT_NEAR(got.first, ref.first, 1e-12 * std::fabs(ref.first));
        // float: the same edges (thresholds compared in float on float-exact sims); each edge
        // loss carries a few float ulps, summed in double.
        const auto gotf = run_forward<float>(p, motion, params);
        EXPECT_EQ(gotf.second, ref.second);
        EXPECT_NEAR(gotf.first, ref.first, 1e-5 * std::fabs(ref.first));
      }
}

TEST(PairwiseLoss, ColourOnlyIsMotionAwareWithPermissiveFlow) {
  std::mt19937 rng(12);
  const PairwiseProblem p = make_problem(4, 2, 15, 18, 4.0, rng);
  PairwiseParams params;
  const auto colour = run_forward<double>(p, false, params);
  params.flow_thresh = 0.0;  // every flow edge passes: the motion-aware loss is the colour one
  const auto motion = run_forward<double>(p, true, params);
  EXPECT_EQ(colour.first, motion.first);
  EXPECT_EQ(colour.second, motion.second);
  params.flow_thresh = 0.6;
  const auto strict = run_forward<double>(p, true, params);
  EXPECT_LT(strict.second, colour.second);  // the flow condition removes edges
}

TEST(PairwiseLoss, NoEdgesGivesZeroLossAndGradient) {
  std::mt19937 rng(13);
  PairwiseProblem p = make_problem(3, 1, 8, 9, 3.0, rng);
  std::fill(p.csim.begin(), p.csim.end(), 0.1);  // below 0.3 everywhere
  const auto r = run_forward<double>(p, false, PairwiseParams{});
  EXPECT_EQ(r.first, 0.0);
  EXPECT_EQ(r.second, 0.0);
  std::vector<double> g(p.logits.size(), 9.0);
  const double stats[2] = {0, 0}, gl = 1.0;
  kc::pairwise_loss_backward(p.logits.data(), p.im_inds.data(), p.rects.data(), p.K, p.N, p.H,
                             p.W, p.csim.data(), static_cast<const double*>(nullptr),
                             PairwiseParams{}, stats, &gl, g.data());
  for (double v : g) ASSERT_EQ(v, 0.0);
}

TEST(PairwiseLoss, InvalidImageIndexContributesNothing) {
  std::mt19937 rng(14);
  PairwiseProblem p = make_problem(4, 2, 12, 13, 3.0, rng);
  const auto before = run_forward<double>(p, false, PairwiseParams{});
  PairwiseProblem q = p;
  q.K = 5;
  q.logits.resize(5 * 12 * 13, 0.5);
  q.im_inds.push_back(7);  // outside [0, N)
  q.rects.insert(q.rects.end(), {0, 0, 12, 11});
  const auto after = run_forward<double>(q, false, PairwiseParams{});
  EXPECT_EQ(before.first, after.first);
  EXPECT_EQ(before.second, after.second);
}

// Central differences of the fused forward (double) against the raw-pointer backward, for
// colour-only and motion-aware, with a non-unit upstream gradient. The loss is smooth in the
// logits (the weights do not depend on them), so eps 1e-6 gives ~1e-10 truncation error.
TEST(PairwiseLoss, GradientMatchesCentralDifferences) {
  std::mt19937 rng(15);
  for (bool motion : {false, true})
    for (int d : {2, 1}) {
      SCOPED_TRACE(::testing::Message() << "motion " << motion << " dilation " << d);
      PairwiseProblem p = make_problem(5, 2, 13, 17, 4.0, rng);
      PairwiseParams params;
      params.dilation = d;
      const double* fs = motion ? p.fsim.data() : nullptr;
      auto loss_at = [&](const std::vector<double>& z) {
        double loss, stats[2];
        kc::pairwise_loss_forward(z.data(), p.im_inds.data(), p.rects.data(), p.K, p.N, p.H, p.W,
                                  p.csim.data(), fs, params, nullptr, 0, &loss, stats);
        return loss;
      };
      double loss, stats[2];
      kc::pairwise_loss_forward(p.logits.data(), p.im_inds.data(), p.rects.data(), p.K, p.N, p.H,
                                p.W, p.csim.data(), fs, params, nullptr, 0, &loss, stats);
      const double gl = 1.7;
      std::vector<double> grad(p.logits.size(), 99.0);
      kc::pairwise_loss_backward(p.logits.data(), p.im_inds.data(), p.rects.data(), p.K, p.N, p.H,
                                 p.W, p.csim.data(), fs, params, stats, &gl, grad.data());
      const double eps = 1e-6;
      std::vector<double> z = p.logits, numeric(z.size());
      for (size_t i = 0; i < z.size(); ++i) {
        const double saved = z[i];
        z[i] = saved + eps;
        const double plus = loss_at(z);
        z[i] = saved - eps;
        const double minus = loss_at(z);
        z[i] = saved;
        numeric[i] = gl * (plus - minus) / (2 * eps);
      }
      EXPECT_TRUE(all_close(grad, numeric, 1e-9, 1e-6));
      // Zero outside each box plus the margin; the margin itself does receive gradient.
      bool margin_nonzero = false;
      for (int64_t k = 0; k < p.K; ++k) {
        const int32_t* r = p.rects.data() + 4 * k;
        for (int64_t y = 0; y < p.H; ++y)
          for (int64_t x = 0; x < p.W; ++x) {
            const double g = grad[(k * p.H + y) * p.W + x];
            const bool near = !kernels::rect_empty(r) && x >= r[0] - d && x <= r[2] + d &&
                              y >= r[1] - d && y <= r[3] + d;
            const bool inside = !kernels::rect_empty(r) && x >= r[0] && x <= r[2] && y >= r[1] && y <= r[3];
            if (!near) {
              EXPECT_EQ(g, 0.0) << "instance " << k << " pixel " << y << "," << x;
            }
            if (near && !inside && g != 0.0) margin_nonzero = true;
          }
      }
      EXPECT_TRUE(margin_nonzero);
    }
}

TEST(PairwiseLoss, EmptySizes) {
  const PairwiseParams params;
  double loss = -1, stats[2] = {-1, -1};
  kc::pairwise_loss_forward<double>(nullptr, nullptr, nullptr, 0, 1, 4, 4, nullptr, nullptr,
                                    params, nullptr, 0, &loss, stats);
  EXPECT_EQ(loss, 0.0);
  EXPECT_EQ(stats[1], 0.0);
  const double gl = 1;
  kc::pairwise_loss_backward<double>(nullptr, nullptr, nullptr, 0, 1, 4, 4, nullptr, nullptr,
                                     params, stats, &gl, nullptr);
}

// ---- CUDA parity ----------------------------------------------------------------------------
#if WSVIS_WITH_CUDA
namespace kg = kernels::cuda;

// Device copy; an empty vector becomes one element so the pointer is valid (never read).
template <typename T>
Tensor dev(std::vector<T> v, const ContextPtr& gpu) {
  if (v.empty()) v.resize(1);
  return Tensor::from_vector(v, {static_cast<int64_t>(v.size())}, gpu);
}
template <typename T>
std::vector<T> host(const Tensor& t, size_t n) {
  std::vector<T> v = t.to_vector<T>();
  v.resize(n);
  return v;
}

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

template <typename T>
void pairwise_parity(double atol, double rtol) {
  const ContextPtr gpu = Context::create(Device::cuda(0));
  cudaStream_t st = gpu->stream();
  std::mt19937 rng(32);
  struct Case { int64_t K, N, H, W; };
  for (const Case s : {Case{1, 1, 1, 1}, Case{7, 2, 23, 37}, Case{20, 2, 50, 84}, Case{3, 1, 5, 2},
                       Case{0, 1, 4, 4}, Case{2, 1, 0, 3}})
    for (bool motion : {false, true}) {
      SCOPED_TRACE(::testing::Message() << s.K << "x" << s.H << "x" << s.W << " motion " << motion);
      const PairwiseProblem p = make_problem(s.K, s.N, std::max<int64_t>(s.H, 1), std::max<int64_t>(s.W, 1), 6.0, rng);
      const int64_t H = s.H, W = s.W, plane = H * W;
      std::vector<T> z(p.logits.begin(), p.logits.begin() + s.K * plane);
      std::vector<T> cs(p.csim.begin(), p.csim.begin() + s.N * 8 * plane);
      std::vector<T> fs(p.fsim.begin(), p.fsim.begin() + s.N * 8 * plane);
      const PairwiseParams params;
      T loss, stats[2];
      kc::pairwise_loss_forward(z.data(), p.im_inds.data(), p.rects.data(), s.K, s.N, H, W,
                                cs.data(), motion ? fs.data() : nullptr, params, nullptr, 0, &loss, stats);
      const T gl = T(0.9);
      std::vector<T> grad(z.size());
      kc::pairwise_loss_backward(z.data(), p.im_inds.data(), p.rects.data(), s.K, s.N, H, W,
                                 cs.data(), motion ? fs.data() : nullptr, params, stats, &gl, grad.data());
      Tensor dz = dev(z, gpu), dcs = dev(cs, gpu), dfs = dev(fs, gpu);
      Tensor dind = dev(p.im_inds, gpu), drect = dev(p.rects, gpu);
      const size_t ws = kg::pairwise_loss_workspace_bytes(s.K, H, W);
      Tensor dws = Tensor::empty({int64_t(ws) + 8}, DType::u8, gpu);
      Tensor dloss = dev(std::vector<T>(1, T(-9)), gpu), dstats = dev(std::vector<T>(2, T(-9)), gpu);
      kg::pairwise_loss_forward(st, dz.data<T>(), dind.data<int32_t>(), drect.data<int32_t>(), s.K,
                                s.N, H, W, dcs.data<T>(), motion ? dfs.data<T>() : nullptr, params,
                                dws.raw_data(), ws, dloss.data<T>(), dstats.data<T>());
      EXPECT_TRUE(all_close(host<T>(dloss, 1), std::vector<T>{loss}, atol, rtol)) << "loss";
      EXPECT_TRUE(all_close(host<T>(dstats, 2), std::vector<T>{stats[0], stats[1]}, atol, rtol)) << "stats";
      Tensor dgl = dev(std::vector<T>{gl}, gpu), dgrad = dev(std::vector<T>(z.size(), T(-9)), gpu);
      // Backward from the CPU's totals, so that only the gradient kernel is compared.
      Tensor dst_cpu = dev(std::vector<T>{stats[0], stats[1]}, gpu);
      kg::pairwise_loss_backward(st, dz.data<T>(), dind.data<int32_t>(), drect.data<int32_t>(), s.K,
                                 s.N, H, W, dcs.data<T>(), motion ? dfs.data<T>() : nullptr, params,
                                 dst_cpu.data<T>(), dgl.data<T>(), dgrad.data<T>());
      EXPECT_TRUE(all_close(host<T>(dgrad, z.size()), grad, atol, rtol)) << "gradient";
    }
}

// float: the loss sums up to ~10^5 edge losses of a few float ulps each, in double, in another
// order; gradients are at most 16 sigmoid differences per pixel (scaled by 1/weights).
TEST(PairwiseCuda, LossParityFloat) {
  WSVIS_REQUIRE_CUDA();
  pairwise_parity<float>(1e-7, 1e-5);
}
TEST(PairwiseCuda, LossParityDouble) {
  WSVIS_REQUIRE_CUDA();
  pairwise_parity<double>(1e-15, 1e-12);
}
#endif

}  // namespace
}  // namespace wsvis
