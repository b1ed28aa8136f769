#include "data/ytvis.h"

#include <unordered_set>

#include "data/json_util.h"
#include "engine/error.h"

namespace wsvis::data {

using json::Json;
using json::Where;

int64_t YtvisDataset::video_index(int64_t video_id) const {
  auto it = video_by_id_.find(video_id);
  return it == video_by_id_.end() ? -1 : static_cast<int64_t>(it->second);
}

int64_t YtvisDataset::category_index(int64_t category_id) const {
  auto it = category_by_id_.find(category_id);
  return it == category_by_id_.end() ? -1 : static_cast<int64_t>(it->second);
}

void YtvisDataset::reindex() {
  video_by_id_.clear();
  category_by_id_.clear();
  for (size_t i = 0; i < videos.size(); ++i) video_by_id_.emplace(videos[i].id, i);
  for (size_t i = 0; i < categories.size(); ++i) category_by_id_.emplace(categories[i].id, i);
}

namespace {

std::string frames_text(size_t n) { return std::to_string(n) + (n == 1 ? " frame" : " frames"); }

// Checks that a per-frame list has one entry per frame.
void check_length(const Json& list, const Where& w, int length) {
  json::require_array(list, w);
  if (list.size() != static_cast<size_t>(length))
    w.fail("has " + std::to_string(list.size()) + " entries for a video of " +
           frames_text(static_cast<size_t>(length)));
}

YtvisVideo parse_video(const Json& j, const Where& w) {
  json::require_object(j, w);
  YtvisVideo v;
  v.id = json::get_int(json::require(j, "id", w), w.key("id"));
  v.width = json::get_int32(json::require(j, "width", w), w.key("width"));
  v.height = json::get_int32(json::require(j, "height", w), w.key("height"));
  if (v.width <= 0) w.key("width").fail("must be positive, got " + std::to_string(v.width));
  if (v.height <= 0) w.key("height").fail("must be positive, got " + std::to_string(v.height));
  const Json& names = json::require(j, "file_names", w);
  json::require_array(names, w.key("file_names"));
  for (size_t i = 0; i < names.size(); ++i)
    v.file_names.push_back(json::get_string(names[i], w.key("file_names").index(i)));
  if (const Json* len = json::find(j, "length")) {
    v.length = json::get_int32(*len, w.key("length"));
    if (v.length < 0) w.key("length").fail("must be >= 0, got " + std::to_string(v.length));
    if (static_cast<size_t>(v.length) != v.file_names.size())
      w.key("file_names").fail("has " + std::to_string(v.file_names.size()) +
                               " entries but length is " + std::to_string(v.length));
  } else {
    v.length = static_cast<int>(v.file_names.size());
  }
  return v;
}

YtvisAnnotation parse_annotation(const Json& j, const Where& w, const YtvisDataset& ds) {
  json::require_object(j, w);
  YtvisAnnotation a;
  a.id = json::get_int(json::require(j, "id", w), w.key("id"));
  a.video_id = json::get_int(json::require(j, "video_id", w), w.key("video_id"));
  a.category_id = json::get_int(json::require(j, "category_id", w), w.key("category_id"));
  if (const Json* c = json::find(j, "iscrowd")) a.iscrowd = json::get_flag(*c, w.key("iscrowd"));
  const int64_t vi = ds.video_index(a.video_id);
  if (vi < 0) w.key("video_id").fail("is " + std::to_string(a.video_id) + ", which no video has");
  if (ds.category_index(a.category_id) < 0)
    w.key("category_id").fail("is " + std::to_string(a.category_id) + ", which no category has");
  const YtvisVideo& video = ds.videos[static_cast<size_t>(vi)];
  const std::string context = "video " + std::to_string(video.id);

  const Json& segs = json::require(j, "segmentations", w);
  const Where ws = w.key("segmentations");
  check_length(segs, ws, video.length);
  a.segmentations.resize(segs.size());
  for (size_t t = 0; t < segs.size(); ++t)
    if (!segs[t].is_null())
      a.segmentations[t] =
          json::get_segmentation(segs[t], ws.index(t), video.height, video.width, context);

  if (const Json* boxes = json::find(j, "bboxes")) {
    const Where wb = w.key("bboxes");
    check_length(*boxes, wb, video.length);
    a.bboxes.resize(boxes->size());
    for (size_t t = 0; t < boxes->size(); ++t)
      if (!(*boxes)[t].is_null()) a.bboxes[t] = json::get_box((*boxes)[t], wb.index(t));
  } else {
    a.bboxes.resize(a.segmentations.size());
    for (size_t t = 0; t < a.segmentations.size(); ++t)
      if (a.segmentations[t])
        a.bboxes[t] = rle_to_bbox(a.segmentations[t]->to_rle(video.height, video.width));
  }
  if (const Json* areas = json::find(j, "areas")) {
    const Where wa = w.key("areas");
    check_length(*areas, wa, video.length);
    a.areas.resize(areas->size());
    for (size_t t = 0; t < areas->size(); ++t)
      if (!(*areas)[t].is_null()) a.areas[t] = json::get_number((*areas)[t], wa.index(t));
  } else {
    a.areas.resize(a.segmentations.size());
    for (size_t t = 0; t < a.segmentations.size(); ++t)
      if (a.segmentations[t])
        a.areas[t] = static_cast<double>(
            rle_area(a.segmentations[t]->to_rle(video.height, video.width)));
  }
  return a;
}

}  // namespace

YtvisDataset read_ytvis(const std::string& path) {
  const Json root = json::parse_file(path);
  const Where top(path);
  json::require_object(root, top);
  YtvisDataset ds;
  ds.videos = json::parse_id_list<YtvisVideo>(root, "videos", top, json::ListPresence::required, parse_video);
  ds.categories = json::parse_id_list<Category>(root, "categories", top, json::ListPresence::required,
                                                json::parse_category);
  ds.reindex();
  ds.annotations = json::parse_id_list<YtvisAnnotation>(
      root, "annotations", top, json::ListPresence::optional,
      [&](const Json& j, const Where& w) { return parse_annotation(j, w, ds); });
  return ds;
}

namespace {

template <typename T, typename ToJson>
Json optional_list(const std::vector<std::optional<T>>& items, ToJson to_json) {
  Json list = Json::array();
  for (const auto& item : items) list.push_back(item ? to_json(*item) : Json(nullptr));
  return list;
}

}  // namespace

void write_ytvis(const YtvisDataset& ds, const std::string& path) {
  Json root = Json::object();
  Json videos = Json::array();
  for (const YtvisVideo& v : ds.videos) {
    WSVIS_CHECK(v.file_names.size() == static_cast<size_t>(v.length), "write_ytvis: video ", v.id,
                " has length ", v.length, " but ", v.file_names.size(), " file names");
    videos.push_back({{"id", v.id},
                      {"width", v.width},
                      {"height", v.height},
                      {"length", v.length},
                      {"file_names", v.file_names}});
  }
  Json anns = Json::array();
  for (const YtvisAnnotation& a : ds.annotations) {
    WSVIS_CHECK(a.bboxes.empty() || a.bboxes.size() == a.segmentations.size(),
                "write_ytvis: annotation ", a.id, " has ", a.bboxes.size(), " bboxes for ",
                a.segmentations.size(), " segmentations");
    WSVIS_CHECK(a.areas.empty() || a.areas.size() == a.segmentations.size(),
                "write_ytvis: annotation ", a.id, " has ", a.areas.size(), " areas for ",
                a.segmentations.size(), " segmentations");
    Json ja = {{"id", a.id},
               {"video_id", a.video_id},
               {"category_id", a.category_id},
               {"iscrowd", a.iscrowd},
               {"segmentations",
                optional_list(a.segmentations, [](const Segmentation& s) { return json::to_json(s); })}};
    if (!a.bboxes.empty()) ja["bboxes"] = optional_list(a.bboxes, json::box_to_json);
    if (!a.areas.empty()) ja["areas"] = optional_list(a.areas, [](double x) { return Json(x); });
    anns.push_back(std::move(ja));
  }
  Json cats = Json::array();
  for (const Category& c : ds.categories)
    cats.push_back({{"id", c.id}, {"name", c.name}, {"supercategory", c.supercategory}});
  root["videos"] = std::move(videos);
  root["annotations"] = std::move(anns);
  root["categories"] = std::move(cats);
  json::write_file(path, root);
}

std::vector<YtvisResult> read_ytvis_results(const std::string& path, const YtvisDataset* gt) {
  const Json root = json::parse_file(path);
  const Where top(path);
  if (!root.is_array()) top.fail("must hold a JSON list of results, got " + json::describe(root));
  std::vector<YtvisResult> results;
  results.reserve(root.size());
  for (size_t i = 0; i < root.size(); ++i) {
    const Where w = top.index(i);
    const Json& j = root[i];
    json::require_object(j, w);
    YtvisResult r;
    r.video_id = json::get_int(json::require(j, "video_id", w), w.key("video_id"));
    r.category_id = json::get_int(json::require(j, "category_id", w), w.key("category_id"));
    r.score = json::get_number(json::require(j, "score", w), w.key("score"));
    const Json& segs = json::require(j, "segmentations", w);
    const Where ws = w.key("segmentations");
    json::require_array(segs, ws);
    int h = -1, wd = -1;
    std::string context;
    if (gt) {
      const int64_t vi = gt->video_index(r.video_id);
      if (vi < 0) w.key("video_id").fail("is " + std::to_string(r.video_id) + ", which no video has");
      if (gt->category_index(r.category_id) < 0)
        w.key("category_id").fail("is " + std::to_string(r.category_id) + ", which no category has");
      const YtvisVideo& v = gt->videos[static_cast<size_t>(vi)];
      check_length(segs, ws, v.length);
      h = v.height;
      wd = v.width;
      context = "video " + std::to_string(v.id);
    }
    r.segmentations.resize(segs.size());
    for (size_t t = 0; t < segs.size(); ++t) {
      if (segs[t].is_null()) continue;
      if (h < 0) {
        // No ground truth: the first RLE sets the size the others must share.
        const Json* size = json::find(segs[t], "size");
        if (size && size->is_array() && size->size() == 2) {
          h = json::get_int32((*size)[0], ws.index(t).key("size").index(0));
          wd = json::get_int32((*size)[1], ws.index(t).key("size").index(1));
          context = ws.index(t).loc();
        }
        if (h < 0) {  // let get_rle name what is wrong with this entry
          json::get_rle(segs[t], ws.index(t), 0, 0, "", nullptr);
        }
      }
      r.segmentations[t] = json::get_rle(segs[t], ws.index(t), h, wd, context);
    }
    results.push_back(std::move(r));
  }
  return results;
}

void write_ytvis_results(const std::vector<YtvisResult>& results, const std::string& path) {
  Json root = Json::array();
  for (const YtvisResult& r : results)
    root.push_back({{"video_id", r.video_id},
                    {"category_id", r.category_id},
                    {"score", r.score},
                    {"segmentations", optional_list(r.segmentations, [](const Rle& x) {
                       return json::rle_to_json(x, /*compressed=*/true);
                     })}});
  json::write_file(path, root);
}

}  // namespace wsvis::data
