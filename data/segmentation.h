// Types shared by the YouTube-VIS and COCO readers: an object's segmentation in one frame
// (RLE or polygons, as stored in the JSON) and a category.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/rle.h"

namespace wsvis::data {

struct Segmentation {
  enum class Kind { rle, polygons };
  Kind kind = Kind::rle;
  Rle rle;                                     // kind == rle
  bool compressed = true;                      // RLE stored as a counts string, else a list
  std::vector<std::vector<double>> polygons;   // kind == polygons: (x0, y0, x1, y1, ...)

  static Segmentation from_rle(Rle r, bool compressed_form = true) {
    Segmentation s;
    s.kind = Kind::rle;
    s.rle = std::move(r);
    s.compressed = compressed_form;
    return s;
  }
  static Segmentation from_polygons(std::vector<std::vector<double>> polys) {
    Segmentation s;
    s.kind = Kind::polygons;
    s.polygons = std::move(polys);
    return s;
  }
  // The mask as an RLE of the frame size: polygons are rasterised and united exactly as
  // pycocotools' annToRLE; an RLE is returned as stored (readers check that it is h x w).
  Rle to_rle(int h, int w) const {
    return kind == Kind::rle ? rle : rle_from_polygons(polygons, h, w);
  }
};

struct Category {
  int64_t id = 0;
  std::string name;
  std::string supercategory;
};

}  // namespace wsvis::data
