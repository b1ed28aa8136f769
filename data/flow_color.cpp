#include "data/flow_color.h"

#include <cmath>

#include "engine/error.h"

namespace wsvis::data {

const std::array<std::array<uint8_t, 3>, kFlowWheelSize>& flow_color_wheel() {
  static const std::array<std::array<uint8_t, 3>, kFlowWheelSize> wheel = [] {
    std::array<std::array<uint8_t, 3>, kFlowWheelSize> w{};
    auto ramp = [](int i, int n) { return static_cast<uint8_t>(std::floor(255.0 * i / n)); };
    int k = 0;
    for (int i = 0; i < 15; ++i) w[k++] = {255, ramp(i, 15), 0};                                  // RY
    for (int i = 0; i < 6; ++i) w[k++] = {static_cast<uint8_t>(255 - ramp(i, 6)), 255, 0};         // YG
    for (int i = 0; i < 4; ++i) w[k++] = {0, 255, ramp(i, 4)};                                     // GC
    for (int i = 0; i < 11; ++i) w[k++] = {0, static_cast<uint8_t>(255 - ramp(i, 11)), 255};       // CB
    for (int i = 0; i < 13; ++i) w[k++] = {ramp(i, 13), 0, 255};                                   // BM
    for (int i = 0; i < 6; ++i) w[k++] = {255, 0, static_cast<uint8_t>(255 - ramp(i, 6))};         // MR
    return w;
  }();
  return wheel;
}

std::array<uint8_t, 3> flow_uv_to_color(double u, double v, FlowWheel variant) {
  const auto& wheel = flow_color_wheel();
  const double rad = std::sqrt(u * u + v * v);
  const double a = std::atan2(-v, -u) / M_PI;  // [-1, 1]
  double fk = (a + 1) / 2 * (kFlowWheelSize - 1);
  int wrap_to = 0;
  if (variant == FlowWheel::raft) {
    fk += 1;
    wrap_to = 1;
  }
  int k0 = static_cast<int>(std::floor(fk));
  double f = fk - k0;
  if (k0 >= kFlowWheelSize) {  // RAFT at a = +1: continuous limit is wheel[1]
    k0 = kFlowWheelSize - 1;
    f = 1.0;
  }
  int k1 = k0 + 1;
  if (k1 == kFlowWheelSize) k1 = wrap_to;
  std::array<uint8_t, 3> out{};
  for (int c = 0; c < 3; ++c) {
    const double col0 = wheel[static_cast<size_t>(k0)][static_cast<size_t>(c)] / 255.0;
    const double col1 = wheel[static_cast<size_t>(k1)][static_cast<size_t>(c)] / 255.0;
    double col = (1 - f) * col0 + f * col1;
    if (rad <= 1)
      col = 1 - rad * (1 - col);  // towards white for small motion
    else
      col = col * 0.75;  // beyond the normalisation radius
    out[static_cast<size_t>(c)] = static_cast<uint8_t>(std::floor(255 * col));
  }
  return out;
}

double flow_max_radius(const Flow& flow) {
  WSVIS_CHECK(flow.uv.size() == static_cast<size_t>(flow.width) * flow.height * 2,
              "flow_max_radius: uv has ", flow.uv.size(), " values for a ", flow.width, "x",
              flow.height, " flow");
  double rad_max = 0;
  for (size_t i = 0; i < flow.uv.size() / 2; ++i) {
    const double u = flow.uv[2 * i], v = flow.uv[2 * i + 1];
    if (flow_is_unknown(flow.uv[2 * i], flow.uv[2 * i + 1])) continue;
    rad_max = std::fmax(rad_max, std::sqrt(u * u + v * v));
  }
  return rad_max;
}

Image flow_to_color(const Flow& flow, FlowWheel variant, double rad_max, bool bgr) {
  WSVIS_CHECK(flow.uv.size() == static_cast<size_t>(flow.width) * flow.height * 2,
              "flow_to_color: uv has ", flow.uv.size(), " values for a ", flow.width, "x",
              flow.height, " flow");
  const size_t n = static_cast<size_t>(flow.width) * flow.height;
  if (rad_max <= 0) rad_max = flow_max_radius(flow);
  const double scale = rad_max + 1e-5;
  Image img(flow.width, flow.height, 3);
  for (size_t i = 0; i < n; ++i) {
    std::array<uint8_t, 3> rgb{0, 0, 0};
    if (!flow_is_unknown(flow.uv[2 * i], flow.uv[2 * i + 1]))
      rgb = flow_uv_to_color(flow.uv[2 * i] / scale, flow.uv[2 * i + 1] / scale, variant);
    for (int c = 0; c < 3; ++c) img.data[3 * i + static_cast<size_t>(c)] = rgb[static_cast<size_t>(bgr ? 2 - c : c)];
  }
  return img;
}

Image flow_color_legend(int size, FlowWheel variant) {
  WSVIS_CHECK(size >= 2, "flow_color_legend: size must be >= 2, got ", size);
  Image img(size, size, 3);
  const double c = (size - 1) / 2.0;
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x) {
      const double u = (x - c) / c, v = (y - c) / c;
      std::array<uint8_t, 3> rgb{255, 255, 255};
      if (u * u + v * v <= 1.0) rgb = flow_uv_to_color(u, v, variant);
      for (int k = 0; k < 3; ++k) img.at(y, x, k) = rgb[static_cast<size_t>(k)];
    }
  return img;
}

}  // namespace wsvis::data
