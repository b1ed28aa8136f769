// The synthetic video generator's scenes (data/synth.h): the exactness of the flow against the
// masks (warped labels and masks land on the target frame except at occlusions), camouflage
// against per-frame colour classifiers, and touching same-class pairs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include "data/synth.h"
#include "kernels/warp.h"

namespace wsvis::data {
namespace {
// ---- flow against masks -----------------------------------------------------------------
// Surface s2 hides surface s1 when it is an instance in front of it (labels: 0 background,
// k+1 instance k, smaller k in front).
bool in_front(int s2, int s1) { return s2 != 0 && (s1 == 0 || s2 < s1); }

const std::vector<Affine2>& poses_of(const SynthScene& sc, int s) {
  return s == 0 ? sc.background_pose : sc.instances[static_cast<size_t>(s) - 1].pose;
}

struct WarpCounts {
  int64_t pixels = 0, exact = 0, occluded = 0, unexplained = 0;
  double worst_point_error = 0;
};

// Checks the flow of frame `dst` towards frame `src` (dst's backward or forward flow):
// (1) every pixel's flow carries its surface point to the same point of that surface in src
//     (compared in the surface's own frame);
// (2) nearest-neighbour warping of src's labels by that flow gives dst's labels exactly,
//     except where the surface point is hidden in src (occlusion) or leaves the frame, or where
//     a label boundary of src passes within one pixel of the source point (sampling).
void check_flow(const SynthScene& sc, const SynthFrame& fd, const SynthFrame& fs, int dst, int src,
                const Flow& flow, WarpCounts* c) {
  const int W = sc.width, H = sc.height;
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x) {
      const int s = fd.labels[static_cast<size_t>(y) * W + x];
      const double sx = x + flow.u(x, y), sy = y + flow.v(x, y);
      double u0, v0, u1, v1;
      poses_of(sc, s)[static_cast<size_t>(dst)].inverse().apply(x, y, &u0, &v0);
      poses_of(sc, s)[static_cast<size_t>(src)].inverse().apply(sx, sy, &u1, &v1);
      c->worst_point_error = std::max(c->worst_point_error, std::hypot(u1 - u0, v1 - v0));
      ++c->pixels;
      const int nx = static_cast<int>(std::lround(sx)), ny = static_cast<int>(std::lround(sy));
      const bool inside = nx >= 0 && ny >= 0 && nx < W && ny < H;
      if (inside && fs.labels[static_cast<size_t>(ny) * W + nx] == s) {
        ++c->exact;
        continue;
      }
      const int visible = synth_surface_at(sc, src, sx, sy);
      if (!inside || visible != s) {
        // Not visible in src at the exact point: it must be hidden by a surface in front.
        if (inside && !in_front(visible, s)) ++c->unexplained;
        ++c->occluded;
        continue;
      }
      // Visible at the exact point but not at the nearest pixel: a boundary within a pixel.
      bool boundary = false;
      for (int dy = -1; dy <= 1; ++dy)
        for (int dx = -1; dx <= 1; ++dx) {
          const int qx = std::clamp(nx + dx, 0, W - 1), qy = std::clamp(ny + dy, 0, H - 1);
          boundary |= fs.labels[static_cast<size_t>(qy) * W + qx] != s;
        }
      if (!boundary) ++c->unexplained;
    }
}

TEST(Synth, FlowIsExactAndWarpsLabelsExceptAtOcclusions) {
  SynthConfig cfg;
  cfg.videos = 12;
  cfg.frames = 6;
  cfg.seed = 3;
  WarpCounts c;
  for (int i = 0; i < cfg.videos; ++i) {
    const SynthScene sc = make_synth_scene(cfg, i);
    std::vector<SynthFrame> f;
    for (int t = 0; t < cfg.frames; ++t) f.push_back(render_synth_frame(sc, t));
    for (int t = 0; t + 1 < cfg.frames; ++t) {
      check_flow(sc, f[static_cast<size_t>(t) + 1], f[static_cast<size_t>(t)], t + 1, t,
                 f[static_cast<size_t>(t) + 1].backward, &c);
      check_flow(sc, f[static_cast<size_t>(t)], f[static_cast<size_t>(t) + 1], t, t + 1,
                 f[static_cast<size_t>(t)].forward, &c);
    }
  }
  // float32 flow of a few pixels: about 1e-6 px of rounding.
  EXPECT_LT(c.worst_point_error, 1e-3);
  EXPECT_EQ(c.unexplained, 0) << "of " << c.pixels << " pixels";
  EXPECT_GT(static_cast<double>(c.exact) / c.pixels, 0.97)
      << c.exact << " exact, " << c.occluded << " occluded of " << c.pixels;
  EXPECT_GT(c.occluded, 0) << "the scenes should contain occlusions or frame exits";
  std::printf(
      "[ info ] %lld pixels: %.2f%% land on their own label, %.2f%% hidden in the other "
      "frame, the rest within a pixel of a boundary; worst point error %.2e px\n",
      static_cast<long long>(c.pixels), 100.0 * c.exact / c.pixels, 100.0 * c.occluded / c.pixels,
      c.worst_point_error);
}

// Pixels of the mask with a 4-neighbour outside it (or on the image border): the contour.
int64_t contour_pixels(const std::vector<uint8_t>& m, int W, int H) {
  int64_t n = 0;
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x) {
      if (!m[static_cast<size_t>(y) * W + x]) continue;
      auto out = [&](int qx, int qy) {
        return qx < 0 || qy < 0 || qx >= W || qy >= H || !m[static_cast<size_t>(qy) * W + qx];
      };
      n += out(x - 1, y) || out(x + 1, y) || out(x, y - 1) || out(x, y + 1);
    }
  return n;
}

