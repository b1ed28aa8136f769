// detectron2's RPN (modeling/proposal_generator/rpn.py, StandardRPNHead, DefaultAnchorGenerator)
// with the Base-RCNN-FPN settings (specs/boxinst_maskrcnn_ytvis.md part B):
//
//   anchors     per level one size (32 << l on P2..P6), ratios (h/w) 0.5, 1, 2, offset 0, ordered
//               (row, column, ratio) - kernels::cpu::anchors;
//   head        shared conv3x3 + ReLU, objectness_logits 1x1 -> A, anchor_deltas 1x1 -> 4A,
//               all normal(0, 0.01), bias 0; predictions flattened (N, H*W*A) / (N, H*W*A, 4)
//               as detectron2 permutes them, levels concatenated;
//   training    Matcher (0.3, 0.7) with low-quality matches, 256 anchors per image at 0.5
//               positives (random), objectness BCE over the sampled anchors and L1 (smooth-L1
//               beta 0) on the positives' (1, 1, 1, 1)-coded deltas, both summed and divided by
//               256 * num_images;
//   proposals   (no gradient) per image and level the pre_nms_topk best logits, decoded, clipped
//               to the image, empty boxes dropped, NMS 0.7 batched by level, the first
//               post_nms_topk kept (per image).
// Host/device split as FCOS (models/fcos_inference.h): the head runs on the features' device;
// the logits and deltas are copied to the host once per step for matching, sampling and
// proposal selection (kernels::cpu boxes family), and the targets go back in one upload.
#pragma once

#include <memory>
#include <vector>

#include "engine/random.h"
#include "engine/tensor.h"
#include "kernels/boxes.h"
#include "layers/conv.h"
#include "layers/module.h"
#include "models/rcnn_common.h"

namespace wsvis::models {

struct RpnOptions {
  int in_channels = 256;
  std::vector<int> strides{4, 8, 16, 32, 64};                  // P2..P6
  std::vector<double> anchor_sizes{32, 64, 128, 256, 512};     // one per level
  std::vector<double> aspect_ratios{0.5, 1.0, 2.0};            // h / w
  double iou_low = 0.3, iou_high = 0.7;
  bool allow_low_quality_matches = true;
  int64_t batch_size_per_image = 256;
  double positive_fraction = 0.5;
  int64_t pre_nms_topk_train = 2000, post_nms_topk_train = 1000;
  int64_t pre_nms_topk_test = 1000, post_nms_topk_test = 1000;
  double nms_threshold = 0.7;
  double min_box_size = 0.0;
  double smooth_l1_beta = 0.0;
  double loss_weight = 1.0;
  DType dtype = DType::f32;
  int anchors_per_cell() const { return int(aspect_ratios.size()); }
  kernels::AnchorSpec anchor_spec(int level) const;
};

// StandardRPNHead: conv, objectness_logits, anchor_deltas (detectron2's names and order).
class RpnHead : public layers::Module {
 public:
  RpnHead(int in_channels, int anchors_per_cell, Generator& gen, const ContextPtr& ctx,
          DType dtype = DType::f32);
  // features: L maps (N, C, H_l, W_l) -> objectness (N, T) and deltas (N, T, 4), T = sum of
  // H_l * W_l * A, rows ordered level, row, column, anchor.
  std::pair<Tensor, Tensor> forward(const std::vector<Tensor>& features);

 private:
  std::shared_ptr<layers::Conv2d> conv_, objectness_, deltas_;
  int anchors_per_cell_;
};

// All anchors of the levels (T, 4), concatenated in the head's row order, with each level's
// first row (L + 1 offsets).
struct RpnAnchors {
  std::vector<RcnnBox> boxes;
  std::vector<int64_t> level_begin;
};
RpnAnchors rpn_anchors(const RpnOptions& options, const std::vector<std::pair<int64_t, int64_t>>& sizes);

// Per image: labels (T) in {-1 ignored / unsampled, 0 negative, 1 positive} after sampling, and
// the (1, 1, 1, 1) deltas to the matched GT box (T, 4) (0 where the image has no GT).
struct RpnTargets {
  std::vector<std::vector<int8_t>> labels;
  std::vector<std::vector<float>> deltas;
};
RpnTargets compute_rpn_targets(const RpnAnchors& anchors, const std::vector<RcnnInstances>& gts,
                               const RpnOptions& options, Generator& gen);

struct RpnLosses {
  Tensor loss_rpn_cls, loss_rpn_loc;  // 0-d
};
// objectness (N, T), deltas (N, T, 4) from the head.
RpnLosses rpn_losses(const Tensor& objectness, const Tensor& deltas, const RpnTargets& targets,
                     const RpnOptions& options);

// Per image: proposals in descending objectness order and their logits.
struct RpnProposals {
  std::vector<RcnnBox> boxes;
  std::vector<float> logits;
};
std::vector<RpnProposals> find_top_rpn_proposals(const std::vector<float>& objectness,
                                                 const std::vector<float>& deltas,
                                                 const RpnAnchors& anchors,
                                                 const std::vector<ImageSize>& image_sizes,
                                                 int64_t pre_nms_topk, int64_t post_nms_topk,
                                                 const RpnOptions& options);

struct RpnOutput {
  std::vector<RpnProposals> proposals;
  RpnTargets targets;  // training only
  RpnLosses losses;    // training only
};

// detectron2's RPN module: owns "rpn_head" (the anchor generator holds no state).
class Rpn : public layers::Module {
 public:
  Rpn(const RpnOptions& options, Generator& gen, const ContextPtr& ctx);
  // features: P2..P6 (N, C, H_l, W_l); image_sizes: N unpadded sizes. In training mode gts and
  // gen (anchor sampling) are required.
  RpnOutput forward(const std::vector<Tensor>& features, const std::vector<ImageSize>& image_sizes,
                    const std::vector<RcnnInstances>* gts = nullptr, Generator* gen = nullptr);
  const RpnOptions& options() const { return options_; }
  const std::shared_ptr<RpnHead>& head() const { return head_; }

 private:
  RpnOptions options_;
  std::shared_ptr<RpnHead> head_;
};

}  // namespace wsvis::models
