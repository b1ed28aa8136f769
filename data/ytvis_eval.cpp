// ytvoseval.py on the shared COCOeval core (see ytvis_eval.h).
#include "data/ytvis_eval.h"

#include <algorithm>
#include <unordered_map>

#include "engine/error.h"

namespace wsvis::data {

double ytvis_avg_area(const std::vector<std::optional<double>>& areas) {
  double sum = 0;
  size_t n = 0;
  for (const auto& a : areas)
    if (a && *a != 0) {
      sum += *a;
      ++n;
    }
  return n ? sum / static_cast<double>(n) : 0.0;
}

double spatio_temporal_iou(const std::vector<const Rle*>& d, const std::vector<const Rle*>& g) {
  double inter = 0, uni = 0;
  const size_t n = std::min(d.size(), g.size());
  for (size_t t = 0; t < n; ++t) {
    if (d[t] && g[t]) {
      // maskApi rleMerge of differently sized masks gives an empty mask: 0 to both sums.
      if (d[t]->h != g[t]->h || d[t]->w != g[t]->w) continue;
      // |d ∪ g| = |d| + |g| - |d ∩ g| exactly (integers), one merge instead of two.
      const int64_t i = rle_area(rle_merge({*d[t], *g[t]}, true));
      inter += static_cast<double>(i);
      uni += static_cast<double>(rle_area(*d[t]) + rle_area(*g[t]) - i);
    } else if (g[t]) {
      uni += static_cast<double>(rle_area(*g[t]));
    } else if (d[t]) {
      uni += static_cast<double>(rle_area(*d[t]));
    }
  }
  return uni > 0 ? inter / uni : 0.0;
}

namespace {

struct Track {
  int64_t id = 0;
  double score = 0;
  double avg_area = 0;
  bool iscrowd = false;
  std::vector<std::optional<Rle>> masks;  // per frame
};

std::vector<const Rle*> pointers(const Track& t) {
  std::vector<const Rle*> p(t.masks.size(), nullptr);
  for (size_t f = 0; f < t.masks.size(); ++f)
    if (t.masks[f]) p[f] = &*t.masks[f];
  return p;
}

}  // namespace

EvalResult evaluate_ytvis(const YtvisDataset& gt, const std::vector<YtvisResult>& results,
                          const YtvisEvalOptions& options) {
  std::vector<int64_t> video_ids, category_ids;
  for (const YtvisVideo& v : gt.videos) video_ids.push_back(v.id);
  for (const Category& c : gt.categories) category_ids.push_back(c.id);
  std::sort(video_ids.begin(), video_ids.end());
  video_ids.erase(std::unique(video_ids.begin(), video_ids.end()), video_ids.end());
  std::sort(category_ids.begin(), category_ids.end());
  category_ids.erase(std::unique(category_ids.begin(), category_ids.end()), category_ids.end());
  std::unordered_map<int64_t, size_t> video_slot, category_slot;
  for (size_t i = 0; i < video_ids.size(); ++i) video_slot[video_ids[i]] = i;
  for (size_t k = 0; k < category_ids.size(); ++k) category_slot[category_ids[k]] = k;
  std::unordered_map<int64_t, const YtvisVideo*> video_by_id;
  for (const YtvisVideo& v : gt.videos) video_by_id.emplace(v.id, &v);
  const size_t I = video_ids.size(), K = category_ids.size();

  std::vector<std::vector<Track>> gt_of(K * I), dt_of(K * I);
  for (const YtvisAnnotation& a : gt.annotations) {
    const auto ii = video_slot.find(a.video_id);
    const auto kk = category_slot.find(a.category_id);
    if (ii == video_slot.end() || kk == category_slot.end()) continue;
    const YtvisVideo& v = *video_by_id.at(a.video_id);
    Track t;
    t.id = a.id;
    t.iscrowd = a.iscrowd != 0;
    t.avg_area = ytvis_avg_area(a.areas);
    t.masks.resize(a.segmentations.size());
    for (size_t f = 0; f < a.segmentations.size(); ++f) {
      const auto& s = a.segmentations[f];
      // An empty polygon list is falsy in ytvoseval: absent.
      if (!s || (s->kind == Segmentation::Kind::polygons && s->polygons.empty())) continue;
      t.masks[f] = s->to_rle(v.height, v.width);
    }
    gt_of[kk->second * I + ii->second].push_back(std::move(t));
  }
  for (size_t n = 0; n < results.size(); ++n) {
    const YtvisResult& r = results[n];
    const auto ii = video_slot.find(r.video_id);
    if (ii == video_slot.end())
      throw InputError(options.results_name + ": results[" + std::to_string(n) + "].video_id is " +
                       std::to_string(r.video_id) + ", which the ground truth has no video for");
    const auto kk = category_slot.find(r.category_id);
    if (kk == category_slot.end()) continue;
    Track t;
    t.id = static_cast<int64_t>(n) + 1;
    t.score = r.score;
    t.masks = r.segmentations;
    std::vector<std::optional<double>> areas(t.masks.size());
    for (size_t f = 0; f < t.masks.size(); ++f)
      if (t.masks[f]) areas[f] = static_cast<double>(rle_area(*t.masks[f]));
    t.avg_area = ytvis_avg_area(areas);
    dt_of[kk->second * I + ii->second].push_back(std::move(t));
  }

  const size_t max_keep = static_cast<size_t>(std::max(options.params.max_dets.back(), 0));
  std::vector<EvalUnit> units(K * I);
  for (size_t u = 0; u < K * I; ++u) {
    EvalUnit& unit = units[u];
    for (const Track& g : gt_of[u]) unit.gt.push_back({g.id, g.avg_area, g.iscrowd});
    std::vector<double> scores;
    for (const Track& d : dt_of[u]) scores.push_back(d.score);
    const std::vector<size_t> order = order_by_score(scores, max_keep);
    for (size_t o : order)
      unit.dt.push_back({dt_of[u][o].id, dt_of[u][o].avg_area, dt_of[u][o].score});
    if (unit.dt.empty() || unit.gt.empty()) continue;
    const size_t G = unit.gt.size();
    unit.iou.assign(order.size() * G, 0.0);
    std::vector<std::vector<const Rle*>> gp;
    for (const Track& g : gt_of[u]) gp.push_back(pointers(g));
    for (size_t d = 0; d < order.size(); ++d) {
      const std::vector<const Rle*> dp = pointers(dt_of[u][order[d]]);
      for (size_t j = 0; j < G; ++j) unit.iou[d * G + j] = spatio_temporal_iou(dp, gp[j]);
    }
  }
  return evaluate_units(units, category_ids, I, options.params);
}

namespace {

// First COCO image id of each video (file order), frames numbered consecutively from 1.
std::unordered_map<int64_t, int64_t> first_frame_ids(const YtvisDataset& gt) {
  std::unordered_map<int64_t, int64_t> first;
  int64_t next = 1;
  for (const YtvisVideo& v : gt.videos) {
    first.emplace(v.id, next);
    next += v.length;
  }
  return first;
}

}  // namespace

CocoDataset ytvis_frames_as_coco(const YtvisDataset& gt) {
  CocoDataset out;
  for (const YtvisVideo& v : gt.videos)
    for (int t = 0; t < v.length; ++t) {
      const std::string name =
          static_cast<size_t>(t) < v.file_names.size() ? v.file_names[static_cast<size_t>(t)] : "";
      out.images.push_back({static_cast<int64_t>(out.images.size()) + 1, v.width, v.height, name});
    }
  out.categories = gt.categories;
  const std::unordered_map<int64_t, int64_t> first = first_frame_ids(gt);
  std::unordered_map<int64_t, const YtvisVideo*> video_by_id;
  for (const YtvisVideo& v : gt.videos) video_by_id.emplace(v.id, &v);
  for (const YtvisAnnotation& a : gt.annotations) {
    const auto vit = video_by_id.find(a.video_id);
    if (vit == video_by_id.end()) continue;
    const YtvisVideo& v = *vit->second;
    for (size_t t = 0; t < a.segmentations.size() && t < static_cast<size_t>(v.length); ++t) {
      const auto& s = a.segmentations[t];
      if (!s) continue;
      const Rle rle = s->to_rle(v.height, v.width);
      if (rle_area(rle) == 0) continue;  // not visible in this frame
      CocoAnnotation c;
      c.id = static_cast<int64_t>(out.annotations.size()) + 1;
      c.image_id = first.at(a.video_id) + static_cast<int64_t>(t);
      c.category_id = a.category_id;
      c.iscrowd = a.iscrowd;
      c.segmentation = *s;
      c.bbox = t < a.bboxes.size() && a.bboxes[t] ? *a.bboxes[t] : rle_to_bbox(rle);
      c.area = t < a.areas.size() && a.areas[t] ? *a.areas[t] : static_cast<double>(rle_area(rle));
      out.annotations.push_back(std::move(c));
    }
  }
  out.reindex();
  return out;
}

std::vector<CocoResult> ytvis_results_as_coco(const std::vector<YtvisResult>& results,
                                              const YtvisDataset& gt,
                                              const std::string& results_name) {
  const std::unordered_map<int64_t, int64_t> first = first_frame_ids(gt);
  std::unordered_map<int64_t, int> length;
  for (const YtvisVideo& v : gt.videos) length[v.id] = v.length;
  std::vector<CocoResult> out;
  for (size_t n = 0; n < results.size(); ++n) {
    const YtvisResult& r = results[n];
    const auto f = first.find(r.video_id);
    if (f == first.end())
      throw InputError(results_name + ": results[" + std::to_string(n) + "].video_id is " +
                       std::to_string(r.video_id) + ", which the ground truth has no video for");
    const size_t frames =
        std::min(r.segmentations.size(), static_cast<size_t>(length.at(r.video_id)));
    for (size_t t = 0; t < frames; ++t) {
      if (!r.segmentations[t]) continue;
      CocoResult c;
      c.image_id = f->second + static_cast<int64_t>(t);
      c.category_id = r.category_id;
      c.score = r.score;
      c.segmentation = *r.segmentations[t];
      out.push_back(std::move(c));
    }
  }
  return out;
}

}  // namespace wsvis::data
