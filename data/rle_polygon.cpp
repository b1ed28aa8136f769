// COCO polygon and box rasterisation (maskApi.c rleFrPoly / rleFrBbox semantics), declared in
// data/rle.h. Split from rle.cpp to keep files short.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <sstream>

#include "data/rle.h"
#include "engine/error.h"

namespace wsvis::data {

namespace {


}  // namespace

// ---- rasterisation -------------------------------------------------------------------------

void check_polygon(const std::vector<double>& xy, int h, int w) {
  check_rle_dims(h, w, "rle_from_polygon");
  if (xy.size() % 2 != 0) {
    std::ostringstream os;
    os << "rle_from_polygon: a polygon needs an even number of coordinates, got " << xy.size();
    throw Error(os.str());
  }
  // Vertices within a generous margin of the image: beyond it no pixel is affected differently,
  // and 5x coordinates of absurd values would overflow.
  const double margin = std::max(4.0 * std::max(h, w), 1024.0);
  for (size_t i = 0; i < xy.size(); ++i) {
    const double limit = (i % 2 == 0 ? w : h) + margin;
    if (!std::isfinite(xy[i]) || xy[i] < -margin || xy[i] > limit) {
      std::ostringstream os;
      os << "rle_from_polygon: coordinate " << i << " = " << xy[i] << " is not within "
         << margin << " pixels of the " << h << "x" << w << " image";
      throw Error(os.str());
    }
  }
  // The walk's length at 5x, known before it runs: a long zig-zag of many vertices is refused
  // rather than allowed to exhaust memory (the cap is far above any real object's boundary).
  const size_t k = xy.size() / 2;
  int64_t points = 0;
  for (size_t j = 0; j < k; ++j) {
    const size_t n = (j + 1) % k;
    const double dx = std::fabs(5 * (xy[2 * n] - xy[2 * j])), dy = std::fabs(5 * (xy[2 * n + 1] - xy[2 * j + 1]));
    points += static_cast<int64_t>(std::max(dx, dy)) + 2;
  }
  if (points > kMaxPolygonBoundaryPoints) {
    std::ostringstream os;
    os << "rle_from_polygon: the polygon's boundary is about " << points << " points long at 5x "
       << "resolution (more than " << kMaxPolygonBoundaryPoints << ")";
    throw Error(os.str());
  }
}

Rle rle_from_polygon(const std::vector<double>& xy, int h, int w) {
  check_polygon(xy, h, w);
  const size_t k = xy.size() / 2;
  const double scale = 5;
  const uint32_t hw = static_cast<uint32_t>(static_cast<uint64_t>(h) * static_cast<uint64_t>(w));
  if (k == 0) return Rle{h, w, {hw}};

  // 1. Vertices at 5x resolution, rounded as maskApi does (truncation of v + 0.5), closed.
  // 64-bit: 5x coordinates of large images exceed int.
  std::vector<int64_t> x(k + 1), y(k + 1);
  for (size_t j = 0; j < k; ++j) {
    x[j] = static_cast<int64_t>(scale * xy[2 * j] + .5);
    y[j] = static_cast<int64_t>(scale * xy[2 * j + 1] + .5);
  }
  x[k] = x[0];
  y[k] = y[0];
  // 2. Dense boundary points: walk each edge along its major axis one step at a time,
  // always from the end with the smaller major coordinate (so that rounding of the minor
  // coordinate does not depend on the direction), emitting points in the edge's order.
  std::vector<int64_t> u, v;
  int64_t points = 0;  // within kMaxPolygonBoundaryPoints: check_polygon ran above
  for (size_t j = 0; j < k; ++j)
    points += std::max(std::abs(x[j + 1] - x[j]), std::abs(y[j + 1] - y[j])) + 1;
  u.reserve(static_cast<size_t>(points));
  v.reserve(static_cast<size_t>(points));
  for (size_t j = 0; j < k; ++j) {
    int64_t xs = x[j], xe = x[j + 1], ys = y[j], ye = y[j + 1];
    const int64_t dx = std::abs(xe - xs), dy = std::abs(ys - ye);
    const bool flip = (dx >= dy && xs > xe) || (dx < dy && ys > ye);
    if (flip) {
      std::swap(xs, xe);
      std::swap(ys, ye);
    }
    if (dx == 0 && dy == 0) {
      // maskApi divides 0 by 0 here; the resulting point has the same x as its neighbours,
      // so step 3 never looks at its y. Emit the vertex itself.
      u.push_back(xs);
      v.push_back(ys);
      continue;
    }
    if (dx >= dy) {
      const double s = static_cast<double>(ye - ys) / dx;
      for (int64_t d = 0; d <= dx; ++d) {
        const int64_t t = flip ? dx - d : d;
        u.push_back(t + xs);
        v.push_back(static_cast<int64_t>(ys + s * t + .5));
      }
    } else {
      const double s = static_cast<double>(xe - xs) / dy;
      for (int64_t d = 0; d <= dy; ++d) {
        const int64_t t = flip ? dy - d : d;
        v.push_back(t + ys);
        u.push_back(static_cast<int64_t>(xs + s * t + .5));
      }
    }
  }

  // 3. Where the boundary crosses a pixel column centre (x changes between neighbours at
  // the 5x scale and maps back to an integer column), record the first row at or below it.
  std::vector<uint32_t> a;
  for (size_t j = 1; j < u.size(); ++j) {
    if (u[j] == u[j - 1]) continue;
    double xd = static_cast<double>(u[j] < u[j - 1] ? u[j] : u[j] - 1);
    xd = (xd + .5) / scale - .5;
    if (std::floor(xd) != xd || xd < 0 || xd > w - 1) continue;
    double yd = static_cast<double>(v[j] < v[j - 1] ? v[j] : v[j - 1]);
    yd = (yd + .5) / scale - .5;
    if (yd < 0)
      yd = 0;
    else if (yd > h)
      yd = h;
    yd = std::ceil(yd);
    // xd <= w - 1 and yd <= h, so the index is at most h * w, which fits (check_rle_dims).
    a.push_back(static_cast<uint32_t>(static_cast<int64_t>(xd) * h + static_cast<int64_t>(yd)));
  }

  // 4. The sorted crossings are the run boundaries (each one toggles inside/outside);
  // a zero-length run between two equal crossings is merged into the run before it.
  a.push_back(hw);
  std::sort(a.begin(), a.end());
  uint32_t prev = 0;
  for (uint32_t& t : a) {
    const uint32_t cur = t;
    t -= prev;
    prev = cur;
  }
  std::vector<uint32_t> b;
  size_t j = 0;
  b.push_back(a[j++]);
  while (j < a.size()) {
    if (a[j] > 0) {
      b.push_back(a[j++]);
    } else {
      ++j;
      if (j < a.size()) b.back() += a[j++];
    }
  }
  return Rle{h, w, std::move(b)};
}

Rle rle_from_polygons(const std::vector<std::vector<double>>& polygons, int h, int w) {
  std::vector<Rle> parts;
  parts.reserve(polygons.size());
  for (const auto& p : polygons) parts.push_back(rle_from_polygon(p, h, w));
  if (parts.empty()) {
    check_rle_dims(h, w, "rle_from_polygons");
    return Rle{h, w, {static_cast<uint32_t>(static_cast<uint64_t>(h) * w)}};
  }
  return rle_merge(parts, /*intersect=*/false);
}

Rle rle_from_bbox(const BoxXywh& box, int h, int w) {
  const double xs = box[0], xe = xs + box[2];
  const double ys = box[1], ye = ys + box[3];
  return rle_from_polygon({xs, ys, xs, ye, xe, ye, xe, ys}, h, w);
}

}  // namespace wsvis::data
