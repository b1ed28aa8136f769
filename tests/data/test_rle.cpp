// COCO RLE: hand-worked encodings, the compressed string form, measures, set operations,
// IoU/IoM and polygon/box rasterisation. (tests/python/test_rle_pycocotools.py compares all of
// it with pycocotools on hundreds of random cases; here are the cases one can check by hand.)
#include <gtest/gtest.h>

#include <random>

#include "data/rle.h"
#include "engine/error.h"

namespace wsvis::data {
namespace {

// Rows of '0'/'1' characters -> (h, w) row-major mask.
std::vector<uint8_t> mask_of(const std::vector<std::string>& rows) {
  std::vector<uint8_t> m;
  for (const auto& r : rows)
    for (char c : r) m.push_back(c == '1' ? 1 : 0);
  return m;
}

std::vector<uint8_t> random_mask(int h, int w, double p, std::mt19937& rng) {
  std::bernoulli_distribution bit(p);
  std::vector<uint8_t> m(static_cast<size_t>(h) * w);
  for (auto& v : m) v = bit(rng) ? 1 : 0;
  return m;
}

TEST(Rle, HandWorked3x4) {
  // Columns top to bottom: 000 | 011 | 011 | 001 -> 0000 11 0 11 00 1.
  const auto m = mask_of({"0000", "0110", "0111"});
  const Rle r = rle_encode(m, 3, 4);
  EXPECT_EQ(r.h, 3);
  EXPECT_EQ(r.w, 4);
  EXPECT_EQ(r.counts, (std::vector<uint32_t>{4, 2, 1, 2, 2, 1}));
  // 4, 2, 1 raw; then 2-2=0, 2-1=1, 1-2=-1 -> '4' '2' '1' '0' '1' and -1 = 31 -> 'O'.
  EXPECT_EQ(rle_to_string(r), "42101O");
  EXPECT_EQ(rle_area(r), 5);
  EXPECT_EQ(rle_to_bbox(r), (BoxXywh{1, 1, 3, 2}));
  EXPECT_EQ(rle_decode(r), m);
  EXPECT_EQ(rle_from_string("42101O", 3, 4), r);
}

TEST(Rle, EdgeMasks) {
  EXPECT_EQ(rle_encode(mask_of({"000", "000"}), 2, 3).counts, (std::vector<uint32_t>{6}));
  EXPECT_EQ(rle_encode(mask_of({"111", "111"}), 2, 3).counts, (std::vector<uint32_t>{0, 6}));
  // Only the first pixel (column-major index 0) set: a leading zero-length background run.
  EXPECT_EQ(rle_encode(mask_of({"100", "000"}), 2, 3).counts, (std::vector<uint32_t>{0, 1, 5}));
  // Only the last pixel set.
  EXPECT_EQ(rle_encode(mask_of({"000", "001"}), 2, 3).counts, (std::vector<uint32_t>{5, 1}));
  const Rle empty = rle_encode(std::vector<uint8_t>{}, 0, 0);
  EXPECT_EQ(empty.counts, (std::vector<uint32_t>{0}));
  EXPECT_EQ(rle_area(empty), 0);
  EXPECT_EQ(rle_to_bbox(empty), (BoxXywh{0, 0, 0, 0}));
  EXPECT_EQ(rle_to_bbox(rle_encode(mask_of({"000", "000"}), 2, 3)), (BoxXywh{0, 0, 0, 0}));
  // Nonzero values other than 1 are foreground.
  EXPECT_EQ(rle_encode(std::vector<uint8_t>{0, 7, 255, 0}, 2, 2), rle_encode(mask_of({"01", "10"}), 2, 2));
}

TEST(Rle, ColumnMajorEncodeMatchesRowMajor) {
  std::mt19937 rng(3);
  const int h = 7, w = 5;
  const auto m = random_mask(h, w, 0.4, rng);
  std::vector<uint8_t> cm(m.size());
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) cm[static_cast<size_t>(x) * h + y] = m[static_cast<size_t>(y) * w + x];
  EXPECT_EQ(rle_encode_colmajor(cm.data(), h, w), rle_encode(m, h, w));
}

TEST(Rle, StringOfKnownBox) {
  // spec C.3 / mmdetection vis_sample.json: a 50x50 box at x, y = 100..149 in 720x1280.
  std::vector<uint8_t> m(720 * 1280, 0);
  for (int y = 100; y < 150; ++y)
    for (int x = 100; x < 150; ++x) m[static_cast<size_t>(y) * 1280 + x] = 1;
  const Rle r = rle_encode(m, 720, 1280);
  ASSERT_EQ(r.counts.size(), 101u);
  EXPECT_EQ(r.counts[0], 72100u);
  EXPECT_EQ(r.counts[1], 50u);
  EXPECT_EQ(r.counts[2], 670u);
  EXPECT_EQ(rle_area(r), 2500);
  EXPECT_EQ(rle_to_bbox(r), (BoxXywh{100, 100, 50, 50}));
  // 72100 -> "T]V2", 50 -> "b1", 670 -> "nd0", 97 unchanged differences -> "0",
  // the last run 814170 - 670 -> "l]jh0".
  const std::string expected = "T]V2b1nd0" + std::string(97, '0') + "l]jh0";
  EXPECT_EQ(rle_to_string(r), expected);
  EXPECT_EQ(rle_from_string(expected, 720, 1280), r);
}

TEST(Rle, StringRoundTripOfArbitraryCounts) {
  std::mt19937 rng(11);
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<uint32_t> counts(1 + rng() % 20);
    const uint32_t scale = std::vector<uint32_t>{2, 30, 5000, 1u << 31, 0xffffffffu}[rng() % 5];
    for (auto& c : counts) c = rng() % 3 == 0 ? 0 : static_cast<uint32_t>(rng() % scale);
    EXPECT_EQ(rle_counts_from_string(rle_to_string(counts)), counts) << "trial " << trial;
  }
  EXPECT_EQ(rle_to_string(std::vector<uint32_t>{}), "");
  EXPECT_TRUE(rle_counts_from_string("").empty());
  // The largest count: 7 groups.
  const std::vector<uint32_t> big{0xffffffffu, 0, 0xffffffffu, 0};
  EXPECT_EQ(rle_counts_from_string(rle_to_string(big)), big);
}

