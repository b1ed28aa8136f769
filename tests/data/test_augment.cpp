// Augmentation (data/augment.h): flow under flip and resize (exact checks on synthetic
// fields, and warping consistency on a rendered synth pair with its exact flow), boxes and
// masks, resize sizes, and flow composition (data/loader.h compose_flow).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "data/augment.h"
#include "data/loader.h"
#include "data/synth.h"

namespace wsvis::data {
namespace {

Flow random_flow(int w, int h, uint64_t seed) {
  Generator gen(seed);
  Flow f(w, h);
  for (float& x : f.uv) x = static_cast<float>(gen.uniform(-5, 5));
  return f;
}

TEST(Augment, FlippedFlowIsMirroredWithUNegated) {
  const Flow f = random_flow(7, 5, 1);
  const Flow g = flip_flow(f);
  ASSERT_EQ(g.width, 7);
  for (int y = 0; y < 5; ++y)
    for (int x = 0; x < 7; ++x) {
      EXPECT_EQ(g.u(x, y), -f.u(6 - x, y));
      EXPECT_EQ(g.v(x, y), f.v(6 - x, y));
    }
  // Through the parameter path as well (no resize).
  AugmentParams p;
  p.in_width = p.width = 7, p.in_height = p.height = 5, p.flip = true;
  EXPECT_EQ(augment_flow(f, p).uv, g.uv);
}

TEST(Augment, ResizedConstantFlowScalesExactly) {
  Flow f(40, 30);
  for (int y = 0; y < 30; ++y)
    for (int x = 0; x < 40; ++x) f.u(x, y) = 3.0f, f.v(x, y) = -2.0f;
  for (const auto& [w, h] : std::vector<std::pair<int, int>>{{80, 60}, {20, 15}, {50, 24}}) {
    const Flow g = resize_flow(f, w, h);
    ASSERT_EQ(g.width, w);
    ASSERT_EQ(g.height, h);
    const float sx = static_cast<float>(w) / 40, sy = static_cast<float>(h) / 30;
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        ASSERT_EQ(g.u(x, y), 3.0f * sx) << x << "," << y;
        ASSERT_EQ(g.v(x, y), -2.0f * sy) << x << "," << y;
      }
  }
}

TEST(Augment, ResizeShortestEdgeAndBoxes) {
  EXPECT_EQ(resize_shortest_edge(640, 360, 800, 1333), std::make_pair(1333, 750));
  EXPECT_EQ(resize_shortest_edge(640, 480, 800, 1333), std::make_pair(1067, 800));
  EXPECT_EQ(resize_shortest_edge(128, 128, 96, 0), std::make_pair(96, 96));
  AugmentParams p;
  p.in_width = 100, p.in_height = 50, p.width = 200, p.height = 100, p.flip = true;
  WeakBox b;
  b.x1 = 10, b.y1 = 5, b.x2 = 30, b.y2 = 25;
  const WeakBox o = augment_boxes({b}, p)[0];
  EXPECT_FLOAT_EQ(o.x1, 200 - 60);
  EXPECT_FLOAT_EQ(o.x2, 200 - 20);
  EXPECT_FLOAT_EQ(o.y1, 10);
  EXPECT_FLOAT_EQ(o.y2, 50);
  // A mask flipped and resized covers the flipped, resized box.
  std::vector<uint8_t> mask(100 * 50, 0);
  for (int y = 5; y < 25; ++y)
    for (int x = 10; x < 30; ++x) mask[static_cast<size_t>(y) * 100 + x] = 1;
  const std::vector<uint8_t> m = augment_mask(mask, p);
  int x0 = 1 << 30, x1 = -1, y0 = 1 << 30, y1 = -1;
  for (int y = 0; y < 100; ++y)
    for (int x = 0; x < 200; ++x)
      if (m[static_cast<size_t>(y) * 200 + x]) x0 = std::min(x0, x), x1 = std::max(x1, x), y0 = std::min(y0, y), y1 = std::max(y1, y);
  EXPECT_EQ(x0, 140);
  EXPECT_EQ(x1 + 1, 180);
  EXPECT_EQ(y0, 10);
  EXPECT_EQ(y1 + 1, 50);
}

TEST(Augment, ComposedAffineFlowsAreExact) {
  // Two affine flows: bilinear sampling is exact on affine fields, so the composition is
  // exact away from the clamped border.
  const int W = 40, H = 30;
  Flow ab(W, H), bc(W, H);
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x) {
      ab.u(x, y) = 1.5f + 0.02f * x, ab.v(x, y) = -0.5f + 0.01f * y;
      bc.u(x, y) = 0.25f - 0.01f * y, bc.v(x, y) = 0.75f + 0.015f * x;
    }
  const Flow ac = compose_flow(ab, bc);
  for (int y = 2; y < H - 4; ++y)
    for (int x = 2; x < W - 4; ++x) {
      const float qx = x + ab.u(x, y), qy = y + ab.v(x, y);
      EXPECT_NEAR(ac.u(x, y), ab.u(x, y) + 0.25f - 0.01f * qy, 1e-4);
      EXPECT_NEAR(ac.v(x, y), ab.v(x, y) + 0.75f + 0.015f * qx, 1e-4);
    }
}

