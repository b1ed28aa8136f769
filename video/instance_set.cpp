#include "video/instance_set.h"

#include <algorithm>

namespace wsvis::video {

std::array<float, 4> mask_box(const uint8_t* mask, int64_t height, int64_t width) {
  int64_t x0 = width, y0 = height, x1 = -1, y1 = -1;
  for (int64_t y = 0; y < height; ++y)
    for (int64_t x = 0; x < width; ++x)
      if (mask[y * width + x]) {
        x0 = std::min(x0, x), x1 = std::max(x1, x);
        y0 = std::min(y0, y), y1 = std::max(y1, y);
      }
  if (x1 < 0) return {0.f, 0.f, 0.f, 0.f};
  return {float(x0), float(y0), float(x1 + 1), float(y1 + 1)};
}

}  // namespace wsvis::video
