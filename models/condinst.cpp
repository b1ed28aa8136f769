#include "models/condinst.h"

#include <string>

#include "engine/error.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/reduce.h"
#include "engine/ops/shape.h"
#include "engine/ops/upsample.h"
#include "models/condinst_instances.h"
#include "models/fcos.h"

namespace wsvis::models {

namespace {

DynamicMaskHeadOptions mask_head_options(const CondInstOptions& o, int mask_channels) {
  DynamicMaskHeadOptions m = o.mask_head;
  m.in_channels = mask_channels;
  m.mask_out_stride = o.boxinst_loss.mask_out_stride;
  return m;
}

// AdelaiDet's dummy loss for a batch without mask instances: zero, but with every mask-side
// parameter in the graph (a distributed step then all-reduces the same buckets on every rank).
Tensor zero_with_graph(const Tensor& mask_feats, const Tensor& controller_rows) {
  Tensor z = ops::mul_scalar(ops::sum(mask_feats), 0.0);
  if (controller_rows.defined()) z = ops::add(z, ops::mul_scalar(ops::sum(controller_rows), 0.0));
  return z;
}

}  // namespace

CondInstOptions boxinst_options(bool motion) {
  CondInstOptions o;
  o.encoder.mask_branch = boxinst_mask_branch_options();
  o.encoder.motion_for_detection = o.encoder.motion_for_segmentation = motion;
  o.boxinst = true;
  o.topk_proposals_per_image = 64;
  o.max_proposals = -1;
  o.boxinst_loss.motion_aware = motion;
  return o;
}

CondInstOptions condinst_options() {
  CondInstOptions o;
  o.encoder.mask_branch = MaskBranchOptions();  // C_mask 8
  o.encoder.motion_for_detection = o.encoder.motion_for_segmentation = false;
  o.boxinst = false;
  o.topk_proposals_per_image = -1;
  o.max_proposals = 500;
  return o;
}

Tensor CondInstLosses::total() const {
  Tensor t = fcos.total();
  for (const Tensor* term : {&mask, &prj, &pairwise})
    if (term->defined()) t = ops::add(t, *term);
  return t;
}

CondInst::CondInst(const CondInstOptions& options, Generator& gen, const ContextPtr& ctx)
    : MotionEncoder(options.encoder, gen, ctx),
      options_(options),
      mask_head_(mask_head_options(options, mask_channels())) {
  WSVIS_CHECK(options.topk_proposals_per_image <= 0 || options.max_proposals <= 0,
              "CondInst: topk_proposals_per_image (", options.topk_proposals_per_image,
              ") and max_proposals (", options.max_proposals, ") cannot both be on");
  options_.encoder = MotionEncoder::options();
  options_.mask_head = mask_head_.options();
  FCOSHeadOptions h = options.head;
  h.in_channels = options.encoder.fpn_channels;
  h.num_levels = static_cast<int>(backbone()->out_features().size());
  h.dtype = options.encoder.backbone.dtype;
  options_.head = h;
  options_.targets.num_classes = h.num_classes;
  head_ = std::make_shared<FCOSHead>(h, gen, ctx);
  register_module("proposal_generator", std::make_shared<FcosProposalGenerator>(head_));
  const int num_gen_params = static_cast<int>(mask_head_.num_gen_params());
  controller_ = register_module(
      "controller", make_fcos_head_conv(h.in_channels, num_gen_params, 0.0, gen, ctx, h.dtype));
}

CondInst::HeadPass CondInst::run_heads(const CondInstInputs& inputs) {
  HeadPass pass;
  pass.encoded = MotionEncoder::forward(inputs.images, inputs.flow_images);
  std::vector<Tensor> levels;
  for (const std::string& name : backbone()->out_features())
    levels.push_back(pass.encoded.detection.at(name));
  const FCOSHeadOutput out = head_->forward(levels, controller_.get());
  pass.flat = flatten_fcos_predictions(out);
  pass.layout = FcosLayout::from_maps(out.logits, strides());
  return pass;
}

CondInstLosses CondInst::forward_train(const CondInstInputs& inputs,
                                       const CondInstTargets& targets) {
  const int64_t N = inputs.images.size(0);
  WSVIS_CHECK(static_cast<int64_t>(targets.gts.size()) == N, "CondInst: ", targets.gts.size(),
              " ground-truth entries for ", N, " images");
  const HeadPass pass = run_heads(inputs);
  const FcosTargets fcos_targets = compute_fcos_targets(pass.layout, targets.gts, options_.targets);
  CondInstLosses losses;
  losses.fcos = fcos_losses(pass.flat, fcos_targets, options_.loss);
  const FcosPositives positives = gather_fcos_positives(pass.flat, fcos_targets);

  std::vector<int64_t> keep;
  if (options_.boxinst || options_.topk_proposals_per_image > 0) {
    keep = select_topk_proposals_per_image(positives, options_.topk_proposals_per_image);
  } else {
    WSVIS_CHECK(options_.max_proposals <= 0 || targets.gen != nullptr,
                "CondInst: max_proposals needs a generator in the targets");
    keep = options_.max_proposals > 0
               ? sample_max_proposals(positives, options_.max_proposals, *targets.gen)
               : select_topk_proposals_per_image(positives, 0);
  }
  const MaskHeadInstances instances = mask_head_instances(positives, keep);
  losses.num_mask_instances = instances.size();
  const Tensor& mask_feats = pass.encoded.mask_feats;
  if (options_.boxinst)
    losses.warmup_factor =
        pairwise_warmup_factor(targets.iter, options_.boxinst_loss.warmup_iters);
  if (instances.size() == 0) {
    const Tensor zero = zero_with_graph(mask_feats, pass.flat.top_feats);
    if (options_.boxinst) {
      losses.prj = zero;
      losses.pairwise = zero;
    } else {
      losses.mask = zero;
    }
    return losses;
  }
  const Tensor logits = mask_head_.forward(mask_feats, instances);  // (M, 1, H/4, W/4)
  if (options_.boxinst) {
    std::vector<std::vector<std::array<float, 4>>> boxes;
    for (const FcosGtInstances& g : targets.gts) boxes.push_back(g.boxes);
    const BoxInstLosses b = boxinst_mask_losses(logits, instances, boxes, targets.similarity,
                                                targets.iter, options_.boxinst_loss);
    losses.prj = b.prj;
    losses.pairwise = b.pairwise;
  } else {
    const Tensor gt = condinst_mask_targets(
        instances, targets.masks, inputs.images.size(2), inputs.images.size(3),
        mask_head_.options().mask_out_stride, logits.context_ptr(), logits.dtype());
    losses.mask = condinst_mask_loss(logits, gt);
  }
  return losses;
}

std::vector<CondInstDetections> CondInst::infer(
    const CondInstInputs& inputs, const std::vector<std::array<int64_t, 2>>& image_sizes,
    const std::vector<std::array<int64_t, 2>>& output_sizes) {
  NoGradGuard no_grad;
  const int64_t N = inputs.images.size(0), Hp = inputs.images.size(2),
                Wp = inputs.images.size(3);
  WSVIS_CHECK(static_cast<int64_t>(image_sizes.size()) == N &&
                  static_cast<int64_t>(output_sizes.size()) == N,
              "CondInst::infer: ", N, " images but ", image_sizes.size(), " image sizes and ",
              output_sizes.size(), " output sizes");
  const HeadPass pass = run_heads(inputs);
  std::vector<FcosDetections> dets = fcos_detect(pass.flat, pass.layout, options_.inference);
  const MaskHeadInstances instances = mask_head_instances(dets);
  // (D, 1, Hp, Wp) probabilities at the padded input's resolution (A.6).
  Tensor probs;
  if (instances.size() > 0) {
    const Tensor logits = mask_head_.forward(pass.encoded.mask_feats, instances);
    WSVIS_CHECK(Hp % logits.size(2) == 0 && Hp / logits.size(2) == Wp / logits.size(3),
                "CondInst::infer: mask logits ", logits.shape_str(), " do not divide the input ",
                Hp, "x", Wp);
    probs = aligned_bilinear(ops::sigmoid(logits), static_cast<int>(Hp / logits.size(2)));
  }
  std::vector<CondInstDetections> out(static_cast<size_t>(N));
  for (int64_t n = 0, begin = 0; n < N; ++n) {
    const int64_t h = image_sizes[size_t(n)][0], w = image_sizes[size_t(n)][1];
    const int64_t H = output_sizes[size_t(n)][0], W = output_sizes[size_t(n)][1];
    WSVIS_CHECK(h > 0 && h <= Hp && w > 0 && w <= Wp && H > 0 && W > 0, "CondInst::infer: image ",
                n, " of size ", h, "x", w, " (output ", H, "x", W, ") does not fit ", Hp, "x", Wp);
    CondInstDetections& result = out[size_t(n)];
    result.height = H;
    result.width = W;
    const int64_t D = dets[size_t(n)].size();
    std::vector<float> resized;
    if (D > 0) {
      const Tensor cropped =
          ops::slice(ops::slice(ops::slice(probs, 0, begin, begin + D), 2, 0, h), 3, 0, w);
      resized = ops::upsample_bilinear2d(cropped, static_cast<int>(H), static_cast<int>(W), false)
                    .to_vector<float>();
    }
    begin += D;
    // Boxes to the output size; masks of dropped (empty) boxes go with them.
    const std::vector<int64_t> kept = rescale_fcos_detections(
        dets[size_t(n)], static_cast<int>(h), static_cast<int>(w), static_cast<int>(H),
        static_cast<int>(W));
    const size_t plane = static_cast<size_t>(H * W);
    result.masks.resize(kept.size() * plane);
    for (size_t i = 0; i < kept.size(); ++i)
      for (size_t p = 0; p < plane; ++p)
        result.masks[i * plane + p] =
            resized[size_t(kept[i]) * plane + p] > options_.mask_threshold ? 1 : 0;
    result.detections = std::move(dets[size_t(n)]);
  }
  return out;
}

}  // namespace wsvis::models