// ---- warping consistency on a rendered synth pair ------------------------------------------

float sample(const Image& im, float x, float y, int c) {
  x = std::min(std::max(x, 0.f), static_cast<float>(im.width - 1));
  y = std::min(std::max(y, 0.f), static_cast<float>(im.height - 1));
  const int x0 = static_cast<int>(x), y0 = static_cast<int>(y);
  const int x1 = std::min(x0 + 1, im.width - 1), y1 = std::min(y0 + 1, im.height - 1);
  const float wx = x - x0, wy = y - y0;
  const float top = im.at(y0, x0, c) + wx * (im.at(y0, x1, c) - im.at(y0, x0, c));
  const float bot = im.at(y1, x0, c) + wx * (im.at(y1, x1, c) - im.at(y1, x0, c));
  return top + wy * (bot - top);
}

// Mean |A_t - warp(A_{t+1}, F)| over the pixels valid in `valid` where A_t is textured
// (a channel-summed central-difference gradient of at least 30 levels per pixel): flat
// regions would match under any flow and dilute the comparison.
double warp_error(const Image& a, const Image& b, const Flow& f, const std::vector<uint8_t>& valid) {
  double sum = 0;
  int64_t n = 0;
  for (int y = 1; y < a.height - 1; ++y)
    for (int x = 1; x < a.width - 1; ++x) {
      if (!valid[static_cast<size_t>(y) * a.width + x]) continue;
      float grad = 0;
      for (int c = 0; c < 3; ++c)
        grad += std::fabs(a.at(y, x + 1, c) - a.at(y, x - 1, c)) * 0.5f +
                std::fabs(a.at(y + 1, x, c) - a.at(y - 1, x, c)) * 0.5f;
      if (grad < 30) continue;
      for (int c = 0; c < 3; ++c)
        sum += std::fabs(a.at(y, x, c) - sample(b, x + f.u(x, y), y + f.v(x, y), c));
      n += 3;
    }
  return n ? sum / n : 1e9;
}

// Pixels of frame t whose surface is visible at t+1 (same label at the target), more than
// `margin` pixels from any label boundary (at t) and from the image border, and whose target
// is inside the frame with the same margin.
std::vector<uint8_t> valid_pixels(const SynthFrame& f0, const SynthFrame& f1, int margin) {
  const int W = f0.image.width, H = f0.image.height;
  std::vector<uint8_t> valid(static_cast<size_t>(W) * H, 0);
  for (int y = margin; y < H - margin; ++y)
    for (int x = margin; x < W - margin; ++x) {
      const uint8_t l = f0.labels[static_cast<size_t>(y) * W + x];
      bool ok = true;
      for (int dy = -margin; dy <= margin && ok; ++dy)
        for (int dx = -margin; dx <= margin && ok; ++dx)
          ok = f0.labels[static_cast<size_t>(y + dy) * W + x + dx] == l;
      const float tx = x + f0.forward.u(x, y), ty = y + f0.forward.v(x, y);
      const int ix = static_cast<int>(std::lround(tx)), iy = static_cast<int>(std::lround(ty));
      ok = ok && ix >= margin && iy >= margin && ix < W - margin && iy < H - margin;
      for (int dy = -margin; dy <= margin && ok; ++dy)
        for (int dx = -margin; dx <= margin && ok; ++dx)
          ok = f1.labels[static_cast<size_t>(iy + dy) * W + ix + dx] == l;
      valid[static_cast<size_t>(y) * W + x] = ok;
    }
  return valid;
}

