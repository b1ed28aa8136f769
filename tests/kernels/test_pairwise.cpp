// Tests of the pairwise loss (kernels/pairwise.h). The colour side (Lab, colour wheel,
// downsampling, similarity) is in test_pairwise_colour.cpp; the projection loss in
// test_projection_loss.cpp.
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
using testing::dev;
using testing::host;

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
