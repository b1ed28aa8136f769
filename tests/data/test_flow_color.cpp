// Flow colour wheel (spec A.8): the wheel entries, the check values of both variants, frame
// normalisation, unknown flow, channel order, and the legend image.
#include <gtest/gtest.h>

#include <cmath>

#include "data/flow_color.h"
#include "engine/error.h"
#include "tests/data/data_paths.h"

namespace wsvis::data {
namespace {

using Rgb = std::array<uint8_t, 3>;

TEST(FlowColor, WheelEntries) {
  const auto& w = flow_color_wheel();
  EXPECT_EQ(w[0], (Rgb{255, 0, 0}));
  EXPECT_EQ(w[1], (Rgb{255, 17, 0}));  // floor(255 * 1/15)
  EXPECT_EQ(w[15], (Rgb{255, 255, 0}));
  EXPECT_EQ(w[21], (Rgb{0, 255, 0}));
  EXPECT_EQ(w[25], (Rgb{0, 255, 255}));
  EXPECT_EQ(w[28], (Rgb{0, 186, 255}));  // CB, i = 3: 255 - floor(255 * 3/11)
  EXPECT_EQ(w[36], (Rgb{0, 0, 255}));
  EXPECT_EQ(w[49], (Rgb{255, 0, 255}));
  EXPECT_EQ(w[54], (Rgb{255, 0, 43}));
}

TEST(FlowColor, FlowVisCheckValues) {
  EXPECT_EQ(flow_uv_to_color(1, 0), (Rgb{255, 0, 0}));
  EXPECT_EQ(flow_uv_to_color(0, 1), (Rgb{255, 229, 0}));
  EXPECT_EQ(flow_uv_to_color(-1, 0), (Rgb{0, 209, 255}));
  EXPECT_EQ(flow_uv_to_color(0, -1), (Rgb{88, 0, 255}));
  EXPECT_EQ(flow_uv_to_color(0.5, 0), (Rgb{255, 127, 127}));
  EXPECT_EQ(flow_uv_to_color(0, 0), (Rgb{255, 255, 255}));  // no motion: white
  // Beyond the unit circle: the wheel colour darkened by 0.75.
  EXPECT_EQ(flow_uv_to_color(2, 0), (Rgb{191, 0, 0}));
  // v = -0.0, u > 0: atan2(+0, -1) = +pi, a = +1 -> fk = 54, the last entry, k1 wraps to 0.
  EXPECT_EQ(flow_uv_to_color(1, -0.0), (Rgb{255, 0, 43}));
}

TEST(FlowColor, RaftCheckValues) {
  EXPECT_EQ(flow_uv_to_color(1, 0, FlowWheel::raft), (Rgb{255, 16, 0}));
  EXPECT_EQ(flow_uv_to_color(-1, 0, FlowWheel::raft), (Rgb{0, 186, 255}));
  EXPECT_EQ(flow_uv_to_color(0, -1, FlowWheel::raft), (Rgb{107, 0, 255}));
  EXPECT_EQ(flow_uv_to_color(0, 0, FlowWheel::raft), (Rgb{255, 255, 255}));
  // Where RAFT would index past the wheel (a = +1) we give the continuous limit: the colour
  // of an angle just short of it.
  const Rgb at = flow_uv_to_color(1, -0.0, FlowWheel::raft);
  const Rgb near = flow_uv_to_color(1, -1e-12, FlowWheel::raft);
  EXPECT_EQ(at, near);
}

TEST(FlowColor, FrameNormalisationAndChannels) {
  Flow f(3, 1);
  f.u(0, 0) = 4;  // the largest motion: rad = 4/(4 + 1e-5), just inside the unit circle
  f.v(0, 0) = 0;
  f.u(1, 0) = 2;  // half of it
  f.v(1, 0) = 0;
  f.u(2, 0) = 1e10f;  // unknown
  f.v(2, 0) = 0;
  const Image img = flow_to_color(f);
  ASSERT_EQ(img.channels, 3);
  const Rgb p0{img.at(0, 0, 0), img.at(0, 0, 1), img.at(0, 0, 2)};
  const Rgb p1{img.at(0, 1, 0), img.at(0, 1, 1), img.at(0, 1, 2)};
  EXPECT_EQ(p0, flow_uv_to_color(4 / (4 + 1e-5), 0));
  EXPECT_EQ(p1, (Rgb{255, 127, 127}));
  EXPECT_EQ(img.at(0, 2, 0) + img.at(0, 2, 1) + img.at(0, 2, 2), 0);  // unknown: black
  // The frame maximum skips the unknown vector; passing it explicitly changes nothing.
  EXPECT_DOUBLE_EQ(flow_max_radius(f), 4.0);
  EXPECT_EQ(flow_to_color(f, FlowWheel::flow_vis, flow_max_radius(f)).data, img.data);
  EXPECT_EQ(flow_max_radius(Flow(2, 2)), 0.0);
  // A fixed normaliser instead of the frame maximum.
  const Image fixed = flow_to_color(f, FlowWheel::flow_vis, 8.0);
  EXPECT_EQ((Rgb{fixed.at(0, 0, 0), fixed.at(0, 0, 1), fixed.at(0, 0, 2)}), flow_uv_to_color(4 / (8 + 1e-5), 0));
  // BGR order swaps the channels.
  const Image bgr = flow_to_color(f, FlowWheel::flow_vis, 0, /*bgr=*/true);
  for (int x = 0; x < 3; ++x)
    for (int c = 0; c < 3; ++c) EXPECT_EQ(bgr.at(0, x, c), img.at(0, x, 2 - c));
  // Zero flow everywhere: white (rad_max = 0, normaliser 1e-5).
  EXPECT_EQ(flow_to_color(Flow(2, 2)).data, std::vector<uint8_t>(12, 255));
  Flow broken(2, 2);
  broken.uv.resize(3);
  EXPECT_THROW(flow_to_color(broken), Error);
}

TEST(FlowColor, RealFlowUsesTheFrameMaximum) {
  WSVIS_REQUIRE_SHARED_DATA(data);
  const Flow f = read_flo(data + "/flow_sample/flyingchairs_00001_crop/00001_flow.flo");
  double rad_max = 0;
  int x_max = 0, y_max = 0;
  for (int y = 0; y < f.height; ++y)
    for (int x = 0; x < f.width; ++x) {
      const double r = std::hypot(static_cast<double>(f.u(x, y)), static_cast<double>(f.v(x, y)));
      if (r > rad_max) {
        rad_max = r;
        x_max = x;
        y_max = y;
      }
    }
  EXPECT_NEAR(rad_max, 12.5148, 1e-4);
  for (FlowWheel variant : {FlowWheel::flow_vis, FlowWheel::raft}) {
    const Image img = flow_to_color(f, variant);
    EXPECT_EQ(img.width, 50);
    for (int y = 0; y < f.height; y += 7)
      for (int x = 0; x < f.width; x += 5) {
        const Rgb want = flow_uv_to_color(f.u(x, y) / (rad_max + 1e-5), f.v(x, y) / (rad_max + 1e-5), variant);
        ASSERT_EQ((Rgb{img.at(y, x, 0), img.at(y, x, 1), img.at(y, x, 2)}), want) << x << "," << y;
      }
    // The fastest pixel is fully saturated: one channel at (almost) 0.
    const int lo = std::min({img.at(y_max, x_max, 0), img.at(y_max, x_max, 1), img.at(y_max, x_max, 2)});
    EXPECT_LE(lo, 1);
  }
}

TEST(FlowColor, Legend) {
  const Image leg = flow_color_legend(101);
  ASSERT_EQ(leg.width, 101);
  ASSERT_EQ(leg.channels, 3);
  auto px = [&](int y, int x) { return Rgb{leg.at(y, x, 0), leg.at(y, x, 1), leg.at(y, x, 2)}; };
  EXPECT_EQ(px(50, 50), (Rgb{255, 255, 255}));   // centre: no motion
  EXPECT_EQ(px(50, 100), (Rgb{255, 0, 0}));      // right: u = +1
  EXPECT_EQ(px(100, 50), (Rgb{255, 229, 0}));    // down: v = +1 (image y grows downwards)
  EXPECT_EQ(px(50, 0), (Rgb{0, 209, 255}));      // left
  EXPECT_EQ(px(0, 50), (Rgb{88, 0, 255}));       // up
  EXPECT_EQ(px(0, 0), (Rgb{255, 255, 255}));     // outside the disc
  EXPECT_EQ(px(50, 75), (Rgb{255, 127, 127}));   // half way right
  const Image raft = flow_color_legend(101, FlowWheel::raft);
  EXPECT_EQ((Rgb{raft.at(50, 0, 0), raft.at(50, 0, 1), raft.at(50, 0, 2)}), (Rgb{0, 186, 255}));
  EXPECT_THROW(flow_color_legend(1), Error);
}

}  // namespace
}  // namespace wsvis::data
