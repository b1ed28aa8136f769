#include "engine/ops/roi_align.h"

#include <array>

#include "engine/autograd.h"
#include "engine/ops/op_utils.h"
#include "kernels/roi_align.h"

namespace wsvis::ops {

namespace {

constexpr const char* kOp = "multilevel_roi_align";

void check_rois(const Tensor& rois, const Tensor& like, const char* op) {
  detail::check_defined(rois, op, "rois");
  detail::check_dim(rois, 2, op, "rois", "(R, 5)");
  WSVIS_CHECK(rois.size(1) == 5, op, ": rois must be (R, 5), got ", rois.shape_str());
  detail::check_same_dtype(op, like, rois);
  detail::check_same_context(op, {&like, &rois});
}

}  // namespace

Tensor roi_align(const Tensor& x, const Tensor& rois, double spatial_scale,
                 const RoiAlignParams& params) {
  const Tensor levels = Tensor::zeros({rois.defined() ? rois.size(0) : 0}, DType::i32,
                                      x.defined() ? x.context_ptr() : rois.context_ptr());
  return multilevel_roi_align({x}, {spatial_scale}, rois, levels, params);
}

Tensor multilevel_roi_align(const std::vector<Tensor>& features,
                            const std::vector<double>& spatial_scales, const Tensor& rois,
                            const Tensor& roi_levels, const RoiAlignParams& params) {
  const int L = static_cast<int>(features.size());
  WSVIS_CHECK(L >= 1 && L <= kernels::kMaxRoiLevels, kOp, ": ", L, " feature maps given, 1..",
              kernels::kMaxRoiLevels, " supported");
  WSVIS_CHECK(spatial_scales.size() == features.size(), kOp, ": ", spatial_scales.size(),
              " spatial scales for ", L, " feature maps");
  const Tensor& first = features[0];
  detail::check_defined(first, kOp, "features[0]");
  detail::check_floating(first, kOp, "features[0]");
  detail::check_dim(first, 4, kOp, "features[0]", "(N, C, H, W)");
  kernels::RoiLevels levels;
  levels.count = L;
  for (int l = 0; l < L; ++l) {
    const Tensor& f = features[size_t(l)];
    detail::check_defined(f, kOp, "a feature map");
    detail::check_dim(f, 4, kOp, "a feature map", "(N, C, H, W)");
    WSVIS_CHECK(f.size(0) == first.size(0) && f.size(1) == first.size(1), kOp, ": level ", l,
                " has shape ", f.shape_str(), ", level 0 ", first.shape_str(),
                " (N and C must agree)");
    detail::check_same_dtype(kOp, first, f);
    detail::check_same_context(kOp, {&first, &f});
    levels.height[l] = f.size(2);
    levels.width[l] = f.size(3);
    levels.spatial_scale[l] = spatial_scales[size_t(l)];
  }
  check_rois(rois, first, kOp);
  const int64_t R = rois.size(0), N = first.size(0), C = first.size(1);
  WSVIS_CHECK(roi_levels.defined() && roi_levels.dtype() == DType::i32 &&
                  roi_levels.shape() == Shape({R}),
              kOp, ": roi_levels must be i32 (", R, "), got ",
              roi_levels.defined() ? roi_levels.describe() : std::string("undefined"));
  detail::check_same_context(kOp, {&first, &roi_levels});
  const int PH = params.pooled_h, PW = params.pooled_w;
  Tensor out = Tensor::empty({R, C, PH, PW}, first.dtype(), first.context_ptr());
  if (R > 0 && C > 0) {
    WSVIS_DISPATCH_FLOATING(first.dtype(), kOp, [&] {
      std::array<const scalar_t*, kernels::kMaxRoiLevels> ptrs{};
      for (int l = 0; l < L; ++l) ptrs[size_t(l)] = features[size_t(l)].data<scalar_t>();
      WSVIS_KERNEL_CALL(first, multilevel_roi_align_forward, ptrs.data(), levels, N, C,
                        rois.data<scalar_t>(), roi_levels.data<int32_t>(), R, PH, PW,
                        params.sampling_ratio, params.aligned, out.data<scalar_t>());
    });
  }
  if (autograd::needs_record(features)) {
    std::vector<Shape> shapes;
    for (const Tensor& f : features) shapes.push_back(f.shape());
    // Backward reads only the rois, their levels and the sizes.
    autograd::record(
        out, kOp, features,
        [levels, shapes, rois, roi_levels, params, N, C, R, PH, PW](
            const Tensor& gy, const std::vector<bool>&) {
          std::vector<Tensor> grads;
          for (const Shape& s : shapes) grads.push_back(Tensor::empty(s, gy.dtype(), gy.context_ptr()));
          WSVIS_DISPATCH_FLOATING(gy.dtype(), "multilevel_roi_align backward", [&] {
            std::array<scalar_t*, kernels::kMaxRoiLevels> ptrs{};
            for (size_t l = 0; l < grads.size(); ++l) ptrs[l] = grads[l].data<scalar_t>();
            if (R > 0 && C > 0) {
              WSVIS_KERNEL_CALL(gy, multilevel_roi_align_backward, gy.data<scalar_t>(), levels,
                                N, C, rois.data<scalar_t>(), roi_levels.data<int32_t>(), R, PH,
                                PW, params.sampling_ratio, params.aligned, ptrs.data());
            } else {
              for (Tensor& g : grads) g = Tensor::zeros(g.shape(), g.dtype(), g.context_ptr());
            }
          });
          return grads;
        });
  }
  return out;
}

Tensor fpn_assign_levels(const Tensor& rois, int min_level, int max_level, int canonical_level,
                         double canonical_size) {
  constexpr const char* op = "fpn_assign_levels";
  detail::check_defined(rois, op, "rois");
  detail::check_floating(rois, op, "rois");
  check_rois(rois, rois, op);
  WSVIS_CHECK(min_level <= max_level && max_level - min_level < kernels::kMaxRoiLevels, op,
              ": levels [", min_level, ", ", max_level, "] must span 1..",
              kernels::kMaxRoiLevels);
  kernels::FpnLevelParams p;
  p.min_level = min_level;
  p.max_level = max_level;
  p.canonical_level = canonical_level;
  p.canonical_size = canonical_size;
  const int64_t R = rois.size(0);
  Tensor levels = Tensor::empty({R}, DType::i32, rois.context_ptr());
  if (R == 0) return levels;
  WSVIS_DISPATCH_FLOATING(rois.dtype(), op, [&] {
    WSVIS_KERNEL_CALL(rois, fpn_assign_levels, rois.data<scalar_t>(), R, p,
                      levels.data<int32_t>());
  });
  return levels;
}

}  // namespace wsvis::ops