// Warped masks against the target frame's masks, with the bilinear mask warp of
// kernels/warp.h (sample the source at p + flow(p), threshold 0.5), in both directions, for
// every instance of every frame pair.
// Occlusions: backward warping cannot be right where the target's surface point was hidden in
// the source (a disocclusion: the strip of background an object uncovers samples the object's
// old place), so the comparison covers the pixels whose target surface is visible at the source
// point (known exactly from the scene).
// Sampling: frames are rendered without anti-aliasing, so a mask boundary lies anywhere between
// two pixel centres, and a warped boundary (bilinear, 0.5) is off by up to half a pixel from
// the true one, uniformly: the expected symmetric difference is about 0.25 pixel per pixel of
// contour. Bounds, with margin:
//   - every instance: |warped XOR target| <= 0.6 * contour pixels of the target (+4); measured
//     on this set: median 0.19, 90th percentile 0.27, worst 0.53 (a 17-pixel sliver);
//   - non-occluded instances (whole shape visible in both frames, not cut by the border) that
//     are compact (area >= 10 * contour pixels, e.g. discs of radius >= ~20 px): IoU > 0.95,
//     which the worst XOR/contour ratio of 0.45 on large masks allows (1 - 0.45/10). Smaller,
//     thin or spiky shapes (rings, stars, crosses) have more contour per area: a 128 x 128
//     star of radius 15 warps with IoU ~0.92 although every boundary is within half a pixel,
//     so their check is the first bound.
TEST(Synth, WarpedMasksMatchTheTargetFrameExceptAtOcclusions) {
  // The default set, and one with larger instances so that many are compact.
  SynthConfig base, large;
  base.videos = large.videos = 12;
  base.frames = large.frames = 6;
  base.seed = 5;
  large.seed = 6;
  large.min_radius = 0.2;
  large.max_radius = 0.3;
  large.max_instances = 2;
  const int W = base.width, H = base.height;
  const size_t HW = static_cast<size_t>(W) * H;
  int tested = 0, tested_compact = 0;
  double worst_ratio = 0, worst_compact_iou = 1;
  for (int i = 0; i < 2 * base.videos; ++i) {
    const SynthConfig& cfg = i < base.videos ? base : large;
    const SynthScene sc = make_synth_scene(cfg, i % base.videos);
    const int K = static_cast<int>(sc.instances.size());
    std::vector<SynthFrame> f;
    for (int t = 0; t < cfg.frames; ++t) f.push_back(render_synth_frame(sc, t));
    auto whole = [&](int k, int t) {
      const std::vector<uint8_t> amodal = synth_amodal_mask(sc, k, t);
      if (amodal != synth_instance_mask(f[static_cast<size_t>(t)], k)) return false;
      for (int x = 0; x < W; ++x)
        if (amodal[static_cast<size_t>(x)] || amodal[static_cast<size_t>(H - 1) * W + x])
          return false;
      for (int y = 0; y < H; ++y)
        if (amodal[static_cast<size_t>(y) * W] || amodal[static_cast<size_t>(y) * W + W - 1])
          return false;
      return true;
    };
    for (int t = 0; t + 1 < cfg.frames; ++t) {
      for (int dir = 0; dir < 2; ++dir) {
        const int src = dir == 0 ? t : t + 1, dst = dir == 0 ? t + 1 : t;
        const SynthFrame& fd = f[static_cast<size_t>(dst)];
        const Flow& flow = dir == 0 ? fd.backward : fd.forward;  // dst -> src
        std::vector<float> planar(2 * HW);
        std::vector<uint8_t> valid(HW);
        for (int y = 0; y < H; ++y)
          for (int x = 0; x < W; ++x) {
            const size_t p = static_cast<size_t>(y) * W + x;
            planar[p] = flow.uv[2 * p];
            planar[HW + p] = flow.uv[2 * p + 1];
            valid[p] =
                synth_surface_at(sc, src, x + flow.u(x, y), y + flow.v(x, y)) == fd.labels[p];
          }
        std::vector<uint8_t> masks;
        for (int k = 0; k < K; ++k) {
          const auto m = synth_instance_mask(f[static_cast<size_t>(src)], k);
          masks.insert(masks.end(), m.begin(), m.end());
        }
        std::vector<uint8_t> warped(masks.size());
        kernels::cpu::warp_masks<uint8_t>(masks.data(), planar.data(), K, H, W, warped.data(),
                                          nullptr, nullptr);
        for (int k = 0; k < K; ++k) {
          const auto target = synth_instance_mask(fd, k);
          int64_t inter = 0, uni = 0, area = 0;
          for (size_t p = 0; p < HW; ++p) {
            area += target[p];
            if (!valid[p]) continue;
            const bool a = warped[static_cast<size_t>(k) * HW + p] != 0, b = target[p] != 0;
            inter += a && b;
            uni += a || b;
          }
          if (uni == 0) continue;
          const int64_t contour = contour_pixels(target, W, H);
          const int64_t xor_pixels = uni - inter;
          ++tested;
          worst_ratio = std::max(worst_ratio,
                                 static_cast<double>(xor_pixels) / std::max<int64_t>(contour, 1));
          EXPECT_LE(xor_pixels, 0.6 * contour + 4)
              << sc.name << " instance " << k << " frames " << src << "->" << dst;
          if (whole(k, src) && whole(k, dst) && area >= 10 * contour) {
            const double iou = static_cast<double>(inter) / static_cast<double>(uni);
            worst_compact_iou = std::min(worst_compact_iou, iou);
            ++tested_compact;
            EXPECT_GT(iou, 0.95) << sc.name << " instance " << k << " frames " << src << "->"
                                 << dst;
          }
        }
      }
    }
  }
  EXPECT_GE(tested, 300);
  EXPECT_GE(tested_compact, 15);
  std::printf(
      "[ info ] warped masks: %d instance-frame pairs, worst XOR/contour %.3f; %d compact "
      "non-occluded ones, worst IoU %.4f\n",
      tested, worst_ratio, tested_compact, worst_compact_iou);
}

