// MaskConsist's labels for one training pair of frames (t, u = t + delta): the seed paper's
// section 3.3 and Algorithm 1 (Liu et al., CVPR 2021; spec irn_flowirn_maskconsist.md
// section 7). Inputs per frame: the flowIRN pseudo-labels and the current model's
// predictions; output per frame: the labels that supervise this training step.
//
//   1. Intra-frame matching (each frame): P = the top_k predictions by score. For every
//      pseudo-label p of class c, the predictions of class c whose box IoU with p exceeds
//      match_box_iou are united (pixel union) into one merged prediction (class c, score the
//      highest of theirs) - early in training masks are fragmented. P_exp = P plus the merged
//      ones. A merge adds nothing when it would repeat a prediction (one member, or one member
//      containing the others) or an earlier merge (the same members): no exact duplicates.
//   2. Inter-frame matching: weight w(a in t, b in u) = [c_a == c_b] * IoU(W(m_a), m_b) with W
//      warping t's mask into u by the flow; the Hungarian method maximises the total weight;
//      pairs with w > min_match_iou are matched (temporally stable).
//   3. Temporally consistent labels (Algorithm 1, both directions): for a matched pair (a, b),
//      when a's box IoU with some pseudo-label of t of its class exceeds match_box_iou, the
//      union of W(m_a) and m_b becomes a new label of u (class c_a); likewise b, backed by u's
//      pseudo-labels, gives t the union of W(m_b) and m_a.
//   4. Combination: new labels and the frame's pseudo-labels, through mask IoM-NMS at
//      iom_nms (IoM = intersection / smaller area) with the transferred labels first
//      ([UNPINNED] in the paper: they are the temporally stable ones; among them and among
//      the pseudo-labels, higher scores first). Labels come out with score 1.
//
// Switches for the paper's Table 5 (each component off in turn):
//   intra_frame = false  P_exp = P (no merged predictions);
//   inter_frame = false  no matching and so no partner: every prediction of P_exp backed by a
//                        pseudo-label (step 3's test) is warped into the other frame and
//                        transferred alone, temporally stable or not [our reading: the paper
//                        does not say what replaces the matching];
//   iom_nms = false      step 4 keeps every new label and every pseudo-label (plain union).
//
// Flows: flow_u_to_t is frame u's flow pointing into t (to bring t's masks into u), flow_t_to_u
// frame t's pointing into u (data::PairBatch's flow_bw and flow_fw). Empty masks (a mask
// warped out of the frame) are dropped wherever they arise.
//
// Host code on the CPU twins of the kernels (warp, box and mask overlaps, assignment, IoM-NMS):
// a pair has at most top_k (+ merged) candidates per frame, so one call is a few hundred mask
// warps and overlap passes at frame size, small beside a training step, and the masks reach
// the trainer's label code on the host anyway.
#pragma once

#include <cstdint>

#include "data/flow_io.h"
#include "video/instance_set.h"

namespace wsvis::video {

struct MaskConsistOptions {
  int64_t top_k = 100;          // predictions per frame taken, by score
  double match_box_iou = 0.5;   // intra-frame merging and pseudo-label backing (strict >)
  double iom_nms = 0.5;         // IoM-NMS threshold of the combination
  double min_match_iou = 0.0;   // matched pairs need a weight above this [UNPINNED]
  bool intra_frame = true;
  bool inter_frame = true;
  bool iom_nms_on = true;
};

struct MaskConsistStats {
  int64_t expanded_t = 0, expanded_u = 0;  // |P_exp| per frame
  int64_t matched = 0;                     // inter-frame pairs
  int64_t transferred_to_t = 0, transferred_to_u = 0;  // new labels before the combination
  int64_t labels_t = 0, labels_u = 0;      // labels after it
};

struct MaskConsistResult {
  InstanceSet labels_t, labels_u;
  MaskConsistStats stats;
};

MaskConsistResult mask_consist(const InstanceSet& pseudo_t, const InstanceSet& pseudo_u,
                               const InstanceSet& pred_t, const InstanceSet& pred_u,
                               const data::Flow& flow_u_to_t, const data::Flow& flow_t_to_u,
                               const MaskConsistOptions& options);

// Step 1 alone: P_exp of one frame.
InstanceSet expand_predictions(const InstanceSet& pseudo, const InstanceSet& predictions,
                               const MaskConsistOptions& options);

}  // namespace wsvis::video
