// Optical flow as colour (Baker et al. / Middlebury colour wheel), spec A.8.
//
// Two variants:
//  - FlowWheel::flow_vis: tomrunia/flow_vis flow_to_color (the current reference):
//      fk = (a + 1)/2 * 54, k1 = k0 + 1 with 55 wrapped to 0.
//  - FlowWheel::raft: princeton-vl/RAFT flow_viz.flow_to_image: the same plus one wheel
//      entry (fk + 1, k1 = 55 wrapped to 1); where RAFT would index past the wheel
//      (a = +1 exactly) we take the continuous limit, wheel[1].
// Both normalise by the frame's largest magnitude (+1e-5), desaturate towards white inside
// the unit disc, darken (x0.75) outside it, and floor(255 * colour). The arithmetic is in
// double in numpy's order, so results match the Python code byte for byte on float64 input.
#pragma once

#include <array>
#include <cstdint>

#include "data/flow_io.h"
#include "data/image_io.h"

namespace wsvis::data {

enum class FlowWheel { flow_vis, raft };

constexpr int kFlowWheelSize = 55;

// The 55 wheel entries (RY 15, YG 6, GC 4, CB 11, BM 13, MR 6).
const std::array<std::array<uint8_t, 3>, kFlowWheelSize>& flow_color_wheel();

// Colour (RGB) of one already normalised flow vector.
std::array<uint8_t, 3> flow_uv_to_color(double u, double v, FlowWheel variant = FlowWheel::flow_vis);

// The largest magnitude of a flow field's known vectors (0 when there is none): what
// flow_to_color normalises by; pass the maximum over several frames to colour them alike.
double flow_max_radius(const Flow& flow);

// (H, W, 3) colour image of a flow field. rad_max <= 0: normalise by the largest magnitude
// of this frame (the reference behaviour); rad_max > 0: by that fixed value (consistent
// colours across frames). Unknown flow (flow_is_unknown) is drawn black. bgr swaps the
// channel order.
Image flow_to_color(const Flow& flow, FlowWheel variant = FlowWheel::flow_vis, double rad_max = 0,
                    bool bgr = false);

// A size x size legend: the pixel at (x, y) shows the flow ((x - c)/r, (y - c)/r) with
// c = r = (size - 1)/2, i.e. the unit disc; pixels outside the disc are white.
Image flow_color_legend(int size, FlowWheel variant = FlowWheel::flow_vis);

}  // namespace wsvis::data
