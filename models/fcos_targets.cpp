#include "models/fcos_targets.h"

#include <algorithm>
#include <cmath>

#include "engine/error.h"
#include "kernels/boxes.h"

namespace wsvis::models {

FcosLayout FcosLayout::from_sizes(int num_images, const std::vector<int>& strides,
                                  const std::vector<int64_t>& heights,
                                  const std::vector<int64_t>& widths) {
  WSVIS_CHECK(num_images >= 0 && !strides.empty() && heights.size() == strides.size() &&
                  widths.size() == strides.size(),
              "FcosLayout: ", num_images, " images, ", strides.size(), " strides, ",
              heights.size(), " heights and ", widths.size(), " widths (one per level needed)");
  FcosLayout layout;
  layout.num_images = num_images;
  layout.strides = strides;
  layout.heights = heights;
  layout.widths = widths;
  layout.level_begin.push_back(0);
  for (size_t l = 0; l < strides.size(); ++l) {
    WSVIS_CHECK(strides[l] > 0 && heights[l] >= 0 && widths[l] >= 0, "FcosLayout: level ", l,
                " has stride ", strides[l], " and size ", heights[l], "x", widths[l]);
    layout.level_begin.push_back(layout.level_begin.back() +
                                 int64_t(num_images) * heights[l] * widths[l]);
  }
  return layout;
}

FcosLayout FcosLayout::from_maps(const std::vector<Tensor>& maps, const std::vector<int>& strides) {
  WSVIS_CHECK(!maps.empty() && maps.size() == strides.size(), "FcosLayout: ", maps.size(),
              " maps for ", strides.size(), " strides");
  std::vector<int64_t> heights, widths;
  for (const Tensor& m : maps) {
    WSVIS_CHECK(m.dim() == 4 && m.size(0) == maps[0].size(0),
                "FcosLayout: every map must be (N, D, H, W) with one N, got ", m.shape_str(),
                " after ", maps[0].shape_str());
    heights.push_back(m.size(2));
    widths.push_back(m.size(3));
  }
  return from_sizes(static_cast<int>(maps[0].size(0)), strides, heights, widths);
}

std::array<float, 2> FcosLayout::location_xy(int level, int64_t location) const {
  const int64_t w = widths[size_t(level)];
  const int s = strides[size_t(level)];
  // As kernels fcos_locations: (x * s + s / 2, y * s + s / 2), integer s / 2.
  return {float((location % w) * s + s / 2), float((location / w) * s + s / 2)};
}

std::vector<double> fcos_default_sizes_of_interest() { return {64, 128, 256, 512}; }

std::array<float, 2> fcos_mask_centroid(const uint8_t* mask, int height, int width) {
  double m00 = 0, m10 = 0, m01 = 0;
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      if (mask[size_t(y) * size_t(width) + size_t(x)]) {
        m00 += 1;
        m10 += x;
        m01 += y;
      }
  m00 = std::max(m00, 1e-6);
  return {float(m10 / m00), float(m01 / m00)};
}

int FcosTargets::level_of(int64_t row) const {
  WSVIS_CHECK(row >= 0 && row < layout.rows(), "FcosTargets: row ", row, " outside [0, ",
              layout.rows(), ")");
  const auto it = std::upper_bound(layout.level_begin.begin(), layout.level_begin.end(), row);
  return static_cast<int>(it - layout.level_begin.begin()) - 1;
}

int FcosTargets::image_of(int64_t row) const {
  const int l = level_of(row);
  return static_cast<int>((row - layout.level_begin[size_t(l)]) / layout.locations(l));
}

namespace {

constexpr float kInf = 100000000.0f;  // AdelaiDet's INF: the upper bound of the last range

// Per GT of one image, in float as AdelaiDet's tensors.
struct GtGeometry {
  float x1, y1, x2, y2, cx, cy, area;
  int64_t cls;
};

std::vector<GtGeometry> gt_geometry(const FcosGtInstances& gt, int image, int num_classes) {
  const size_t g = gt.boxes.size();
  WSVIS_CHECK(gt.classes.size() == g, "compute_fcos_targets: image ", image, " has ", g,
              " boxes but ", gt.classes.size(), " classes");
  WSVIS_CHECK(gt.centers.empty() || gt.centers.size() == g, "compute_fcos_targets: image ",
              image, " has ", g, " boxes but ", gt.centers.size(), " centres");
  std::vector<GtGeometry> out(g);
  for (size_t k = 0; k < g; ++k) {
    const auto& b = gt.boxes[k];
    WSVIS_CHECK(b[2] >= b[0] && b[3] >= b[1], "compute_fcos_targets: image ", image, " box ", k,
                " (", b[0], ", ", b[1], ", ", b[2], ", ", b[3], ") has x2 < x1 or y2 < y1");
    WSVIS_CHECK(gt.classes[k] >= 0 && gt.classes[k] < num_classes, "compute_fcos_targets: image ",
                image, " box ", k, " has class ", gt.classes[k], " outside [0, ", num_classes, ")");
    GtGeometry& o = out[k];
    o = {b[0], b[1], b[2], b[3], 0, 0, (b[2] - b[0]) * (b[3] - b[1]), gt.classes[k]};
    if (gt.centers.empty()) {
      o.cx = (b[0] + b[2]) * 0.5f;
      o.cy = (b[1] + b[3]) * 0.5f;
    } else {
      o.cx = gt.centers[k][0];
      o.cy = gt.centers[k][1];
    }
  }
  return out;
}

// The (l, t, r, b) distances of (x, y) to a box.
std::array<float, 4> ltrb(float x, float y, float x1, float y1, float x2, float y2) {
  return {x - x1, y - y1, x2 - x, y2 - y};
}

float min4(const std::array<float, 4>& v) { return std::min(std::min(v[0], v[1]), std::min(v[2], v[3])); }
float max4(const std::array<float, 4>& v) { return std::max(std::max(v[0], v[1]), std::max(v[2], v[3])); }

}  // namespace

FcosTargets compute_fcos_targets(const FcosLayout& layout,
                                 const std::vector<FcosGtInstances>& gts,
                                 const FcosTargetOptions& options) {
  const int levels = layout.num_levels();
  WSVIS_CHECK(gts.size() == size_t(layout.num_images), "compute_fcos_targets: ", gts.size(),
              " ground-truth sets for ", layout.num_images, " images");
  WSVIS_CHECK(options.sizes_of_interest.size() + 1 == size_t(levels),
              "compute_fcos_targets: ", options.sizes_of_interest.size(),
              " sizes_of_interest for ", levels, " levels (need one fewer)");
  WSVIS_CHECK(options.num_classes > 0 && options.pos_radius > 0, "compute_fcos_targets: ",
              "num_classes ", options.num_classes, " and pos_radius ", options.pos_radius,
              " must be positive");

  FcosTargets t;
  t.layout = layout;
  t.num_classes = options.num_classes;
  const int64_t rows = layout.rows();
  t.labels.assign(size_t(rows), options.num_classes);
  t.gt_index.assign(size_t(rows), -1);
  t.reg_targets.assign(size_t(rows) * 4, 0.0f);

  std::vector<std::vector<GtGeometry>> geometry;
  for (int n = 0; n < layout.num_images; ++n)
    geometry.push_back(gt_geometry(gts[size_t(n)], n, options.num_classes));

  for (int l = 0; l < levels; ++l) {
    const float lo = l == 0 ? -1.0f : float(options.sizes_of_interest[size_t(l - 1)]);
    const float hi = l + 1 == levels ? kInf : float(options.sizes_of_interest[size_t(l)]);
    const int stride = layout.strides[size_t(l)];
    const float radius = float(stride * options.pos_radius);
    std::vector<float> xy(size_t(layout.locations(l)) * 2);
    kernels::cpu::fcos_locations<float>(xy.data(), layout.heights[size_t(l)],
                                        layout.widths[size_t(l)], stride);
    for (int n = 0; n < layout.num_images; ++n) {
      const std::vector<GtGeometry>& gt = geometry[size_t(n)];
      for (int64_t p = 0; p < layout.locations(l); ++p) {
        const float x = xy[size_t(p) * 2], y = xy[size_t(p) * 2 + 1];
        int best = -1;
        std::array<float, 4> best_ltrb{};
        for (size_t k = 0; k < gt.size(); ++k) {
          const GtGeometry& g = gt[k];
          const std::array<float, 4> d = ltrb(x, y, g.x1, g.y1, g.x2, g.y2);
          bool inside;
          if (options.center_sample) {
            const float sx1 = std::max(g.cx - radius, g.x1), sy1 = std::max(g.cy - radius, g.y1);
            const float sx2 = std::min(g.cx + radius, g.x2), sy2 = std::min(g.cy + radius, g.y2);
            inside = min4(ltrb(x, y, sx1, sy1, sx2, sy2)) > 0;
          } else {
            inside = min4(d) > 0;
          }
          const float reach = max4(d);
          if (!inside || reach < lo || reach > hi) continue;
          if (best < 0 || g.area < gt[size_t(best)].area) {
            best = static_cast<int>(k);
            best_ltrb = d;
          }
        }
        if (best < 0) continue;
        const int64_t r = layout.row(l, n, p);
        t.labels[size_t(r)] = gt[size_t(best)].cls;
        t.gt_index[size_t(r)] = best;
        for (int c = 0; c < 4; ++c) t.reg_targets[size_t(r) * 4 + size_t(c)] = best_ltrb[size_t(c)] / float(stride);
      }
    }
  }

  for (int64_t r = 0; r < rows; ++r) {
    if (t.gt_index[size_t(r)] < 0) continue;
    t.positives.push_back(r);
    const float* d = &t.reg_targets[size_t(r) * 4];
    const float lr = std::min(d[0], d[2]) / std::max(d[0], d[2]);
    const float tb = std::min(d[1], d[3]) / std::max(d[1], d[3]);
    t.ctr_targets.push_back(std::sqrt(lr * tb));
  }
  return t;
}

}  // namespace wsvis::models
