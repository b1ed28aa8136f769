// Paste-back of a 2 x 2 mask as detectron2's _do_paste_mask (grid_sample, align_corners False,
// zero padding, >= 0.5), worked by hand.
#include <vector>

#include "models/mask_paste.h"
#include "tests/support/testing.h"

namespace wsvis {
namespace {

TEST(MaskPaste, HandCase) {
  // Left column 1, right column 0, box (0, 0, 4, 4) in a 6 x 6 image. Source x indices of the
  // pixel centres: -0.25, 0.25, 0.75, 1.25 -> samples 0.75, 0.75, 0.25, 0 along x; along y the
  // edge rows get weight 0.75 -> 0.5625 at the corners, still >= 0.5.
  const std::vector<float> probs{1.f, 0.f, 1.f, 0.f};
  const auto m = models::paste_masks(probs, 2, {{0.f, 0.f, 4.f, 4.f}}, 6, 6);
  for (int y = 0; y < 6; ++y)
    for (int x = 0; x < 6; ++x)
      EXPECT_EQ(m[size_t(y * 6 + x)], (x < 2 && y < 4) ? 1 : 0) << x << "," << y;
  // Threshold 0.6 drops the corner pixels (0.5625) but keeps the middle rows (0.75).
  const auto t = models::paste_masks(probs, 2, {{0.f, 0.f, 4.f, 4.f}}, 6, 6, 0.6f);
  EXPECT_EQ(t[0], 0);
  EXPECT_EQ(t[6], 1);
  EXPECT_EQ(t[3 * 6 + 1], 0);
}

TEST(MaskPaste, RejectsWrongSizes) {
  testing::expect_error([] { models::paste_masks({1.f}, 2, {{0, 0, 1, 1}}, 4, 4); }, "paste_masks");
  // No detections: nothing to paste, whatever the (unset) mask size says.
  EXPECT_TRUE(models::paste_masks({}, 0, {}, 4, 4).empty());
  testing::expect_error([] { models::paste_masks({}, 0, {{0, 0, 1, 1}}, 4, 4); }, "paste_masks");
}

}  // namespace
}  // namespace wsvis
