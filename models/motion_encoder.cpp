#include "models/motion_encoder.h"

#include <string>
#include <vector>

#include "engine/error.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/pairwise.h"
#include "engine/ops/reduce.h"
#include "engine/ops/shape.h"

namespace wsvis::models {

namespace {

// max(a, b) elementwise, as a max over the two stacked maps (the gradient goes to a at ties).
Tensor elementwise_max(const Tensor& a, const Tensor& b) {
  Shape stacked = a.shape();
  stacked.insert(stacked.begin(), 1);
  return ops::max(ops::concat({ops::reshape(a, stacked), ops::reshape(b, stacked)}, 0), 0).values;
}

}  // namespace

MotionEncoder::MotionEncoder(const MotionEncoderOptions& options, Generator& gen,
                             const ContextPtr& ctx)
    : options_(options) {
  backbone_ = register_module(
      "backbone", std::make_shared<ResNetFpnBackbone>(options.backbone, fcos_fpn_options,
                                                      options.fpn_channels, gen, ctx));
  MaskBranchOptions mb = options.mask_branch;
  mb.in_channels = options.fpn_channels;
  mb.dtype = options.backbone.dtype;
  options_.mask_branch = mb;
  mask_branch_ = register_module("mask_branch", std::make_shared<MaskBranch>(mb, gen, ctx));
  if (options.motion_for_detection && options.detection_fusion == DetectionFusion::concat) {
    layers::Conv2dOptions o;
    o.in_channels = 2 * options.fpn_channels;
    o.out_channels = options.fpn_channels;
    o.kernel = 1;
    o.init = layers::ConvInit::c2_xavier;
    fusion_reduce_ = register_module(
        "fusion_reduce", std::make_shared<layers::Conv2d>(o, gen, ctx, options.backbone.dtype));
  }
}

int MotionEncoder::mask_channels() const {
  const int c = options_.mask_branch.out_channels;
  return options_.motion_for_segmentation && options_.mask_fusion == MaskFusion::concat ? 2 * c
                                                                                         : c;
}

Tensor MotionEncoder::fuse_detection(const Tensor& image, const Tensor& flow) {
  switch (options_.detection_fusion) {
    case DetectionFusion::sum: return ops::add(image, flow);
    case DetectionFusion::max: return elementwise_max(image, flow);
    case DetectionFusion::concat: return fusion_reduce_->forward(ops::concat({image, flow}, 1));
  }
  WSVIS_FAIL("MotionEncoder: unknown detection fusion ", int(options_.detection_fusion));
}

MotionEncoderOutput MotionEncoder::forward(const Tensor& images, const Tensor& flow_images) {
  WSVIS_CHECK(images.dim() == 4 && images.size(1) == 3,
              "MotionEncoder: images must be (N, 3, H, W), got ", images.shape_str());
  MotionEncoderOutput out;
  if (!uses_flow()) {
    out.image = backbone_->forward_images(images);
    out.detection = out.image;
    out.mask_feats = mask_branch_->forward(out.image);
    return out;
  }
  WSVIS_CHECK(flow_images.defined() && flow_images.shape() == images.shape(),
              "MotionEncoder: flow_images must match images ", images.shape_str(), ", got ",
              flow_images.defined() ? flow_images.shape_str() : "undefined");
  // Both streams as one batch of 2N: image samples first, then flow samples.
  const int64_t N = images.size(0);
  const FeatureMap both = backbone_->forward_images(ops::concat({images, flow_images}, 0));
  for (const auto& [name, map] : both) {
    out.image[name] = ops::slice(map, 0, 0, N);
    out.flow[name] = ops::slice(map, 0, N, 2 * N);
  }
  for (const std::string& name : backbone_->out_features())
    out.detection[name] = options_.motion_for_detection
                              ? fuse_detection(out.image.at(name), out.flow.at(name))
                              : out.image.at(name);
  if (!options_.motion_for_segmentation) {
    out.mask_feats = mask_branch_->forward(out.image);
    return out;
  }
  const Tensor masks = mask_branch_->forward(both);  // (2N, C_mask, H / 8, W / 8)
  const Tensor image_mask = ops::slice(masks, 0, 0, N), flow_mask = ops::slice(masks, 0, N, 2 * N);
  switch (options_.mask_fusion) {
    case MaskFusion::concat: out.mask_feats = ops::concat({image_mask, flow_mask}, 1); break;
    case MaskFusion::sum: out.mask_feats = ops::add(image_mask, flow_mask); break;
    case MaskFusion::max: out.mask_feats = elementwise_max(image_mask, flow_mask); break;
  }
  return out;
}

namespace {

Tensor channel_vector(const std::array<float, 3>& v, const ContextPtr& ctx) {
  return Tensor::from_vector(std::vector<float>(v.begin(), v.end()), {1, 3, 1, 1}, ctx, DType::f32);
}

// Reverses the channel order of (N, 3, H, W): BGR <-> RGB.
Tensor swap_channels(const Tensor& x) {
  return ops::index_select(x, 1, Tensor::from_vector(std::vector<int64_t>{2, 1, 0}, {3}, x.context_ptr(),
                                                     DType::i64));
}

}  // namespace

Tensor unnormalised_bgr(const Tensor& images, const PixelNormalization& norm) {
  const ContextPtr& ctx = images.context_ptr();
  const Tensor x = ops::add(ops::mul(images, channel_vector(norm.std, ctx)), channel_vector(norm.mean, ctx));
  return norm.rgb ? swap_channels(x) : x;
}

FlowColorInputs flow_color_inputs(const Tensor& flow, const Tensor& valid,
                                  kernels::FlowWheelVariant variant, const PixelNormalization& norm) {
  FlowColorInputs out;
  out.colors = ops::flow_to_color(flow, variant, /*rad_max=*/0, /*bgr=*/true);
  const int64_t N = flow.size(0), H = flow.size(2), W = flow.size(3);
  const ContextPtr& ctx = flow.context_ptr();
  Tensor colors = out.colors.to_dtype(DType::f32);
  if (norm.rgb) colors = swap_channels(colors);
  out.input = ops::div(ops::sub(colors, channel_vector(norm.mean, ctx)), channel_vector(norm.std, ctx));
  if (valid.defined()) {
    WSVIS_CHECK(valid.dtype() == DType::u8 && valid.shape() == Shape({N, H, W}),
                "flow_color_inputs: valid must be u8 (", N, ", ", H, ", ", W, "), got ",
                valid.describe());
    out.input = ops::mul(out.input, ops::reshape(valid.to_dtype(DType::f32), {N, 1, H, W}));
  }
  return out;
}

}  // namespace wsvis::models
