// FCOS losses as AdelaiDet's FCOSOutputs.fcos_losses (BOX_QUALITY "ctrness", LOSS_NORMALIZER_CLS
// "fg", LOC_LOSS_TYPE "giou", all weights 1), on the flattened predictions of
// models/fcos_head.h and the targets of models/fcos_targets.h:
//
//   loss_fcos_cls = sum over all rows x classes of sigmoid_focal(logits, one-hot(labels);
//                   alpha 0.25, gamma 2) / num_pos_avg
//   loss_fcos_loc = sum over positives of (1 - GIoU(reg, reg_target)) * ctr_target / loss_denorm
//   loss_fcos_ctr = sum over positives of BCE-with-logits(ctrness, ctr_target) / num_pos_avg
//
// with num_pos_avg = max(mean over ranks of num_pos, 1) and loss_denorm = max(mean over ranks of
// sum ctr_target, 1e-6). Both counts are known on the host (the targets are host data), so no
// device synchronisation is needed; the cross-rank mean is FcosLossOptions::reduce_mean, a
// callback a distributed trainer sets (identity at world size 1).
//
// GIoU in (l, t, r, b) form (adet/utils/comm.py compute_ious): I = (min l + min r)(min t + min b),
// U = A_target + A_pred - I, iou = (I + 1) / (U + 1), C = (max l + max r)(max t + max b),
// giou = iou - (C - U) / C. Built from engine ops (the elementwise min / max as a max over a
// stacked pair), so it runs on CPU and CUDA with autograd; at an exact tie the max's gradient
// goes to the prediction (torch splits it between both, which only matters when the target
// also takes a gradient).
#pragma once

#include <cstdint>
#include <functional>

#include "engine/tensor.h"
#include "models/fcos_head.h"
#include "models/fcos_targets.h"

namespace wsvis::models {

struct FcosLossOptions {
  double focal_alpha = 0.25;
  double focal_gamma = 2.0;
  // Mean over ranks of a per-rank host scalar (AdelaiDet reduce_mean). Unset: world size 1.
  std::function<double(double)> reduce_mean;
};

struct FcosLosses {
  Tensor cls, loc, ctr;  // 0-d, named loss_fcos_cls / _loc / _ctr in logs
  int64_t num_pos = 0;   // this rank's positives
  double num_pos_avg = 1;
  double loss_denorm = 1e-6;
  Tensor total() const;  // cls + loc + ctr
};

// pred, target: (M, 4) (l, t, r, b) -> (M) 1 - giou. M may be 0.
Tensor fcos_giou_loss(const Tensor& pred, const Tensor& target);

// flat: the head's flattened outputs (rows = targets.layout.rows(), K = targets.num_classes).
FcosLosses fcos_losses(const FcosFlatPredictions& flat, const FcosTargets& targets,
                       const FcosLossOptions& options = {});

// The positives of `targets` with their controller rows (autograd) and detached quality
// sigmoid(max_k logit) * sigmoid(ctrness), for CondInst's mask head.
FcosPositives gather_fcos_positives(const FcosFlatPredictions& flat, const FcosTargets& targets);

}  // namespace wsvis::models