TEST(Rle, MalformedStringsThrow) {
  // ' ' is below '0'; '~' above 'o'.
  EXPECT_THROW(rle_counts_from_string("42 1"), Error);
  EXPECT_THROW(rle_counts_from_string("42~"), Error);
  // 'b' = 50 = 0x32 has the continuation bit: the string ends inside a number.
  EXPECT_THROW(rle_counts_from_string("4b"), Error);
  // 'O' alone decodes to -1: a negative first count.
  EXPECT_THROW(rle_counts_from_string("O"), Error);
  // Eight groups are more than any 32-bit count needs.
  EXPECT_THROW(rle_counts_from_string("PPPPPPP0"), Error);
  try {
    rle_counts_from_string("42 1");
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("position 2"), std::string::npos) << e.what();
  }
}

TEST(Rle, DecodeChecksCountsSum) {
  EXPECT_THROW(rle_decode(Rle{2, 3, {2, 3}}), Error);      // 5 of 6 pixels
  EXPECT_THROW(rle_decode(Rle{2, 3, {2, 3, 2}}), Error);   // 7 of 6
  EXPECT_NO_THROW(rle_validate(Rle{2, 3, {2, 3, 1}}));
  // Non-canonical counts (zero-length runs) decode fine.
  EXPECT_EQ(rle_decode(Rle{2, 2, {1, 0, 0, 2, 1}}), mask_of({"01", "10"}));
}

TEST(Rle, RandomRoundTrips) {
  std::mt19937 rng(5);
  for (int trial = 0; trial < 100; ++trial) {
    const int h = 1 + static_cast<int>(rng() % 30), w = 1 + static_cast<int>(rng() % 30);
    const auto m = random_mask(h, w, (rng() % 100) / 100.0, rng);
    const Rle r = rle_encode(m, h, w);
    EXPECT_EQ(rle_decode(r), m);
    EXPECT_EQ(rle_from_string(rle_to_string(r), h, w), r);
    int64_t area = 0;
    int x0 = w, y0 = h, x1 = -1, y1 = -1;
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x)
        if (m[static_cast<size_t>(y) * w + x]) {
          ++area;
          x0 = std::min(x0, x);
          x1 = std::max(x1, x);
          y0 = std::min(y0, y);
          y1 = std::max(y1, y);
        }
    EXPECT_EQ(rle_area(r), area);
    // Box of a canonical RLE: the pixel box, except that a run wrapping from one column
    // into the next stretches it to the full height (maskApi semantics).
    const BoxXywh b = rle_to_bbox(r);
    if (area > 0) {
      EXPECT_EQ(b[0], x0);
      EXPECT_EQ(b[2], x1 - x0 + 1);
      EXPECT_LE(b[1], y0);
      EXPECT_GE(b[1] + b[3], y1 + 1);
    }
  }
}

