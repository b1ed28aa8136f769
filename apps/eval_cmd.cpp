#include "apps/eval_cmd.h"

#include <cstdio>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "data/coco.h"
#include "data/coco_eval.h"
#include "data/file_util.h"
#include "data/flow_io.h"
#include "data/temporal_consistency.h"
#include "data/ytvis.h"
#include "data/ytvis_eval.h"
#include "engine/error.h"
#include "pipeline/metrics.h"

namespace wsvis::apps {

using pipeline::stats_json;

namespace {

using nlohmann::json;
using namespace wsvis::data;

struct EvalOptions {
  std::string gt, results, type, out, flow_dir;
  TcWarp warp = TcWarp::nearest;
};

[[noreturn]] void bad(const std::string& what) { throw InputError("eval: " + what); }

EvalOptions parse(const std::vector<std::string>& args) {
  EvalOptions o;
  for (size_t i = 0; i < args.size(); ++i) {
    auto value = [&](const char* flag) {
      if (i + 1 >= args.size()) bad(std::string(flag) + " needs a value");
      return args[++i];
    };
    const std::string& a = args[i];
    if (a == "--gt") o.gt = value("--gt");
    else if (a == "--results") o.results = value("--results");
    else if (a == "--type") o.type = value("--type");
    else if (a == "--out") o.out = value("--out");
    else if (a == "--flow-dir") o.flow_dir = value("--flow-dir");
    else if (a == "--tc-warp") {
      const std::string w = value("--tc-warp");
      if (w == "nearest") o.warp = TcWarp::nearest;
      else if (w == "bilinear") o.warp = TcWarp::bilinear_truncate;
      else bad("--tc-warp must be nearest or bilinear, got '" + w + "'");
    } else {
      bad("unknown option '" + a + "' (usage: wsvis eval --gt FILE --results FILE "
          "[--type segm|bbox|video|frame] [--out metrics.json] [--flow-dir DIR] [--tc-warp nearest|bilinear])");
    }
  }
  if (o.gt.empty()) bad("--gt FILE is required");
  if (o.results.empty()) bad("--results FILE is required");
  if (!o.type.empty() && o.type != "segm" && o.type != "bbox" && o.type != "video" && o.type != "frame")
    bad("--type must be segm, bbox, video or frame, got '" + o.type + "'");
  if (!o.flow_dir.empty() && o.type != "video" && !o.type.empty())
    bad("--flow-dir (temporal consistency) needs --type video");
  return o;
}

// True when the top-level JSON object of `text` has the key "videos": a scan that tracks
// strings and nesting depth, so a large file is not parsed twice. Malformed JSON is left for
// the real reader to report.
bool has_top_level_videos(const std::string& text) {
  int depth = 0;
  bool in_string = false, escaped = false;
  size_t start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') {
        in_string = false;
        if (depth == 1 && text.compare(start, i - start, "videos") == 0) {
          size_t j = i + 1;
          while (j < text.size() && (text[j] == ' ' || text[j] == '\n' || text[j] == '\r' || text[j] == '\t')) ++j;
          if (j < text.size() && text[j] == ':') return true;
        }
      }
    } else if (c == '"') {
      in_string = true;
      start = i + 1;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return false;
}

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4f", v);
  return buf;
}

void print_stats(const EvalResult& r) {
  std::printf("  ");
  for (const char* name : eval_stat_names()) std::printf("%-8s", name);
  std::printf("\n  ");
  for (double v : r.stats) std::printf("%-8s", fmt(v).c_str());
  std::printf("\n");
}

json per_category(const EvalResult& r, const std::vector<Category>& cats, bool print) {
  std::map<int64_t, std::string> names;
  for (const Category& c : cats) names[c.id] = c.name;
  json out = json::array();
  bool header = false;
  for (size_t k = 0; k < r.K(); ++k) {
    const double ap = r.category_ap(k);
    if (ap < 0) continue;  // no ground truth of this category
    const int64_t id = r.category_ids[k];
    out.push_back({{"id", id}, {"name", names[id]}, {"AP", ap}});
    if (print) {
      if (!header) std::printf("  AP per category:\n");
      header = true;
      std::printf("    %-4lld %-24s %s\n", static_cast<long long>(id), names[id].c_str(), fmt(ap).c_str());
    }
  }
  return out;
}

std::string flow_path(const std::string& dir, const std::string& frame_file) {
  std::string stem = frame_file;
  const size_t slash = stem.find_last_of('/');
  const size_t dot = stem.find_last_of('.');
  if (dot != std::string::npos && (slash == std::string::npos || dot > slash)) stem = stem.substr(0, dot);
  return dir + "/" + stem + "_fw.flo";
}

