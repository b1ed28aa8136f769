// Per-bin maths shared by the CPU and CUDA twins of RoIAlign (kernels/roi_align.h), written
// line for line after torchvision's roi_align kernels (ops/cpu/roi_align_kernel.cpp,
// ops/cuda/roi_align_kernel.cu) so that results agree with torchvision.ops.roi_align to the
// last bits where the arithmetic order is the same; plus detectron2's FPN level assignment.
#pragma once

#include <math.h>

#include <cstdint>

#include "kernels/common.h"

namespace wsvis::kernels {

WSVIS_HD inline float roi_ceil(float v) { return ceilf(v); }
WSVIS_HD inline double roi_ceil(double v) { return ceil(v); }
WSVIS_HD inline float roi_floor(float v) { return floorf(v); }
WSVIS_HD inline double roi_floor(double v) { return floor(v); }
WSVIS_HD inline float roi_sqrt(float v) { return sqrtf(v); }
WSVIS_HD inline double roi_sqrt(double v) { return sqrt(v); }
WSVIS_HD inline float roi_log2(float v) { return log2f(v); }
WSVIS_HD inline double roi_log2(double v) { return log2(v); }

// Sampling geometry of one roi on one feature map. roi: (batch_index, x1, y1, x2, y2) in
// input-image coordinates; spatial_scale maps them onto the feature map (1 / stride).
template <typename T>
struct RoiGeometry {
  T start_w, start_h;  // top-left corner on the feature map (minus the half pixel if aligned)
  T bin_w, bin_h;      // bin size
  int grid_w, grid_h;  // sample points per bin along each axis (<= 0: no samples)
  T count;             // divisor of the average: max(grid_h * grid_w, 1)

