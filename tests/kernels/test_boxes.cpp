// Boxes family, non-NMS parts: pairwise overlaps, detectron2 box coding, FCOS coding,
// clipping, anchors and FCOS locations. CPU twin against hand-computed values and naive
// formulas; CUDA twin against the CPU twin (skipped without a GPU).
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/boxes.h"
#include "tests/kernels/boxes_testing.h"
#include "tests/support/testing.h"

namespace wsvis {
namespace {

namespace kc = kernels::cpu;
using kernels::AnchorSpec;
using kernels::BoxCoderWeights;
using kernels::Overlap;
using testing::boxes::random_boxes;

// ---- pairwise overlaps ----------------------------------------------------------------------

TEST(BoxOverlap, HandComputed) {
  // a0 = [0,10]^2 (area 100); a1 = [2,4]^2 (area 4); a2 zero-area point.
  const std::vector<double> a = {0, 0, 10, 10, 2, 2, 4, 4, 3, 3, 3, 3};
  // b0 = [5,15]^2: with a0 inter 25, union 175. b1 = a0. b2 touches a0 along x = 10.
  // b3 = zero-area point.
  const std::vector<double> b = {5, 5, 15, 15, 0, 0, 10, 10, 10, 0, 20, 10, 3, 3, 3, 3};
  std::vector<double> iou(12), ioa(12), iom(12);
  kc::box_overlap(a.data(), 3, b.data(), 4, Overlap::iou, iou.data());
  kc::box_overlap(a.data(), 3, b.data(), 4, Overlap::ioa, ioa.data());
  kc::box_overlap(a.data(), 3, b.data(), 4, Overlap::iom, iom.data());
  const double expect_iou[12] = {25.0 / 175, 1, 0, 0, 0, 4.0 / 100, 0, 0, 0, 0, 0, 0};
  const double expect_ioa[12] = {25.0 / 100, 1, 0, 0, 0, 4.0 / 100, 0, 0, 0, 0, 0, 0};
  const double expect_iom[12] = {25.0 / 100, 1, 0, 0, 0, 4.0 / 4, 0, 0, 0, 0, 0, 0};
  for (int e = 0; e < 12; ++e) {
    EXPECT_NEAR(iou[e], expect_iou[e], 1e-15) << "iou " << e;
    EXPECT_NEAR(ioa[e], expect_ioa[e], 1e-15) << "ioa " << e;
    EXPECT_NEAR(iom[e], expect_iom[e], 1e-15) << "iom " << e;
  }
}

TEST(BoxOverlap, MatchesNaiveFormulaOnRandomBoxes) {
  std::mt19937 rng(3);
  const int64_t n = 23, m = 31;
  const auto a = random_boxes<double>(rng, n), b = random_boxes<double>(rng, m);
  std::vector<double> iou(n * m);
  kc::box_overlap(a.data(), n, b.data(), m, Overlap::iou, iou.data());
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < m; ++j) {
      const double* p = &a[4 * i];
      const double* q = &b[4 * j];
      // torchvision box_iou: lt = max, rb = min, wh clamped at 0.
      const double w = std::max(0.0, std::min(p[2], q[2]) - std::max(p[0], q[0]));
      const double h = std::max(0.0, std::min(p[3], q[3]) - std::max(p[1], q[1]));
      const double ua = (p[2] - p[0]) * (p[3] - p[1]) + (q[2] - q[0]) * (q[3] - q[1]) - w * h;
      EXPECT_NEAR(iou[i * m + j], w * h / ua, 1e-14);
    }
}

// ---- detectron2 Box2BoxTransform ---------------------------------------------------------------

TEST(BoxCoding, EncodeKnownValues) {
  // src (0,0,10,20): w 10, h 20, centre (5, 10).
  // t0 (2,4,12,24): same size, centre (7, 14): dx = 10*2/10 = 2, dy = 10*4/20 = 2, dw = dh = 0.
  // t1 (0,0,20,10): w 20, h 10, centre (10, 5): dx = 10*5/10 = 5, dy = 10*(-5)/20 = -2.5,
  //     dw = 5 log 2, dh = 5 log 0.5.
  const std::vector<double> src = {0, 0, 10, 20, 0, 0, 10, 20};
  const std::vector<double> tgt = {2, 4, 12, 24, 0, 0, 20, 10};
  std::vector<double> d(8);
  kc::box_encode(src.data(), tgt.data(), 2, BoxCoderWeights::roi_heads(), d.data());
  const double five_log2 = 3.4657359027997265;
  const double expect[8] = {2, 2, 0, 0, 5, -2.5, five_log2, -five_log2};
  for (int e = 0; e < 8; ++e) EXPECT_NEAR(d[e], expect[e], 1e-12) << e;
  // RPN weights (1,1,1,1): everything divided by the box-head weights.
  kc::box_encode(src.data(), tgt.data(), 2, BoxCoderWeights::rpn(), d.data());
  const double expect_rpn[8] = {0.2, 0.2, 0, 0, 0.5, -0.25, five_log2 / 5, -five_log2 / 5};
  for (int e = 0; e < 8; ++e) EXPECT_NEAR(d[e], expect_rpn[e], 1e-12) << e;
}

TEST(BoxCoding, DecodeClampsAtLog1000Over16) {
  // Box (0,0,16,16), deltas (0, 0, 50, 50) with weights (10,10,5,5): dw = 10 > log(62.5), so
  // the width becomes exp(log 62.5) * 16 = 1000 around centre 8.
  const std::vector<double> box = {0, 0, 16, 16};
  const std::vector<double> d = {0, 0, 50, 50};
  std::vector<double> out(4);
  kc::box_decode(box.data(), d.data(), 1, 1, BoxCoderWeights::roi_heads(), out.data());
  const double expect[4] = {-492, -492, 508, 508};
  for (int e = 0; e < 4; ++e) EXPECT_NEAR(out[e], expect[e], 1e-9) << e;
  // A known non-clamped case: dx = 10*0.5 -> centre moves by w/2 = 8 to 16; dw = 5 log 2 -> 32.
  const std::vector<double> d2 = {5, 0, 3.4657359027997265, 0};
  kc::box_decode(box.data(), d2.data(), 1, 1, BoxCoderWeights::roi_heads(), out.data());
  const double expect2[4] = {0, 0, 32, 16};
  for (int e = 0; e < 4; ++e) EXPECT_NEAR(out[e], expect2[e], 1e-9) << e;
}

TEST(BoxCoding, RoundTripWithClassSpecificDeltas) {
  std::mt19937 rng(5);
  const int64_t n = 50, k = 3;
  for (const BoxCoderWeights& w : {BoxCoderWeights::roi_heads(), BoxCoderWeights::rpn()}) {
    const auto src = random_boxes<double>(rng, n, 200.0, 4.0, 80.0);
    const auto tgt = random_boxes<double>(rng, n * k, 200.0, 4.0, 80.0);
    // Encode each class's target against the same source box, then decode (N, K*4) at once.
    std::vector<double> deltas(n * k * 4), back(n * k * 4);
    for (int64_t c = 0; c < k; ++c)
      for (int64_t i = 0; i < n; ++i)
        kc::box_encode(&src[4 * i], &tgt[4 * (i * k + c)], 1, w, &deltas[4 * (i * k + c)]);
    kc::box_decode(src.data(), deltas.data(), n, k, w, back.data());
    for (size_t e = 0; e < back.size(); ++e) EXPECT_NEAR(back[e], tgt[e], 1e-9) << e;
  }
}

TEST(FcosCoding, KnownValuesAndRoundTrip) {
  // Location (50, 60), box (30, 20, 90, 100): l = 20, t = 40, r = 40, b = 40; stride 8.
  const std::vector<double> p = {50, 60, 50, 60};
  const std::vector<double> box = {30, 20, 90, 100, 30, 20, 90, 100};
  const std::vector<double> scales = {1, 8};
  std::vector<double> ltrb(8), back(8);
  kc::fcos_encode(p.data(), box.data(), scales.data(), 2, ltrb.data());
  const double expect[8] = {20, 40, 40, 40, 2.5, 5, 5, 5};
  for (int e = 0; e < 8; ++e) EXPECT_DOUBLE_EQ(ltrb[e], expect[e]) << e;
  kc::fcos_decode(p.data(), ltrb.data(), scales.data(), 2, back.data());
  for (int e = 0; e < 8; ++e) EXPECT_DOUBLE_EQ(back[e], box[e]) << e;
  kc::fcos_encode(p.data(), box.data(), static_cast<const double*>(nullptr), 1, ltrb.data());
  for (int e = 0; e < 4; ++e) EXPECT_DOUBLE_EQ(ltrb[e], expect[e]) << e;
}

TEST(ClipBoxes, ClampsToImage) {
  std::vector<float> b = {-5, -1, 700, 300, 10, 20, 30, 40};
  kc::clip_boxes(b.data(), 2, 240.0f, 640.0f);  // height 240, width 640
  const float expect[8] = {0, 0, 640, 240, 10, 20, 30, 40};
  for (int e = 0; e < 8; ++e) EXPECT_EQ(b[e], expect[e]) << e;
}

// ---- anchors ----------------------------------------------------------------------------------

TEST(Anchors, Detectron2P2OnTinyMap) {
  // P2: size 32, stride 4, ratios (0.5, 1, 2), offset 0. Cell anchors (w = sqrt(32^2/r),
  // h = r*w): r=0.5 -> 45.2548 x 22.6274, r=1 -> 32 x 32, r=2 -> 22.6274 x 45.2548.
  const double big = 22.627416997969522, small = 11.313708498984761;
  const double cells[3][4] = {{-big, -small, big, small},
                              {-16, -16, 16, 16},
                              {-small, -big, small, big}};
  const int64_t h = 2, w = 3;
  std::vector<float> out(h * w * 3 * 4);
  kc::anchors(out.data(), h, w, AnchorSpec::detectron2_level(0));
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x)
      for (int a = 0; a < 3; ++a) {
        const float* o = &out[((y * w + x) * 3 + a) * 4];
        const double sx = 4.0 * x, sy = 4.0 * y;
        EXPECT_NEAR(o[0], sx + cells[a][0], 1e-5);
        EXPECT_NEAR(o[1], sy + cells[a][1], 1e-5);
        EXPECT_NEAR(o[2], sx + cells[a][2], 1e-5);
        EXPECT_NEAR(o[3], sy + cells[a][3], 1e-5);
      }
  // Last anchor of the map: (y, x) = (1, 2), ratio 2: centre (8, 4).
  EXPECT_NEAR(out.back(), 4 + big, 1e-5);
}

