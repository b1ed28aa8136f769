// RoIAlign with detectron2's ROIAlignV2 semantics (= torchvision.ops.roi_align with
// aligned=True; aligned=false is kept for torchvision's own Mask R-CNN), forward and backward
// with respect to the input; detectron2's FPN level assignment; and a multi-level RoIAlign that
// pools every roi from its assigned level (up to kMaxRoiLevels maps) in one launch.
// Per-bin maths in kernels/roi_align_math.h; CPU twin in kernels/cpu/roi_align.cpp, CUDA twin
// in kernels/cuda/roi_align.cu.
//
// Shapes (contiguous, row-major):
//   input, grad_input: (N, C, H, W); level l of a multi-level call: (N, C, H_l, W_l)
//   rois:              (R, 5) rows (batch_index, x1, y1, x2, y2) in input-image coordinates
//   out, grad_out:     (R, C, PH, PW)
//   roi_levels:        (R) int32, level index in [0, levels.count) (RoiLevels, roi_align_math.h)
// spatial_scale maps image coordinates onto the map (1 / stride). sampling_ratio <= 0 is
// torchvision's adaptive ceil(roi_size / pooled_size) samples per bin (detectron2 uses 0).
// A roi whose batch index is outside [0, N) (or level outside [0, count)) pools to 0 and
// receives no gradient. Backward kernels overwrite grad_input (zero, then scatter).
#pragma once

#include <cstdint>

#include "kernels/common.h"
#include "kernels/roi_align_math.h"

#if WSVIS_WITH_CUDA
#include <cuda_runtime.h>
#endif

namespace wsvis::kernels {

namespace detail {
// Argument checks shared by both twins (wsvis::Error naming `what` and the bad sizes).
void check_roi_align_args(const char* what, const RoiLevels& levels, int64_t N, int64_t C,
                          int64_t R, int64_t PH, int64_t PW);
// One (H, W) feature map at spatial_scale as a one-level RoiLevels.
RoiLevels roi_single_level(int64_t H, int64_t W, double spatial_scale);
}  // namespace detail

namespace cpu {
template <typename T>
void roi_align_forward(const T* input, int64_t N, int64_t C, int64_t H, int64_t W,
                       const T* rois, int64_t R, int64_t PH, int64_t PW, double spatial_scale,
                       int sampling_ratio, bool aligned, T* out);
// Deterministic: one thread per channel scatters every roi's bins in roi order.
template <typename T>
void roi_align_backward(const T* grad_out, int64_t N, int64_t C, int64_t H, int64_t W,
                        const T* rois, int64_t R, int64_t PH, int64_t PW, double spatial_scale,
                        int sampling_ratio, bool aligned, T* grad_input);

// levels[r] = detectron2 level of rois[r] (box = columns 1..4), relative to params.min_level.
template <typename T>
void fpn_assign_levels(const T* rois, int64_t R, const FpnLevelParams& params, int32_t* levels);

// features: host array of levels.count pointers, level l of shape (N, C, H_l, W_l).
template <typename T>
void multilevel_roi_align_forward(const T* const* features, const RoiLevels& levels, int64_t N,
                                  int64_t C, const T* rois, const int32_t* roi_levels, int64_t R,
                                  int64_t PH, int64_t PW, int sampling_ratio, bool aligned,
                                  T* out);
// grad_features: host array of levels.count pointers; every level is overwritten.
template <typename T>
void multilevel_roi_align_backward(const T* grad_out, const RoiLevels& levels, int64_t N,
                                   int64_t C, const T* rois, const int32_t* roi_levels, int64_t R,
                                   int64_t PH, int64_t PW, int sampling_ratio, bool aligned,
                                   T* const* grad_features);
}  // namespace cpu

#if WSVIS_WITH_CUDA
namespace cuda {
// One thread per output element (r, c, ph, pw), as torchvision.
template <typename T>
void roi_align_forward(cudaStream_t stream, const T* input, int64_t N, int64_t C, int64_t H,
                       int64_t W, const T* rois, int64_t R, int64_t PH, int64_t PW,
                       double spatial_scale, int sampling_ratio, bool aligned, T* out);
// One thread per grad_out element scattering with atomicAdd: float results vary in the last
// bits from run to run (the order of the additions does), as torchvision's.
template <typename T>
void roi_align_backward(cudaStream_t stream, const T* grad_out, int64_t N, int64_t C, int64_t H,
                        int64_t W, const T* rois, int64_t R, int64_t PH, int64_t PW,
                        double spatial_scale, int sampling_ratio, bool aligned, T* grad_input);
template <typename T>
void fpn_assign_levels(cudaStream_t stream, const T* rois, int64_t R,
                       const FpnLevelParams& params, int32_t* levels);
// features / grad_features: host arrays of levels.count device pointers. One launch for all
// levels (plus one memset per level in the backward).
template <typename T>
void multilevel_roi_align_forward(cudaStream_t stream, const T* const* features,
                                  const RoiLevels& levels, int64_t N, int64_t C, const T* rois,
                                  const int32_t* roi_levels, int64_t R, int64_t PH, int64_t PW,
                                  int sampling_ratio, bool aligned, T* out);
template <typename T>
void multilevel_roi_align_backward(cudaStream_t stream, const T* grad_out,
                                   const RoiLevels& levels, int64_t N, int64_t C, const T* rois,
                                   const int32_t* roi_levels, int64_t R, int64_t PH, int64_t PW,
                                   int sampling_ratio, bool aligned, T* const* grad_features);
}  // namespace cuda
#endif

}  // namespace wsvis::kernels
