// detectron2's MaskRCNNConvUpsampleHead (num_conv 3x3 convs + ReLU named mask_fcn1..,
// ConvTranspose2d k2 s2 + ReLU "deconv", 1x1 "predictor" -> one 2M x 2M logit map per class;
// c2_msra_fill, predictor normal std 0.001, biases 0), its training targets (GT bitmask cropped
// to the proposal box by RoIAlign(M x M, scale 1, sampling 0, aligned) then >= 0.5, as
// BitMasks.crop_and_resize) and loss (BCE-with-logits on the GT-class channel, mean over
// fg RoIs x M x M; 0 when there is no foreground).
#pragma once

#include <memory>
#include <vector>

#include "engine/random.h"
#include "engine/tensor.h"
#include "layers/conv.h"
#include "layers/module.h"
#include "models/rcnn_common.h"

namespace wsvis::models {

class MaskHead : public layers::Module {
 public:
  MaskHead(int in_channels, int num_conv, int conv_dim, int num_classes, Generator& gen,
           const ContextPtr& ctx, DType dtype = DType::f32);
  // pooled (R, C, P, P) -> logits (R, num_classes, 2P, 2P)
  Tensor forward(const Tensor& pooled);
  int num_classes() const { return num_classes_; }

 private:
  std::vector<std::shared_ptr<layers::Conv2d>> convs_;
  std::shared_ptr<layers::ConvTranspose2d> deconv_;
  std::shared_ptr<layers::Conv2d> predictor_;
  int num_classes_;
};

// Host M x M targets (F, M, M) in {0, 1} of boxes[i] cropped from gt.masks[gt_index[i]].
std::vector<float> mask_rcnn_targets(const RcnnInstances& gt, const std::vector<RcnnBox>& boxes,
                                     const std::vector<int64_t>& gt_index, int M);

// logits (F, K, M, M), classes (F), targets (F, M, M) host -> 0-d loss.
Tensor mask_rcnn_loss(const Tensor& logits, const std::vector<int64_t>& classes,
                      const std::vector<float>& targets);

// sigmoid of each RoI's `classes[i]` channel: logits (D, K, M, M) -> host (D, M, M).
std::vector<float> mask_rcnn_probs(const Tensor& logits, const std::vector<int64_t>& classes);

}  // namespace wsvis::models