// ---- camouflage -------------------------------------------------------------------------------
// Balanced accuracy (mean of the two per-class recalls; 0.5 = chance) of the best per-frame
// colour classifier separating an instance's pixels (pos) from the background pixels around it
// (neg), fitted and scored on the same pixels (so optimistic): the better of
//   - the best threshold on one channel (R, G or B, either polarity), and
//   - a 4x4x4-bin RGB histogram classifier (each bin votes for the class it holds more of).
double best_colour_classifier(const std::vector<std::array<uint8_t, 3>>& pos,
                              const std::vector<std::array<uint8_t, 3>>& neg) {
  const double np = static_cast<double>(pos.size()), nn = static_cast<double>(neg.size());
  double best = 0.5;
  for (int c = 0; c < 3; ++c) {
    std::array<double, 257> below_p{}, below_n{};  // fraction with value < threshold
    for (const auto& p : pos) below_p[p[static_cast<size_t>(c)] + 1u] += 1 / np;
    for (const auto& q : neg) below_n[q[static_cast<size_t>(c)] + 1u] += 1 / nn;
    for (size_t i = 1; i < 257; ++i) {
      below_p[i] += below_p[i - 1];
      below_n[i] += below_n[i - 1];
    }
    for (size_t thr = 0; thr < 257; ++thr) {
      const double acc = 0.5 * ((1 - below_p[thr]) + below_n[thr]);  // pos if value >= thr
      best = std::max(best, std::max(acc, 1 - acc));
    }
  }
  std::array<double, 64> hp{}, hn{};
  auto bin = [](const std::array<uint8_t, 3>& v) {
    return (v[0] >> 6) * 16 + (v[1] >> 6) * 4 + (v[2] >> 6);
  };
  for (const auto& p : pos) hp[static_cast<size_t>(bin(p))] += 1 / np;
  for (const auto& q : neg) hn[static_cast<size_t>(bin(q))] += 1 / nn;
  double hist = 0;
  for (size_t b = 0; b < 64; ++b) hist += 0.5 * std::max(hp[b], hn[b]);
  return std::max(best, hist);
}

