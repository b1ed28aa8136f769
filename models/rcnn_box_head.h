// detectron2's box branch of StandardROIHeads: FastRCNNConvFCHead with two FC layers (fc1, fc2
// + ReLU, c2_xavier_fill) and FastRCNNOutputLayers (cls_score normal std 0.01, bbox_pred std
// 0.001, class-specific deltas, biases 0); its losses (softmax cross-entropy, mean over the
// sampled RoIs; L1 on the GT-class (10, 10, 5, 5) deltas of the foreground, summed and divided
// by the number of sampled RoIs) and its inference (softmax, background column dropped,
// class-specific decode, clip, score > 0.05, NMS 0.5 per class, the first 100), run on the
// host over one copy of the scores and deltas.
#pragma once

#include <memory>
#include <vector>

#include "engine/random.h"
#include "engine/tensor.h"
#include "kernels/boxes.h"
#include "layers/linear.h"
#include "layers/module.h"
#include "models/rcnn_common.h"

namespace wsvis::models {

class BoxHead : public layers::Module {
 public:
  // in_dim = C * PH * PW of the pooled features; num_fc >= 1 layers of fc_dim.
  BoxHead(int64_t in_dim, int num_fc, int fc_dim, Generator& gen, const ContextPtr& ctx,
          DType dtype = DType::f32);
  // pooled (R, C, PH, PW) -> (R, fc_dim)
  Tensor forward(const Tensor& pooled);

 private:
  std::vector<std::shared_ptr<layers::Linear>> fcs_;
};

class BoxPredictor : public layers::Module {
 public:
  BoxPredictor(int in_dim, int num_classes, Generator& gen, const ContextPtr& ctx,
               DType dtype = DType::f32);
  // x (R, D) -> scores (R, K + 1) (last column background), deltas (R, 4K)
  std::pair<Tensor, Tensor> forward(const Tensor& x);
  int num_classes() const { return num_classes_; }

 private:
  std::shared_ptr<layers::Linear> cls_score_, bbox_pred_;
  int num_classes_;
};

// The sampled RoIs of a batch, concatenated image after image.
struct SampledRois {
  std::vector<int64_t> image_index;     // (R)
  std::vector<RcnnBox> proposal_boxes;  // (R)
  std::vector<int64_t> gt_classes;      // (R) class, num_classes for background
  std::vector<int64_t> gt_index;        // (R) matched GT within the image, -1 for background
                                        // of an image without GT
  std::vector<RcnnBox> gt_boxes;        // (R) matched GT box (zeros without GT)
  int64_t size() const { return int64_t(image_index.size()); }
};

struct BoxLosses {
  Tensor loss_cls, loss_box_reg;  // 0-d
};
// scores (R, K + 1), deltas (R, 4K) for `rois`.
BoxLosses fast_rcnn_losses(const Tensor& scores, const Tensor& deltas, const SampledRois& rois,
                           const kernels::BoxCoderWeights& weights, double smooth_l1_beta);

struct BoxInferenceOptions {
  double score_threshold = 0.05;
  double nms_threshold = 0.5;
  int64_t detections_per_image = 100;
  kernels::BoxCoderWeights weights;
};

// One image's detections in descending score order; mask_probs (D, M, M) when a mask head ran.
struct RcnnDetections {
  std::vector<RcnnBox> boxes;
  std::vector<float> scores;
  std::vector<int64_t> classes;
  std::vector<float> mask_probs;
  int mask_size = 0;
  int64_t size() const { return int64_t(scores.size()); }
};

// scores (R, K + 1), deltas (R, 4K) of the proposals of every image (proposals[n] boxes, rows
// concatenated image after image).
std::vector<RcnnDetections> fast_rcnn_inference(const Tensor& scores, const Tensor& deltas,
                                                const std::vector<std::vector<RcnnBox>>& proposals,
                                                const std::vector<ImageSize>& image_sizes,
                                                const BoxInferenceOptions& options);

}  // namespace wsvis::models
