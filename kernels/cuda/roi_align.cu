// CUDA twin of kernels/cpu/roi_align.cpp. One kernel serves the single-level and the
// multi-level entry points: each thread reads its roi's level and picks that map's pointer,
// size and scale (rois of one output row share a level, so warps rarely diverge).
#include "engine/cuda_check.h"
#include "engine/error.h"
#include "kernels/roi_align.h"

namespace wsvis::kernels::cuda {

namespace {

// 32-bit indexing is safe when the grid-stride loop cannot overflow: the index stays below
// total + one grid's worth of threads (elementwise_blocks caps the grid at 2^19 x 256 = 2^27).
inline bool fits_int32(int64_t total) { return total < (int64_t(1) << 30); }

template <typename P>
struct LevelPointers {
  P ptr[kMaxRoiLevels];
};

template <typename T, typename I>
__global__ void roi_align_forward_kernel(LevelPointers<const T*> features, RoiLevels levels,
                                         int64_t N, int64_t C, const T* __restrict__ rois,
                                         const int32_t* __restrict__ roi_levels, int64_t R,
                                         int64_t PH, int64_t PW, int sampling_ratio, bool aligned,
                                         T* __restrict__ out) {
  // I is int32_t when every index fits (32-bit division is several times cheaper), else int64_t.
  const I total = static_cast<I>(R * C * PH * PW);
  const I pw_ = static_cast<I>(PW), ph_ = static_cast<I>(PH), c_ = static_cast<I>(C);
  for (I i = static_cast<I>(blockIdx.x * blockDim.x + threadIdx.x); i < total;
       i += static_cast<I>(gridDim.x * blockDim.x)) {
    const I q = i / pw_, q2 = q / ph_;
    const int64_t pw = i - q * pw_, ph = q - q2 * ph_, c = q2 % c_, r = q2 / c_;
    int64_t n = 0;
    const int l = roi_source(rois, roi_levels, levels, N, r, &n);
    if (l < 0) {
      out[i] = T(0);
      continue;
    }
    const int64_t H = levels.height[l], W = levels.width[l];
    const RoiGeometry<T> g = roi_geometry(rois + 5 * r, static_cast<T>(levels.spatial_scale[l]),
                                          PH, PW, sampling_ratio, aligned);
    out[i] = roi_align_bin(features.ptr[l] + (n * C + c) * H * W, H, W, g, ph, pw);
  }
}

template <typename T>
struct AtomicPlaneAdd {
  T* plane;
  __device__ void operator()(int64_t offset, T v) { atomicAdd(plane + offset, v); }
};

// Scatter with atomics: several bins and rois land on the same input pixel, and the order in
// which their additions happen changes from run to run, so float gradients vary in the last
// bits between runs (as torchvision's). The CPU twin is the deterministic reference.
template <typename T, typename I>
__global__ void roi_align_backward_kernel(const T* __restrict__ grad_out, RoiLevels levels,
                                          int64_t N, int64_t C, const T* __restrict__ rois,
                                          const int32_t* __restrict__ roi_levels, int64_t R,
                                          int64_t PH, int64_t PW, int sampling_ratio,
                                          bool aligned, LevelPointers<T*> grad_features) {
  // I is int32_t when every index fits (32-bit division is several times cheaper), else int64_t.
  const I total = static_cast<I>(R * C * PH * PW);
  const I pw_ = static_cast<I>(PW), ph_ = static_cast<I>(PH), c_ = static_cast<I>(C);
  for (I i = static_cast<I>(blockIdx.x * blockDim.x + threadIdx.x); i < total;
       i += static_cast<I>(gridDim.x * blockDim.x)) {
    const I q = i / pw_, q2 = q / ph_;
    const int64_t pw = i - q * pw_, ph = q - q2 * ph_, c = q2 % c_, r = q2 / c_;
    int64_t n = 0;
    const int l = roi_source(rois, roi_levels, levels, N, r, &n);
    if (l < 0) continue;
    const int64_t H = levels.height[l], W = levels.width[l];
    const RoiGeometry<T> g = roi_geometry(rois + 5 * r, static_cast<T>(levels.spatial_scale[l]),
                                          PH, PW, sampling_ratio, aligned);
    AtomicPlaneAdd<T> add{grad_features.ptr[l] + (n * C + c) * H * W};
    roi_align_bin_backward(grad_out[i], H, W, g, ph, pw, add);
  }
}

template <typename T>
__global__ void fpn_assign_levels_kernel(const T* __restrict__ rois, int64_t R,
                                         FpnLevelParams params, int32_t* __restrict__ levels) {
  for (int64_t r = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; r < R;
       r += int64_t(gridDim.x) * blockDim.x)
    levels[r] = fpn_level(rois + 5 * r + 1, params);
}

template <typename T>
void forward_launch(cudaStream_t stream, const LevelPointers<const T*>& features,
                    const RoiLevels& levels, int64_t N, int64_t C, const T* rois,
                    const int32_t* roi_levels, int64_t R, int64_t PH, int64_t PW,
                    int sampling_ratio, bool aligned, T* out) {
  const int64_t total = R * C * PH * PW;
  if (total == 0) return;
  if (fits_int32(total))
    roi_align_forward_kernel<T, int32_t><<<elementwise_blocks(total), kElementwiseThreads, 0,
                                           stream>>>(features, levels, N, C, rois, roi_levels, R,
                                                     PH, PW, sampling_ratio, aligned, out);
  else
    roi_align_forward_kernel<T, int64_t><<<elementwise_blocks(total), kElementwiseThreads, 0,
                                           stream>>>(features, levels, N, C, rois, roi_levels, R,
                                                     PH, PW, sampling_ratio, aligned, out);
  WSVIS_LAUNCH_CHECK();
}

template <typename T>
void backward_launch(cudaStream_t stream, const T* grad_out, const RoiLevels& levels, int64_t N,
                     int64_t C, const T* rois, const int32_t* roi_levels, int64_t R, int64_t PH,
                     int64_t PW, int sampling_ratio, bool aligned,
                     const LevelPointers<T*>& grad_features) {
  for (int l = 0; l < levels.count; ++l) {
    const size_t bytes = sizeof(T) * static_cast<size_t>(N * C * levels.height[l] * levels.width[l]);
    if (bytes) CUDA_CHECK(cudaMemsetAsync(grad_features.ptr[l], 0, bytes, stream));
  }
  const int64_t total = R * C * PH * PW;
  if (total == 0) return;
  if (fits_int32(total))
    roi_align_backward_kernel<T, int32_t><<<elementwise_blocks(total), kElementwiseThreads, 0,
                                            stream>>>(grad_out, levels, N, C, rois, roi_levels, R,
                                                      PH, PW, sampling_ratio, aligned,
                                                      grad_features);
  else
    roi_align_backward_kernel<T, int64_t><<<elementwise_blocks(total), kElementwiseThreads, 0,
                                            stream>>>(grad_out, levels, N, C, rois, roi_levels, R,
                                                      PH, PW, sampling_ratio, aligned,
                                                      grad_features);
  WSVIS_LAUNCH_CHECK();
}

}  // namespace

template <typename T>
void roi_align_forward(cudaStream_t stream, const T* input, int64_t N, int64_t C, int64_t H,
                       int64_t W, const T* rois, int64_t R, int64_t PH, int64_t PW,
                       double spatial_scale, int sampling_ratio, bool aligned, T* out) {
  const RoiLevels L = detail::roi_single_level(H, W, spatial_scale);
  detail::check_roi_align_args("roi_align_forward", L, N, C, R, PH, PW);
  LevelPointers<const T*> f{};
  f.ptr[0] = input;
  forward_launch(stream, f, L, N, C, rois, nullptr, R, PH, PW, sampling_ratio, aligned, out);
}

template <typename T>
void roi_align_backward(cudaStream_t stream, const T* grad_out, int64_t N, int64_t C, int64_t H,
                        int64_t W, const T* rois, int64_t R, int64_t PH, int64_t PW,
                        double spatial_scale, int sampling_ratio, bool aligned, T* grad_input) {
  const RoiLevels L = detail::roi_single_level(H, W, spatial_scale);
  detail::check_roi_align_args("roi_align_backward", L, N, C, R, PH, PW);
  LevelPointers<T*> g{};
  g.ptr[0] = grad_input;
  backward_launch(stream, grad_out, L, N, C, rois, nullptr, R, PH, PW, sampling_ratio, aligned, g);
}

template <typename T>
void fpn_assign_levels(cudaStream_t stream, const T* rois, int64_t R,
                       const FpnLevelParams& params, int32_t* levels) {
  WSVIS_CHECK(params.min_level <= params.max_level, "fpn_assign_levels: min_level ",
              params.min_level, " > max_level ", params.max_level);
  if (R == 0) return;
  fpn_assign_levels_kernel<T><<<elementwise_blocks(R), kElementwiseThreads, 0, stream>>>(
      rois, R, params, levels);
  WSVIS_LAUNCH_CHECK();
}

template <typename T>
void multilevel_roi_align_forward(cudaStream_t stream, const T* const* features,
                                  const RoiLevels& levels, int64_t N, int64_t C, const T* rois,
                                  const int32_t* roi_levels, int64_t R, int64_t PH, int64_t PW,
                                  int sampling_ratio, bool aligned, T* out) {
  detail::check_roi_align_args("multilevel_roi_align_forward", levels, N, C, R, PH, PW);
  WSVIS_CHECK(R == 0 || roi_levels != nullptr, "multilevel_roi_align_forward: no roi_levels");
  LevelPointers<const T*> f{};
  for (int l = 0; l < levels.count; ++l) f.ptr[l] = features[l];
  forward_launch(stream, f, levels, N, C, rois, roi_levels, R, PH, PW, sampling_ratio, aligned,
                 out);
}

template <typename T>
void multilevel_roi_align_backward(cudaStream_t stream, const T* grad_out,
                                   const RoiLevels& levels, int64_t N, int64_t C, const T* rois,
                                   const int32_t* roi_levels, int64_t R, int64_t PH, int64_t PW,
                                   int sampling_ratio, bool aligned, T* const* grad_features) {
  detail::check_roi_align_args("multilevel_roi_align_backward", levels, N, C, R, PH, PW);
  WSVIS_CHECK(R == 0 || roi_levels != nullptr, "multilevel_roi_align_backward: no roi_levels");
  LevelPointers<T*> g{};
  for (int l = 0; l < levels.count; ++l) g.ptr[l] = grad_features[l];
  backward_launch(stream, grad_out, levels, N, C, rois, roi_levels, R, PH, PW, sampling_ratio,
                  aligned, g);
}

#define WSVIS_INSTANTIATE_ROI_ALIGN_CUDA(T)                                                     \
  template void roi_align_forward<T>(cudaStream_t, const T*, int64_t, int64_t, int64_t, int64_t, \
                                     const T*, int64_t, int64_t, int64_t, double, int, bool, T*); \
  template void roi_align_backward<T>(cudaStream_t, const T*, int64_t, int64_t, int64_t,         \
                                      int64_t, const T*, int64_t, int64_t, int64_t, double, int, \
                                      bool, T*);                                                 \
  template void fpn_assign_levels<T>(cudaStream_t, const T*, int64_t, const FpnLevelParams&,     \
                                     int32_t*);                                                  \
  template void multilevel_roi_align_forward<T>(cudaStream_t, const T* const*, const RoiLevels&, \
                                                int64_t, int64_t, const T*, const int32_t*,      \
                                                int64_t, int64_t, int64_t, int, bool, T*);       \
  template void multilevel_roi_align_backward<T>(cudaStream_t, const T*, const RoiLevels&,       \
                                                 int64_t, int64_t, const T*, const int32_t*,     \
                                                 int64_t, int64_t, int64_t, int, bool, T* const*);
WSVIS_INSTANTIATE_ROI_ALIGN_CUDA(float)
WSVIS_INSTANTIATE_ROI_ALIGN_CUDA(double)

}  // namespace wsvis::kernels::cuda
