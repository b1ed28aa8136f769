// JSON reading helpers for the data layer: every accessor knows which file and which field
// it is looking at, so a bad value turns into a wsvis::InputError such as
//   "train.json: annotations[3].video_id must be an integer, got string \"7\"".
// Internal to data/ (the readers in ytvis.cpp and coco.cpp); callers use those.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/segmentation.h"

namespace wsvis::data::json {

using Json = nlohmann::json;

// A location inside a file: the file path and a field path like "annotations[3].bbox".
class Where {
 public:
  Where(const std::string& file, std::string loc = "") : file_(&file), loc_(std::move(loc)) {}
  Where key(const std::string& k) const { return Where(*file_, loc_.empty() ? k : loc_ + "." + k); }
  Where index(size_t i) const { return Where(*file_, loc_ + "[" + std::to_string(i) + "]"); }
  const std::string& file() const { return *file_; }
  const std::string& loc() const { return loc_; }
  // Throws InputError "<file>: <loc> <what>" (or "<file>: <what>" at the top level).
  [[noreturn]] void fail(const std::string& what) const;

 private:
  const std::string* file_;
  std::string loc_;
};

// A short description of a value for messages: `string "abc"`, `number 1.5`, `null`, ...
std::string describe(const Json& j);

// Parses the file; InputError naming the file for a missing file or malformed JSON.
Json parse_file(const std::string& path);
// Writes compact JSON atomically (temp file + rename).
void write_file(const std::string& path, const Json& j);

const Json& require_object(const Json& j, const Where& w);
const Json& require_array(const Json& j, const Where& w);
// obj[key]; "is missing" when absent. `obj` must be an object (w is its location).
const Json& require(const Json& obj, const char* key, const Where& w);
// obj[key] or nullptr when absent.
const Json* find(const Json& obj, const char* key);

// Integers accept integral JSON numbers (7 or 7.0); iscrowd-style flags also accept booleans.
int64_t get_int(const Json& j, const Where& w);
int get_int32(const Json& j, const Where& w);
int64_t get_nonneg_int(const Json& j, const Where& w);
double get_number(const Json& j, const Where& w);  // finite numbers only
std::string get_string(const Json& j, const Where& w);
int get_flag(const Json& j, const Where& w);       // 0/1 or false/true

// [x, y, w, h] of 4 finite numbers.
BoxXywh get_box(const Json& j, const Where& w);

// A segmentation: an RLE object {"size": [h, w], "counts": "string" | [ints]} or a list of
// polygons [[x0, y0, x1, y1, ...], ...]. RLE size must equal (expect_h, expect_w) and its
// counts must sum to h*w. `context` names the owner for size mismatches ("video 7").
Segmentation get_segmentation(const Json& j, const Where& w, int expect_h, int expect_w,
                              const std::string& context);
// An RLE object only (results files).
Rle get_rle(const Json& j, const Where& w, int expect_h, int expect_w, const std::string& context,
            bool* compressed = nullptr);

// {"id", "name", "supercategory"?}: a category of a COCO or YouTube-VIS file.
Category parse_category(const Json& j, const Where& w);

// Fails naming both positions when two items of a list share an id.
template <typename T, typename IdOf>
void check_unique_ids(const std::vector<T>& items, const Where& w, IdOf id_of) {
  std::unordered_map<int64_t, size_t> seen;
  for (size_t i = 0; i < items.size(); ++i) {
    auto [it, fresh] = seen.emplace(id_of(items[i]), i);
    if (!fresh)
      w.index(i).key("id").fail("is " + std::to_string(id_of(items[i])) + ", already used by " +
                                w.loc() + "[" + std::to_string(it->second) + "]");
  }
}

// The list root[key] of items with an `id`, each read by parse(item, where), the ids
// checked unique. A required list must be present; an optional one may also be absent or
// null (then it is empty).
enum class ListPresence { required, optional };
template <typename T, typename Parse>
std::vector<T> parse_id_list(const Json& root, const char* key, const Where& top,
                             ListPresence presence, Parse parse) {
  std::vector<T> items;
  const Json* list = presence == ListPresence::required ? &require(root, key, top) : find(root, key);
  if (!list || (presence == ListPresence::optional && list->is_null())) return items;
  require_array(*list, top.key(key));
  items.reserve(list->size());
  for (size_t i = 0; i < list->size(); ++i) items.push_back(parse((*list)[i], top.key(key).index(i)));
  check_unique_ids(items, top.key(key), [](const T& item) { return item.id; });
  return items;
}

Json to_json(const Segmentation& s);
Json rle_to_json(const Rle& r, bool compressed);
Json box_to_json(const BoxXywh& b);

}  // namespace wsvis::data::json
