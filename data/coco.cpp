#include "data/coco.h"

#include <cmath>

#include "data/json_util.h"
#include "engine/error.h"

namespace wsvis::data {

using json::Json;
using json::Where;

int64_t CocoDataset::image_index(int64_t image_id) const {
  auto it = image_by_id_.find(image_id);
  return it == image_by_id_.end() ? -1 : static_cast<int64_t>(it->second);
}

int64_t CocoDataset::category_index(int64_t category_id) const {
  auto it = category_by_id_.find(category_id);
  return it == category_by_id_.end() ? -1 : static_cast<int64_t>(it->second);
}

void CocoDataset::reindex() {
  image_by_id_.clear();
  category_by_id_.clear();
  for (size_t i = 0; i < images.size(); ++i) image_by_id_.emplace(images[i].id, i);
  for (size_t i = 0; i < categories.size(); ++i) category_by_id_.emplace(categories[i].id, i);
}

namespace {

CocoImage parse_image(const Json& j, const Where& w) {
  json::require_object(j, w);
  CocoImage im;
  im.id = json::get_int(json::require(j, "id", w), w.key("id"));
  im.width = json::get_int32(json::require(j, "width", w), w.key("width"));
  im.height = json::get_int32(json::require(j, "height", w), w.key("height"));
  if (im.width <= 0) w.key("width").fail("must be positive, got " + std::to_string(im.width));
  if (im.height <= 0) w.key("height").fail("must be positive, got " + std::to_string(im.height));
  im.file_name = json::get_string(json::require(j, "file_name", w), w.key("file_name"));
  return im;
}

CocoAnnotation parse_annotation(const Json& j, const Where& w, const CocoDataset& ds) {
  json::require_object(j, w);
  CocoAnnotation a;
  a.id = json::get_int(json::require(j, "id", w), w.key("id"));
  a.image_id = json::get_int(json::require(j, "image_id", w), w.key("image_id"));
  a.category_id = json::get_int(json::require(j, "category_id", w), w.key("category_id"));
  if (const Json* c = json::find(j, "iscrowd")) a.iscrowd = json::get_flag(*c, w.key("iscrowd"));
  const int64_t ii = ds.image_index(a.image_id);
  if (ii < 0) w.key("image_id").fail("is " + std::to_string(a.image_id) + ", which no image has");
  if (ds.category_index(a.category_id) < 0)
    w.key("category_id").fail("is " + std::to_string(a.category_id) + ", which no category has");
  const CocoImage& im = ds.images[static_cast<size_t>(ii)];
  if (const Json* s = json::find(j, "segmentation"))
    if (!s->is_null())
      a.segmentation = json::get_segmentation(*s, w.key("segmentation"), im.height, im.width,
                                              "image " + std::to_string(im.id));
  const Json* box = json::find(j, "bbox");
  if (box) {
    a.bbox = json::get_box(*box, w.key("bbox"));
  } else if (a.segmentation) {
    a.bbox = rle_to_bbox(a.segmentation->to_rle(im.height, im.width));
  } else {
    w.fail("has neither a segmentation nor a bbox");
  }
  if (const Json* area = json::find(j, "area"))
    a.area = json::get_number(*area, w.key("area"));
  else if (a.segmentation)
    a.area = static_cast<double>(rle_area(a.segmentation->to_rle(im.height, im.width)));
  else
    a.area = a.bbox[2] * a.bbox[3];
  // A box of finite but huge sides has an infinite area, which JSON cannot hold on writing.
  if (!std::isfinite(a.area))
    w.key("bbox").fail("gives a non-finite area (" + std::to_string(a.bbox[2]) + " x " +
                       std::to_string(a.bbox[3]) + ")");
  return a;
}

}  // namespace

CocoDataset read_coco(const std::string& path) {
  const Json root = json::parse_file(path);
  const Where top(path);
  json::require_object(root, top);
  CocoDataset ds;
  ds.images = json::parse_id_list<CocoImage>(root, "images", top, json::ListPresence::required, parse_image);
  ds.categories = json::parse_id_list<Category>(root, "categories", top, json::ListPresence::required,
                                                json::parse_category);
  ds.reindex();
  ds.annotations = json::parse_id_list<CocoAnnotation>(
      root, "annotations", top, json::ListPresence::optional,
      [&](const Json& j, const Where& w) { return parse_annotation(j, w, ds); });
  return ds;
}

void write_coco(const CocoDataset& ds, const std::string& path) {
  Json images = Json::array();
  for (const CocoImage& im : ds.images)
    images.push_back({{"id", im.id}, {"width", im.width}, {"height", im.height}, {"file_name", im.file_name}});
  Json anns = Json::array();
  for (const CocoAnnotation& a : ds.annotations) {
    Json ja = {{"id", a.id},
               {"image_id", a.image_id},
               {"category_id", a.category_id},
               {"iscrowd", a.iscrowd},
               {"bbox", json::box_to_json(a.bbox)},
               {"area", a.area}};
    if (a.segmentation) ja["segmentation"] = json::to_json(*a.segmentation);
    anns.push_back(std::move(ja));
  }
  Json cats = Json::array();
  for (const Category& c : ds.categories)
    cats.push_back({{"id", c.id}, {"name", c.name}, {"supercategory", c.supercategory}});
  Json root = Json::object();
  root["images"] = std::move(images);
  root["annotations"] = std::move(anns);
  root["categories"] = std::move(cats);
  json::write_file(path, root);
}

std::vector<CocoResult> read_coco_results(const std::string& path, const CocoDataset* gt) {
  const Json root = json::parse_file(path);
  const Where top(path);
  if (!root.is_array()) top.fail("must hold a JSON list of results, got " + json::describe(root));
  std::vector<CocoResult> results;
  results.reserve(root.size());
  for (size_t i = 0; i < root.size(); ++i) {
    const Where w = top.index(i);
    const Json& j = root[i];
    json::require_object(j, w);
    CocoResult r;
    r.image_id = json::get_int(json::require(j, "image_id", w), w.key("image_id"));
    r.category_id = json::get_int(json::require(j, "category_id", w), w.key("category_id"));
    r.score = json::get_number(json::require(j, "score", w), w.key("score"));
    const CocoImage* im = nullptr;
    if (gt) {
      const int64_t ii = gt->image_index(r.image_id);
      if (ii < 0) w.key("image_id").fail("is " + std::to_string(r.image_id) + ", which no image has");
      if (gt->category_index(r.category_id) < 0)
        w.key("category_id").fail("is " + std::to_string(r.category_id) + ", which no category has");
      im = &gt->images[static_cast<size_t>(ii)];
    }
    if (const Json* s = json::find(j, "segmentation")) {
      if (!s->is_null()) {
        const Where wsg = w.key("segmentation");
        int h = 0, wd = 0;
        std::string context = "image " + std::to_string(r.image_id);
        if (im) {
          h = im->height;
          wd = im->width;
        } else {
          // Without ground truth the RLE's own size is the reference; get_rle still checks
          // that size is well formed and covered by the counts.
          const Json* size = json::find(*s, "size");
          if (size && size->is_array() && size->size() == 2 && (*size)[0].is_number() &&
              (*size)[1].is_number()) {
            h = json::get_int32((*size)[0], wsg.key("size").index(0));
            wd = json::get_int32((*size)[1], wsg.key("size").index(1));
          }
        }
        r.segmentation = json::get_rle(*s, wsg, h, wd, context);
      }
    }
    if (const Json* b = json::find(j, "bbox"))
      if (!b->is_null()) r.bbox = json::get_box(*b, w.key("bbox"));
    if (!r.segmentation && !r.bbox) w.fail("has neither a segmentation nor a bbox");
    results.push_back(std::move(r));
  }
  return results;
}

void write_coco_results(const std::vector<CocoResult>& results, const std::string& path) {
  Json root = Json::array();
  for (const CocoResult& r : results) {
    Json j = {{"image_id", r.image_id}, {"category_id", r.category_id}, {"score", r.score}};
    if (r.segmentation) j["segmentation"] = json::rle_to_json(*r.segmentation, /*compressed=*/true);
    if (r.bbox) j["bbox"] = json::box_to_json(*r.bbox);
    root.push_back(std::move(j));
  }
  json::write_file(path, root);
}

}  // namespace wsvis::data
