// Mask IoU / IoM matrices and IoM-NMS on masks: the CPU twin against hand-computed values and
// naive references written here (boolean grids, doubles); the CUDA twin (bit-packed popcount
// tiles) against the CPU twin, exactly, since both divide the same integer counts in double.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "kernels/boxes.h"
#include "tests/kernels/boxes_testing.h"
#include "tests/support/testing.h"

namespace wsvis {
namespace {

namespace kc = kernels::cpu;
using testing::boxes::random_masks;
using testing::boxes::Workspace;

struct Ratios {
  std::vector<double> iou, iom;
};

Ratios cpu_overlap(const std::vector<uint8_t>& a, int64_t k, const std::vector<uint8_t>& b,
                   int64_t l, int64_t pixels) {
  Workspace ws(kc::mask_overlap_workspace_bytes(k, l, pixels));
  Ratios r{std::vector<double>(size_t(k * l), -1), std::vector<double>(size_t(k * l), -1)};
  kc::mask_overlap(a.data(), k, b.data(), l, pixels, r.iou.data(), r.iom.data(), ws.data(),
                   ws.bytes());
  return r;
}

TEST(MaskOverlap, HandComputed) {
  // 4x4 masks. a0 = top-left 2x2 (area 4), a1 = empty.
  // b0 = top two rows (area 8): with a0 inter 4 -> IoU 4/8 = 0.5, IoM 4/4 = 1.
  // b1 = bottom-right pixel (area 1): disjoint from a0 -> 0, 0. b2 = empty.
  std::vector<uint8_t> a(2 * 16, 0), b(3 * 16, 0);
  for (int y = 0; y < 2; ++y)
    for (int x = 0; x < 2; ++x) a[size_t(y * 4 + x)] = 255;
  for (int p = 0; p < 8; ++p) b[size_t(p)] = 1;
  b[16 + 15] = 3;
  const Ratios r = cpu_overlap(a, 2, b, 3, 16);
  const double iou[6] = {0.5, 0, 0, 0, 0, 0};
  const double iom[6] = {1.0, 0, 0, 0, 0, 0};
  for (int e = 0; e < 6; ++e) {
    EXPECT_EQ(r.iou[size_t(e)], iou[e]) << e;
    EXPECT_EQ(r.iom[size_t(e)], iom[e]) << e;
  }
  // Two empty masks: defined as 0 for both (documented in kernels/boxes.h).
  EXPECT_EQ(r.iou[5], 0.0);
  EXPECT_EQ(r.iom[5], 0.0);
}

TEST(MaskOverlap, MatchesNaiveOnRandomMasksOddSizes) {
  for (uint32_t seed = 0; seed < 12; ++seed) {
    std::mt19937 rng(seed);
    const int64_t k = 1 + seed % 7, l = 1 + (seed * 3) % 9, h = 5 + seed % 11, w = 3 + seed % 13;
    const auto a = random_masks(rng, k, h, w), b = random_masks(rng, l, h, w);
    const Ratios r = cpu_overlap(a, k, b, l, h * w);
    for (int64_t i = 0; i < k; ++i)
      for (int64_t j = 0; j < l; ++j) {
        double inter = 0, ua = 0, ub = 0;
        for (int64_t p = 0; p < h * w; ++p) {
          const bool x = a[size_t(i * h * w + p)] > 0, y = b[size_t(j * h * w + p)] > 0;
          inter += x && y;
          ua += x;
          ub += y;
        }
        const double uni = ua + ub - inter, small = std::min(ua, ub);
        EXPECT_EQ(r.iou[size_t(i * l + j)], uni > 0 ? inter / uni : 0.0) << seed;
        EXPECT_EQ(r.iom[size_t(i * l + j)], small > 0 ? inter / small : 0.0) << seed;
      }
  }
}

TEST(MaskOverlap, FloatOutputAndNullOutputs) {
  std::mt19937 rng(4);
  const auto a = random_masks(rng, 3, 9, 7);
  Workspace ws(kc::mask_overlap_workspace_bytes(3, 3, 63));
  std::vector<float> iom(9, -1);
  kc::mask_overlap<float>(a.data(), 3, a.data(), 3, 63, nullptr, iom.data(), ws.data(),
                          ws.bytes());
  const Ratios r = cpu_overlap(a, 3, a, 3, 63);
  for (int e = 0; e < 9; ++e) EXPECT_EQ(iom[size_t(e)], float(r.iom[size_t(e)]));
}

// ---- IoM-NMS ----------------------------------------------------------------------------------

// Naive reference: stable order by score (NaN and -inf dropped), keep a mask unless a kept
// mask covers more than `thr` of the smaller of the two.
std::vector<int32_t> naive_iom_nms(const std::vector<uint8_t>& masks, const std::vector<float>& s,
                                   int64_t pixels, double thr) {
  std::vector<int32_t> order;
  for (size_t i = 0; i < s.size(); ++i)
    if (s[i] > -std::numeric_limits<float>::infinity()) order.push_back(int32_t(i));
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return s[a] > s[b]; });
  std::vector<int32_t> kept;
  for (int32_t i : order) {
    bool suppressed = false;
    for (int32_t k : kept) {
      int64_t inter = 0, ai = 0, ak = 0;
      for (int64_t p = 0; p < pixels; ++p) {
        const bool x = masks[size_t(i * pixels + p)] != 0, y = masks[size_t(k * pixels + p)] != 0;
        inter += x && y;
        ai += x;
        ak += y;
      }
      const int64_t small = std::min(ai, ak);
      if (small > 0 && double(inter) / double(small) > thr) suppressed = true;
    }
    if (!suppressed) kept.push_back(i);
  }
  return kept;
}

