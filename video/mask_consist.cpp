#include "video/mask_consist.h"

#include <algorithm>
#include <limits>

#include "kernels/assign.h"
#include "kernels/boxes.h"
#include "video/mask_ops.h"

namespace wsvis::video {

namespace {

// Foreground pixels (any non-zero value, as the kernels read masks).
int64_t foreground(const uint8_t* mask, int64_t pixels) {
  return pixels - std::count(mask, mask + pixels, uint8_t(0));
}

// backed[k]: instance k of `set` has box IoU > threshold with a pseudo-label of its class.
std::vector<bool> backed_by(const InstanceSet& set, const InstanceSet& pseudo, double threshold) {
  const std::vector<float> iou = box_ious(set, pseudo);
  std::vector<bool> out(size_t(set.size()), false);
  for (int64_t a = 0; a < set.size(); ++a)
    for (int64_t p = 0; p < pseudo.size(); ++p)
      if (set.category_ids[size_t(a)] == pseudo.category_ids[size_t(p)] &&
          iou[size_t(a * pseudo.size() + p)] > threshold)
        out[size_t(a)] = true;
  return out;
}

// Hungarian matching of t's (warped into u) and u's candidates: pairs (a, b) with weight
// class-equal x mask IoU above min_weight.
std::vector<std::pair<int64_t, int64_t>> match_frames(const InstanceSet& warped_t, const InstanceSet& exp_u,
                                                      double min_weight) {
  std::vector<std::pair<int64_t, int64_t>> pairs;
  const int64_t R = warped_t.size(), C = exp_u.size();
  if (R == 0 || C == 0) return pairs;
  std::vector<float> weight;
  mask_overlaps(warped_t, exp_u, &weight, nullptr);
  for (int64_t a = 0; a < R; ++a)
    for (int64_t b = 0; b < C; ++b)
      if (warped_t.category_ids[size_t(a)] != exp_u.category_ids[size_t(b)]) weight[size_t(a * C + b)] = 0.f;
  std::vector<int32_t> row_to_col(static_cast<size_t>(R));
  double total = 0;
  std::vector<uint8_t> workspace(kernels::cpu::assign_workspace_bytes(R, C));
  const kernels::AssignStatus status = kernels::cpu::linear_sum_assignment<float>(
      weight.data(), R, C, /*maximize=*/true, row_to_col.data(), &total, workspace.data());
  WSVIS_CHECK(status == kernels::kAssignOk, "MaskConsist: the assignment failed (",
              kernels::assign_status_name(status), ")");
  for (int64_t a = 0; a < R; ++a) {
    const int32_t b = row_to_col[size_t(a)];
    if (b >= 0 && weight[size_t(a * C + b)] > min_weight) pairs.emplace_back(a, b);
  }
  return pairs;
}

// Labels moved from the source frame into the target frame: warped_source[a] (united with its
// partner target[b] when matched) for every source candidate backed by the source's pseudo-labels.
InstanceSet transferred(const InstanceSet& warped_source, const std::vector<bool>& backed,
                        const InstanceSet& target,
                        const std::vector<std::pair<int64_t, int64_t>>& source_target_pairs) {
  InstanceSet out(target.height, target.width);
  std::vector<uint8_t> mask(size_t(target.pixels()));
  for (const auto& [a, b] : source_target_pairs) {
    if (!backed[size_t(a)]) continue;
    std::copy_n(warped_source.mask(a), target.pixels(), mask.begin());
    if (b >= 0) unite_into(target.mask(b), target.pixels(), mask.data());
    if (foreground(mask.data(), target.pixels()) == 0) continue;
    const float score = std::max(warped_source.scores[size_t(a)], b >= 0 ? target.scores[size_t(b)] : 0.f);
    out.add(mask.data(), warped_source.category_ids[size_t(a)], score);
  }
  return out;
}

// Step 4: new labels first, then the pseudo-labels, through IoM-NMS (or all of them).
InstanceSet combine(const InstanceSet& new_labels, const InstanceSet& pseudo, const MaskConsistOptions& o) {
  InstanceSet all(pseudo.height, pseudo.width);
  std::vector<float> priority;
  for (const auto* set : {&new_labels, &pseudo})
    for (int64_t k = 0; k < set->size(); ++k) {
      if (foreground(set->mask(k), set->pixels()) == 0) continue;
      all.add(set->mask(k), set->category_ids[size_t(k)], 1.f);
      // Transferred labels outrank every pseudo-label (scores are in [0, 1]).
      priority.push_back(set->scores[size_t(k)] + (set == &new_labels ? 2.f : 0.f));
    }
  if (!o.iom_nms_on || all.size() == 0) return all;
  std::vector<int32_t> keep(size_t(all.size()));
  int32_t kept = 0;
  std::vector<uint8_t> workspace(kernels::cpu::mask_iom_nms_workspace_bytes(all.size(), all.pixels()));
  kernels::cpu::mask_iom_nms(all.masks.data(), priority.data(), all.size(), all.pixels(), o.iom_nms,
                             keep.data(), &kept, workspace.data(), workspace.size());
  return select(all, std::vector<int64_t>(keep.begin(), keep.begin() + kept));
}

}  // namespace

InstanceSet expand_predictions(const InstanceSet& pseudo, const InstanceSet& predictions,
                               const MaskConsistOptions& o) {
  InstanceSet top = select(predictions, top_scores(predictions.scores, o.top_k));
  if (!o.intra_frame) return top;
  const std::vector<float> iou = box_ious(pseudo, top);
  InstanceSet out = top;
  std::vector<uint8_t> merged(size_t(top.pixels()));
  // Member sets merged already: two pseudo-labels that gather the same predictions would give
  // the same union twice.
  std::vector<std::vector<int64_t>> merged_sets;
  for (int64_t p = 0; p < pseudo.size(); ++p) {
    std::vector<int64_t> members;
    for (int64_t k = 0; k < top.size(); ++k)
      if (top.category_ids[size_t(k)] == pseudo.category_ids[size_t(p)] &&
          iou[size_t(p * top.size() + k)] > o.match_box_iou)
        members.push_back(k);
    if (members.size() < 2 ||
        std::find(merged_sets.begin(), merged_sets.end(), members) != merged_sets.end())
      continue;
    merged_sets.push_back(members);
    std::fill(merged.begin(), merged.end(), uint8_t(0));
    float score = 0.f;
    int64_t largest_member = 0;
    for (int64_t k : members) {
      unite_into(top.mask(k), top.pixels(), merged.data());
      score = std::max(score, top.scores[size_t(k)]);
      largest_member = std::max(largest_member, foreground(top.mask(k), top.pixels()));
    }
    // The union contains every member, so an equal area means it IS the largest member
    // (the others lie inside it): nothing new to add.
    if (foreground(merged.data(), top.pixels()) == largest_member) continue;
    out.add(merged.data(), pseudo.category_ids[size_t(p)], score);
  }
  return out;
}

MaskConsistResult mask_consist(const InstanceSet& pseudo_t, const InstanceSet& pseudo_u,
                               const InstanceSet& pred_t, const InstanceSet& pred_u,
                               const data::Flow& flow_u_to_t, const data::Flow& flow_t_to_u,
                               const MaskConsistOptions& o) {
  for (const InstanceSet* s : {&pseudo_t, &pseudo_u, &pred_t, &pred_u}) {
    s->check();
    WSVIS_CHECK(s->height == pseudo_t.height && s->width == pseudo_t.width,
                "MaskConsist: every set must have the frame size ", pseudo_t.height, " x ", pseudo_t.width,
                ", one has ", s->height, " x ", s->width);
  }
  MaskConsistResult r;
  const InstanceSet exp_t = expand_predictions(pseudo_t, pred_t, o);
  const InstanceSet exp_u = expand_predictions(pseudo_u, pred_u, o);
  r.stats.expanded_t = exp_t.size();
  r.stats.expanded_u = exp_u.size();
  const InstanceSet t_in_u = warp_instances(exp_t, flow_u_to_t);
  const InstanceSet u_in_t = warp_instances(exp_u, flow_t_to_u);
  const std::vector<bool> backed_t = backed_by(exp_t, pseudo_t, o.match_box_iou);
  const std::vector<bool> backed_u = backed_by(exp_u, pseudo_u, o.match_box_iou);

  std::vector<std::pair<int64_t, int64_t>> t_to_u, u_to_t;  // (source, target or -1)
  if (o.inter_frame) {
    t_to_u = match_frames(t_in_u, exp_u, o.min_match_iou);
    for (const auto& [a, b] : t_to_u) u_to_t.emplace_back(b, a);
    r.stats.matched = int64_t(t_to_u.size());
  } else {
    for (int64_t a = 0; a < exp_t.size(); ++a) t_to_u.emplace_back(a, -1);
    for (int64_t b = 0; b < exp_u.size(); ++b) u_to_t.emplace_back(b, -1);
  }
  const InstanceSet new_u = transferred(t_in_u, backed_t, exp_u, t_to_u);
  const InstanceSet new_t = transferred(u_in_t, backed_u, exp_t, u_to_t);
  r.stats.transferred_to_u = new_u.size();
  r.stats.transferred_to_t = new_t.size();
  r.labels_t = combine(new_t, pseudo_t, o);
  r.labels_u = combine(new_u, pseudo_u, o);
  r.stats.labels_t = r.labels_t.size();
  r.stats.labels_u = r.labels_u.size();
  return r;
}

}  // namespace wsvis::video
