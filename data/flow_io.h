// Optical flow on the host and Middlebury .flo files.
//
// .flo layout (little-endian): float32 magic 202021.25 (the bytes "PIEH"), int32 width,
// int32 height, then width*height (u, v) float32 pairs, row-major. Values with |u| or |v|
// above 1e9 mean "unknown" in the Middlebury convention; they are kept as read
// (see flow_is_unknown). Reading rejects, with a wsvis::InputError naming the file: a missing
// file, a wrong magic, absurd dimensions (not in 1..kMaxFlowDim), a size that does not match
// 12 + 8*width*height bytes (truncated or trailing data), and NaN or infinite values (naming
// the first such pixel).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace wsvis::data {

constexpr float kFloMagic = 202021.25f;
constexpr int kMaxFlowDim = 100000;  // the Middlebury reference code's sanity bound
constexpr float kUnknownFlowThreshold = 1e9f;

struct Flow {
  int width = 0;
  int height = 0;
  std::vector<float> uv;  // (height, width, 2) row-major: uv[2*(y*width + x) + {0: u, 1: v}]

  Flow() = default;
  Flow(int w, int h) : width(w), height(h), uv(static_cast<size_t>(w) * h * 2, 0.f) {}
  float u(int x, int y) const { return uv[2 * (static_cast<size_t>(y) * width + x)]; }
  float v(int x, int y) const { return uv[2 * (static_cast<size_t>(y) * width + x) + 1]; }
  float& u(int x, int y) { return uv[2 * (static_cast<size_t>(y) * width + x)]; }
  float& v(int x, int y) { return uv[2 * (static_cast<size_t>(y) * width + x) + 1]; }
};

inline bool flow_is_unknown(float u, float v) {
  return !(u > -kUnknownFlowThreshold && u < kUnknownFlowThreshold &&
           v > -kUnknownFlowThreshold && v < kUnknownFlowThreshold);
}

Flow read_flo(const std::string& path);
// Atomic (temp file + rename). Throws wsvis::Error for an inconsistent Flow (uv size) and
// InputError when the file cannot be written.
void write_flo(const std::string& path, const Flow& flow);

// InputError "<path>: flow is WxH but the frame is EWxEH" unless the sizes agree.
void check_flow_size(const Flow& flow, int expected_w, int expected_h, const std::string& path);

}  // namespace wsvis::data
