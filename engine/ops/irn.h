// Differentiable IRN / flowIRN training ops (spec irn_flowirn_maskconsist.md sections 4 and 7)
// over the irn and flowirn kernel families (kernels/irn.h, kernels/flowirn.h): the path
// affinity of a boundary map, IRN's affinity + displacement loss, and the flow-boundary loss.
// Each checks shapes, dtypes and contexts, runs the CPU or CUDA twin (f32 and f64 on the CPU,
// f32 on CUDA) and records one autograd node. Backward closures return fresh gradients (the
// kernels overwrite them); autograd accumulates them into leaves.
//
// The non-differentiable inference wrappers (random walk, centroids, instances, f-CAM, CRF) are
// in engine/ops/irn_inference.h.
#pragma once

#include "engine/tensor.h"
#include "kernels/flowirn.h"
#include "kernels/irn.h"

namespace wsvis::ops {

// alpha (N, D, H, W) = 1 - max of boundary over the path of each pair of `set` (kernels/irn.h
// layout: [n, d, y, x] is the pair source (y, x) -> (y + dy[d], x + dx[d]); 0 where the
// destination is outside the image). boundary: (N, 1, H, W) probabilities (sigmoid of IRN's
// edge logit). The gradient goes to the first arg-max of each path (max-pool semantics); on
// CUDA it is scattered with atomics, so its last bits vary run to run.
Tensor irn_path_affinity(const Tensor& boundary, const kernels::IrnPairSet& set);

// IRN's training loss (train_irn.py), pooled over the batch.
//   terms: (kIrnLossStats) = (9): the five terms, IRN's total, and the bg_pos / fg_pos / neg
//          pair counts (kernels/irn_math.h, IrnLossStat). Differentiable in slots 0..5 (the
//          counts are constants and take no gradient).
//   total: 0-d, (L_pos_bg/2 + L_pos_fg/2 + L_neg)/2 + (L_dp_fg + L_dp_bg)/2 = terms[5].
//   stats: terms detached, for logging (holds no graph).
struct IrnLossTerms {
  Tensor total;
  Tensor terms;
  Tensor stats;
  // 0-d view of one term (kIrnLossBgPos..kIrnLossTotal), differentiable.
  Tensor term(kernels::IrnLossStat which) const;
};

// affinity (N, D, H, W) from irn_path_affinity with the same `set`; displacement (N, 2, H, W)
// (dy, dx) in stride-4 pixels, same dtype; labels (N, H, W) u8 IR labels (0 bg, 1..C classes,
// 255 ignore), no gradient. irn_source_crop: only IRN's training source crop (rows < H-r+1,
// r-1 <= col < W-r+1) as train_irn.py; false: every pair with both ends inside the image.
// Gradients to affinity and displacement (|.|'(0) = 0 as torch).
IrnLossTerms irn_loss(const Tensor& affinity, const Tensor& displacement, const Tensor& labels,
                      const kernels::IrnPairSet& set, bool irn_source_crop);

// flowIRN's flow-boundary loss (kernels/flowirn.h): 0-d
//   L = 1/P sum_{n, pairs (i, j)} ||F'(i) - F'(j)||_2 alpha_ij + lambda |1 - alpha_ij|
// over the pairs of `set` (P = their number over the batch). flow_grad (N, 4, H, W) from
// flow_gradient, data (must not require grad); alpha (N, D, H, W) as irn_path_affinity's, same
// dtype. Gradient to alpha only; |1 - alpha|' is taken as -1 at alpha = 1.
Tensor flow_boundary_loss(const Tensor& flow_grad, const Tensor& alpha,
                          const kernels::IrnPairSet& set, bool irn_source_crop,
                          double lambda = kernels::kFlowBoundaryLambda);

}  // namespace wsvis::ops