std::vector<int32_t> cpu_iom_nms(const std::vector<uint8_t>& masks, const std::vector<float>& s,
                                 int64_t pixels, double thr) {
  const int64_t n = int64_t(s.size());
  Workspace ws(kc::mask_iom_nms_workspace_bytes(n, pixels));
  std::vector<int32_t> keep(size_t(n), 7777);
  int32_t count = -1;
  kc::mask_iom_nms(masks.data(), s.data(), n, pixels, thr, keep.data(), &count, ws.data(),
                   ws.bytes());
  for (int64_t i = count; i < n; ++i) EXPECT_EQ(keep[size_t(i)], -1);
  keep.resize(size_t(count));
  return keep;
}

TEST(MaskIomNms, HandComputed) {
  // 1x8 "images". m0 = pixels 0..3 (score .9), m1 = pixels 2..3 (score .8): IoM = 2/2 = 1 ->
  // suppressed. m2 = pixels 3..6 (score .7): with m0 IoM = 1/4 -> kept. m3 empty: kept (IoM 0
  // with everything). m4 = pixels 5..6 (score .95): IoM with m2 = 2/2 -> m2 is suppressed by m4,
  // which comes first.
  const int64_t pixels = 8;
  std::vector<uint8_t> m(5 * 8, 0);
  for (int p : {0, 1, 2, 3}) m[size_t(0 * 8 + p)] = 1;
  for (int p : {2, 3}) m[size_t(1 * 8 + p)] = 1;
  for (int p : {3, 4, 5, 6}) m[size_t(2 * 8 + p)] = 1;
  for (int p : {5, 6}) m[size_t(4 * 8 + p)] = 1;
  const std::vector<float> s = {0.9f, 0.8f, 0.7f, 0.6f, 0.95f};
  EXPECT_EQ(cpu_iom_nms(m, s, pixels, 0.5), (std::vector<int32_t>{4, 0, 3}));
  // At threshold exactly 1.0 nothing is suppressed (strictly greater).
  EXPECT_EQ(cpu_iom_nms(m, s, pixels, 1.0), (std::vector<int32_t>{4, 0, 1, 2, 3}));
  EXPECT_TRUE(cpu_iom_nms({}, {}, 64, 0.5).empty());
}