TEST(Anchors, SizesRatiosOffsetAndLevels) {
  // Two sizes x one ratio, stride 16, offset 0.5: centres at (16x + 8, 16y + 8); size-major.
  AnchorSpec s;
  s.num_sizes = 2;
  s.sizes[0] = 64;
  s.sizes[1] = 128;
  s.num_ratios = 1;
  s.ratios[0] = 1.0;
  s.stride = 16;
  s.offset = 0.5;
  std::vector<double> out(1 * 2 * 2 * 4);
  kc::anchors(out.data(), 1, 2, s);
  const double expect[16] = {-24, -24, 40, 40, -56, -56, 72, 72,
                             -8,  -24, 56, 40, -40, -56, 88, 72};
  for (int e = 0; e < 16; ++e) EXPECT_DOUBLE_EQ(out[e], expect[e]) << e;
  // detectron2 defaults P2..P6: size 32..512, stride 4..64.
  for (int level = 0; level < 5; ++level) {
    const AnchorSpec d = AnchorSpec::detectron2_level(level);
    EXPECT_EQ(d.sizes[0], 32.0 * (1 << level));
    EXPECT_EQ(d.stride, 4.0 * (1 << level));
    EXPECT_EQ(d.anchors_per_cell(), 3);
  }
}

TEST(FcosLocations, CellCentres) {
  std::vector<float> out(2 * 3 * 2);
  kc::fcos_locations(out.data(), 2, 3, 8);
  const float expect[12] = {4, 4, 12, 4, 20, 4, 4, 12, 12, 12, 20, 12};
  for (int e = 0; e < 12; ++e) EXPECT_EQ(out[e], expect[e]) << e;
  std::vector<float> odd(2);
  kc::fcos_locations(odd.data(), 1, 1, 3);  // 3 // 2 = 1
  EXPECT_EQ(odd[0], 1.0f);
}

