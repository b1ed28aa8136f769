// Tests of models/fcos_targets.h on hand-made cases, every expected value worked out below:
// a box whose edges pass exactly through location centres, two overlapping GTs (minimal area
// wins), a box too large for P3 (its positives move to P4), a mask centroid moving the sample
// region, no centre sampling, an image without GT in a batch, and misuse.
#include <algorithm>
#include <cmath>
#include <set>
#include <utility>
#include <vector>

#include "models/fcos_targets.h"
#include "tests/support/testing.h"

namespace wsvis {
namespace {

using models::compute_fcos_targets;
using models::FcosGtInstances;
using models::FcosLayout;
using models::FcosTargetOptions;
using models::FcosTargets;

// The P3-P7 layout of an S x S input: level l has ceil(S / stride) cells per side.
FcosLayout square_layout(int images, int64_t size) {
  const std::vector<int> strides{8, 16, 32, 64, 128};
  std::vector<int64_t> sides;
  for (int s : strides) sides.push_back((size + s - 1) / s);
  return FcosLayout::from_sizes(images, strides, sides, sides);
}

FcosTargetOptions options(int classes = 3) {
  FcosTargetOptions o;
  o.num_classes = classes;
  return o;
}

struct Positive {
  int level, image;
  float x, y;
  int64_t label, gt;
};

std::vector<Positive> positives_of(const FcosTargets& t) {
  std::vector<Positive> out;
  for (int64_t r : t.positives) {
    const int l = t.level_of(r);
    const int64_t loc = (r - t.layout.level_begin[size_t(l)]) % t.layout.locations(l);
    const auto xy = t.layout.location_xy(l, loc);
    out.push_back({l, t.image_of(r), xy[0], xy[1], t.labels[size_t(r)], t.gt_index[size_t(r)]});
  }
  return out;
}

// The row of the location (x, y) of a level in image n.
int64_t row_at(const FcosLayout& layout, int level, int image, float x, float y) {
  const int s = layout.strides[size_t(level)];
  const int64_t col = int64_t(x - s / 2) / s, line = int64_t(y - s / 2) / s;
  return layout.row(level, image, line * layout.widths[size_t(level)] + col);
}

TEST(FcosTargets, LayoutRowsAndLocations) {
  const FcosLayout layout = square_layout(2, 64);  // 8x8, 4x4, 2x2, 1x1, 1x1 per image
  EXPECT_EQ(layout.level_begin, (std::vector<int64_t>{0, 128, 160, 168, 170, 172}));
  EXPECT_EQ(layout.row(1, 1, 5), 128 + 16 + 5);
  EXPECT_EQ(layout.location_xy(0, 9), (std::array<float, 2>{12, 12}));  // x = 1*8+4, y = 1*8+4
  EXPECT_EQ(layout.location_xy(4, 0), (std::array<float, 2>{64, 64}));
  FcosTargets t;
  t.layout = layout;
  EXPECT_EQ(t.level_of(127), 0);
  EXPECT_EQ(t.image_of(127), 1);
  EXPECT_EQ(t.level_of(160), 2);
  EXPECT_EQ(t.image_of(165), 1);
  EXPECT_THROW(t.level_of(172), Error);
}

// Box (8, 8, 32, 24), centre (20, 16), P3 sample region (8, 4..32, 28) clipped to the box =
// (8, 8, 32, 24): the cells at x 12, 20, 28 and y 12, 20 lie strictly inside (x 4 / 36, y 4 /
// 28 lie outside); their farthest edge is at most 20 px <= 64, so P3 cares. 6 positives.
TEST(FcosTargets, BoxCoveringCellsExactly) {
  const FcosLayout layout = square_layout(1, 64);
  FcosGtInstances gt;
  gt.boxes = {{8, 8, 32, 24}};
  gt.classes = {2};
  const FcosTargets t = compute_fcos_targets(layout, {gt}, options());
  std::vector<Positive> pos = positives_of(t);
  ASSERT_EQ(pos.size(), 6u);
  const float xs[] = {12, 20, 28}, ys[] = {12, 20};
  size_t i = 0;
  for (float y : ys)
    for (float x : xs) {
      EXPECT_EQ(pos[i].level, 0);
      EXPECT_EQ(pos[i].x, x);
      EXPECT_EQ(pos[i].y, y);
      EXPECT_EQ(pos[i].label, 2);
      EXPECT_EQ(pos[i].gt, 0);
      ++i;
    }
  // (12, 12): (l, t, r, b) = (4, 4, 20, 12) / 8; centreness sqrt(4/20 * 4/12) = 0.258199.
  const int64_t r = row_at(layout, 0, 0, 12, 12);
  EXPECT_EQ(std::vector<float>(t.reg_targets.begin() + r * 4, t.reg_targets.begin() + r * 4 + 4),
            (std::vector<float>{0.5f, 0.5f, 2.5f, 1.5f}));
  EXPECT_NEAR(t.ctr_targets[0], std::sqrt(4.0 / 20 * 4.0 / 12), 1e-6);
  // (20, 20): (12, 12, 12, 4) -> sqrt(1 * 4/12) = 0.57735.
  EXPECT_NEAR(t.ctr_targets[4], std::sqrt(4.0 / 12), 1e-6);
  // Negatives carry label num_classes and gt -1.
  EXPECT_EQ(t.labels[0], 3);
  EXPECT_EQ(t.gt_index[0], -1);
  EXPECT_EQ(t.num_positives(), 6);
}

// Box (4, 4, 20, 20): its edges pass through the cell centres x, y = 4 and 20, which are NOT
// strictly inside; only (12, 12) is.
TEST(FcosTargets, LocationsOnTheBoxEdgeAreNegative) {
  FcosGtInstances gt;
  gt.boxes = {{4, 4, 20, 20}};
  gt.classes = {0};
  const FcosTargets t = compute_fcos_targets(square_layout(1, 64), {gt}, options());
  const std::vector<Positive> pos = positives_of(t);
  ASSERT_EQ(pos.size(), 1u);
  EXPECT_EQ(pos[0].x, 12);
  EXPECT_EQ(pos[0].y, 12);
  EXPECT_FLOAT_EQ(t.ctr_targets[0], 1.0f);
}

// A (0, 0, 40, 40), area 1600, class 0; B (16, 16, 40, 40), area 576, class 1.
// A's region (8, 32)^2 holds x, y in {12, 20, 28}: 9 cells; B's (16, 40)^2 holds {20, 28, 36}:
// 9 cells. The 4 shared cells {20, 28}^2 go to B (smaller area): A 5, B 9.
TEST(FcosTargets, OverlappingGtsTakeTheSmallerBox) {
  FcosGtInstances gt;
  gt.boxes = {{0, 0, 40, 40}, {16, 16, 40, 40}};
  gt.classes = {0, 1};
  const FcosLayout layout = square_layout(1, 64);
  const FcosTargets t = compute_fcos_targets(layout, {gt}, options());
  int count[2] = {0, 0};
  for (const Positive& p : positives_of(t)) {
    ASSERT_EQ(p.level, 0);
    ++count[p.gt];
    EXPECT_EQ(p.label, p.gt);  // class k for GT k here
    const bool shared = (p.x == 20 || p.x == 28) && (p.y == 20 || p.y == 28);
    if (shared) {
      EXPECT_EQ(p.gt, 1) << "(" << p.x << ", " << p.y << ")";
    }
  }
  EXPECT_EQ(count[0], 5);
  EXPECT_EQ(count[1], 9);
  // (20, 20) regresses to B: (4, 4, 20, 20) / 8.
  const int64_t r = row_at(layout, 0, 0, 20, 20);
  EXPECT_EQ(t.reg_targets[size_t(r) * 4 + 0], 0.5f);
  EXPECT_EQ(t.reg_targets[size_t(r) * 4 + 2], 2.5f);

  // Equal areas: the first GT wins. C (8, 8, 32, 32) and D (16, 16, 40, 40), both 576.
  gt.boxes = {{8, 8, 32, 32}, {16, 16, 40, 40}};
  const FcosTargets e = compute_fcos_targets(layout, {gt}, options());
  EXPECT_EQ(e.gt_index[size_t(row_at(layout, 0, 0, 20, 20))], 0);
  EXPECT_EQ(e.gt_index[size_t(row_at(layout, 0, 0, 36, 36))], 1);
}

// Box (0, 0, 160, 160) in a 256 x 256 input, centre (80, 80).
// P3 (radius 12): cells 76, 84 are inside, but their farthest edge is 84 > 64: not cared.
// P4 (radius 24, region (56, 104)): cells 72, 88; farthest edge 88 in [64, 128]: 4 positives.
// P5 (radius 48, region (32, 128)): cells 48, 80, 112; farthest edges 112, 80, 112 < 128: none.
TEST(FcosTargets, BoxTooLargeForP3GoesToP4) {
  FcosGtInstances gt;
  gt.boxes = {{0, 0, 160, 160}};
  gt.classes = {1};
  const FcosTargets t = compute_fcos_targets(square_layout(1, 256), {gt}, options());
  const std::vector<Positive> pos = positives_of(t);
  ASSERT_EQ(pos.size(), 4u);
  std::set<std::pair<float, float>> cells;
  for (const Positive& p : pos) {
    EXPECT_EQ(p.level, 1);
    cells.insert({p.x, p.y});
  }
  EXPECT_EQ(cells, (std::set<std::pair<float, float>>{{72, 72}, {72, 88}, {88, 72}, {88, 88}}));
  // (72, 72) on P4: (72, 72, 88, 88) / 16.
  EXPECT_EQ(t.reg_targets[size_t(t.positives[0]) * 4 + 0], 4.5f);
  EXPECT_EQ(t.reg_targets[size_t(t.positives[0]) * 4 + 3], 5.5f);
}

// A mask centroid moves the sample region: box (0, 0, 64, 32); with the box centre (32, 16) the
// P3 region is (20, 44) x (4, 28): cells x 28, 36 and y 12, 20. With a centroid at (8, 16) it is
// (0, 20) x (4, 28): x 4, 12.
TEST(FcosTargets, MaskCentroidMovesTheSampleRegion) {
  // The centroid of a mask covering x 4..12, y 10..22 (inclusive) is (8, 16).
  std::vector<uint8_t> mask(64 * 64, 0);
  for (int y = 10; y <= 22; ++y)
    for (int x = 4; x <= 12; ++x) mask[size_t(y) * 64 + size_t(x)] = 1;
  const auto centroid = models::fcos_mask_centroid(mask.data(), 64, 64);
  EXPECT_FLOAT_EQ(centroid[0], 8.0f);
  EXPECT_FLOAT_EQ(centroid[1], 16.0f);
  const std::vector<uint8_t> empty(16, 0);
  EXPECT_EQ(models::fcos_mask_centroid(empty.data(), 4, 4), (std::array<float, 2>{0, 0}));

  FcosGtInstances gt;
  gt.boxes = {{0, 0, 64, 32}};
  gt.classes = {0};
  auto xs_of = [](const FcosTargets& t) {
    std::set<float> xs;
    for (const Positive& p : positives_of(t)) xs.insert(p.x);
    return xs;
  };
  const FcosLayout layout = square_layout(1, 64);
  EXPECT_EQ(xs_of(compute_fcos_targets(layout, {gt}, options())), (std::set<float>{28, 36}));
  gt.centers = {centroid};
  const FcosTargets moved = compute_fcos_targets(layout, {gt}, options());
  EXPECT_EQ(xs_of(moved), (std::set<float>{4, 12}));
  EXPECT_EQ(moved.num_positives(), 4);
}

// Without centre sampling every cell strictly inside the box is positive: box (0, 0, 40, 24)
// holds x 4..36 (5 cells) and y 4..20 (3 cells).
TEST(FcosTargets, WithoutCentreSamplingTheWholeBoxIsPositive) {
  FcosGtInstances gt;
  gt.boxes = {{0, 0, 40, 24}};
  gt.classes = {0};
  FcosTargetOptions o = options();
  o.center_sample = false;
  EXPECT_EQ(compute_fcos_targets(square_layout(1, 64), {gt}, o).num_positives(), 15);
}

// Two images, the first without GT: its rows stay negative; the second's positives are found
// in image 1's rows of each level.
TEST(FcosTargets, BatchWithAnEmptyImage) {
  FcosGtInstances none, one;
  one.boxes = {{8, 8, 32, 24}};
  one.classes = {1};
  const FcosTargets t = compute_fcos_targets(square_layout(2, 64), {none, one}, options());
  ASSERT_EQ(t.num_positives(), 6);
  for (const Positive& p : positives_of(t)) EXPECT_EQ(p.image, 1);
  EXPECT_EQ(t.positives.front(), 64 + 9);  // level 0, image 1, cell (12, 12) = index 9
}

TEST(FcosTargets, RejectsMisuse) {
  const FcosLayout layout = square_layout(1, 64);
  FcosGtInstances gt;
  gt.boxes = {{0, 0, 10, 10}};
  gt.classes = {3};  // == num_classes
  EXPECT_THROW(compute_fcos_targets(layout, {gt}, options()), Error);
  gt.classes = {0};
  gt.centers = {{1, 1}, {2, 2}};
  EXPECT_THROW(compute_fcos_targets(layout, {gt}, options()), Error);
  gt.centers.clear();
  gt.boxes = {{10, 0, 5, 10}};
  EXPECT_THROW(compute_fcos_targets(layout, {gt}, options()), Error);
  gt.boxes = {{0, 0, 10, 10}};
  EXPECT_THROW(compute_fcos_targets(layout, {gt, gt}, options()), Error);
  FcosTargetOptions o = options();
  o.sizes_of_interest = {64, 128};
  EXPECT_THROW(compute_fcos_targets(layout, {gt}, o), Error);
}

}  // namespace
}  // namespace wsvis
