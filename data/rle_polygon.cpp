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

void check_dims(int h, int w, const char* fn) {
  if (h < 0 || w < 0) {
    std::ostringstream os;
    os << fn << ": mask size must be non-negative, got " << h << "x" << w;
    throw Error(os.str());
  }
}

}  // namespace

// ---- rasterisation -------------------------------------------------------------------------

Rle rle_from_polygon(const std::vector<double>& xy, int h, int w) {
  check_dims(h, w, "rle_from_polygon");
  if (xy.size() % 2 != 0) {
    std::ostringstream os;
    os << "rle_from_polygon: a polygon needs an even number of coordinates, got " << xy.size();
    throw Error(os.str());
  }
  const size_t k = xy.size() / 2;
  const double scale = 5;
  const uint32_t hw = static_cast<uint32_t>(static_cast<uint64_t>(h) * static_cast<uint64_t>(w));
  if (k == 0) return Rle{h, w, {hw}};

  // 1. Vertices at 5x resolution, rounded as maskApi does (truncation of v + 0.5), closed.
  std::vector<int> x(k + 1), y(k + 1);
  for (size_t j = 0; j < k; ++j) {
    x[j] = static_cast<int>(scale * xy[2 * j] + .5);
    y[j] = static_cast<int>(scale * xy[2 * j + 1] + .5);
  }
  x[k] = x[0];
  y[k] = y[0];

  // 2. Dense boundary points: walk each edge along its major axis one step at a time,
  // always from the end with the smaller major coordinate (so that rounding of the minor
  // coordinate does not depend on the direction), emitting points in the edge's order.
  std::vector<int> u, v;
  for (size_t j = 0; j < k; ++j) {
    int xs = x[j], xe = x[j + 1], ys = y[j], ye = y[j + 1];
    const int dx = std::abs(xe - xs), dy = std::abs(ys - ye);
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
      for (int d = 0; d <= dx; ++d) {
        const int t = flip ? dx - d : d;
        u.push_back(t + xs);
        v.push_back(static_cast<int>(ys + s * t + .5));
      }
    } else {
      const double s = static_cast<double>(xe - xs) / dy;
      for (int d = 0; d <= dy; ++d) {
        const int t = flip ? dy - d : d;
        v.push_back(t + ys);
        u.push_back(static_cast<int>(xs + s * t + .5));
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
    a.push_back(static_cast<uint32_t>(static_cast<int>(xd) * h + static_cast<int>(yd)));
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
    check_dims(h, w, "rle_from_polygons");
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