// ---- CUDA parity ------------------------------------------------------------------------------

#if WSVIS_WITH_CUDA
namespace kg = kernels::cuda;
using testing::boxes::DeviceBuffer;

template <typename T>
void expect_close(const std::vector<T>& got, const std::vector<T>& ref, double atol, double rtol,
                  const char* what) {
  ASSERT_EQ(got.size(), ref.size()) << what;
  int faults = 0;
  for (size_t i = 0; i < ref.size() && faults < 5; ++i)
    if (!(std::fabs(double(got[i]) - double(ref[i])) <= atol + rtol * std::fabs(double(ref[i]))))
      ADD_FAILURE() << what << " [" << i << "] " << got[i] << " vs " << ref[i] << " (fault "
                    << ++faults << ")";
}
#endif

TEST(BoxesCuda, OverlapParity) {
  WSVIS_REQUIRE_CUDA();
#if WSVIS_WITH_CUDA
  std::mt19937 rng(11);
  const int64_t sizes[][2] = {{0, 5}, {5, 0}, {1, 1}, {37, 53}, {1000, 777}};
  for (auto nm : sizes) {
    const auto a = random_boxes<float>(rng, nm[0]), b = random_boxes<float>(rng, nm[1]);
    for (Overlap kind : {Overlap::iou, Overlap::ioa, Overlap::iom}) {
      std::vector<float> ref(nm[0] * nm[1]);
      kc::box_overlap(a.data(), nm[0], b.data(), nm[1], kind, ref.data());
      DeviceBuffer<float> da(a), db(b), dout(ref.size());
      kg::box_overlap<float>(nullptr, da.get(), nm[0], db.get(), nm[1], kind, dout.get());
      // The products avoid FMA contraction (mul_rn), so the twins agree to the bit.
      EXPECT_EQ(dout.host(), ref) << nm[0] << "x" << nm[1] << " kind " << int(kind);
    }
  }
#endif
}