TEST(MaskIomNms, MatchesNaiveOnRandomMasks) {
  int suppressed_cases = 0;
  for (uint32_t seed = 0; seed < 40; ++seed) {
    std::mt19937 rng(100 + seed);
    const int64_t n = std::uniform_int_distribution<int64_t>(0, 40)(rng), h = 17, w = 13;
    const auto masks = random_masks(rng, n, h, w);
    auto s = testing::boxes::random_scores<float>(rng, n, seed % 2 ? 8 : 0);
    if (n > 2) s[1] = std::numeric_limits<float>::quiet_NaN();
    const double thr = seed % 3 == 0 ? 0.3 : 0.5;
    const auto got = cpu_iom_nms(masks, s, h * w, thr);
    EXPECT_EQ(got, naive_iom_nms(masks, s, h * w, thr)) << "seed " << seed;
    suppressed_cases += int64_t(got.size()) + (n > 2) < n;
  }
  EXPECT_GT(suppressed_cases, 20);
}

// ---- CUDA parity ------------------------------------------------------------------------------

TEST(MaskOverlapCuda, ParityWithCpuTwin) {
  WSVIS_REQUIRE_CUDA();
#if WSVIS_WITH_CUDA
  namespace kg = kernels::cuda;
  using testing::boxes::DeviceBuffer;
  const int64_t cases[][4] = {{0, 3, 5, 5}, {3, 0, 5, 5}, {1, 1, 1, 1},   {7, 5, 13, 11},
                              {33, 65, 31, 33}, {100, 100, 67, 113}, {2, 3, 0, 0}};
  uint32_t seed = 9;
  for (auto c : cases) {
    std::mt19937 rng(seed++);
    const int64_t k = c[0], l = c[1], pixels = c[2] * c[3];
    const auto a = random_masks(rng, k, c[2], c[3]), b = random_masks(rng, l, c[2], c[3]);
    const Ratios ref = cpu_overlap(a, k, b, l, pixels);
    DeviceBuffer<uint8_t> da(a), db(b);
    DeviceBuffer<double> diou(size_t(k * l)), diom(size_t(k * l));
    const size_t bytes = kg::mask_overlap_workspace_bytes(k, l, pixels);
    DeviceBuffer<uint8_t> ws(bytes);
    kg::mask_overlap<double>(nullptr, da.get(), k, db.get(), l, pixels, diou.get(), diom.get(),
                             ws.get(), bytes);
    EXPECT_EQ(diou.host(), ref.iou) << k << "x" << l << " at " << pixels << " pixels";
    EXPECT_EQ(diom.host(), ref.iom) << k << "x" << l << " at " << pixels << " pixels";
  }
  CUDA_CHECK(cudaDeviceSynchronize());
#endif
}

TEST(MaskIomNmsCuda, ParityWithCpuTwin) {
  WSVIS_REQUIRE_CUDA();
#if WSVIS_WITH_CUDA
  namespace kg = kernels::cuda;
  using testing::boxes::DeviceBuffer;
  const int64_t cases[][3] = {{0, 4, 4}, {1, 3, 3}, {65, 17, 13}, {150, 50, 70}};
  uint32_t seed = 21;
  for (auto c : cases) {
    std::mt19937 rng(seed++);
    const int64_t n = c[0], pixels = c[1] * c[2];
    const auto masks = random_masks(rng, n, c[1], c[2]);
    auto s = testing::boxes::random_scores<float>(rng, n, 10);
    if (n > 3) s[3] = -INFINITY;
    const auto ref = cpu_iom_nms(masks, s, pixels, 0.5);
    DeviceBuffer<uint8_t> dm(masks);
    DeviceBuffer<float> ds(s);
    DeviceBuffer<int32_t> dkeep(static_cast<size_t>(n)), dcount(1);
    dkeep.poison();
    dcount.poison();
    const size_t bytes = kg::mask_iom_nms_workspace_bytes(n, pixels);
    DeviceBuffer<uint8_t> ws(bytes);
    kg::mask_iom_nms(nullptr, dm.get(), ds.get(), n, pixels, 0.5, dkeep.get(), dcount.get(),
                     ws.get(), bytes);
    const int32_t count = dcount.host()[0];
    auto keep = dkeep.host();
    for (int64_t i = count; i < n; ++i) EXPECT_EQ(keep[size_t(i)], -1);
    keep.resize(size_t(std::max(count, 0)));
    EXPECT_EQ(keep, ref) << "n=" << n;
  }
  CUDA_CHECK(cudaDeviceSynchronize());
#endif
}

}  // namespace
}  // namespace wsvis