json temporal_consistency(const EvalOptions& o, const YtvisDataset& gt,
                          const std::vector<YtvisResult>& results) {
  TemporalConsistency tc(o.warp);
  for (const YtvisVideo& v : gt.videos) {
    if (v.length < 2) continue;
    std::vector<Flow> flows;
    for (int t = 0; t + 1 < v.length; ++t) {
      const std::string path = flow_path(o.flow_dir, v.file_names[static_cast<size_t>(t)]);
      flows.push_back(read_flo(path));
      check_flow_size(flows.back(), v.width, v.height, path);
    }
    tc.add_video(frame_instances(results, v.id, v.length), flows, v.height, v.width);
  }
  std::map<int64_t, std::string> names;
  for (const Category& c : gt.categories) names[c.id] = c.name;
  json per = json::array();
  for (const auto& [label, c] : tc.per_class())
    if (c.union_ > 0)
      per.push_back({{"id", label}, {"name", names[label]}, {"iou", static_cast<double>(c.intersection) / static_cast<double>(c.union_)}});
  const std::optional<double> value = tc.value();
  std::printf("  temporal consistency (option (a), %s warp, %lld frame pairs): %s\n",
              o.warp == TcWarp::nearest ? "nearest" : "bilinear", static_cast<long long>(tc.pairs()),
              value ? fmt(*value).c_str() : "n/a (no predicted class in any pair)");
  return {{"value", value ? json(*value) : json(nullptr)},
          {"warp", o.warp == TcWarp::nearest ? "nearest" : "bilinear"},
          {"pairs", tc.pairs()},
          {"per_class", per}};
}

}  // namespace

int run_eval(const std::vector<std::string>& args) {
  EvalOptions o = parse(args);
  if (o.type.empty()) o.type = has_top_level_videos(read_file_bytes(o.gt)) ? "video" : "segm";

  json out = {{"type", o.type}, {"gt", o.gt}, {"results", o.results}};
  if (o.type == "video") {
    const YtvisDataset gt = read_ytvis(o.gt);
    const std::vector<YtvisResult> results = read_ytvis_results(o.results, &gt);
    YtvisEvalOptions eo;
    eo.gt_name = o.gt;
    eo.results_name = o.results;
    const EvalResult r = evaluate_ytvis(gt, results, eo);
    std::printf("wsvis eval: YouTube-VIS video metrics on %s (%zu videos, %zu categories, %zu results)\n",
                o.gt.c_str(), gt.videos.size(), gt.categories.size(), results.size());
    print_stats(r);
    out["num_videos"] = gt.videos.size();
    out["num_results"] = results.size();
    out["metrics"] = stats_json(r);
    out["stats"] = r.stats;
    out["per_category"] = per_category(r, gt.categories, true);
    if (!o.flow_dir.empty()) out["temporal_consistency"] = temporal_consistency(o, gt, results);
  } else if (o.type == "frame") {
    const YtvisDataset vgt = read_ytvis(o.gt);
    const std::vector<YtvisResult> vres = read_ytvis_results(o.results, &vgt);
    const CocoDataset gt = ytvis_frames_as_coco(vgt);
    const std::vector<CocoResult> results = ytvis_results_as_coco(vres, vgt, o.results);
    CocoEvalOptions eo;
    eo.gt_name = o.gt;
    eo.results_name = o.results;
    const EvalResult r = evaluate_coco(gt, results, eo);
    std::printf("wsvis eval: frame-level COCO segm metrics on %s (%zu videos = %zu frames, %zu categories, "
                "%zu video results = %zu frame results)\n",
                o.gt.c_str(), vgt.videos.size(), gt.images.size(), gt.categories.size(), vres.size(),
                results.size());
    print_stats(r);
    out["num_videos"] = vgt.videos.size();
    out["num_frames"] = gt.images.size();
    out["num_results"] = vres.size();
    out["metrics"] = stats_json(r);
    out["stats"] = r.stats;
    out["per_category"] = per_category(r, gt.categories, true);
  } else {
    const CocoDataset gt = read_coco(o.gt);
    const std::vector<CocoResult> results = read_coco_results(o.results, &gt);
    CocoEvalOptions eo;
    eo.iou_type = o.type == "bbox" ? CocoIouType::bbox : CocoIouType::segm;
    eo.gt_name = o.gt;
    eo.results_name = o.results;
    const EvalResult r = evaluate_coco(gt, results, eo);
    std::printf("wsvis eval: COCO %s metrics on %s (%zu images, %zu categories, %zu results)\n",
                o.type.c_str(), o.gt.c_str(), gt.images.size(), gt.categories.size(), results.size());
    print_stats(r);
    out["num_images"] = gt.images.size();
    out["num_results"] = results.size();
    out["metrics"] = stats_json(r);
    out["stats"] = r.stats;
    out["per_category"] = per_category(r, gt.categories, true);
  }
  if (!o.out.empty()) {
    write_file_atomic(o.out, out.dump(2) + "\n");
    std::printf("  wrote %s\n", o.out.c_str());
  }
  return 0;
}

}  // namespace wsvis::apps