struct CamouflageScores {
  std::vector<double> scores;  // one per (video, frame, instance) with enough pixels
  double mean() const {
    double s = 0;
    for (double x : scores) s += x;
    return scores.empty() ? 0 : s / static_cast<double>(scores.size());
  }
  double quantile(double q) const {
    std::vector<double> v = scores;
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[static_cast<size_t>(q * static_cast<double>(v.size() - 1))];
  }
};

CamouflageScores colour_separability(const SynthConfig& cfg) {
  CamouflageScores out;
  const int W = cfg.width, H = cfg.height;
  for (int i = 0; i < cfg.videos; ++i) {
    const SynthScene sc = make_synth_scene(cfg, i);
    for (int t = 0; t < cfg.frames; ++t) {
      const SynthFrame f = render_synth_frame(sc, t, false);
      for (size_t k = 0; k < sc.instances.size(); ++k) {
        const auto mask = synth_instance_mask(f, static_cast<int>(k));
        const Rle rle = rle_encode(mask, H, W);
        if (rle_area(rle) < 60) continue;
        const BoxXywh b = rle_to_bbox(rle);
        // The box grown by half its size on each side: the background an annotator's box
        // and its surroundings show.
        const int x0 = std::max(0, static_cast<int>(b[0] - b[2] / 2));
        const int x1 = std::min(W, static_cast<int>(b[0] + 1.5 * b[2]));
        const int y0 = std::max(0, static_cast<int>(b[1] - b[3] / 2));
        const int y1 = std::min(H, static_cast<int>(b[1] + 1.5 * b[3]));
        std::vector<std::array<uint8_t, 3>> pos, neg;
        for (int y = y0; y < y1; ++y)
          for (int x = x0; x < x1; ++x) {
            const size_t p = static_cast<size_t>(y) * W + x;
            const std::array<uint8_t, 3> rgb = {f.image.data[3 * p], f.image.data[3 * p + 1],
                                                f.image.data[3 * p + 2]};
            if (f.labels[p] == k + 1)
              pos.push_back(rgb);
            else if (f.labels[p] == 0)
              neg.push_back(rgb);
          }
        if (neg.size() < 60) continue;
        out.scores.push_back(best_colour_classifier(pos, neg));
      }
    }
  }
  return out;
}

// The same scenes twice (camouflage only swaps textures, the geometry and motion draws are the
// same): every instance camouflaged, then none. Per frame, the best colour classifier must be
// near chance on camouflaged instances and near perfect on ordinary ones, so the test fails if
// camouflage stopped using the background's colours (or the classifier stopped working).
// Bounds: camouflaged mean <= 0.65 and 90th percentile <= 0.75 (chance is 0.5; in-sample
// fitting on a few hundred spatially correlated pixels of value noise whose blobs are not
// much smaller than the instance buys the rest); ordinary mean >= 0.95 and 10th percentile
// >= 0.9 (the class colour pairs are far from the background's).
TEST(Synth, CamouflagedInstancesAreInvisibleToColourClassifiers) {
  SynthConfig cfg;
  cfg.videos = 12;
  cfg.frames = 4;
  cfg.seed = 11;
  cfg.touching = 0;
  cfg.camouflage = 1;
  const CamouflageScores camo = colour_separability(cfg);
  const SynthScene camo_scene = make_synth_scene(cfg, 0);
  cfg.camouflage = 0;
  const CamouflageScores plain = colour_separability(cfg);
  EXPECT_EQ(render_synth_frame(make_synth_scene(cfg, 0), 0, false).labels,
            render_synth_frame(camo_scene, 0, false).labels);
  ASSERT_EQ(camo.scores.size(), plain.scores.size());
  ASSERT_GE(camo.scores.size(), 40u);
  std::printf(
      "[ info ] best colour classifier, balanced accuracy over %zu instance-frames: "
      "camouflaged mean %.3f (90%% %.3f, max %.3f); ordinary mean %.3f (10%% %.3f)\n",
      camo.scores.size(), camo.mean(), camo.quantile(0.9), camo.quantile(1.0), plain.mean(),
      plain.quantile(0.1));
  EXPECT_LE(camo.mean(), 0.65);
  EXPECT_LE(camo.quantile(0.9), 0.75);
  EXPECT_GE(plain.mean(), 0.95);
  EXPECT_GE(plain.quantile(0.1), 0.9);
}

