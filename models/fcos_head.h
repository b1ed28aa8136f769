// The FCOS head of AdelaiDet (adet/modeling/fcos/fcos.py FCOSHead), shared by every FPN level:
//
//   feature (N, C, H, W) -> cls_tower  -> cls_logits             -> logits  (N, K, H, W)
//                        -> bbox_tower -> bbox_pred * scales[l] -> ReLU -> reg (N, 4, H, W)
//                                      -> ctrness               -> ctrness (N, 1, H, W)
//                                      -> controller (optional) -> top_feats (N, P, H, W)
//
// Towers: num_convs x [conv3x3 C->C (bias) + GroupNorm(norm_groups, C) + ReLU], no shared tower
// (NUM_SHARE_CONVS 0, whose empty Sequential has no state). reg is (l, t, r, b) in units of the
// level's stride; ReLU, not exp, as AdelaiDet's improved FCOS. Every conv normal(std 0.01),
// bias 0, except cls_logits' bias -log((1 - prior) / prior) (-4.595 at prior 0.01). GroupNorm
// weight 1, bias 0; each Scale starts at 1.
//
// Names as AdelaiDet's state_dict below "proposal_generator.fcos_head.": cls_tower.0.weight,
// cls_tower.1.weight (GroupNorm), cls_tower.3.weight, ..., bbox_tower.*, cls_logits.*,
// bbox_pred.*, ctrness.*, scales.0.scale ... scales.4.scale (shape (1)).
//
// The CondInst controller (conv3x3 C -> num_gen_params on the bbox tower of every level) is NOT
// part of this module: AdelaiDet registers it on the CondInst model as "controller" and hands
// it to the head as its `top_module`; models/fcos.h does the same (Fcos::controller), and
// forward() takes it as an argument.
#pragma once

#include <memory>
#include <vector>

#include "engine/random.h"
#include "layers/conv.h"
#include "layers/module.h"
#include "layers/sequential.h"

namespace wsvis::models {

struct FCOSHeadOptions {
  int in_channels = 256;    // FPN channels, equal on every level
  int num_classes = 80;     // K (COCO 80, YTVIS 40)
  int num_levels = 5;       // P3-P7: one Scale per level
  int num_convs = 4;        // per tower (NUM_CLS_CONVS = NUM_BOX_CONVS = 4)
  int norm_groups = 32;     // GroupNorm groups in the towers; 0 = no norm (FCOS.NORM "none")
  double prior_prob = 0.01; // focal-loss prior of the classification bias
  DType dtype = DType::f32;
};

// Per level, finest first. top_feats and bbox_towers are empty unless asked for.
struct FCOSHeadOutput {
  std::vector<Tensor> logits;       // (N, K, H_l, W_l)
  std::vector<Tensor> reg;          // (N, 4, H_l, W_l), >= 0, stride units
  std::vector<Tensor> ctrness;      // (N, 1, H_l, W_l) logits
  std::vector<Tensor> top_feats;    // (N, P, H_l, W_l) controller outputs
  std::vector<Tensor> bbox_towers;  // (N, C, H_l, W_l)
};

// The head's outputs over all levels as rows in AdelaiDet's order: level, then image, then
// location y * W + x (its "L, N, H, W from slowest to fastest"). R = N * sum_l H_l * W_l.
struct FcosFlatPredictions {
  Tensor logits;     // (R, K)
  Tensor reg;        // (R, 4)
  Tensor ctrness;    // (R)
  Tensor top_feats;  // (R, P), undefined without a controller
};
FcosFlatPredictions flatten_fcos_predictions(const FCOSHeadOutput& out);

// AdelaiDet's Scale: a learnable scalar "scale" (shape (1), init `init`); y = x * scale.
class Scale : public layers::Layer {
 public:
  Scale(double init, const ContextPtr& ctx, DType dtype = DType::f32);
  Tensor forward(const Tensor& x) override;
  const Tensor& scale() const { return parameter_at(0); }
};

class FCOSHead : public layers::Module {
 public:
  FCOSHead(const FCOSHeadOptions& options, Generator& gen, const ContextPtr& ctx);
  // features: one (N, C, H_l, W_l) map per level, finest first (exactly num_levels of them).
  // controller: CondInst's top module applied to each bbox tower output (nullptr: none).
  FCOSHeadOutput forward(const std::vector<Tensor>& features,
                         layers::Conv2d* controller = nullptr, bool keep_bbox_towers = false);

  const FCOSHeadOptions& options() const { return options_; }
  const std::shared_ptr<layers::Conv2d>& cls_logits() const { return cls_logits_; }
  const std::shared_ptr<layers::Conv2d>& bbox_pred() const { return bbox_pred_; }
  const std::shared_ptr<layers::Conv2d>& ctrness() const { return ctrness_; }

 private:
  FCOSHeadOptions options_;
  std::shared_ptr<layers::Sequential> cls_tower_, bbox_tower_;
  std::shared_ptr<layers::Conv2d> cls_logits_, bbox_pred_, ctrness_;
  std::vector<std::shared_ptr<Scale>> scales_;
};

// A conv3x3 (pad 1, bias) initialised as every FCOS / CondInst head conv: normal(0, 0.01)
// weight, bias `bias_value`. The CondInst controller is one of these.
std::shared_ptr<layers::Conv2d> make_fcos_head_conv(int in_channels, int out_channels,
                                                    double bias_value, Generator& gen,
                                                    const ContextPtr& ctx, DType dtype);

}  // namespace wsvis::models
