// rle_tool: runs data/rle.h on requests read as JSON, so tests/python/test_rle_pycocotools.py
// can compare every result with pycocotools.
//
//   rle_tool <requests.json>    (or "-" / no argument: read stdin)
//
// Input: a JSON list of requests; output (stdout): a JSON list with one response per request.
//   {"op":"encode", "h":H, "w":W, "mask":"0110..."}     row-major H*W chars '0'/'1'
//       -> {"counts":[...], "string":"...", "area":A, "bbox":[x,y,w,h], "roundtrip":true}
//   {"op":"counts_to_string", "counts":[...]}          -> {"string":"..."}
//   {"op":"string_to_counts", "s":"..."}               -> {"counts":[...]}
//   {"op":"measure", "h":H, "w":W, "counts":[...]}     -> {"area":A, "bbox":[...]}
//   {"op":"poly", "h":H, "w":W, "polys":[[x,y,...],...]}
//       -> {"parts":["str",...], "merged":"str", "merged_area":A}
//   {"op":"bbox", "h":H, "w":W, "box":[x,y,w,h]}       -> {"string":"..."}
//   {"op":"merge", "h":H, "w":W, "rles":["str",...], "intersect":bool} -> {"string":"..."}
//   {"op":"iou", "dt":[{"size":[h,w],"counts":"str"}], "gt":[...], "iscrowd":[0,1,...]}
//       -> {"iou":[[...],...], "iom":[[...],...]}        D rows of G values
//   {"op":"bbox_iou", "dt":[[x,y,w,h],...], "gt":[...], "iscrowd":[...]} -> {"iou":[[...]]}
// A request that throws gives {"error":"message"}.
#include <fstream>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "data/rle.h"

using nlohmann::json;
using namespace wsvis::data;

namespace {

json matrix(const std::vector<double>& m, size_t rows, size_t cols) {
  json out = json::array();
  for (size_t r = 0; r < rows; ++r) {
    json row = json::array();
    for (size_t c = 0; c < cols; ++c) row.push_back(m[r * cols + c]);
    out.push_back(row);
  }
  return out;
}

Rle rle_of(const json& j) {
  return rle_from_string(j.at("counts").get<std::string>(), j.at("size")[0].get<int>(),
                         j.at("size")[1].get<int>());
}

json handle(const json& q) {
  const std::string op = q.at("op").get<std::string>();
  json r = json::object();
  if (op == "encode") {
    const int h = q.at("h").get<int>(), w = q.at("w").get<int>();
    const std::string s = q.at("mask").get<std::string>();
    std::vector<uint8_t> mask(s.size());
    for (size_t i = 0; i < s.size(); ++i) mask[i] = s[i] == '1' ? 1 : 0;
    const Rle rle = rle_encode(mask, h, w);
    r["counts"] = rle.counts;
    r["string"] = rle_to_string(rle);
    r["area"] = rle_area(rle);
    const BoxXywh b = rle_to_bbox(rle);
    r["bbox"] = {b[0], b[1], b[2], b[3]};
    r["roundtrip"] = rle_decode(rle_from_string(rle_to_string(rle), h, w)) == mask;
  } else if (op == "counts_to_string") {
    r["string"] = rle_to_string(q.at("counts").get<std::vector<uint32_t>>());
  } else if (op == "string_to_counts") {
    r["counts"] = rle_counts_from_string(q.at("s").get<std::string>());
  } else if (op == "measure") {
    const Rle rle{q.at("h").get<int>(), q.at("w").get<int>(), q.at("counts").get<std::vector<uint32_t>>()};
    r["area"] = rle_area(rle);
    const BoxXywh b = rle_to_bbox(rle);
    r["bbox"] = {b[0], b[1], b[2], b[3]};
  } else if (op == "poly") {
    const int h = q.at("h").get<int>(), w = q.at("w").get<int>();
    const auto polys = q.at("polys").get<std::vector<std::vector<double>>>();
    json parts = json::array();
    for (const auto& p : polys) parts.push_back(rle_to_string(rle_from_polygon(p, h, w)));
    r["parts"] = parts;
    const Rle merged = rle_from_polygons(polys, h, w);
    r["merged"] = rle_to_string(merged);
    r["merged_area"] = rle_area(merged);
  } else if (op == "bbox") {
    const auto b = q.at("box").get<std::vector<double>>();
    r["string"] = rle_to_string(rle_from_bbox({b.at(0), b.at(1), b.at(2), b.at(3)},
                                              q.at("h").get<int>(), q.at("w").get<int>()));
  } else if (op == "merge") {
    const int h = q.at("h").get<int>(), w = q.at("w").get<int>();
    std::vector<Rle> rles;
    for (const auto& s : q.at("rles")) rles.push_back(rle_from_string(s.get<std::string>(), h, w));
    r["string"] = rle_to_string(rle_merge(rles, q.at("intersect").get<bool>()));
  } else if (op == "iou") {
    std::vector<Rle> dt, gt;
    for (const auto& j : q.at("dt")) dt.push_back(rle_of(j));
    for (const auto& j : q.at("gt")) gt.push_back(rle_of(j));
    const auto crowd = q.value("iscrowd", std::vector<uint8_t>{});
    r["iou"] = matrix(rle_iou(dt, gt, crowd), dt.size(), gt.size());
    r["iom"] = matrix(rle_iom(dt, gt), dt.size(), gt.size());
  } else if (op == "bbox_iou") {
    std::vector<BoxXywh> dt, gt;
    for (const auto& j : q.at("dt")) dt.push_back({j[0], j[1], j[2], j[3]});
    for (const auto& j : q.at("gt")) gt.push_back({j[0], j[1], j[2], j[3]});
    const auto crowd = q.value("iscrowd", std::vector<uint8_t>{});
    r["iou"] = matrix(bbox_iou(dt, gt, crowd), dt.size(), gt.size());
  } else {
    r["error"] = "unknown op " + op;
  }
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  json requests;
  try {
    if (argc > 1 && std::string(argv[1]) != "-") {
      std::ifstream in(argv[1]);
      if (!in) {
        std::cerr << "rle_tool: cannot open " << argv[1] << "\n";
        return 2;
      }
      requests = json::parse(in);
    } else {
      requests = json::parse(std::cin);
    }
  } catch (const std::exception& e) {
    std::cerr << "rle_tool: bad request JSON: " << e.what() << "\n";
    return 2;
  }
  json out = json::array();
  for (const auto& q : requests) {
    try {
      out.push_back(handle(q));
    } catch (const std::exception& e) {
      out.push_back({{"error", e.what()}});
    }
  }
  std::cout << out.dump() << "\n";
  return 0;
}
