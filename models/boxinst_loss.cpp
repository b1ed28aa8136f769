#include "models/boxinst_loss.h"

#include <algorithm>

#include "engine/error.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/loss.h"
#include "engine/ops/pairwise.h"
#include "engine/ops/shape.h"

namespace wsvis::models {

namespace {

void check_instances(const MaskHeadInstances& instances, size_t num_images, const char* what) {
  WSVIS_CHECK(static_cast<int64_t>(instances.gt_index.size()) == instances.size(), what, ": ",
              instances.size(), " instances but ", instances.gt_index.size(), " GT indices");
  for (int64_t k = 0; k < instances.size(); ++k)
    WSVIS_CHECK(instances.image_index[size_t(k)] >= 0 &&
                    instances.image_index[size_t(k)] < static_cast<int64_t>(num_images),
                what, ": instance ", k, " belongs to image ", instances.image_index[size_t(k)],
                " but ground truth was given for ", num_images, " images");
}

void check_logits(const Tensor& mask_logits, int64_t M, const char* what) {
  WSVIS_CHECK(mask_logits.dim() == 4 && mask_logits.size(0) == M && mask_logits.size(1) == 1,
              what, ": mask_logits must be (", M, ", 1, H, W), got ", mask_logits.shape_str());
}

Tensor zero_loss(const Tensor& like) { return Tensor::zeros({}, like.dtype(), like.context_ptr()); }

}  // namespace

Tensor boxinst_image_valid(const std::vector<std::array<int64_t, 2>>& image_sizes,
                           const std::vector<int64_t>& original_heights, int64_t Hp, int64_t Wp,
                           const BoxInstLossOptions& options, const ContextPtr& ctx) {
  const int s = options.mask_out_stride;
  WSVIS_CHECK(s >= 1 && Hp % s == 0 && Wp % s == 0, "boxinst_image_valid: padded size ", Hp, "x",
              Wp, " is not a multiple of the stride ", s);
  WSVIS_CHECK(original_heights.size() == image_sizes.size(), "boxinst_image_valid: ",
              image_sizes.size(), " image sizes but ", original_heights.size(),
              " original heights");
  const int64_t N = static_cast<int64_t>(image_sizes.size()), H = Hp / s, W = Wp / s;
  std::vector<uint8_t> valid(static_cast<size_t>(N * H * W), 0);
  for (int64_t n = 0; n < N; ++n) {
    const int64_t h = image_sizes[size_t(n)][0], w = image_sizes[size_t(n)][1];
    const int64_t original_h = original_heights[size_t(n)];
    WSVIS_CHECK(h >= 0 && h <= Hp && w >= 0 && w <= Wp && original_h > 0,
                "boxinst_image_valid: image ", n, " of size ", h, "x", w, " (original height ",
                original_h, ") does not fit the padded ", Hp, "x", Wp);
    // int(BOTTOM_PIXELS_REMOVED * resized_h / original_h), in double as Python's float.
    const int64_t removed = static_cast<int64_t>(options.bottom_pixels_removed * double(h) /
                                                 double(original_h));
    const int64_t rows = std::max<int64_t>(h - std::max<int64_t>(removed, 0), 0);
    for (int64_t y = 0; y < H; ++y)
      for (int64_t x = 0; x < W; ++x)
        valid[size_t((n * H + y) * W + x)] = (y * s + s / 2 < rows && x * s + s / 2 < w) ? 1 : 0;
  }
  return Tensor::from_vector(valid, {N, H, W}, ctx, DType::u8);
}

BoxInstSimilarity boxinst_similarity(const Tensor& raw_images, const Tensor& valid,
                                     const Tensor& flow_colors, const BoxInstLossOptions& options,
                                     DType dtype) {
  WSVIS_CHECK(raw_images.dim() == 4 && raw_images.size(1) == 3 && raw_images.dtype() == DType::f32,
              "boxinst_similarity: raw_images must be f32 (N, 3, H, W) BGR 0..255, got ",
              raw_images.describe());
  const int s = options.mask_out_stride;
  WSVIS_CHECK(raw_images.size(2) % s == 0 && raw_images.size(3) % s == 0,
              "boxinst_similarity: padded size ", raw_images.size(2), "x", raw_images.size(3),
              " is not a multiple of the stride ", s);
  const int dilation = options.pairwise.dilation;
  BoxInstSimilarity out;
  // AdelaiDet: avg_pool2d(...)[:, [2, 1, 0]] (BGR -> RGB), .byte(), skimage rgb2lab.
  const Tensor rgb = ops::downsample_image(raw_images, s, /*reverse_channels=*/true);
  out.color = ops::neighbour_similarity(ops::rgb_to_lab(rgb, dtype), valid, dilation, 1.0,
                                        options.color_theta, dtype);
  if (flow_colors.defined()) {
    WSVIS_CHECK(flow_colors.dtype() == DType::u8 && flow_colors.shape() == raw_images.shape(),
                "boxinst_similarity: flow_colors must be u8 ", raw_images.shape_str(), ", got ",
                flow_colors.describe());
    const Tensor pooled = ops::downsample_image(flow_colors, s, /*reverse_channels=*/false);
    out.flow = ops::neighbour_similarity(pooled, valid, dilation, options.flow_value_scale,
                                         options.flow_theta, dtype);
  }
  return out;
}

Tensor instance_box_rects(const MaskHeadInstances& instances,
                          const std::vector<std::vector<std::array<float, 4>>>& gt_boxes,
                          int64_t H, int64_t W, int stride, const ContextPtr& ctx) {
  check_instances(instances, gt_boxes.size(), "instance_box_rects");
  const int64_t M = instances.size();
  std::vector<float> boxes;
  boxes.reserve(size_t(4 * M));
  for (int64_t k = 0; k < M; ++k) {
    const auto& image_boxes = gt_boxes[size_t(instances.image_index[size_t(k)])];
    const int64_t g = instances.gt_index[size_t(k)];
    WSVIS_CHECK(g >= 0 && g < static_cast<int64_t>(image_boxes.size()), "instance_box_rects: "
                "instance ", k, " has GT index ", g, " but its image has ", image_boxes.size(),
                " boxes");
    boxes.insert(boxes.end(), image_boxes[size_t(g)].begin(), image_boxes[size_t(g)].end());
  }
  std::vector<int32_t> rects(size_t(4 * M));
  kernels::cpu::box_mask_rects(boxes.data(), M, H, W, stride, rects.data());
  return Tensor::from_vector(rects, {M, 4}, ctx, DType::i32);
}

double pairwise_warmup_factor(int64_t iter, int64_t warmup_iters) {
  if (warmup_iters <= 0) return 1.0;
  return std::min(double(iter) / double(warmup_iters), 1.0);
}

BoxInstLosses boxinst_mask_losses(const Tensor& mask_logits, const MaskHeadInstances& instances,
                                  const std::vector<std::vector<std::array<float, 4>>>& gt_boxes,
                                  const BoxInstSimilarity& similarity, int64_t iter,
                                  const BoxInstLossOptions& options) {
  constexpr const char* what = "boxinst_mask_losses";
  const int64_t M = instances.size();
  check_logits(mask_logits, M, what);
  WSVIS_CHECK(similarity.color.defined(), what, ": no colour similarity");
  WSVIS_CHECK(!options.motion_aware || similarity.flow.defined(), what,
              ": the motion-aware pairwise loss needs a flow similarity (flow colour images)");
  BoxInstLosses out;
  out.warmup_factor = pairwise_warmup_factor(iter, options.warmup_iters);
  if (M == 0) {
    out.prj = zero_loss(mask_logits);
    out.pairwise = zero_loss(mask_logits);
    return out;
  }
  const ContextPtr& ctx = mask_logits.context_ptr();
  const Tensor rects = instance_box_rects(instances, gt_boxes, mask_logits.size(2),
                                          mask_logits.size(3), options.mask_out_stride, ctx);
  std::vector<int32_t> im_inds;
  for (int64_t n : instances.image_index) im_inds.push_back(static_cast<int32_t>(n));
  out.prj = ops::projection_loss(ops::sigmoid(mask_logits), rects, options.projection_eps);
  const Tensor pairwise = ops::pairwise_loss(
      mask_logits, Tensor::from_vector(im_inds, {M}, ctx, DType::i32), rects, similarity.color,
      options.motion_aware ? similarity.flow : Tensor(), options.pairwise);
  out.pairwise = ops::mul_scalar(pairwise, out.warmup_factor);
  return out;
}

Tensor condinst_mask_targets(const MaskHeadInstances& instances,
                             const std::vector<GtMasks>& gt_masks, int64_t Hp, int64_t Wp,
                             int stride, const ContextPtr& ctx, DType dtype) {
  check_instances(instances, gt_masks.size(), "condinst_mask_targets");
  WSVIS_CHECK(stride >= 1 && Hp % stride == 0 && Wp % stride == 0, "condinst_mask_targets: "
              "padded size ", Hp, "x", Wp, " is not a multiple of the stride ", stride);
  const int64_t M = instances.size(), H = Hp / stride, W = Wp / stride, off = stride / 2;
  std::vector<float> targets(size_t(M * H * W), 0.f);
  for (int64_t k = 0; k < M; ++k) {
    const GtMasks& m = gt_masks[size_t(instances.image_index[size_t(k)])];
    const int64_t g = instances.gt_index[size_t(k)], plane = m.height * m.width;
    WSVIS_CHECK(m.height <= Hp && m.width <= Wp && plane > 0 &&
                    static_cast<int64_t>(m.data.size()) % plane == 0,
                "condinst_mask_targets: masks of image ", instances.image_index[size_t(k)],
                " (", m.height, "x", m.width, ", ", m.data.size(), " values) do not fit ", Hp,
                "x", Wp);
    WSVIS_CHECK(g >= 0 && g < static_cast<int64_t>(m.data.size()) / plane,
                "condinst_mask_targets: instance ", k, " has GT index ", g, " but its image has ",
                static_cast<int64_t>(m.data.size()) / plane, " masks");
    const uint8_t* mask = m.data.data() + g * plane;
    for (int64_t y = 0; y < H && y * stride + off < m.height; ++y)
      for (int64_t x = 0; x < W && x * stride + off < m.width; ++x)
        targets[size_t((k * H + y) * W + x)] =
            mask[(y * stride + off) * m.width + x * stride + off] ? 1.f : 0.f;
  }
  return Tensor::from_vector(targets, {M, H, W}, ctx, dtype);
}

Tensor condinst_mask_loss(const Tensor& mask_logits, const Tensor& targets) {
  const int64_t M = mask_logits.size(0);
  check_logits(mask_logits, M, "condinst_mask_loss");
  WSVIS_CHECK(targets.dim() == 3 && targets.size(0) == M &&
                  targets.size(1) == mask_logits.size(2) && targets.size(2) == mask_logits.size(3),
              "condinst_mask_loss: targets must be (", M, ", ", mask_logits.size(2), ", ",
              mask_logits.size(3), "), got ", targets.shape_str());
  if (M == 0) return zero_loss(mask_logits);
  const Tensor probs = ops::reshape(ops::sigmoid(mask_logits), {M, -1});
  return ops::dice_loss(probs, ops::reshape(targets, {M, -1}), kernels::kProjectionDiceEps,
                        ops::Reduction::mean);
}

}  // namespace wsvis::models
