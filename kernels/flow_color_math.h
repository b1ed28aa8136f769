// Per-pixel maths of the optical-flow colour wheel (Baker et al. / Middlebury; spec
// boxinst_maskrcnn_ytvis.md A.8), shared by the CPU and CUDA twins of flow_to_color
// (kernels/pairwise.h). The arithmetic is the one of data/flow_color.cpp (double precision, in
// numpy's order), so both give the same bytes; data/flow_color.cpp could call
// flow_uv_to_rgb below instead of keeping its own copy.
//
// Two variants:
//  - flow_vis: tomrunia/flow_vis flow_to_color: fk = (a + 1)/2 * 54, k1 = k0 + 1 with 55 -> 0.
//  - raft: princeton-vl/RAFT flow_viz: fk + 1 and 55 -> 1 (hues shifted by one entry); where
//    RAFT would index past the wheel (a = +1 exactly) the continuous limit, wheel[1], is used.
#pragma once

#include <math.h>

#include <cstdint>

#include "kernels/common.h"

namespace wsvis::kernels {

enum class FlowWheelVariant : int { flow_vis = 0, raft = 1 };

constexpr int kFlowWheelEntries = 55;
// Middlebury's "unknown flow" convention: |u| or |v| at or above 1e9 (1e9 is exact in float).
constexpr double kFlowUnknownThreshold = 1e9;

// Products and sums go through mul_rn/add_rn (kernels/common.h): floor(255 * colour) can tell
// an FMA-contracted result from the host's two roundings.

// Channel c (0 R, 1 G, 2 B) of wheel entry k in [0, 55): segments RY 15, YG 6, GC 4, CB 11,
// BM 13, MR 6; a ramp value is floor(255 i / n), computed exactly in integers.
WSVIS_HD inline int flow_wheel_channel(int k, int c) {
  const int seg_len[6] = {15, 6, 4, 11, 13, 6};
  int seg = 0;
  while (seg < 5 && k >= seg_len[seg]) {
    k -= seg_len[seg];
    ++seg;
  }
  const int up = 255 * k / seg_len[seg];  // rising ramp
  const int down = 255 - up;              // falling ramp
  switch (seg) {
    case 0: return c == 0 ? 255 : (c == 1 ? up : 0);      // RY: (255, up, 0)
    case 1: return c == 0 ? down : (c == 1 ? 255 : 0);    // YG: (down, 255, 0)
    case 2: return c == 0 ? 0 : (c == 1 ? 255 : up);      // GC: (0, 255, up)
    case 3: return c == 0 ? 0 : (c == 1 ? down : 255);    // CB: (0, down, 255)
    case 4: return c == 0 ? up : (c == 1 ? 0 : 255);      // BM: (up, 0, 255)
    default: return c == 0 ? 255 : (c == 1 ? 0 : down);  // MR: (255, 0, down)
  }
}

template <typename T>
WSVIS_HD inline bool flow_is_unknown_value(T u, T v) {
  const double t = kFlowUnknownThreshold;
  const double du = static_cast<double>(u), dv = static_cast<double>(v);
  return !(du > -t && du < t && dv > -t && dv < t);
}

// sqrt(u^2 + v^2) rounded as on the host (the normalising radius and the per-pixel radius).
WSVIS_HD inline double flow_radius(double u, double v) {
  return sqrt(add_rn(mul_rn(u, u), mul_rn(v, v)));
}

// Colour of one flow vector (u, v) already divided by the normalising radius; rgb[0..2].
WSVIS_HD inline void flow_uv_to_rgb(double u, double v, FlowWheelVariant variant, uint8_t* rgb) {
  const double rad = flow_radius(u, v);
  const double a = atan2(-v, -u) / M_PI;  // [-1, 1]
  double fk = mul_rn(add_rn(a, 1.0) / 2, double(kFlowWheelEntries - 1));
  int wrap_to = 0;
  if (variant == FlowWheelVariant::raft) {
    fk = add_rn(fk, 1.0);
    wrap_to = 1;
  }
  int k0 = static_cast<int>(floor(fk));
  double f = add_rn(fk, -static_cast<double>(k0));
  if (k0 >= kFlowWheelEntries) {  // RAFT at a = +1: the continuous limit is wheel[1]
    k0 = kFlowWheelEntries - 1;
    f = 1.0;
  }
  if (k0 < 0) k0 = 0;  // unreachable for finite input (a >= -1); guards NaN
  int k1 = k0 + 1;
  if (k1 == kFlowWheelEntries) k1 = wrap_to;
  for (int c = 0; c < 3; ++c) {
    const double col0 = flow_wheel_channel(k0, c) / 255.0;
    const double col1 = flow_wheel_channel(k1, c) / 255.0;
    double col = add_rn(mul_rn(add_rn(1.0, -f), col0), mul_rn(f, col1));
    if (rad <= 1)
      col = add_rn(1.0, -mul_rn(rad, add_rn(1.0, -col)));  // towards white for small motion
    else
      col = mul_rn(col, 0.75);  // beyond the normalisation radius
    double byte = floor(mul_rn(255.0, col));
    byte = !(byte >= 0) ? 0 : (byte > 255 ? 255 : byte);  // NaN flow ends here as 0 too
    rgb[c] = static_cast<uint8_t>(byte);
  }
}

}  // namespace wsvis::kernels
