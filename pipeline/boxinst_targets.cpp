#include "pipeline/boxinst_targets.h"

#include "data/augment.h"

namespace wsvis::pipeline {

BoxInstTargetBuilder::BoxInstTargetBuilder(const data::YtvisDataset& dataset, bool with_masks)
    : masks_(dataset), with_masks_(with_masks) {}

models::CondInstTargets BoxInstTargetBuilder::build(const data::PairBatch& batch) const {
  models::CondInstTargets out;
  for (size_t i = 0; i < batch.boxes_a.size(); ++i) {
    const data::AugmentParams& p = batch.params[i];
    models::FcosGtInstances gt;
    models::GtMasks masks;
    masks.height = p.height;
    masks.width = p.width;
    for (const data::WeakBox& b : batch.boxes_a[i]) {
      if (!(b.x2 > b.x1 && b.y2 > b.y1)) continue;
      gt.boxes.push_back({b.x1, b.y1, b.x2, b.y2});
      gt.classes.push_back(b.category_index);
      if (!with_masks_) continue;
      const std::vector<uint8_t> mask = data::augment_mask(
          masks_.frame_mask(b.annotation_id, batch.refs[i].video_index, batch.refs[i].t), p);
      gt.centers.push_back(models::fcos_mask_centroid(mask.data(), p.height, p.width));
      masks.data.insert(masks.data.end(), mask.begin(), mask.end());
    }
    out.gts.push_back(std::move(gt));
    if (with_masks_) out.masks.push_back(std::move(masks));
  }
  return out;
}

std::vector<std::array<int64_t, 2>> image_sizes(const data::PairBatch& batch) {
  std::vector<std::array<int64_t, 2>> out;
  for (const auto& hw : batch.image_sizes) out.push_back({hw[0], hw[1]});
  return out;
}

std::vector<int64_t> original_heights(const data::PairBatch& batch) {
  std::vector<int64_t> out;
  for (const data::AugmentParams& p : batch.params) out.push_back(p.in_height);
  return out;
}

}  // namespace wsvis::pipeline
