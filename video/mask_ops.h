// Set-level mask operations the video algorithms (MaskConsist, the tracker) are built from,
// over video::InstanceSet, on the CPU twins of the kernels (kernels/warp.h, boxes.h): warping
// every mask of a frame into another frame, tight boxes, box and mask overlaps, unions.
// Host code by design: a frame has at most a few hundred instances, and the callers run
// between training steps on masks already on the host.
#pragma once

#include <cstdint>
#include <vector>

#include "data/flow_io.h"
#include "video/instance_set.h"

namespace wsvis::video {

// The masks of `set` brought into another frame: flow_target_to_source is the flow OF THE
// TARGET frame pointing into the frame of `set` (the target pixel p takes the mask value at
// p + flow(p), bilinear, >= 0.5; outside the source frame is background). Categories and
// scores are kept, so instance k of the result is instance k of `set`.
InstanceSet warp_instances(const InstanceSet& set, const data::Flow& flow_target_to_source);

// (K, 4) tight boxes (x0, y0, x1, y1), x1 / y1 exclusive, zeros for empty masks.
std::vector<float> instance_boxes(const InstanceSet& set);

// (K_a, K_b) row-major box IoU of the sets' tight boxes.
std::vector<float> box_ious(const InstanceSet& a, const InstanceSet& b);

// (K_a, K_b) row-major mask IoU and IoM (intersection over the smaller area); either output
// may be null.
void mask_overlaps(const InstanceSet& a, const InstanceSet& b, std::vector<float>* iou,
                   std::vector<float>* iom);

// Pixel-wise union of masks (H * W values, 0 / 1) into `out` (H * W, or-ed in place).
void unite_into(const uint8_t* mask, int64_t pixels, uint8_t* out);

// The instances of `set` at `indices`, in that order.
InstanceSet select(const InstanceSet& set, const std::vector<int64_t>& indices);

// Indices of the `k` highest scores (ties: lower index first), all when k <= 0 or k >= K.
std::vector<int64_t> top_scores(const std::vector<float>& scores, int64_t k);

}  // namespace wsvis::video
