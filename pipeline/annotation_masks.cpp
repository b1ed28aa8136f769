#include "pipeline/annotation_masks.h"

#include <string>

#include "data/rle.h"
#include "engine/error.h"

namespace wsvis::pipeline {

AnnotationMasks::AnnotationMasks(const data::YtvisDataset& dataset) : dataset_(dataset) {
  for (size_t i = 0; i < dataset.annotations.size(); ++i) index_[dataset.annotations[i].id] = i;
}

std::vector<uint8_t> AnnotationMasks::frame_mask(int64_t id, size_t video_index, int t) const {
  const auto it = index_.find(id);
  WSVIS_CHECK(it != index_.end(), "AnnotationMasks: no annotation ", id);
  const data::YtvisAnnotation& a = dataset_.annotations[it->second];
  const data::YtvisVideo& video = dataset_.videos[video_index];
  const auto& seg = a.segmentations.at(static_cast<size_t>(t));
  if (!seg)
    throw InputError("annotation " + std::to_string(id) + " has a box but no mask in frame " +
                     std::to_string(t) + " of video " + std::to_string(video.id));
  return data::rle_decode(seg->to_rle(video.height, video.width));
}

}  // namespace wsvis::pipeline