// ---- touching pairs ---------------------------------------------------------------------------
// With touching = 1 every video has a same-class pair (instances 0 and 1). In every frame
// where both are visible their masks are 4-adjacent (IRN's hard case: no background between
// them), and the back one is mostly visible (they touch, not hide each other: >= 60% of its
// shape shows whenever the whole shape is inside the frame).
TEST(Synth, TouchingPairsTouchInEveryFrame) {
  SynthConfig cfg;
  cfg.videos = 16;
  cfg.touching = 1;
  cfg.camouflage = 0;
  cfg.seed = 13;
  const int W = cfg.width, H = cfg.height;
  int frames_checked = 0;
  std::vector<int> classes_seen(kSynthClasses, 0);
  for (int i = 0; i < cfg.videos; ++i) {
    const SynthScene sc = make_synth_scene(cfg, i);
    ASSERT_GE(sc.instances.size(), 2u);
    const SynthInstance &a = sc.instances[0], &b = sc.instances[1];
    EXPECT_EQ(a.touching, 1);
    EXPECT_EQ(b.touching, 0);
    EXPECT_EQ(a.class_id, b.class_id);
    for (size_t k = 2; k < sc.instances.size(); ++k) EXPECT_EQ(sc.instances[k].touching, -1);
    ++classes_seen[static_cast<size_t>(a.class_id)];
    for (int t = 0; t < cfg.frames; ++t) {
      const SynthFrame f = render_synth_frame(sc, t, false);
      int64_t area_a = 0, area_b = 0, adjacent = 0;
      for (int y = 0; y < H; ++y)
        for (int x = 0; x < W; ++x) {
          const uint8_t l = f.labels[static_cast<size_t>(y) * W + x];
          area_a += l == 1;
          area_b += l == 2;
          if (l != 1) continue;
          if (x + 1 < W) adjacent += f.labels[static_cast<size_t>(y) * W + x + 1] == 2;
          if (x > 0) adjacent += f.labels[static_cast<size_t>(y) * W + x - 1] == 2;
          if (y + 1 < H) adjacent += f.labels[static_cast<size_t>(y + 1) * W + x] == 2;
          if (y > 0) adjacent += f.labels[static_cast<size_t>(y - 1) * W + x] == 2;
        }
      if (area_a == 0 || area_b == 0) continue;
      ++frames_checked;
      EXPECT_GE(adjacent, 3) << sc.name << " frame " << t << ": the pair does not touch";
      const auto amodal = synth_amodal_mask(sc, 1, t);
      int64_t full = 0, border = 0;
      for (int y = 0; y < H; ++y)
        for (int x = 0; x < W; ++x) {
          const bool m = amodal[static_cast<size_t>(y) * W + x] != 0;
          full += m;
          border += m && (x == 0 || y == 0 || x == W - 1 || y == H - 1);
        }
      if (border == 0) {
        EXPECT_GE(area_b, 0.6 * full) << sc.name << " frame " << t;
      }
    }
  }
  EXPECT_GE(frames_checked, cfg.videos * cfg.frames * 9 / 10);
  int distinct = 0;
  for (int n : classes_seen) distinct += n > 0;
  EXPECT_GE(distinct, 4) << "touching pairs should cover most shape families";
}

}  // namespace
}  // namespace wsvis::data
