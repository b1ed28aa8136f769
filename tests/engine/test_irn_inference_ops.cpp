// IRN / flowIRN / CRF inference wrappers (engine/ops/irn_inference.h): each equals its raw
// kernel call (or a reference written here) on small cases, shape/dtype misuse throws, and the
// CUDA path equals the CPU one (skipped without a GPU).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "engine/ops/irn_inference.h"
#include "kernels/components.h"
#include "kernels/flowirn.h"
#include "tests/support/testing.h"

namespace wsvis {
namespace {

using kernels::IrnPairSet;
using testing::cpu_context;
using testing::tensors_close;

// f32 CUDA vs f32 CPU for the floating maps: the walk's 256 gathers and the magnitude's sqrt
// round differently (FMA contraction) by a few ulps per step.
constexpr double kParityAtol = 1e-5, kParityRtol = 1e-4;

using testing::expect_error;

Tensor uniform(const Shape& shape, double lo, double hi, uint64_t seed, const ContextPtr& ctx) {
  Generator gen(seed);
  return Tensor::uniform(shape, lo, hi, gen, ctx, DType::f32);
}

// Displacement (2, H, W) pointing every pixel at the nearest of `centres` (so the centroids
// converge there and each centre's disc of radius 2.5 is a weak region).
Tensor field_towards(const std::vector<std::pair<int, int>>& centres, int64_t H, int64_t W,
                     const ContextPtr& ctx) {
  std::vector<float> d(static_cast<size_t>(2 * H * W));
  for (int64_t y = 0; y < H; ++y)
    for (int64_t x = 0; x < W; ++x) {
      int64_t best = 0, best_d2 = -1;
      for (size_t c = 0; c < centres.size(); ++c) {
        const int64_t dy = centres[c].first - y, dx = centres[c].second - x;
        if (best_d2 < 0 || dy * dy + dx * dx < best_d2) {
          best_d2 = dy * dy + dx * dx;
          best = static_cast<int64_t>(c);
        }
      }
      d[static_cast<size_t>(y * W + x)] = float(centres[size_t(best)].first - y);
      d[static_cast<size_t>(H * W + y * W + x)] = float(centres[size_t(best)].second - x);
    }
  return Tensor::from_vector<float>(d, {2, H, W}, ctx);
}

// ---- flowIRN wrappers --------------------------------------------------------------------------

TEST(FlowIrnOps, MagnitudeAndGradientEqualKernels) {
  const auto ctx = cpu_context();
  const Tensor flow = uniform({2, 2, 5, 7}, -4, 4, 1, ctx);
  const Tensor m = ops::flow_magnitude(flow);
  ASSERT_EQ(m.shape(), Shape({2, 5, 7}));
  std::vector<float> ref(70);
  kernels::cpu::flow_magnitude<float>(flow.data<float>(), 2, 5, 7, ref.data());
  EXPECT_EQ(m.to_vector<float>(), ref);
  const Tensor three_four = Tensor::from_vector<float>({3.f, 4.f}, {1, 2, 1, 1}, ctx);
  EXPECT_FLOAT_EQ(ops::flow_magnitude(three_four).item<float>(), 5.f);

  const Tensor g = ops::flow_gradient(flow, 0.25);
  ASSERT_EQ(g.shape(), Shape({2, 4, 5, 7}));
  std::vector<float> gref(2 * 4 * 35);
  kernels::cpu::flow_gradient<float>(flow.data<float>(), 2, 5, 7, 0.25f, gref.data());
  EXPECT_EQ(g.to_vector<float>(), gref);

  expect_error([&] { ops::flow_magnitude(Tensor::zeros({1, 3, 4, 4}, DType::f32, ctx)); },
               "(N, 2, H, W)");
  expect_error([&] { ops::flow_gradient(Tensor::zeros({2, 4, 4}, DType::f32, ctx), 1.0); },
               "(N, 2, H, W)");
  expect_error([&] { ops::flow_magnitude(Tensor::zeros({1, 2, 4, 4}, DType::i32, ctx)); },
               "f32 or f64");
}

TEST(FlowIrnOps, SelectKthAndPercentileAreSortedRanks) {
  const auto ctx = cpu_context();
  const Tensor v = uniform({7, 13}, -10, 10, 2, ctx);  // n = 91, distinct values
  std::vector<float> sorted = v.to_vector<float>();
  std::sort(sorted.begin(), sorted.end());
  for (int64_t k : {0, 1, 45, 90}) {
    const Tensor s = ops::select_kth(v, k);
    EXPECT_EQ(s.shape(), Shape({1}));
    EXPECT_EQ(s.item<float>(), sorted[size_t(k)]) << k;
  }
  // numpy "lower": rank floor(q (n - 1)).
  for (double q : {0.0, 0.5, 0.8, 0.999, 1.0})
    EXPECT_EQ(ops::percentile(v, q).item<float>(),
              sorted[size_t(std::floor(q * double(sorted.size() - 1)))])
        << q;
  expect_error([&] { ops::select_kth(v, 91); }, "rank 91");
  expect_error([&] { ops::select_kth(v, -1); }, "rank -1");
  expect_error([&] { ops::percentile(v, 1.5); }, "[0, 1]");
  expect_error([&] { ops::percentile(Tensor::zeros({0}, DType::f32, ctx), 0.5); }, "empty");
}

TEST(FlowIrnOps, FcamAmplifiesStrictlyAboveThreshold) {
  const auto ctx = cpu_context();
  const Tensor cams = uniform({2, 3, 4, 5}, 0, 1, 3, ctx);
  const Tensor mag = uniform({2, 4, 5}, 0, 10, 4, ctx);
  const Tensor t = ops::percentile(mag, 0.5);
  const Tensor f = ops::fcam_amplify(cams, mag, t, 2.0);
  std::vector<float> ref(cams.numel());
  kernels::cpu::fcam_amplify<float>(cams.data<float>(), mag.data<float>(), 2, 3, 4, 5,
                                    t.data<float>(), 2.f, ref.data());
  EXPECT_EQ(f.to_vector<float>(), ref);
  // The rule itself, written here: x A where ||F|| > T, else x.
  const std::vector<float> c = cams.to_vector<float>(), m = mag.to_vector<float>();
  const float thr = t.item<float>();
  for (size_t i = 0; i < c.size(); ++i) {
    const size_t n = i / 60, p = i % 20;
    EXPECT_EQ(ref[i], m[n * 20 + p] > thr ? 2.f * c[i] : c[i]) << i;
  }
  expect_error([&] { ops::fcam_amplify(cams, Tensor::zeros({2, 5, 4}, DType::f32, ctx), t, 2.0); },
               "(N, H, W)");
  expect_error([&] { ops::fcam_amplify(cams, mag, Tensor::zeros({2}, DType::f32, ctx), 2.0); },
               "one value");
}

// ---- random walk and displacement grouping -----------------------------------------------------

TEST(IrnInferenceOps, RandomWalkEqualsKernelForBothBoundaryShapes) {
  const auto ctx = cpu_context();
  const IrnPairSet set = kernels::irn_pair_set(kernels::kIrnInferRadius);
  const int64_t C = 3, H = 9, W = 11;
  const Tensor b = uniform({1, 1, H, W}, 0, 1, 5, ctx);
  const Tensor seeds = uniform({C, H, W}, 0, 1, 6, ctx);
  for (const bool mask : {false, true}) {
    const Tensor rw = ops::irn_random_walk(b, seeds, set, 10.0, 16, mask);
    ASSERT_EQ(rw.shape(), Shape({C, H, W}));
    std::vector<float> ref(size_t(C * H * W));
    std::vector<char> ws(kernels::cpu::irn_random_walk_workspace_bytes<float>(C, H, W, set));
    kernels::cpu::irn_random_walk<float>(b.data<float>(), seeds.data<float>(), C, H, W, set, 10.f,
                                         16, mask, ref.data(), ws.data(), ws.size());
    EXPECT_EQ(rw.to_vector<float>(), ref);
    EXPECT_EQ(ops::irn_random_walk(b.view({H, W}), seeds, set, 10.0, 16, mask).to_vector<float>(),
              ref);
  }
  expect_error([&] { ops::irn_random_walk(b.view({1, H, W}), seeds, set, 10.0, 4, true); },
               "(1, 1, H, W) or (H, W)");
  expect_error([&] { ops::irn_random_walk(b, seeds.view({C, W, H}), set, 10.0, 4, true); },
               "(1, 1, H, W) or (H, W)");
  expect_error([&] { ops::irn_random_walk(b, seeds, set, 10.0, -1, true); }, "steps");
  expect_error([&] { ops::irn_random_walk(b, seeds, IrnPairSet{}, 10.0, 4, true); },
               "irn_pair_set");
}

TEST(IrnInferenceOps, CentroidsClustersAndSeedsEqualKernels) {
  const auto ctx = cpu_context();
  const int64_t H = 20, W = 40;
  const Tensor disp = field_towards({{10, 10}, {9, 29}}, H, W, ctx);
  const Tensor centroids = ops::find_centroids(disp);
  ASSERT_EQ(centroids.shape(), Shape({2, H, W}));
  ASSERT_EQ(centroids.dtype(), DType::i32);
  std::vector<int32_t> cref(size_t(2 * H * W));
  kernels::cpu::find_centroids<float>(disp.data<float>(), H, W, kernels::kIrnCentroidIterations,
                                      cref.data());
  EXPECT_EQ(centroids.to_vector<int32_t>(), cref);

  const ops::CentroidClusters cl = ops::cluster_centroids(disp, centroids);
  std::vector<int32_t> mref(size_t(H * W));
  int32_t count = -1;
  std::vector<char> ws(kernels::cpu::cluster_centroids_workspace_bytes(H, W));
  kernels::cpu::cluster_centroids<float>(disp.data<float>(), cref.data(), H, W,
                                         kernels::kIrnWeakDisplacementThreshold, mref.data(),
                                         &count, ws.data());
  EXPECT_EQ(cl.instance_map.to_vector<int32_t>(), mref);
  EXPECT_EQ(cl.count, 2);  // the two attractors
  EXPECT_EQ(cl.count, count);

  const int64_t C = 3;
  const Tensor cams = uniform({C, H, W}, 0, 1, 7, ctx);
  const Tensor seeds = ops::instance_seeds(cams, cl.instance_map, cl.count);
  ASSERT_EQ(seeds.shape(), Shape({C * cl.count, H, W}));
  const std::vector<float> s = seeds.to_vector<float>(), c = cams.to_vector<float>();
  for (int64_t ch = 0; ch < C; ++ch)
    for (int64_t k = 0; k < cl.count; ++k)
      for (int64_t p = 0; p < H * W; ++p)
        ASSERT_EQ(s[size_t((ch * cl.count + k) * H * W + p)],
                  mref[size_t(p)] == k ? c[size_t(ch * H * W + p)] : 0.f);

  expect_error([&] { ops::find_centroids(Tensor::zeros({3, H, W}, DType::f32, ctx)); },
               "(2, H, W)");
  expect_error([&] { ops::cluster_centroids(disp, centroids.to_dtype(DType::i64)); }, "i32");
  expect_error([&] { ops::cluster_centroids(disp, Tensor::zeros({2, W, H}, DType::i32, ctx)); },
               "(2, H, W)");
  expect_error([&] { ops::instance_seeds(cams, cl.instance_map, -1); }, "K must be >= 0");
  expect_error([&] { ops::instance_seeds(cams, Tensor::zeros({H, W}, DType::f32, ctx), 2); },
               "i32");
}

TEST(IrnInferenceOps, WalkLabelsEqualKernel) {
  const auto ctx = cpu_context();
  const int64_t C = 3, Hs = 12, Ws = 16, H = 10, W = 13;
  const Tensor rw = uniform({C, Hs, Ws}, 0, 2, 8, ctx);
  const ops::WalkLabels wl = ops::irn_walk_labels(rw, H, W, 0.25);
  std::vector<int32_t> lref(size_t(H * W));
  std::vector<float> nref(size_t(C * H * W));
  kernels::cpu::irn_walk_labels<float>(rw.data<float>(), C, Hs, Ws, H, W, 0.25f, lref.data(),
                                       nref.data(), nullptr);
  EXPECT_EQ(wl.labels.to_vector<int32_t>(), lref);
  EXPECT_EQ(wl.normalised.to_vector<float>(), nref);
  EXPECT_EQ(wl.normalised.shape(), Shape({C, H, W}));
  expect_error([&] { ops::irn_walk_labels(rw, Hs + 1, W, 0.25); }, "must fit");
  expect_error([&] { ops::irn_walk_labels(rw.view({C, Hs * Ws}), H, W, 0.25); }, "(C, Hs, Ws)");
}

// Labels (10, 12) with two channels: channel 0 (label 1) has two rectangles, channel 1 (label 2)
// a rectangle and one pixel (area 1 < 1% of 120: score 0).
Tensor instance_labels(const ContextPtr& ctx) {
  std::vector<int32_t> l(120, 0);
  auto fill = [&](int y0, int y1, int x0, int x1, int v) {
    for (int y = y0; y <= y1; ++y)
      for (int x = x0; x <= x1; ++x) l[size_t(y * 12 + x)] = v;
  };
  fill(0, 2, 0, 3, 1);
  fill(5, 8, 6, 9, 1);
  fill(0, 3, 8, 11, 2);
  fill(9, 9, 0, 0, 2);
  return Tensor::from_vector<int32_t>(l, {10, 12}, ctx);
}

TEST(IrnInferenceOps, InstancesAreTheComponentsWithTheirScores) {
  const auto ctx = cpu_context();
  const Tensor labels = instance_labels(ctx);
  const Tensor normalised = uniform({2, 10, 12}, 0, 1, 9, ctx);
  const std::vector<ops::IrnInstance> inst = ops::irn_instances(labels, normalised, 0.01);
  ASSERT_EQ(inst.size(), 4u);
  const std::vector<int32_t> l = labels.to_vector<int32_t>();
  const std::vector<float> nv = normalised.to_vector<float>();
  // Expected, in channel then raster order of the first pixel: (channel, first pixel, area).
  struct Want {
    int64_t channel, first, area;
    bool small;
  };
  const Want want[4] = {{0, 0, 12, false}, {0, 5 * 12 + 6, 16, false}, {1, 8, 16, false},
                        {1, 9 * 12, 1, true}};
  for (size_t i = 0; i < 4; ++i) {
    const ops::IrnInstance& in = inst[i];
    SCOPED_TRACE(::testing::Message() << "instance " << i);
    EXPECT_EQ(in.channel, want[i].channel);
    EXPECT_EQ(in.component, static_cast<int64_t>(i % 2 + 1));
    EXPECT_EQ(in.area, want[i].area);
    ASSERT_EQ(in.mask.size(), 120u);
    int64_t area = 0, first = -1;
    float best = 0;
    for (int64_t p = 0; p < 120; ++p) {
      if (!in.mask[size_t(p)]) continue;
      EXPECT_EQ(l[size_t(p)], in.channel + 1) << p;
      if (first < 0) first = p;
      ++area;
      best = std::max(best, nv[size_t(in.channel * 120 + p)]);
    }
    EXPECT_EQ(first, want[i].first);
    EXPECT_EQ(area, want[i].area);
    EXPECT_FLOAT_EQ(static_cast<float>(in.score), want[i].small ? 0.f : best);
  }
  // No foreground at all: no instances.
  EXPECT_TRUE(ops::irn_instances(Tensor::zeros({10, 12}, DType::i32, ctx), normalised).empty());
  expect_error([&] { ops::irn_instances(labels.to_dtype(DType::i64), normalised); }, "i32");
  expect_error([&] { ops::irn_instances(labels.view({12, 10}), normalised); }, "(H, W)");
  expect_error([&] { ops::irn_instances(labels, normalised, 2.0); }, "min_area_fraction");
}

// ---- dense CRF ---------------------------------------------------------------------------------

TEST(CrfOps, DenseCrfLabelsEqualKernels) {
  const auto ctx = cpu_context();
  const int64_t H = 9, W = 11;
  const int L = 3;
  std::mt19937 rng(10);
  std::vector<uint8_t> img(size_t(H * W * 3));
  std::vector<int32_t> lab(size_t(H * W));
  for (auto& v : img) v = uint8_t(rng() % 256);
  for (auto& v : lab) v = int32_t(rng() % L);
  const Tensor image = Tensor::from_vector<uint8_t>(img, {H, W, 3}, ctx);
  const Tensor labels = Tensor::from_vector<int32_t>(lab, {H, W}, ctx);
  kernels::DenseCrfParams params;
  params.gt_prob = 0.6;
  const Tensor out = ops::dense_crf_labels(image, labels, L, params);
  ASSERT_EQ(out.shape(), Shape({H, W}));
  std::vector<float> unary(size_t(L * H * W));
  kernels::cpu::crf_unary_from_labels(lab.data(), H, W, L, 0.6, unary.data());
  std::vector<char> ws(kernels::cpu::dense_crf_workspace_bytes(H, W, L));
  std::vector<int32_t> ref(size_t(H * W));
  kernels::cpu::dense_crf(img.data(), unary.data(), H, W, L, params, nullptr, ref.data(),
                          ws.data());
  EXPECT_EQ(out.to_vector<int32_t>(), ref);

  std::vector<int32_t> bad = lab;
  bad[5] = L;
  expect_error([&] { ops::dense_crf_labels(image, Tensor::from_vector<int32_t>(bad, {H, W}, ctx), L); },
               "label 3 at pixel 5");
  expect_error([&] { ops::dense_crf_labels(image.view({W, H, 3}), labels, L); }, "(H, W, 3)");
  expect_error([&] { ops::dense_crf_labels(image, labels.to_dtype(DType::u8), L); }, "i32");
  expect_error([&] { ops::dense_crf_labels(image, labels, 0); }, "L must be >= 1");
}

// ---- CUDA parity -------------------------------------------------------------------------------

#if WSVIS_WITH_CUDA
ContextPtr gpu() { return Context::create(Device::cuda(0)); }
#endif

TEST(IrnInferenceOpsCuda, FlowIrnWrappersParity) {
  WSVIS_REQUIRE_CUDA();
#if WSVIS_WITH_CUDA
  const auto ctx = cpu_context();
  const auto g = gpu();
  for (const Shape& s : {Shape{1, 2, 1, 1}, Shape{2, 2, 33, 47}, Shape{1, 2, 180, 320}}) {
    const Tensor flow = uniform(s, -20, 20, 11, ctx);
    const Tensor m = ops::flow_magnitude(flow), mg = ops::flow_magnitude(flow.to(g));
    EXPECT_TRUE(tensors_close(mg, m, kParityAtol, kParityRtol));
    // The selection is exact on both twins.
    for (double q : {0.0, 0.5, 0.8, 1.0})
      EXPECT_EQ(ops::percentile(mg, q).item<float>(), ops::percentile(m, q).item<float>());
    EXPECT_TRUE(tensors_close(ops::flow_gradient(flow.to(g), 0.25), ops::flow_gradient(flow, 0.25),
                              kParityAtol, kParityRtol));
    const Tensor cams = uniform({s[0], 3, s[2], s[3]}, 0, 1, 12, ctx);
    const Tensor t = ops::percentile(m, 0.8);
    EXPECT_TRUE(tensors_close(ops::fcam_amplify(cams.to(g), m.to(g), t.to(g), 2.0),
                              ops::fcam_amplify(cams, m, t, 2.0), 0, 0));
  }
#endif
}

TEST(IrnInferenceOpsCuda, WalkAndGroupingParity) {
  WSVIS_REQUIRE_CUDA();
#if WSVIS_WITH_CUDA
  const auto ctx = cpu_context();
  const auto g = gpu();
  const IrnPairSet set = kernels::irn_pair_set(kernels::kIrnInferRadius);
  const int64_t H = 30, W = 45, C = 2;
  const Tensor b = uniform({1, 1, H, W}, 0, 1, 13, ctx);
  const Tensor seeds = uniform({C, H, W}, 0, 1, 14, ctx);
  EXPECT_TRUE(tensors_close(ops::irn_random_walk(b.to(g), seeds.to(g), set, 10.0, 256, true),
                            ops::irn_random_walk(b, seeds, set, 10.0, 256, true), kParityAtol,
                            kParityRtol));
  const Tensor disp = field_towards({{7, 9}, {20, 30}, {25, 5}}, H, W, ctx);
  const Tensor c = ops::find_centroids(disp), cg = ops::find_centroids(disp.to(g));
  EXPECT_EQ(cg.to_vector<int32_t>(), c.to_vector<int32_t>());
  const ops::CentroidClusters cl = ops::cluster_centroids(disp, c);
  const ops::CentroidClusters clg = ops::cluster_centroids(disp.to(g), cg);
  EXPECT_EQ(clg.count, cl.count);
  EXPECT_EQ(clg.instance_map.to_vector<int32_t>(), cl.instance_map.to_vector<int32_t>());
  EXPECT_TRUE(tensors_close(ops::instance_seeds(seeds.to(g), clg.instance_map, clg.count),
                            ops::instance_seeds(seeds, cl.instance_map, cl.count), 0, 0));
  const Tensor rw = uniform({C, H + 3, W + 2}, 0, 1, 15, ctx);
  const ops::WalkLabels wl = ops::irn_walk_labels(rw, H, W, 0.25);
  const ops::WalkLabels wlg = ops::irn_walk_labels(rw.to(g), H, W, 0.25);
  EXPECT_EQ(wlg.labels.to_vector<int32_t>(), wl.labels.to_vector<int32_t>());
  EXPECT_TRUE(tensors_close(wlg.normalised, wl.normalised, 0, 0));
#endif
}

TEST(IrnInferenceOpsCuda, InstancesParity) {
  WSVIS_REQUIRE_CUDA();
#if WSVIS_WITH_CUDA
  const auto ctx = cpu_context();
  const Tensor labels = instance_labels(ctx);
  const Tensor normalised = uniform({2, 10, 12}, 0, 1, 16, ctx);
  const auto a = ops::irn_instances(labels, normalised);
  const auto b = ops::irn_instances(labels.to(gpu()), normalised.to(gpu()));
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].channel, b[i].channel);
    EXPECT_EQ(a[i].component, b[i].component);
    EXPECT_EQ(a[i].area, b[i].area);
    EXPECT_EQ(a[i].score, b[i].score);
    EXPECT_EQ(a[i].mask, b[i].mask);
  }
