// COCO instances JSON (images, annotations, categories) and COCO results, on the host.
//
// Reading validates and throws wsvis::InputError naming the file and the field, e.g.
//   "instances_val2017.json: annotations[4].image_id is 12, which no image has".
// Checked: JSON syntax; required fields and types; unique ids; every annotation's image_id
// and category_id exist; RLE size equals the image size and its counts cover it; polygons
// have an even number of coordinates. Kept as stored: area (COCO areas of polygons are
// fractional and the crowd RLE's stored area need not equal its pixel count).
// Not kept: info, licenses, and image fields other than id/width/height/file_name.
// Writing is atomic (temp file in the same directory + rename).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "data/segmentation.h"

namespace wsvis::data {

struct CocoImage {
  int64_t id = 0;
  int width = 0;
  int height = 0;
  std::string file_name;
};

struct CocoAnnotation {
  int64_t id = 0;
  int64_t image_id = 0;
  int64_t category_id = 0;
  int iscrowd = 0;
  std::optional<Segmentation> segmentation;  // absent in box-only datasets
  BoxXywh bbox{0, 0, 0, 0};
  // As stored; when the file has no "area", the segmentation's pixel count (or the box area
  // if there is no segmentation).
  double area = 0;
};

struct CocoDataset {
  std::vector<CocoImage> images;
  std::vector<CocoAnnotation> annotations;
  std::vector<Category> categories;

  int64_t image_index(int64_t image_id) const;      // -1 if absent
  int64_t category_index(int64_t category_id) const;
  void reindex();  // after editing images/categories by hand (read_coco builds the maps)

 private:
  std::unordered_map<int64_t, size_t> image_by_id_, category_by_id_;
};

// One detection / segmentation result.
struct CocoResult {
  int64_t image_id = 0;
  int64_t category_id = 0;
  double score = 0;
  std::optional<Rle> segmentation;  // RLE (compressed in files we write)
  std::optional<BoxXywh> bbox;
};

CocoDataset read_coco(const std::string& path);
void write_coco(const CocoDataset& dataset, const std::string& path);

// A JSON list of {image_id, category_id, score, segmentation?, bbox?}; each entry needs a
// segmentation or a bbox. With `gt`, image ids and RLE sizes are checked against it.
std::vector<CocoResult> read_coco_results(const std::string& path, const CocoDataset* gt = nullptr);
void write_coco_results(const std::vector<CocoResult>& results, const std::string& path);

}  // namespace wsvis::data
