// The instances of one frame as the video-level algorithms (MaskConsist, the tracker) see
// them: K full-resolution binary masks with a category and a score each. Pseudo-labels,
// Mask R-CNN predictions and tracker proposals all take this form, so the algorithms never
// care where a mask came from.
//
//   masks:        (K, H, W) uint8, 0 / 1, row-major
//   category_ids: (K) > 0 (YouTube-VIS category ids)
//   scores:       (K) (pseudo-labels carry 1)
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "engine/error.h"

namespace wsvis::video {

struct InstanceSet {
  int64_t height = 0, width = 0;
  std::vector<uint8_t> masks;
  std::vector<int64_t> category_ids;
  std::vector<float> scores;

  InstanceSet() = default;
  InstanceSet(int64_t h, int64_t w) : height(h), width(w) {}

  int64_t size() const { return int64_t(category_ids.size()); }
  int64_t pixels() const { return height * width; }
  const uint8_t* mask(int64_t k) const { return masks.data() + k * pixels(); }
  uint8_t* mask(int64_t k) { return masks.data() + k * pixels(); }

  // Appends one instance; mask points to H * W values (any non-zero is foreground).
  void add(const uint8_t* mask_hw, int64_t category_id, float score) {
    const size_t start = masks.size();
    masks.resize(start + size_t(pixels()));
    for (int64_t p = 0; p < pixels(); ++p) masks[start + size_t(p)] = mask_hw[p] != 0;
    category_ids.push_back(category_id);
    scores.push_back(score);
  }

  // Throws wsvis::Error unless the vectors agree with K and H x W.
  void check() const {
    WSVIS_CHECK(scores.size() == category_ids.size() &&
                    masks.size() == category_ids.size() * size_t(pixels()),
                "InstanceSet: ", category_ids.size(), " categories, ", scores.size(),
                " scores and ", masks.size(), " mask values for ", height, " x ", width);
  }
};

// Tight box of a binary mask (x0, y0, x1, y1) with x1, y1 EXCLUSIVE (last foreground column +
// 1), as kernels/warp.h; all zero for an empty mask.
std::array<float, 4> mask_box(const uint8_t* mask, int64_t height, int64_t width);

}  // namespace wsvis::video