TEST(Rle, BboxOfColumnWrappingRun) {
  // Pixels (y=2, x=0) and (y=0, x=1) are consecutive in column-major order: one run that
  // wraps into the next column, so maskApi reports the full height.
  const Rle r = rle_encode(mask_of({"01", "00", "10"}), 3, 2);
  EXPECT_EQ(r.counts, (std::vector<uint32_t>{2, 2, 2}));
  EXPECT_EQ(rle_to_bbox(r), (BoxXywh{0, 0, 2, 3}));
  // Zero-length foreground runs do not move the box.
  EXPECT_EQ(rle_to_bbox(Rle{3, 2, {1, 0, 1, 1, 3}}), (BoxXywh{0, 2, 1, 1}));
}

TEST(Rle, MergeUnionAndIntersection) {
  std::mt19937 rng(9);
  for (int trial = 0; trial < 50; ++trial) {
    const int h = 1 + static_cast<int>(rng() % 12), w = 1 + static_cast<int>(rng() % 12);
    std::vector<std::vector<uint8_t>> masks;
    std::vector<Rle> rles;
    for (int k = 0; k < 3; ++k) {
      masks.push_back(random_mask(h, w, 0.5, rng));
      rles.push_back(rle_encode(masks.back(), h, w));
    }
    std::vector<uint8_t> uni(masks[0].size()), inter(masks[0].size());
    for (size_t i = 0; i < uni.size(); ++i) {
      uni[i] = masks[0][i] | masks[1][i] | masks[2][i];
      inter[i] = masks[0][i] & masks[1][i] & masks[2][i];
    }
    EXPECT_EQ(rle_merge(rles, false), rle_encode(uni, h, w));
    EXPECT_EQ(rle_merge(rles, true), rle_encode(inter, h, w));
  }
  EXPECT_EQ(rle_merge({}, false), Rle{});
  const Rle one{2, 2, {1, 0, 0, 2, 1}};
  EXPECT_EQ(rle_merge({one}, true), one);  // a single mask is returned as stored
  EXPECT_THROW(rle_merge({Rle{2, 2, {4}}, Rle{2, 3, {6}}}, false), Error);
}

TEST(Rle, IouHandComputed) {
  // a: 2x2 block at the top-left of 4x4; b: 2x3 block at rows 1-2, cols 1-3 -> overlap 1.
  const Rle a = rle_encode(mask_of({"1100", "1100", "0000", "0000"}), 4, 4);
  const Rle b = rle_encode(mask_of({"0000", "0111", "0111", "0000"}), 4, 4);
  const Rle c = rle_encode(mask_of({"0000", "0000", "0000", "0001"}), 4, 4);
  const auto iou = rle_iou({a, c}, {a, b, c});
  ASSERT_EQ(iou.size(), 6u);
  EXPECT_DOUBLE_EQ(iou[0], 1.0);         // a vs a
  EXPECT_DOUBLE_EQ(iou[1], 1.0 / 9.0);   // a vs b: 1 / (4 + 6 - 1)
  EXPECT_DOUBLE_EQ(iou[2], 0.0);         // a vs c: disjoint boxes
  EXPECT_DOUBLE_EQ(iou[3], 0.0);         // c vs a
  EXPECT_DOUBLE_EQ(iou[4], 0.0);         // c vs b: the boxes only touch
  EXPECT_DOUBLE_EQ(iou[5], 1.0);
  // Crowd ground truth: intersection over the detection's area.
  const auto crowd = rle_iou({a}, {b}, {1});
  EXPECT_DOUBLE_EQ(crowd[0], 1.0 / 4.0);
  // Different sizes with overlapping boxes: -1, as pycocotools.
  const Rle big = rle_encode(std::vector<uint8_t>(25, 1), 5, 5);
  EXPECT_EQ(rle_iou({a}, {big})[0], -1.0);
  EXPECT_THROW(rle_iou({a}, {b}, {1, 0}), Error);
  EXPECT_TRUE(rle_iou({}, {a}).empty());
}

