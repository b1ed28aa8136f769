// Which instances train (and at inference: receive) CondInst's dynamic mask head
// (AdelaiDet adet/modeling/condinst/condinst.py _forward_mask_heads_train / _test), spec
// boxinst_maskrcnn_ytvis.md A.3:
//
//   training: the FCOS positive locations (models/fcos_targets.h FcosPositives), optionally cut
//     - BoxInst (TOPK_PROPOSALS_PER_IM 64): per image, per GT that has positives,
//       k = max(int(64 / #GTs with positives), 1); a GT with more than k positives keeps its k
//       best by quality = sigmoid(max class logit) * sigmoid(ctrness) (ties: the earlier row);
//     - CondInst (MAX_PROPOSALS 500): a uniformly random subset of 500 when there are more;
//   inference: the FCOS detections of every image (models/fcos_inference.h), in image order.
//
// The result is grouped by image (the dynamic head's layer-0 GEMM runs per image); within an
// image the top-k order is AdelaiDet's (GT index ascending, then descending quality). The mask
// losses are means or normalised sums over instances, so the order does not change them.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/random.h"
#include "models/condinst_dynamic_head.h"
#include "models/fcos_inference.h"
#include "models/fcos_targets.h"

namespace wsvis::models {

// Indices into `positives` kept by BoxInst's per-image top-k (k_per_image <= 0 keeps all, in
// image order). Reads positives.quality (one device-to-host copy).
std::vector<int64_t> select_topk_proposals_per_image(const FcosPositives& positives,
                                                     int64_t k_per_image);

// Indices of a random subset of max_proposals of 0..count-1 (all when count <= max_proposals or
// max_proposals <= 0), in image order of `positives`.
std::vector<int64_t> sample_max_proposals(const FcosPositives& positives, int64_t max_proposals,
                                          Generator& gen);

// The kept positives as mask-head instances: controller rows gathered on their device (with
// autograd), the host fields copied, stably grouped by image.
MaskHeadInstances mask_head_instances(const FcosPositives& positives,
                                      const std::vector<int64_t>& keep);

// Every detection of every image (instances of image i have image_index i). Detections
// without controller rows (a detector built with num_gen_params 0) are an error.
MaskHeadInstances mask_head_instances(const std::vector<FcosDetections>& detections);

}  // namespace wsvis::models
