// The mask of a YouTube-VIS annotation in one frame, looked up by annotation id (the loader's
// data::WeakBox carries the id of the annotation each box came from), decoded at the video's
// size. Used to bring masks along with the boxes of a data::PairBatch.
#pragma once

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "data/ytvis.h"

namespace wsvis::pipeline {

class AnnotationMasks {
 public:
  explicit AnnotationMasks(const data::YtvisDataset& dataset);  // must outlive this

  // (height, width) 0/1 mask of annotation `id` in frame t of dataset.videos[video_index];
  // InputError when that annotation has no mask in that frame.
  std::vector<uint8_t> frame_mask(int64_t id, size_t video_index, int t) const;

 private:
  const data::YtvisDataset& dataset_;
  std::unordered_map<int64_t, size_t> index_;  // annotation id -> position
};

}  // namespace wsvis::pipeline