struct PairErrors {
  double plain = 0, augmented = 0, no_warp = 0, wrong = 0;
  double valid_fraction = 0;
};

PairErrors pair_errors(const AugmentParams& p, int video) {
  SynthConfig cfg;
  cfg.noise_sigma = 0;
  const SynthScene scene = make_synth_scene(cfg, video);
  const SynthFrame f0 = render_synth_frame(scene, 3), f1 = render_synth_frame(scene, 4);
  const std::vector<uint8_t> valid = valid_pixels(f0, f1, 2);
  PairErrors e;
  e.plain = warp_error(f0.image, f1.image, f0.forward, valid);
  const Image a0 = augment_image(f0.image, p), a1 = augment_image(f1.image, p);
  const Flow af = augment_flow(f0.forward, p);
  // Validity in the augmented frame: nearest-resampled, then eroded by one pixel.
  const std::vector<uint8_t> v1 = augment_mask(valid, p);
  std::vector<uint8_t> av(v1.size(), 0);
  int64_t count = 0;
  for (int y = 1; y < p.height - 1; ++y)
    for (int x = 1; x < p.width - 1; ++x) {
      bool ok = true;
      for (int dy = -1; dy <= 1; ++dy)
        for (int dx = -1; dx <= 1; ++dx) ok = ok && v1[static_cast<size_t>(y + dy) * p.width + x + dx];
      av[static_cast<size_t>(y) * p.width + x] = ok;
      count += ok;
    }
  e.valid_fraction = static_cast<double>(count) / (p.width * p.height);
  e.augmented = warp_error(a0, a1, af, av);
  e.no_warp = warp_error(a0, a1, Flow(p.width, p.height), av);
  // The flow as a careless loader would hand it: mirrored but u not negated (flip), or
  // resampled but its values not rescaled (resize).
  Flow wrong = af;
  const float sx = static_cast<float>(p.width) / p.in_width, sy = static_cast<float>(p.height) / p.in_height;
  for (int y = 0; y < p.height; ++y)
    for (int x = 0; x < p.width; ++x) {
      if (p.flip) wrong.u(x, y) = -wrong.u(x, y);
      if (p.width != p.in_width || p.height != p.in_height) wrong.u(x, y) /= sx, wrong.v(x, y) /= sy;
    }
  e.wrong = warp_error(a0, a1, wrong, av);
  return e;
}

TEST(Augment, WarpedNextFrameReproducesFrameAfterFlipAndResize) {
  struct Case {
    const char* name;
    int w, h;
    bool flip;
  };
  for (const Case& c : {Case{"flip", 128, 128, true}, Case{"up 256", 256, 256, false},
                        Case{"down 64", 64, 64, false}, Case{"160x224 + flip", 160, 224, true},
                        Case{"96x80 + flip", 96, 80, true}}) {
    for (int video = 0; video < 3; ++video) {
      AugmentParams p;
      p.in_width = p.in_height = 128;
      p.width = c.w, p.height = c.h, p.flip = c.flip;
      const PairErrors e = pair_errors(p, video);
      std::printf("%-18s video %d: valid %.2f  mean |diff| plain %.2f  augmented %.2f  "
                  "no warp %.2f  wrong flow %.2f\n",
                  c.name, video, e.valid_fraction, e.plain, e.augmented, e.no_warp, e.wrong);
      EXPECT_GT(e.valid_fraction, 0.4) << c.name;
      // Tolerance: the augmented pair matches about as well as the original one (mean
      // |diff| within 1.5x + 1.5 levels of it; bilinear resampling of the textures, without
      // antialiasing on downscaling, adds its own error), and clearly better than no warp
      // or than the flow with the flip/resize rule left out (at most 0.65x their error).
      EXPECT_LT(e.augmented, 1.5 * e.plain + 1.5) << c.name << " video " << video;
      EXPECT_LT(e.augmented, 0.65 * e.no_warp) << c.name << " video " << video;
      EXPECT_LT(e.augmented, 0.65 * e.wrong) << c.name << " video " << video;
    }
  }
}

}  // namespace
}  // namespace wsvis::data
