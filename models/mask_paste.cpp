#include "models/mask_paste.h"

#include <algorithm>
#include <cmath>

#include "engine/error.h"

namespace wsvis::models {

namespace {

// F.grid_sample bilinear with zero padding at source index (ix, iy) of an M x M map.
float sample(const float* map, int M, float ix, float iy) {
  const float fx = std::floor(ix), fy = std::floor(iy);
  const int x0 = int(fx), y0 = int(fy);
  const float wx1 = ix - fx, wy1 = iy - fy, wx0 = 1.f - wx1, wy0 = 1.f - wy1;
  auto at = [&](int y, int x) { return (x >= 0 && x < M && y >= 0 && y < M) ? map[y * M + x] : 0.f; };
  return at(y0, x0) * wy0 * wx0 + at(y0, x0 + 1) * wy0 * wx1 + at(y0 + 1, x0) * wy1 * wx0 +
         at(y0 + 1, x0 + 1) * wy1 * wx1;
}

}  // namespace

std::vector<uint8_t> paste_masks(const std::vector<float>& probs, int M,
                                 const std::vector<RcnnBox>& boxes, int height, int width,
                                 float threshold) {
  const size_t D = boxes.size();
  if (D == 0 && probs.empty()) return {};  // no detections (their mask size may be unset)
  WSVIS_CHECK(M > 0 && height >= 0 && width >= 0 && probs.size() == D * size_t(M) * size_t(M),
              "paste_masks: ", probs.size(), " probabilities for ", D, " masks of ", M, "x", M,
              " into ", height, "x", width);
  const size_t plane = size_t(height) * size_t(width);
  std::vector<uint8_t> out(D * plane, 0);
  for (size_t d = 0; d < D; ++d) {
    const RcnnBox& b = boxes[d];
    const float* map = &probs[d * size_t(M) * size_t(M)];
    // Source index along one axis of the pixel centre p + 0.5 (grid_sample's unnormalisation).
    auto source = [M](int p, float lo, float hi) {
      const float g = (float(p) + 0.5f - lo) / (hi - lo) * 2.f - 1.f;
      return ((g + 1.f) * float(M) - 1.f) / 2.f;
    };
    for (int y = 0; y < height; ++y) {
      const float iy = source(y, b[1], b[3]);
      if (!(iy > -1.f && iy < float(M))) continue;
      for (int x = 0; x < width; ++x) {
        const float ix = source(x, b[0], b[2]);
        if (!(ix > -1.f && ix < float(M))) continue;
        out[d * plane + size_t(y) * size_t(width) + size_t(x)] = sample(map, M, ix, iy) >= threshold;
      }
    }
  }
  return out;
}

}  // namespace wsvis::models
