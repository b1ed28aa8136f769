#include "engine/ops/pairwise.h"

#include <vector>

#include "engine/ops/irn_detail.h"
#include "engine/ops/op_utils.h"

namespace wsvis::ops {

namespace {

// (K, H, W) or (K, 1, H, W): one mask plane per instance, the layout the kernels read.
void check_mask_planes(const Tensor& t, const char* op, const char* what) {
  detail::check_defined(t, op, what);
  detail::check_floating(t, op, what);
  WSVIS_CHECK(t.dim() == 3 || (t.dim() == 4 && t.size(1) == 1), op, ": ", what,
              " must be (K, H, W) or (K, 1, H, W), got ", t.shape_str());
}

void check_rects(const Tensor& rects, int64_t K, const char* op) {
  detail::check_defined(rects, op, "rects");
  detail::check_dtype(rects, DType::i32, op, "rects");
  detail::check_shape(rects, {K, 4}, op, "rects", "(K, 4)");
}

// A (N, 8, H, W) similarity of the logits' dtype and context, used as data.
void check_similarity(const Tensor& sim, const Tensor& logits, int64_t H, int64_t W,
                      const char* op, const char* what) {
  detail::check_defined(sim, op, what);
  detail::check_same_context(op, {&logits, &sim});
  detail::check_same_dtype(op, logits, sim);
  detail::check_dim(sim, 4, op, what, "(N, 8, H, W)");
  detail::check_shape(sim, {sim.size(0), kernels::kPairwiseNeighbours, H, W}, op, what,
                      "(N, 8, H, W)");
  detail::check_no_grad(sim, op, what);
}

// Calls fn with the feature pointer typed as the kernels instantiate it: u8 with any output,
// a floating input only with its own dtype.
template <typename Fn>
void dispatch_feature(const Tensor& feat, DType out_dtype, const char* op, Fn&& fn) {
  if (feat.dtype() == DType::u8) {
    WSVIS_DISPATCH_FLOATING(out_dtype, op, [&] { fn(feat.data<uint8_t>(), scalar_t{}); });
    return;
  }
  WSVIS_CHECK(feat.dtype() == out_dtype, op, ": a floating input must have the output dtype ",
              dtype_name(out_dtype), ", got ", feat.describe());
  WSVIS_DISPATCH_FLOATING(out_dtype, op, [&] { fn(feat.data<scalar_t>(), scalar_t{}); });
}

void check_output_dtype(DType dtype, const Tensor& ref, const char* op) {
  WSVIS_CHECK(is_floating(dtype), op, ": output dtype must be f32 or f64, got ",
              dtype_name(dtype));
  WSVIS_CHECK(ref.device().is_cpu() || dtype == DType::f32, op, ": f64 output on ",
              ref.device().str(), "; the CUDA backend computes in f32");
}

}  // namespace

Tensor pairwise_loss(const Tensor& logits, const Tensor& im_inds, const Tensor& rects,
                     const Tensor& color_sim, const Tensor& flow_sim,
                     const kernels::PairwiseParams& params) {
  constexpr const char* op = "pairwise_loss";
  check_mask_planes(logits, op, "logits");
  const int64_t K = logits.size(0), H = logits.size(-2), W = logits.size(-1);
  detail::check_defined(im_inds, op, "im_inds");
  detail::check_dtype(im_inds, DType::i32, op, "im_inds");
  detail::check_shape(im_inds, {K}, op, "im_inds", "(K)");
  check_rects(rects, K, op);
  detail::check_same_context(op, {&logits, &im_inds, &rects});
  check_similarity(color_sim, logits, H, W, op, "color_sim");
  const int64_t N = color_sim.size(0);
  if (flow_sim.defined()) {
    check_similarity(flow_sim, logits, H, W, op, "flow_sim");
    WSVIS_CHECK(flow_sim.size(0) == N, op, ": flow_sim ", flow_sim.shape_str(),
                " and color_sim ", color_sim.shape_str(), " cover different images");
  }
  WSVIS_CHECK(params.dilation >= 1, op, ": dilation must be >= 1, got ", params.dilation);

  Tensor loss = Tensor::empty({}, logits.dtype(), logits.context_ptr());
  Tensor stats = Tensor::empty({2}, logits.dtype(), logits.context_ptr());
  const Tensor scratch = detail::scratch_like(
      logits, WSVIS_TWIN_VALUE(logits, pairwise_loss_workspace_bytes, K, H, W));
  WSVIS_DISPATCH_FLOATING(logits.dtype(), op, [&] {
    const scalar_t* fs = flow_sim.defined() ? flow_sim.data<scalar_t>() : nullptr;
    WSVIS_KERNEL_CALL(logits, pairwise_loss_forward, logits.data<scalar_t>(),
                      im_inds.data<int32_t>(), rects.data<int32_t>(), K, N, H, W,
                      color_sim.data<scalar_t>(), fs, params, scratch.raw_data(),
                      static_cast<size_t>(scratch.numel()), loss.data<scalar_t>(),
                      stats.data<scalar_t>());
  });
  if (autograd::needs_record({&logits})) {
    const Tensor z = logits.detach();
    autograd::record(
        loss, op, {logits},
        [z, im_inds, rects, color_sim, flow_sim, params, stats, N](const Tensor& g,
                                                                   const std::vector<bool>&) {
          Tensor gz = Tensor::empty(z.shape(), z.dtype(), z.context_ptr());
          const int64_t k = z.size(0), h = z.size(-2), w = z.size(-1);
          WSVIS_DISPATCH_FLOATING(z.dtype(), "pairwise_loss backward", [&] {
            const scalar_t* fs = flow_sim.defined() ? flow_sim.data<scalar_t>() : nullptr;
            WSVIS_KERNEL_CALL(z, pairwise_loss_backward, z.data<scalar_t>(),
                              im_inds.data<int32_t>(), rects.data<int32_t>(), k, N, h, w,
                              color_sim.data<scalar_t>(), fs, params, stats.data<scalar_t>(),
                              g.data<scalar_t>(), gz.data<scalar_t>());
          });
          return std::vector<Tensor>{gz};
        });
  }
  return loss;
}

Tensor projection_loss(const Tensor& probs, const Tensor& rects, double eps) {
  constexpr const char* op = "projection_loss";
  check_mask_planes(probs, op, "probs");
  const int64_t K = probs.size(0), H = probs.size(-2), W = probs.size(-1);
  check_rects(rects, K, op);
  detail::check_same_context(op, {&probs, &rects});
  WSVIS_CHECK(eps >= 0, op, ": eps must be >= 0, got ", eps);

  const ContextPtr& ctx = probs.context_ptr();
  Tensor loss = Tensor::empty({}, probs.dtype(), ctx);
  Tensor stats = Tensor::empty({K, 4}, probs.dtype(), ctx);
  Tensor argmax_x = Tensor::empty({K, W}, DType::i32, ctx);
  Tensor argmax_y = Tensor::empty({K, H}, DType::i32, ctx);
  WSVIS_DISPATCH_FLOATING(probs.dtype(), op, [&] {
    WSVIS_KERNEL_CALL(probs, projection_loss_forward, probs.data<scalar_t>(),
                      rects.data<int32_t>(), K, H, W, eps, loss.data<scalar_t>(),
                      stats.data<scalar_t>(), argmax_x.data<int32_t>(),
                      argmax_y.data<int32_t>());
  });
  if (autograd::needs_record({&probs})) {
    const Tensor p = probs.detach();
    autograd::record(loss, op, {probs},
                     [p, rects, stats, argmax_x, argmax_y](const Tensor& g,
                                                           const std::vector<bool>&) {
                       Tensor gp = Tensor::empty(p.shape(), p.dtype(), p.context_ptr());
                       const int64_t k = p.size(0), h = p.size(-2), w = p.size(-1);
                       WSVIS_DISPATCH_FLOATING(p.dtype(), "projection_loss backward", [&] {
                         WSVIS_KERNEL_CALL(p, projection_loss_backward, p.data<scalar_t>(),
                                           rects.data<int32_t>(), k, h, w,
                                           stats.data<scalar_t>(), argmax_x.data<int32_t>(),
                                           argmax_y.data<int32_t>(), g.data<scalar_t>(),
                                           gp.data<scalar_t>());
                       });
                       return std::vector<Tensor>{gp};
                     });
  }
  return loss;
}

Tensor downsample_image(const Tensor& images, int stride, bool reverse_channels) {
  constexpr const char* op = "downsample_image";
  detail::check_defined(images, op, "images");
  detail::check_dim(images, 4, op, "images", "(N, C, H, W)");
  WSVIS_CHECK(images.dtype() == DType::u8 || images.dtype() == DType::f32, op,
              ": images must be u8 or f32, got ", images.describe());
  WSVIS_CHECK(stride >= 1, op, ": stride must be >= 1, got ", stride);
  const int64_t N = images.size(0), C = images.size(1), H = images.size(2), W = images.size(3);
  Tensor out = Tensor::empty({N, C, H / stride, W / stride}, DType::u8, images.context_ptr());
  if (images.dtype() == DType::u8)
    WSVIS_TWIN_CALL(images, downsample_image, images.data<uint8_t>(), N, C, H, W, stride,
                    reverse_channels, out.data<uint8_t>());
  else
    WSVIS_TWIN_CALL(images, downsample_image, images.data<float>(), N, C, H, W, stride,
                    reverse_channels, out.data<uint8_t>());
  return out;
}

Tensor rgb_to_lab(const Tensor& rgb, DType dtype) {
  constexpr const char* op = "rgb_to_lab";
  detail::check_defined(rgb, op, "rgb");
  detail::check_dim(rgb, 4, op, "rgb", "(N, 3, H, W)");
  WSVIS_CHECK(rgb.size(1) == 3, op, ": rgb must be (N, 3, H, W), got ", rgb.shape_str());
  check_output_dtype(dtype, rgb, op);
  const int64_t N = rgb.size(0), H = rgb.size(2), W = rgb.size(3);
  Tensor lab = Tensor::empty(rgb.shape(), dtype, rgb.context_ptr());
  dispatch_feature(rgb, dtype, op, [&](const auto* in, auto out_type) {
    using T = decltype(out_type);
    WSVIS_TWIN_CALL(rgb, rgb_to_lab, in, N, H, W, lab.data<T>());
  });
  return lab;
}

Tensor neighbour_similarity(const Tensor& feat, const Tensor& valid, int dilation,
                            double value_scale, double theta, DType dtype) {
  constexpr const char* op = "neighbour_similarity";
  detail::check_defined(feat, op, "feat");
  detail::check_dim(feat, 4, op, "feat", "(N, C, H, W)");
  check_output_dtype(dtype, feat, op);
  WSVIS_CHECK(dilation >= 1, op, ": dilation must be >= 1, got ", dilation);
  WSVIS_CHECK(theta > 0, op, ": theta must be > 0, got ", theta);
  const int64_t N = feat.size(0), C = feat.size(1), H = feat.size(2), W = feat.size(3);
  const uint8_t* valid_ptr = nullptr;
  if (valid.defined()) {
    detail::check_same_context(op, {&feat, &valid});
    detail::check_dtype(valid, DType::u8, op, "valid");
    detail::check_shape(valid, {N, H, W}, op, "valid", "(N, H, W)");
    valid_ptr = valid.data<uint8_t>();
  }
  Tensor sim = Tensor::empty({N, kernels::kPairwiseNeighbours, H, W}, dtype, feat.context_ptr());
  dispatch_feature(feat, dtype, op, [&](const auto* in, auto out_type) {
    using T = decltype(out_type);
    WSVIS_TWIN_CALL(feat, neighbour_similarity, in, N, C, H, W, valid_ptr, dilation, value_scale,
                    theta, sim.data<T>());
  });
  return sim;
}

Tensor flow_to_color(const Tensor& flow, kernels::FlowWheelVariant variant, double rad_max,
                     bool bgr) {
  constexpr const char* op = "flow_to_color";
  detail::check_defined(flow, op, "flow");
  detail::check_floating(flow, op, "flow");
  detail::check_dim(flow, 4, op, "flow", "(N, 2, H, W)");
  WSVIS_CHECK(flow.size(1) == 2, op, ": flow must be (N, 2, H, W), got ", flow.shape_str());
  const int64_t N = flow.size(0), H = flow.size(2), W = flow.size(3);
  Tensor out = Tensor::empty({N, 3, H, W}, DType::u8, flow.context_ptr());
  const Tensor scratch =
      detail::scratch_like(flow, WSVIS_TWIN_VALUE(flow, flow_to_color_workspace_bytes, N));
  WSVIS_DISPATCH_FLOATING(flow.dtype(), op, [&] {
    WSVIS_KERNEL_CALL(flow, flow_to_color, flow.data<scalar_t>(), N, H, W, variant, rad_max, bgr,
                      scratch.raw_data(), static_cast<size_t>(scratch.numel()),
                      out.data<uint8_t>());
  });
  return out;
}

}  // namespace wsvis::ops
