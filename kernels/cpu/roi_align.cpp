// CPU twin of RoIAlign: the reference the CUDA kernels and the tests check against. The
// single-level entry points are the multi-level ones with one level and no level array.
#include "kernels/roi_align.h"

#include <algorithm>

#include "engine/error.h"

namespace wsvis::kernels {

namespace detail {

void check_roi_align_args(const char* what, const RoiLevels& levels, int64_t N, int64_t C,
                          int64_t R, int64_t PH, int64_t PW) {
  WSVIS_CHECK(levels.count >= 1 && levels.count <= kMaxRoiLevels, what, ": ", levels.count,
              " levels given, 1..", kMaxRoiLevels, " supported");
  WSVIS_CHECK(N >= 0 && C >= 0 && R >= 0, what, ": negative size N=", N, " C=", C, " R=", R);
  WSVIS_CHECK(PH >= 1 && PW >= 1, what, ": pooled size must be positive, got ", PH, "x", PW);
  for (int l = 0; l < levels.count; ++l)
    WSVIS_CHECK(levels.height[l] >= 0 && levels.width[l] >= 0, what, ": level ", l,
                " has negative size ", levels.height[l], "x", levels.width[l]);
}

RoiLevels roi_single_level(int64_t H, int64_t W, double spatial_scale) {
  RoiLevels L;
  L.count = 1;
  L.height[0] = H;
  L.width[0] = W;
  L.spatial_scale[0] = spatial_scale;
  return L;
}

}  // namespace detail

namespace cpu {

namespace {

template <typename T>
void forward_impl(const T* const* features, const RoiLevels& levels, int64_t N, int64_t C,
                  const T* rois, const int32_t* roi_levels, int64_t R, int64_t PH, int64_t PW,
                  int sampling_ratio, bool aligned, T* out) {
  const int64_t bins = PH * PW;
#pragma omp parallel for if (R * C * bins > (1 << 14))
  for (int64_t r = 0; r < R; ++r) {
    T* o = out + r * C * bins;
    int64_t n = 0;
    const int l = roi_source(rois, roi_levels, levels, N, r, &n);
    if (l < 0) {
      std::fill(o, o + C * bins, T(0));
      continue;
    }
    const int64_t H = levels.height[l], W = levels.width[l];
    const RoiGeometry<T> g = roi_geometry(rois + 5 * r, static_cast<T>(levels.spatial_scale[l]), PH,
                                          PW, sampling_ratio, aligned);
    for (int64_t c = 0; c < C; ++c) {
      const T* plane = features[l] + (n * C + c) * H * W;
      for (int64_t ph = 0; ph < PH; ++ph)
        for (int64_t pw = 0; pw < PW; ++pw)
          o[c * bins + ph * PW + pw] = roi_align_bin(plane, H, W, g, ph, pw);
    }
  }
}

template <typename T>
struct PlaneAdd {
  T* plane;
  void operator()(int64_t offset, T v) { plane[offset] += v; }
};

template <typename T>
void backward_impl(const T* grad_out, const RoiLevels& levels, int64_t N, int64_t C, const T* rois,
                   const int32_t* roi_levels, int64_t R, int64_t PH, int64_t PW, int sampling_ratio,
                   bool aligned, T* const* grad_features) {
  for (int l = 0; l < levels.count; ++l)
    std::fill(grad_features[l], grad_features[l] + N * C * levels.height[l] * levels.width[l],
              T(0));
  const int64_t bins = PH * PW;
  // Channel c of every level is written only by the task of channel c, which adds the rois in
  // order: the result does not depend on the thread count.
#pragma omp parallel for if (R * C * bins > (1 << 14))
  for (int64_t c = 0; c < C; ++c) {
    for (int64_t r = 0; r < R; ++r) {
      int64_t n = 0;
      const int l = roi_source(rois, roi_levels, levels, N, r, &n);
      if (l < 0) continue;
      const int64_t H = levels.height[l], W = levels.width[l];
      const RoiGeometry<T> g = roi_geometry(rois + 5 * r, static_cast<T>(levels.spatial_scale[l]),
                                            PH, PW, sampling_ratio, aligned);
      PlaneAdd<T> add{grad_features[l] + (n * C + c) * H * W};
      const T* go = grad_out + (r * C + c) * bins;
      for (int64_t ph = 0; ph < PH; ++ph)
        for (int64_t pw = 0; pw < PW; ++pw)
          roi_align_bin_backward(go[ph * PW + pw], H, W, g, ph, pw, add);
    }
  }
}

}  // namespace

template <typename T>
void roi_align_forward(const T* input, int64_t N, int64_t C, int64_t H, int64_t W, const T* rois,
                       int64_t R, int64_t PH, int64_t PW, double spatial_scale, int sampling_ratio,
                       bool aligned, T* out) {
  const RoiLevels L = detail::roi_single_level(H, W, spatial_scale);
  detail::check_roi_align_args("roi_align_forward", L, N, C, R, PH, PW);
  const T* features[1] = {input};
  forward_impl(features, L, N, C, rois, static_cast<const int32_t*>(nullptr), R, PH, PW,
               sampling_ratio, aligned, out);
}

template <typename T>
void roi_align_backward(const T* grad_out, int64_t N, int64_t C, int64_t H, int64_t W,
                        const T* rois, int64_t R, int64_t PH, int64_t PW, double spatial_scale,
                        int sampling_ratio, bool aligned, T* grad_input) {
  const RoiLevels L = detail::roi_single_level(H, W, spatial_scale);
  detail::check_roi_align_args("roi_align_backward", L, N, C, R, PH, PW);
  T* grads[1] = {grad_input};
  backward_impl(grad_out, L, N, C, rois, static_cast<const int32_t*>(nullptr), R, PH, PW,
                sampling_ratio, aligned, grads);
}

template <typename T>
void fpn_assign_levels(const T* rois, int64_t R, const FpnLevelParams& params, int32_t* levels) {
  WSVIS_CHECK(params.min_level <= params.max_level, "fpn_assign_levels: min_level ",
              params.min_level, " > max_level ", params.max_level);
  for (int64_t r = 0; r < R; ++r) levels[r] = fpn_level(rois + 5 * r + 1, params);
}

template <typename T>
void multilevel_roi_align_forward(const T* const* features, const RoiLevels& levels, int64_t N,
                                  int64_t C, const T* rois, const int32_t* roi_levels, int64_t R,
                                  int64_t PH, int64_t PW, int sampling_ratio, bool aligned,
                                  T* out) {
  detail::check_roi_align_args("multilevel_roi_align_forward", levels, N, C, R, PH, PW);
  WSVIS_CHECK(R == 0 || roi_levels != nullptr, "multilevel_roi_align_forward: no roi_levels");
  forward_impl(features, levels, N, C, rois, roi_levels, R, PH, PW, sampling_ratio, aligned, out);
}

template <typename T>
void multilevel_roi_align_backward(const T* grad_out, const RoiLevels& levels, int64_t N, int64_t C,
                                   const T* rois, const int32_t* roi_levels, int64_t R, int64_t PH,
                                   int64_t PW, int sampling_ratio, bool aligned,
                                   T* const* grad_features) {
  detail::check_roi_align_args("multilevel_roi_align_backward", levels, N, C, R, PH, PW);
  WSVIS_CHECK(R == 0 || roi_levels != nullptr, "multilevel_roi_align_backward: no roi_levels");
  backward_impl(grad_out, levels, N, C, rois, roi_levels, R, PH, PW, sampling_ratio, aligned,
                grad_features);
}

#define WSVIS_INSTANTIATE_ROI_ALIGN(T)                                                         \
  template void roi_align_forward<T>(const T*, int64_t, int64_t, int64_t, int64_t, const T*,   \
                                     int64_t, int64_t, int64_t, double, int, bool, T*);        \
  template void roi_align_backward<T>(const T*, int64_t, int64_t, int64_t, int64_t, const T*,  \
                                      int64_t, int64_t, int64_t, double, int, bool, T*);       \
  template void fpn_assign_levels<T>(const T*, int64_t, const FpnLevelParams&, int32_t*);      \
  template void multilevel_roi_align_forward<T>(const T* const*, const RoiLevels&, int64_t,    \
                                                int64_t, const T*, const int32_t*, int64_t,    \
                                                int64_t, int64_t, int, bool, T*);              \
  template void multilevel_roi_align_backward<T>(const T*, const RoiLevels&, int64_t, int64_t, \
                                                 const T*, const int32_t*, int64_t, int64_t,   \
                                                 int64_t, int, bool, T* const*);
WSVIS_INSTANTIATE_ROI_ALIGN(float)
WSVIS_INSTANTIATE_ROI_ALIGN(double)

}  // namespace cpu

}  // namespace wsvis::kernels
