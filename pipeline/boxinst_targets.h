// Training targets of (motion-aided) BoxInst and CondInst from a data::PairBatch (frame a of
// each pair is the training image): per image the GT boxes (augmented, in padded-input
// pixels) with their category indices, and for CondInst the GT masks put through the same
// augmentation (data/augment.h augment_mask) with their centroids as FCOS centre-sampling
// centres (AdelaiDet: the centroid of gt_bitmasks_full; BoxInst's filled box gives the box
// centre, the default when no centre is given). Degenerate boxes (no area after resizing) are
// dropped with their masks.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "data/loader.h"
#include "data/ytvis.h"
#include "models/condinst.h"
#include "pipeline/annotation_masks.h"

namespace wsvis::pipeline {

class BoxInstTargetBuilder {
 public:
  // `dataset` must outlive the builder; with_masks: CondInst (GT masks and centroids).
  BoxInstTargetBuilder(const data::YtvisDataset& dataset, bool with_masks);

  // gts (and masks) of every image of the batch; iter, gen and similarity are the caller's.
  models::CondInstTargets build(const data::PairBatch& batch) const;

 private:
  AnnotationMasks masks_;
  bool with_masks_;
};

// (h, w) of each image of the batch inside its padding.
std::vector<std::array<int64_t, 2>> image_sizes(const data::PairBatch& batch);
// The height of each image before resizing (BoxInst's bottom-pixel rule scales by it).
std::vector<int64_t> original_heights(const data::PairBatch& batch);

}  // namespace wsvis::pipeline
