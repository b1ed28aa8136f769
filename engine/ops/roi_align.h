// RoIAlign as an autograd op over kernels/roi_align.h: detectron2's ROIAlignV2 (aligned=True,
// torchvision.ops.roi_align semantics) on one map, and detectron2's multi-level ROIPooler that
// pools every roi from the FPN level assigned to it, in one launch. Gradients flow to the
// feature maps only (rois are constants, as detectron2 treats proposal boxes).
// The CPU backward is deterministic; the CUDA backward scatters with atomicAdd (see the kernel
// header), so float gradients vary in the last bits from run to run.
#pragma once

#include <vector>

#include "engine/tensor.h"

namespace wsvis::ops {

struct RoiAlignParams {
  int pooled_h = 7, pooled_w = 7;
  int sampling_ratio = 0;  // <= 0: adaptive ceil(roi_size / pooled_size) samples per bin
  bool aligned = true;     // ROIAlignV2
};

// x: (N, C, H, W); rois: (R, 5) rows (batch_index, x1, y1, x2, y2) in image pixels, same dtype
// and context as x -> (R, C, PH, PW). spatial_scale: 1 / stride of x.
Tensor roi_align(const Tensor& x, const Tensor& rois, double spatial_scale,
                 const RoiAlignParams& params);

// features: L maps (N, C, H_l, W_l) (1 <= L <= kernels::kMaxRoiLevels), spatial_scales[l] their
// 1 / stride; roi_levels: (R) i32 level index per roi (e.g. from fpn_assign_levels), on the
// features' context -> (R, C, PH, PW).
Tensor multilevel_roi_align(const std::vector<Tensor>& features,
                            const std::vector<double>& spatial_scales, const Tensor& rois,
                            const Tensor& roi_levels, const RoiAlignParams& params);

// detectron2 assign_boxes_to_levels for rois (R, 5) (box = columns 1..4): (R) i32 level index
// relative to min_level, on the rois' context. No gradient.
Tensor fpn_assign_levels(const Tensor& rois, int min_level, int max_level,
                         int canonical_level = 4, double canonical_size = 224.0);

}  // namespace wsvis::ops
