#include "data/json_util.h"

#include <cmath>
#include <sstream>

#include "data/file_util.h"
#include "engine/error.h"

namespace wsvis::data::json {

void Where::fail(const std::string& what) const {
  throw InputError(*file_ + ": " + (loc_.empty() ? what : loc_ + " " + what));
}

std::string describe(const Json& j) {
  // Containers are described by kind and size only: dumping one would recurse through all of it.
  if (j.is_array()) return "array of " + std::to_string(j.size());
  if (j.is_object()) return "object";
  std::string text = j.dump();
  if (text.size() > 40) text = text.substr(0, 37) + "...";
  switch (j.type()) {
    case Json::value_t::null: return "null";
    case Json::value_t::boolean: return "boolean " + text;
    case Json::value_t::string: return "string " + text;
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
    case Json::value_t::number_float: return "number " + text;
    case Json::value_t::array: return "array of " + std::to_string(j.size());
    case Json::value_t::object: return "object";
    default: return text;
  }
}

// Deeper nesting is refused while parsing: no dataset needs more than a handful of levels, and
// recursive operations on a value (dump, comparison, copies) would overflow the stack on the
// tens of thousands of levels a hostile file can hold.
constexpr int kMaxJsonDepth = 64;

Json parse_file(const std::string& path) {
  const std::string text = read_file_bytes(path);
  const Json::parser_callback_t limit_depth = [&](int depth, Json::parse_event_t, Json&) {
    if (depth > kMaxJsonDepth)
      throw InputError(path + ": malformed JSON: nested deeper than " +
                       std::to_string(kMaxJsonDepth) + " levels");
    return true;
  };
  try {
    return Json::parse(text, limit_depth);
  } catch (const Json::exception& e) {
    // Parse errors, and also out_of_range for numbers a double cannot hold ("1e400"). e.what()
    // reads "[json.exception.parse_error.101] parse error at line L, column C: ...".
    std::string what = e.what();
    const size_t pos = what.find("] ");
    if (pos != std::string::npos) what = what.substr(pos + 2);
    throw InputError(path + ": malformed JSON: " + what);
  }
}

void write_file(const std::string& path, const Json& j) {
  write_file_atomic(path, j.dump());
}

const Json& require_object(const Json& j, const Where& w) {
  if (!j.is_object()) w.fail("must be an object, got " + describe(j));
  return j;
}

const Json& require_array(const Json& j, const Where& w) {
  if (!j.is_array()) w.fail("must be an array, got " + describe(j));
  return j;
}

const Json& require(const Json& obj, const char* key, const Where& w) {
  require_object(obj, w);
  auto it = obj.find(key);
  if (it == obj.end()) w.key(key).fail("is missing");
  return *it;
}

const Json* find(const Json& obj, const char* key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}

int64_t get_int(const Json& j, const Where& w) {
  if (j.is_number_integer()) return j.get<int64_t>();
  if (j.is_number_unsigned()) {
    const uint64_t u = j.get<uint64_t>();
    if (u > static_cast<uint64_t>(INT64_MAX)) w.fail("is too large: " + j.dump());
    return static_cast<int64_t>(u);
  }
  if (j.is_number_float()) {
    const double d = j.get<double>();
    if (std::isfinite(d) && std::floor(d) == d && std::fabs(d) < 9e15)
      return static_cast<int64_t>(d);
  }
  w.fail("must be an integer, got " + describe(j));
}

int get_int32(const Json& j, const Where& w) {
  const int64_t v = get_int(j, w);
  if (v < INT32_MIN || v > INT32_MAX) w.fail("is out of range: " + std::to_string(v));
  return static_cast<int>(v);
}

int64_t get_nonneg_int(const Json& j, const Where& w) {
  const int64_t v = get_int(j, w);
  if (v < 0) w.fail("must be >= 0, got " + std::to_string(v));
  return v;
}

double get_number(const Json& j, const Where& w) {
  if (!j.is_number()) w.fail("must be a number, got " + describe(j));
  const double d = j.get<double>();
  if (!std::isfinite(d)) w.fail("must be finite, got " + j.dump());
  return d;
}

std::string get_string(const Json& j, const Where& w) {
  if (!j.is_string()) w.fail("must be a string, got " + describe(j));
  return j.get<std::string>();
}

int get_flag(const Json& j, const Where& w) {
  if (j.is_boolean()) return j.get<bool>() ? 1 : 0;
  const int64_t v = get_int(j, w);
  if (v != 0 && v != 1) w.fail("must be 0 or 1, got " + std::to_string(v));
  return static_cast<int>(v);
}

BoxXywh get_box(const Json& j, const Where& w) {
  if (!j.is_array() || j.size() != 4)
    w.fail("must be a box [x, y, width, height], got " + describe(j));
  BoxXywh b;
  for (size_t i = 0; i < 4; ++i) b[i] = get_number(j[i], w.index(i));
  return b;
}

namespace {

std::string size_text(int h, int w) {
  return "[" + std::to_string(h) + ", " + std::to_string(w) + "]";
}

}  // namespace

Rle get_rle(const Json& j, const Where& w, int expect_h, int expect_w, const std::string& context,
            bool* compressed) {
  require_object(j, w);
  const Json& size = require(j, "size", w);
  const Where ws = w.key("size");
  if (!size.is_array() || size.size() != 2)
    ws.fail("must be [height, width], got " + describe(size));
  Rle r;
  r.h = get_int32(size[0], ws.index(0));
  r.w = get_int32(size[1], ws.index(1));
  if (r.h < 0 || r.w < 0) ws.fail("must be non-negative, got " + size_text(r.h, r.w));
  if (r.h != expect_h || r.w != expect_w)
    ws.fail("is " + size_text(r.h, r.w) + " but " + context + " is " +
            size_text(expect_h, expect_w) + " (height, width)");
  const Json& counts = require(j, "counts", w);
  const Where wc = w.key("counts");
  if (counts.is_string()) {
    try {
      r.counts = rle_counts_from_string(counts.get<std::string>());
    } catch (const InputError&) {
      throw;
    } catch (const Error& e) {
      wc.fail(std::string("is not a valid RLE string: ") + e.what());
    }
    if (compressed) *compressed = true;
  } else if (counts.is_array()) {
    r.counts.reserve(counts.size());
    for (size_t i = 0; i < counts.size(); ++i) {
      const int64_t c = get_nonneg_int(counts[i], wc.index(i));
      if (c > static_cast<int64_t>(UINT32_MAX)) wc.index(i).fail("is too large: " + std::to_string(c));
      r.counts.push_back(static_cast<uint32_t>(c));
    }
    if (compressed) *compressed = false;
  } else {
    wc.fail("must be an RLE string or a list of run lengths, got " + describe(counts));
  }
  uint64_t sum = 0;
  for (uint32_t c : r.counts) sum += c;
  const uint64_t pixels = static_cast<uint64_t>(r.h) * static_cast<uint64_t>(r.w);
  if (sum != pixels)
    wc.fail("sum to " + std::to_string(sum) + " pixels but size " + size_text(r.h, r.w) + " has " +
            std::to_string(pixels));
  return r;
}

Segmentation get_segmentation(const Json& j, const Where& w, int expect_h, int expect_w,
                              const std::string& context) {
  if (j.is_object()) {
    bool compressed = true;
    Rle r = get_rle(j, w, expect_h, expect_w, context, &compressed);
    return Segmentation::from_rle(std::move(r), compressed);
  }
  if (!j.is_array())
    w.fail("must be an RLE object or a list of polygons, got " + describe(j));
  std::vector<std::vector<double>> polys;
  polys.reserve(j.size());
  for (size_t p = 0; p < j.size(); ++p) {
    const Where wp = w.index(p);
    const Json& poly = j[p];
    if (!poly.is_array()) wp.fail("must be a polygon [x0, y0, x1, y1, ...], got " + describe(poly));
    if (poly.size() % 2 != 0)
      wp.fail("has " + std::to_string(poly.size()) + " coordinates; a polygon needs an even number");
    std::vector<double> xy;
    xy.reserve(poly.size());
    for (size_t i = 0; i < poly.size(); ++i) xy.push_back(get_number(poly[i], wp.index(i)));
    try {
      check_polygon(xy, expect_h, expect_w);  // far-out vertices, absurd boundaries, huge images
    } catch (const Error& e) {
      std::string what = e.what();
      const size_t pos = what.find("rle_from_polygon: ");
      wp.fail(pos == std::string::npos ? what : what.substr(pos + 18));
    }
    polys.push_back(std::move(xy));
  }
  return Segmentation::from_polygons(std::move(polys));
}

Category parse_category(const Json& j, const Where& w) {
  require_object(j, w);
  Category c;
  c.id = get_int(require(j, "id", w), w.key("id"));
  c.name = get_string(require(j, "name", w), w.key("name"));
  if (const Json* s = find(j, "supercategory"))
    if (!s->is_null()) c.supercategory = get_string(*s, w.key("supercategory"));
  return c;
}

Json rle_to_json(const Rle& r, bool compressed) {
  Json j = Json::object();
  j["size"] = Json::array({r.h, r.w});
  if (compressed)
    j["counts"] = rle_to_string(r);
  else
    j["counts"] = r.counts;
  return j;
}

Json to_json(const Segmentation& s) {
  if (s.kind == Segmentation::Kind::rle) return rle_to_json(s.rle, s.compressed);
  Json polys = Json::array();
  for (const auto& p : s.polygons) polys.push_back(p);
  return polys;
}

Json box_to_json(const BoxXywh& b) { return Json::array({b[0], b[1], b[2], b[3]}); }

}  // namespace wsvis::data::json
