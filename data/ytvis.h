// YouTube-VIS 2019 annotation and results JSON (spec C.1), read and written on the host.
//
// Reading validates everything the rest of the pipeline relies on and throws
// wsvis::InputError naming the file and the field, e.g.
//   "train.json: annotations[3].segmentations has 5 entries for a video of 6 frames".
// Checked: JSON syntax; required fields and their types; unique video/annotation/category
// ids; every annotation's video_id and category_id exist; per-frame lists (segmentations,
// bboxes, areas, file_names) have one entry per frame; every RLE is the video's size and its
// counts cover it exactly; polygons have an even number of coordinates.
// Not kept: fields we do not use (license, flickr_url, coco_url, date_captured, the
// per-annotation height/width/length); writing produces the fields below only.
// Writing is atomic (temp file in the same directory + rename).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "data/segmentation.h"

namespace wsvis::data {

struct YtvisVideo {
  int64_t id = 0;
  int width = 0;
  int height = 0;
  int length = 0;                       // number of annotated frames
  std::vector<std::string> file_names;  // length entries, "<video>/00000.jpg", ...
};

struct YtvisAnnotation {
  int64_t id = 0;
  int64_t video_id = 0;
  int64_t category_id = 0;
  int iscrowd = 0;
  // One entry per frame of the video; nullopt where the object is absent.
  std::vector<std::optional<Segmentation>> segmentations;
  // Per frame. When the file has no "bboxes" / "areas" field, the reader derives them from
  // the segmentations (pycocotools toBbox / area, as ytvos.loadRes does); when it has them
  // they are kept as stored (YTVIS areas are pixel counts, but nothing forces that).
  std::vector<std::optional<BoxXywh>> bboxes;
  std::vector<std::optional<double>> areas;
};

struct YtvisDataset {
  std::vector<YtvisVideo> videos;
  std::vector<YtvisAnnotation> annotations;  // empty for valid/test files
  std::vector<Category> categories;

  // Index of the video / category with this id, or -1.
  int64_t video_index(int64_t video_id) const;
  int64_t category_index(int64_t category_id) const;
  // Rebuilds the id -> index maps; call after editing videos or categories by hand
  // (read_ytvis builds them).
  void reindex();

 private:
  std::unordered_map<int64_t, size_t> video_by_id_, category_by_id_;
};

// One video-level prediction (results file entry).
struct YtvisResult {
  int64_t video_id = 0;
  int64_t category_id = 0;
  double score = 0;
  std::vector<std::optional<Rle>> segmentations;  // one per frame, nullopt where absent
};

YtvisDataset read_ytvis(const std::string& path);
void write_ytvis(const YtvisDataset& dataset, const std::string& path);

// The results file: a JSON list of {video_id, category_id, score, segmentations}; RLEs may
// be compressed (string counts) or not. With `gt`, also checks that every video_id exists,
// that there is one segmentation per frame and that every RLE has the video's size; without
// it, that all RLEs of one result have the same size.
std::vector<YtvisResult> read_ytvis_results(const std::string& path,
                                            const YtvisDataset* gt = nullptr);
// Writes compressed RLE strings (the format the YTVIS server and pycocotools expect).
void write_ytvis_results(const std::vector<YtvisResult>& results, const std::string& path);

}  // namespace wsvis::data