#endif
}

TEST(IrnInferenceOpsCuda, DenseCrfLabelsParity) {
  WSVIS_REQUIRE_CUDA();
#if WSVIS_WITH_CUDA
  // The GPU lattice splats with atomics: labels may differ only where the marginals are within
  // float noise of a tie, so clean blocks of labels are compared exactly.
  const auto ctx = cpu_context();
  const int64_t H = 40, W = 60;
  std::vector<uint8_t> img(size_t(H * W * 3));
  std::vector<int32_t> lab(size_t(H * W));
  for (int64_t y = 0; y < H; ++y)
    for (int64_t x = 0; x < W; ++x) {
      const int32_t l = x < W / 3 ? 0 : (y < H / 2 ? 1 : 2);
      lab[size_t(y * W + x)] = l;
      for (int k = 0; k < 3; ++k) img[size_t((y * W + x) * 3 + k)] = uint8_t(60 * l + 20 * k);
    }
  const Tensor image = Tensor::from_vector<uint8_t>(img, {H, W, 3}, ctx);
  const Tensor labels = Tensor::from_vector<int32_t>(lab, {H, W}, ctx);
  const Tensor a = ops::dense_crf_labels(image, labels, 3);
  const Tensor b = ops::dense_crf_labels(image.to(gpu()), labels.to(gpu()), 3);
  EXPECT_EQ(b.to_vector<int32_t>(), a.to_vector<int32_t>());
  EXPECT_EQ(a.to_vector<int32_t>(), lab);  // clean labels on matching colours are kept
#endif
}

}  // namespace
}  // namespace wsvis
