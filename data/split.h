// The paper's split of a YouTube-VIS train set into train_train / train_val, and frame-level
// views of a dataset (one entry per (video, frame) with the instances visible in it).
//
// Split rule (deterministic for a seed):
//   1. Each video gets ONE primary category: the category with the most annotations (tracks)
//      in that video; ties go to the smallest category id. Videos without annotations have
//      no primary category and always stay in train_train.
//      (A multi-category video thus counts for exactly one category, so the held-out videos
//      of different categories are disjoint and every category holds out at most
//      per_category videos.)
//   2. Categories are visited in increasing id order. A category's primary videos, sorted by
//      video id, are shuffled with a Generator seeded from (seed, category id); the first
//      min(per_category, count) go to train_val. A category with at most per_category
//      primary videos gives all of them to train_val (and a warning is logged).
//   3. train_train holds every other video. Both keep the full category list, the videos in
//      their original order and every annotation of their videos.
// The paper holds out 10 videos per category (per_category = 10).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "data/ytvis.h"

namespace wsvis::data {

struct YtvisSplit {
  YtvisDataset train_train;
  YtvisDataset train_val;
};

// Primary category id of each video (parallel to dataset.videos), or -1 without annotations.
std::vector<int64_t> primary_categories(const YtvisDataset& dataset);

// The videos (and their annotations) whose ids are listed, in the dataset's order.
YtvisDataset subset_videos(const YtvisDataset& dataset, const std::vector<int64_t>& video_ids);

YtvisSplit split_train_val(const YtvisDataset& dataset, int per_category = 10,
                           uint64_t seed = 0);
// Writes <dir>/train_train.json and <dir>/train_val.json (write_ytvis, atomic).
void write_split(const YtvisSplit& split, const std::string& dir);

// ---- frame-level views ---------------------------------------------------------------------
struct FrameAnnotation {
  int64_t annotation_id = 0;
  int64_t category_id = 0;
  int iscrowd = 0;
  Segmentation segmentation;
  BoxXywh bbox{};
  double area = 0;
};

struct FrameView {
  int64_t video_id = 0;
  size_t video_index = 0;
  int frame = 0;          // index within the video
  std::string file_name;  // "<video>/00000.jpg"
  int width = 0, height = 0;
  std::vector<FrameAnnotation> instances;  // annotations non-null in this frame, file order
};

// One entry per (video, frame), videos in order, frames in order. An instance is listed in
// a frame where its segmentation is not null (its box and area come from the dataset).
std::vector<FrameView> frame_views(const YtvisDataset& dataset);

}  // namespace wsvis::data