TEST(BoxesCuda, CodingAnchorsLocationsParity) {
  WSVIS_REQUIRE_CUDA();
#if WSVIS_WITH_CUDA
  std::mt19937 rng(12);
  for (int64_t n : {0, 1, 333}) {
    const int64_t k = 3;
    const auto src = random_boxes<float>(rng, n, 300, 4, 90);
    const auto tgt = random_boxes<float>(rng, n, 300, 4, 90);
    std::vector<float> deltas(n * 4), dec(n * k * 4), kdeltas(n * k * 4);
    std::uniform_real_distribution<float> u(-8, 8);  // beyond the clamp sometimes
    for (auto& v : kdeltas) v = u(rng);
    kc::box_encode(src.data(), tgt.data(), n, BoxCoderWeights{}, deltas.data());
    kc::box_decode(src.data(), kdeltas.data(), n, k, BoxCoderWeights{}, dec.data());
    DeviceBuffer<float> dsrc(src), dtgt(tgt), dd(deltas.size()), dk(kdeltas), ddec(dec.size());
    kg::box_encode<float>(nullptr, dsrc.get(), dtgt.get(), n, BoxCoderWeights{}, dd.get());
    kg::box_decode<float>(nullptr, dsrc.get(), dk.get(), n, k, BoxCoderWeights{}, ddec.get());
    // logf/expf differ by an ulp or two between glibc and CUDA: relative 1e-5 covers it.
    expect_close(dd.host(), deltas, 1e-5, 1e-5, "encode");
    expect_close(ddec.host(), dec, 1e-3, 1e-5, "decode");

    std::vector<float> pts(n * 2), sc(n), ltrb(n * 4), fb(n * 4);
    for (auto& v : pts) v = std::fabs(u(rng)) * 30;
    for (auto& v : sc) v = 8;
    kc::fcos_encode(pts.data(), tgt.data(), sc.data(), n, ltrb.data());
    kc::fcos_decode(pts.data(), ltrb.data(), sc.data(), n, fb.data());
    DeviceBuffer<float> dp(pts), ds(sc), dl(ltrb.size()), dfb(fb.size());
    kg::fcos_encode<float>(nullptr, dp.get(), dtgt.get(), ds.get(), n, dl.get());
    kg::fcos_decode<float>(nullptr, dp.get(), dl.get(), ds.get(), n, dfb.get());
    EXPECT_EQ(dl.host(), ltrb);
    EXPECT_EQ(dfb.host(), fb);

    std::vector<float> clip = tgt;
    kc::clip_boxes(clip.data(), n, 120.0f, 200.0f);
    DeviceBuffer<float> dc(tgt);
    kg::clip_boxes<float>(nullptr, dc.get(), n, 120.0f, 200.0f);
    EXPECT_EQ(dc.host(), clip);
  }
  const int64_t dims[][2] = {{0, 4}, {1, 1}, {7, 13}, {200, 336}};
  for (auto hw : dims)
    for (int level = 0; level < 5; ++level) {
      const AnchorSpec spec = AnchorSpec::detectron2_level(level);
      std::vector<float> ref(hw[0] * hw[1] * 3 * 4);
      kc::anchors(ref.data(), hw[0], hw[1], spec);
      DeviceBuffer<float> d(ref.size());
      kg::anchors<float>(nullptr, d.get(), hw[0], hw[1], spec);
      EXPECT_EQ(d.host(), ref) << hw[0] << "x" << hw[1] << " level " << level;
      std::vector<float> loc(hw[0] * hw[1] * 2);
      kc::fcos_locations(loc.data(), hw[0], hw[1], 8 << level);
      DeviceBuffer<float> dl(loc.size());
      kg::fcos_locations<float>(nullptr, dl.get(), hw[0], hw[1], 8 << level);
      EXPECT_EQ(dl.host(), loc);
    }
  CUDA_CHECK(cudaDeviceSynchronize());
#endif
}

}  // namespace
}  // namespace wsvis