  // Sample point iy of bin row ph (torchvision's expression and evaluation order).
  WSVIS_HD T sample_y(int64_t ph, int iy) const {
    return start_h + static_cast<T>(ph) * bin_h +
           static_cast<T>(iy + .5f) * bin_h / static_cast<T>(grid_h);
  }
  WSVIS_HD T sample_x(int64_t pw, int ix) const {
    return start_w + static_cast<T>(pw) * bin_w +
           static_cast<T>(ix + .5f) * bin_w / static_cast<T>(grid_w);
  }
};

// aligned true (detectron2 ROIAlignV2, torchvision aligned=True): coordinates * scale - 0.5,
// the roi size is not forced to be >= 1. aligned false: no offset, size at least 1 pixel.
// sampling_ratio > 0: that many samples per bin along each axis; <= 0: adaptive,
// ceil(roi_size / pooled_size).
template <typename T>
WSVIS_HD inline RoiGeometry<T> roi_geometry(const T* roi, T spatial_scale, int64_t PH,
                                            int64_t PW, int sampling_ratio, bool aligned) {
  RoiGeometry<T> g;
  const T offset = aligned ? T(0.5) : T(0);
  g.start_w = roi[1] * spatial_scale - offset;
  g.start_h = roi[2] * spatial_scale - offset;
  const T end_w = roi[3] * spatial_scale - offset;
  const T end_h = roi[4] * spatial_scale - offset;
  T roi_w = end_w - g.start_w;
  T roi_h = end_h - g.start_h;
  if (!aligned) {
    roi_w = roi_w > T(1) ? roi_w : T(1);
    roi_h = roi_h > T(1) ? roi_h : T(1);
  }
  g.bin_h = roi_h / static_cast<T>(PH);
  g.bin_w = roi_w / static_cast<T>(PW);
  g.grid_h = sampling_ratio > 0 ? sampling_ratio
                                : static_cast<int>(roi_ceil(roi_h / static_cast<T>(PH)));
  g.grid_w = sampling_ratio > 0 ? sampling_ratio
                                : static_cast<int>(roi_ceil(roi_w / static_cast<T>(PW)));
  // A degenerate (inverted) aligned roi has no samples and pools to 0, as in torchvision.
  if (g.grid_h < 0) g.grid_h = 0;
  if (g.grid_w < 0) g.grid_w = 0;
  const int n = g.grid_h * g.grid_w;
  g.count = static_cast<T>(n > 1 ? n : 1);
  return g;
}

// Bilinear sampling with torchvision's bounds rules, split by axis: a point with y < -1,
// y > H, x < -1 or x > W contributes 0; otherwise a negative coordinate is clamped to 0 and a
// point on or past the last row/column uses that row/column alone. The y terms are computed
// once per sample row and reused across the row's samples; the weights and the sum are formed
// exactly as torchvision forms them (w1 = hy*hx, ..., w1*v1 + w2*v2 + w3*v3 + w4*v4), so the
// split changes no bits. size >= 1.
template <typename T>
struct RoiAxis {
  bool valid;
  int64_t low, high;  // neighbouring indices along the axis
  T l, h;             // weights of high and low: l = coordinate - low, h = 1 - l
};

template <typename T>
WSVIS_HD inline RoiAxis<T> roi_axis(int64_t size, T v) {
  RoiAxis<T> a;
  a.valid = !(v < T(-1.0) || v > static_cast<T>(size));
  if (!a.valid) {
    a.low = a.high = 0;
    a.l = a.h = T(0);
    return a;
  }
  if (v <= T(0)) v = T(0);
  a.low = static_cast<int64_t>(v);
  if (a.low >= size - 1) {
    a.high = a.low = size - 1;
    v = static_cast<T>(a.low);
  } else {
    a.high = a.low + 1;
  }
  a.l = v - static_cast<T>(a.low);
  a.h = T(1.) - a.l;
  return a;
}

// Average of the bin's samples of one (H, W) plane.
template <typename T>
WSVIS_HD inline T roi_align_bin(const T* plane, int64_t H, int64_t W, const RoiGeometry<T>& g,
                                int64_t ph, int64_t pw) {
  T sum = T(0);
  for (int iy = 0; iy < g.grid_h; ++iy) {
    const RoiAxis<T> ay = roi_axis(H, g.sample_y(ph, iy));
    if (!ay.valid) continue;
    const T* row_low = plane + ay.low * W;
    const T* row_high = plane + ay.high * W;
    for (int ix = 0; ix < g.grid_w; ++ix) {
      const RoiAxis<T> ax = roi_axis(W, g.sample_x(pw, ix));
      if (!ax.valid) continue;
      const T w1 = ay.h * ax.h, w2 = ay.h * ax.l, w3 = ay.l * ax.h, w4 = ay.l * ax.l;
      sum += w1 * row_low[ax.low] + w2 * row_low[ax.high] + w3 * row_high[ax.low] +
             w4 * row_high[ax.high];
    }
  }
  return sum / g.count;
}

// Adjoint of roi_align_bin: add(offset, value) receives grad * w / count for each tap, in
// sample order then tap order (the CPU twin adds in place, the CUDA twin with atomics).
template <typename T, typename Add>
WSVIS_HD inline void roi_align_bin_backward(T grad, int64_t H, int64_t W, const RoiGeometry<T>& g,
                                            int64_t ph, int64_t pw, Add& add) {
  for (int iy = 0; iy < g.grid_h; ++iy) {
    const RoiAxis<T> ay = roi_axis(H, g.sample_y(ph, iy));
    if (!ay.valid) continue;
    for (int ix = 0; ix < g.grid_w; ++ix) {
      const RoiAxis<T> ax = roi_axis(W, g.sample_x(pw, ix));
      if (!ax.valid) continue;
      const T w1 = ay.h * ax.h, w2 = ay.h * ax.l, w3 = ay.l * ax.h, w4 = ay.l * ax.l;
      add(ay.low * W + ax.low, grad * w1 / g.count);
      add(ay.low * W + ax.high, grad * w2 / g.count);
      add(ay.high * W + ax.low, grad * w3 / g.count);
      add(ay.high * W + ax.high, grad * w4 / g.count);
    }
  }
}

constexpr int kMaxRoiLevels = 5;

// Sizes and scales of the feature maps of a multi-level call (e.g. P2..P5 at 1/4..1/32).
struct RoiLevels {
  int count = 0;
  int64_t height[kMaxRoiLevels] = {};
  int64_t width[kMaxRoiLevels] = {};
  double spatial_scale[kMaxRoiLevels] = {};
};

// Level that roi r pools from (level 0 when roi_levels is null) and its image, or -1 when the
// roi pools to 0: batch index outside [0, N), level outside [0, count), or an empty map.
template <typename T>
WSVIS_HD inline int roi_source(const T* rois, const int32_t* roi_levels, const RoiLevels& levels,
                               int64_t N, int64_t r, int64_t* batch) {
  const int l = roi_levels ? roi_levels[r] : 0;
  *batch = static_cast<int64_t>(rois[5 * r]);  // torchvision truncates the float index
  if (l < 0 || l >= levels.count || *batch < 0 || *batch >= N) return -1;
  if (levels.height[l] == 0 || levels.width[l] == 0) return -1;
  return l;
}

// detectron2's assign_boxes_to_levels: level = floor(canonical_level + log2(sqrt(area) /
// canonical_size + eps)), clamped to [min_level, max_level], returned relative to min_level
// (0 = the finest map). area = (x2 - x1)(y2 - y1) as detectron2's Boxes.area(); a box with a
// negative or NaN area (sqrt gives NaN) gets the finest level. box: (x1, y1, x2, y2).
struct FpnLevelParams {
  int min_level = 2;
  int max_level = 5;
  int canonical_level = 4;
  double canonical_size = 224;
  double eps = 1e-8;  // detectron2; torchvision's LevelMapper uses 1e-6
};

template <typename T>
WSVIS_HD inline int fpn_level(const T* box, const FpnLevelParams& p) {
  const T area = (box[2] - box[0]) * (box[3] - box[1]);
  const T size = roi_sqrt(area);
  const T level = roi_floor(static_cast<T>(p.canonical_level) +
                            roi_log2(size / static_cast<T>(p.canonical_size) + static_cast<T>(p.eps)));
  if (!(level >= static_cast<T>(p.min_level))) return 0;  // also NaN
  if (level >= static_cast<T>(p.max_level)) return p.max_level - p.min_level;
  return static_cast<int>(level) - p.min_level;
}

}  // namespace wsvis::kernels