TEST(Rle, IomHandComputed) {
  const Rle a = rle_encode(mask_of({"1100", "1100", "0000", "0000"}), 4, 4);
  const Rle b = rle_encode(mask_of({"0000", "0111", "0111", "0000"}), 4, 4);
  const Rle small = rle_encode(mask_of({"1000", "0000", "0000", "0000"}), 4, 4);
  const Rle none = rle_encode(std::vector<uint8_t>(16, 0), 4, 4);
  const auto iom = rle_iom({a, small}, {b, a, none});
  EXPECT_DOUBLE_EQ(iom[0], 1.0 / 4.0);  // 1 / min(4, 6)
  EXPECT_DOUBLE_EQ(iom[1], 1.0);
  EXPECT_DOUBLE_EQ(iom[2], 0.0);
  EXPECT_DOUBLE_EQ(iom[3], 0.0);
  EXPECT_DOUBLE_EQ(iom[4], 1.0);        // small lies inside a
  EXPECT_DOUBLE_EQ(iom[5], 0.0);
  EXPECT_EQ(rle_iom({a}, {Rle{2, 8, {16}}})[0], -1.0);
}

TEST(Rle, BoxIou) {
  const auto iou = bbox_iou({{0, 0, 2, 2}, {10, 10, 1, 1}}, {{1, 1, 2, 2}}, {});
  EXPECT_DOUBLE_EQ(iou[0], 1.0 / 7.0);
  EXPECT_DOUBLE_EQ(iou[1], 0.0);
  EXPECT_DOUBLE_EQ(bbox_iou({{0, 0, 2, 2}}, {{1, 1, 2, 2}}, {1})[0], 1.0 / 4.0);
}

TEST(Rle, PolygonSquare) {
  // Values from pycocotools frPyObjects: the square with corners (1,1)..(4,4) covers the
  // pixels 1..3 in both directions.
  const Rle r = rle_from_polygon({1, 1, 4, 1, 4, 4, 1, 4}, 6, 6);
  EXPECT_EQ(rle_to_string(r), "733000;");
  EXPECT_EQ(rle_decode(r), mask_of({"000000", "011100", "011100", "011100", "000000", "000000"}));
  // A triangle with fractional vertices.
  const Rle t = rle_from_polygon({0.5, 0.5, 3.5, 0.5, 0.5, 3.5}, 5, 5);
  EXPECT_EQ(rle_to_string(t), "623O:");
  EXPECT_EQ(rle_decode(t), mask_of({"00000", "01100", "01000", "00000", "00000"}));
  // No vertex: empty; odd coordinate count: error.
  EXPECT_EQ(rle_from_polygon({}, 3, 3).counts, (std::vector<uint32_t>{9}));
  EXPECT_THROW(rle_from_polygon({1, 2, 3}, 3, 3), Error);
}

TEST(Rle, PolygonsUniteParts) {
  const Rle left = rle_from_polygon({0, 0, 2, 0, 2, 2, 0, 2}, 4, 4);
  const Rle right = rle_from_polygon({2, 2, 4, 2, 4, 4, 2, 4}, 4, 4);
  const Rle both = rle_from_polygons({{0, 0, 2, 0, 2, 2, 0, 2}, {2, 2, 4, 2, 4, 4, 2, 4}}, 4, 4);
  EXPECT_EQ(both, rle_merge({left, right}, false));
  EXPECT_EQ(rle_area(both), 8);
  EXPECT_EQ(rle_from_polygons({}, 2, 2).counts, (std::vector<uint32_t>{4}));
  // Vertices outside the image are clipped.
  const Rle clipped = rle_from_polygon({-3, -3, 10, -3, 10, 10, -3, 10}, 3, 3);
  EXPECT_EQ(rle_area(clipped), 9);
}

TEST(Rle, FromBbox) {
  const Rle r = rle_from_bbox({1, 1, 3, 2}, 6, 6);
  EXPECT_EQ(rle_to_string(r), "724000;");  // pycocotools frPyObjects(np.array([[1,1,3,2]]))
  EXPECT_EQ(rle_area(r), 6);
  EXPECT_EQ(rle_to_bbox(r), (BoxXywh{1, 1, 3, 2}));
}

}  // namespace
}  // namespace wsvis::data
