// The weak labels each method trains from, as pure functions of a YtvisDataset.
//   flowIRN: per-frame class labels, a multi-hot vector over the dataset's categories (index =
//            position in dataset.categories) of the instances visible in that frame.
//   BoxInst: per-frame boxes with their class, (x1, y1, x2, y2) in pixel-edge coordinates of
//            the original frame (x1 = bbox.x, x2 = bbox.x + bbox.w).
// "Visible" = the annotation's segmentation is not null in that frame AND its box has a
// positive width and height (an RLE with no foreground pixel gives a zero box). Crowd
// annotations (iscrowd = 1) are skipped for boxes and kept for class labels.
#pragma once

#include <cstdint>
#include <vector>

#include "data/ytvis.h"

namespace wsvis::data {

struct WeakBox {
  float x1 = 0, y1 = 0, x2 = 0, y2 = 0;
  int category_index = 0;  // position in dataset.categories
  int64_t category_id = 0;
  int64_t annotation_id = 0;
};

// Per frame of a video: (frames, categories) multi-hot, 0/1 bytes.
struct VideoWeakLabels {
  std::vector<std::vector<uint8_t>> classes;  // [frame][category index]
  std::vector<std::vector<WeakBox>> boxes;    // [frame], annotations in file order
};

// Per video (parallel to dataset.videos).
std::vector<VideoWeakLabels> weak_labels(const YtvisDataset& dataset);

}  // namespace wsvis::data
