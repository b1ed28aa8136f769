// detectron2's StandardROIHeads with the Base-RCNN-FPN settings (specs/boxinst_maskrcnn_ytvis.md
// part B): proposals + appended GT boxes matched at IoU 0.5 (no low-quality matches), 512 RoIs
// per image at 25% foreground (random), each RoI pooled from its FPN level (canonical 224 at
// level 4, clamped to P2..P5) by ROIAlignV2 (7 x 7 box, 14 x 14 mask, sampling 0), the box
// branch (models/rcnn_box_head.h) and the mask branch (models/rcnn_mask_head.h) on the
// foreground proposals (their proposal boxes, not refined). Inference: boxes, then the mask
// head on the final boxes, the predicted class's channel through a sigmoid.
// Modules named as detectron2: box_head (fc1, fc2), box_predictor (cls_score, bbox_pred),
// mask_head (mask_fcn1.., deconv, predictor).
#pragma once

#include <memory>
#include <vector>

#include "engine/ops/roi_align.h"
#include "engine/random.h"
#include "engine/tensor.h"
#include "layers/module.h"
#include "models/rcnn_box_head.h"
#include "models/rcnn_mask_head.h"
#include "models/rcnn_common.h"

namespace wsvis::models {

struct RoiHeadsOptions {
  int in_channels = 256;
  int num_classes = 80;
  std::vector<int> strides{4, 8, 16, 32};  // P2..P5
  double iou_threshold = 0.5;
  int64_t batch_size_per_image = 512;
  double positive_fraction = 0.25;
  bool proposal_append_gt = true;
  int box_resolution = 7, mask_resolution = 14, sampling_ratio = 0;
  bool aligned = true;
  int box_num_fc = 2, box_fc_dim = 1024;
  int mask_num_conv = 4, mask_conv_dim = 256;
  bool mask_on = true;
  double smooth_l1_beta = 0.0;
  BoxInferenceOptions inference;  // score 0.05, NMS 0.5, 100 detections, weights (10, 10, 5, 5)
  DType dtype = DType::f32;
};

// detectron2 label_and_sample_proposals for every image; rows image after image, within an image
// the sampled foreground first, then the background.
SampledRois label_and_sample_proposals(const std::vector<std::vector<RcnnBox>>& proposals,
                                       const std::vector<RcnnInstances>& gts,
                                       const RoiHeadsOptions& options, Generator& gen);

// ROIPooler: rois (R) of images image_index -> (R, C, P, P) from the level of each box.
Tensor pool_rois(const std::vector<Tensor>& features, const std::vector<int>& strides,
                 const std::vector<RcnnBox>& boxes, const std::vector<int64_t>& image_index,
                 int resolution, int sampling_ratio, bool aligned);

struct RoiHeadsOutput {
  SampledRois rois;                         // training
  Tensor loss_cls, loss_box_reg, loss_mask;  // training; loss_mask undefined without masks
  std::vector<RcnnDetections> detections;   // eval
};

class StandardRoiHeads : public layers::Module {
 public:
  StandardRoiHeads(const RoiHeadsOptions& options, Generator& gen, const ContextPtr& ctx);
  // features: P2..P5 (N, C, H_l, W_l); proposals per image. Training mode needs gts and gen.
  RoiHeadsOutput forward(const std::vector<Tensor>& features,
                         const std::vector<std::vector<RcnnBox>>& proposals,
                         const std::vector<ImageSize>& image_sizes,
                         const std::vector<RcnnInstances>* gts = nullptr, Generator* gen = nullptr);
  const RoiHeadsOptions& options() const { return options_; }
  const std::shared_ptr<MaskHead>& mask_head() const { return mask_head_; }

 private:
  RoiHeadsOptions options_;
  std::shared_ptr<BoxHead> box_head_;
  std::shared_ptr<BoxPredictor> box_predictor_;
  std::shared_ptr<MaskHead> mask_head_;
};

}  // namespace wsvis::models
