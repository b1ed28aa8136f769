#include "data/split.h"

#include <algorithm>
#include <map>
#include <unordered_set>

#include "engine/error.h"
#include "engine/log.h"
#include "engine/random.h"

namespace wsvis::data {

std::vector<int64_t> primary_categories(const YtvisDataset& dataset) {
  std::vector<std::map<int64_t, int>> counts(dataset.videos.size());
  for (const YtvisAnnotation& a : dataset.annotations) {
    const int64_t v = dataset.video_index(a.video_id);
    WSVIS_CHECK(v >= 0, "annotation ", a.id, " names unknown video ", a.video_id);
    ++counts[static_cast<size_t>(v)][a.category_id];
  }
  std::vector<int64_t> primary(dataset.videos.size(), -1);
  for (size_t v = 0; v < counts.size(); ++v) {
    int best = 0;
    for (const auto& [cat, n] : counts[v])  // map: increasing id, so ties keep the smallest
      if (n > best) best = n, primary[v] = cat;
  }
  return primary;
}

YtvisDataset subset_videos(const YtvisDataset& dataset, const std::vector<int64_t>& video_ids) {
  const std::unordered_set<int64_t> keep(video_ids.begin(), video_ids.end());
  YtvisDataset out;
  out.categories = dataset.categories;
  for (const YtvisVideo& v : dataset.videos)
    if (keep.count(v.id)) out.videos.push_back(v);
  for (const YtvisAnnotation& a : dataset.annotations)
    if (keep.count(a.video_id)) out.annotations.push_back(a);
  out.reindex();
  return out;
}

YtvisSplit split_train_val(const YtvisDataset& dataset, int per_category, uint64_t seed) {
  WSVIS_CHECK(per_category >= 0, "split_train_val: per_category must be >= 0, got ", per_category);
  const std::vector<int64_t> primary = primary_categories(dataset);
  std::map<int64_t, std::vector<int64_t>> by_category;  // category id -> video ids
  for (size_t v = 0; v < primary.size(); ++v)
    if (primary[v] >= 0) by_category[primary[v]].push_back(dataset.videos[v].id);
  std::vector<int64_t> held_out, kept;
  for (auto& [cat, ids] : by_category) {
    std::sort(ids.begin(), ids.end());
    // Seed from (seed, category id) so one category's draw does not depend on the others.
    Generator gen(seed * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(cat) * 0xBF58476D1CE4E5B9ull +
                  0x94D049BB133111EBull);
    for (size_t i = ids.size(); i > 1; --i)  // Fisher-Yates with the explicit generator
      std::swap(ids[i - 1], ids[static_cast<size_t>(gen.randint(0, static_cast<int64_t>(i)))]);
    const size_t n = std::min(ids.size(), static_cast<size_t>(per_category));
    if (ids.size() <= static_cast<size_t>(per_category) && per_category > 0)
      log::warn("split: category ", cat, " has only ", ids.size(),
                     " videos; all go to train_val");
    held_out.insert(held_out.end(), ids.begin(), ids.begin() + static_cast<long>(n));
  }
  const std::unordered_set<int64_t> held(held_out.begin(), held_out.end());
  for (const YtvisVideo& v : dataset.videos)
    if (!held.count(v.id)) kept.push_back(v.id);
  return {subset_videos(dataset, kept), subset_videos(dataset, held_out)};
}

void write_split(const YtvisSplit& split, const std::string& dir) {
  write_ytvis(split.train_train, dir + "/train_train.json");
  write_ytvis(split.train_val, dir + "/train_val.json");
}

std::vector<FrameView> frame_views(const YtvisDataset& dataset) {
  std::vector<FrameView> views;
  std::vector<size_t> first(dataset.videos.size());
  for (size_t v = 0; v < dataset.videos.size(); ++v) {
    const YtvisVideo& video = dataset.videos[v];
    first[v] = views.size();
    for (int t = 0; t < video.length; ++t) {
      FrameView f;
      f.video_id = video.id;
      f.video_index = v;
      f.frame = t;
      f.file_name = video.file_names[static_cast<size_t>(t)];
      f.width = video.width;
      f.height = video.height;
      views.push_back(std::move(f));
    }
  }
  for (const YtvisAnnotation& a : dataset.annotations) {
    const int64_t v = dataset.video_index(a.video_id);
    WSVIS_CHECK(v >= 0, "annotation ", a.id, " names unknown video ", a.video_id);
    for (size_t t = 0; t < a.segmentations.size(); ++t) {
      if (!a.segmentations[t]) continue;
      FrameAnnotation inst;
      inst.annotation_id = a.id;
      inst.category_id = a.category_id;
      inst.iscrowd = a.iscrowd;
      inst.segmentation = *a.segmentations[t];
      if (t < a.bboxes.size() && a.bboxes[t]) inst.bbox = *a.bboxes[t];
      if (t < a.areas.size() && a.areas[t]) inst.area = *a.areas[t];
      views[first[static_cast<size_t>(v)] + t].instances.push_back(std::move(inst));
    }
  }
  return views;
}

}  // namespace wsvis::data
