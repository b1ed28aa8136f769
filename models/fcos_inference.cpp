#include "models/fcos_inference.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/shape.h"
#include "kernels/boxes.h"

namespace wsvis::models {

namespace {

// A candidate of one image: a (row, class) pair above the threshold.
struct Candidate {
  float product;  // sigmoid(cls) * sigmoid(ctrness)
  int64_t row;
  int64_t cls;
  int level;
  int64_t location;
};

// Host copies of the per-row values the selection needs.
struct HostPredictions {
  std::vector<float> cls_prob;  // (R, K) sigmoid(cls)
  std::vector<float> ctr_prob;  // (R)
  std::vector<float> reg;       // (R, 4) stride units
  int64_t classes = 0;
};

HostPredictions to_host(const FcosFlatPredictions& flat) {
  HostPredictions h;
  h.classes = flat.logits.size(1);
  h.cls_prob = ops::sigmoid(flat.logits).to_vector<float>();
  h.ctr_prob = ops::sigmoid(flat.ctrness).to_vector<float>();
  h.reg = flat.reg.to_vector<float>();
  return h;
}

// The candidates of image n on level l, at most options.pre_nms_topk of them, best first
// among those cut (AdelaiDet's unsorted topk; order is irrelevant to the NMS that follows).
std::vector<Candidate> level_candidates(const HostPredictions& h, const FcosLayout& layout, int l,
                                        int n, const FcosInferenceOptions& options) {
  std::vector<Candidate> out;
  const float threshold = float(options.score_threshold);
  for (int64_t p = 0; p < layout.locations(l); ++p) {
    const int64_t r = layout.row(l, n, p);
    const float ctr = h.ctr_prob[size_t(r)];
    for (int64_t c = 0; c < h.classes; ++c) {
      const float cls = h.cls_prob[size_t(r * h.classes + c)];
      const float product = cls * ctr;
      if ((options.thresh_with_ctr ? product : cls) > threshold)
        out.push_back({product, r, c, l, p});
    }
  }
  if (options.pre_nms_topk >= 0 && int64_t(out.size()) > options.pre_nms_topk) {
    std::stable_sort(out.begin(), out.end(),
                     [](const Candidate& a, const Candidate& b) { return a.product > b.product; });
    out.resize(size_t(options.pre_nms_topk));
  }
  return out;
}

// Indices of `keep` (descending scores) that survive the post-NMS cap: every score >= the
// cap-th best (torch.kthvalue(scores, n - cap + 1) is the cap-th largest).
size_t post_nms_count(const std::vector<float>& sorted_scores, int64_t cap) {
  const size_t n = sorted_scores.size();
  if (cap <= 0 || int64_t(n) <= cap) return n;
  const float threshold = sorted_scores[size_t(cap) - 1];
  size_t count = size_t(cap);
  while (count < n && sorted_scores[count] >= threshold) ++count;
  return count;
}

FcosDetections select(const FcosDetections& all, const std::vector<int64_t>& picks) {
  FcosDetections d;
  for (int64_t i : picks) {
    d.boxes.push_back(all.boxes[size_t(i)]);
    d.scores.push_back(all.scores[size_t(i)]);
    d.classes.push_back(all.classes[size_t(i)]);
    d.level.push_back(all.level[size_t(i)]);
    d.location.push_back(all.location[size_t(i)]);
    d.rows.push_back(all.rows[size_t(i)]);
  }
  return d;
}

}  // namespace

std::vector<FcosDetections> fcos_detect(const FcosFlatPredictions& flat, const FcosLayout& layout,
                                        const FcosInferenceOptions& options) {
  const int64_t rows = layout.rows();
  WSVIS_CHECK(flat.logits.defined() && flat.logits.dim() == 2 && flat.logits.size(0) == rows &&
                  flat.reg.shape() == Shape({rows, 4}) && flat.ctrness.shape() == Shape({rows}),
              "fcos_detect: predictions (logits ",
              flat.logits.defined() ? flat.logits.shape_str() : std::string("undefined"),
              ") do not match the layout's ", rows, " rows");
  NoGradGuard no_grad;
  const HostPredictions h = to_host(flat);
  std::vector<FcosDetections> results;
  for (int n = 0; n < layout.num_images; ++n) {
    // Every level's candidates, decoded.
    FcosDetections all;
    for (int l = 0; l < layout.num_levels(); ++l) {
      const float s = float(layout.strides[size_t(l)]);
      for (const Candidate& c : level_candidates(h, layout, l, n, options)) {
        const std::array<float, 2> xy = layout.location_xy(l, c.location);
        const float* d = &h.reg[size_t(c.row) * 4];
        all.boxes.push_back({xy[0] - d[0] * s, xy[1] - d[1] * s, xy[0] + d[2] * s,
                             xy[1] + d[3] * s});
        all.scores.push_back(std::sqrt(c.product));
        all.classes.push_back(c.cls);
        all.level.push_back(l);
        all.location.push_back(xy);
        all.rows.push_back(c.row);
      }
    }
    // Class-aware NMS on the host twin of the boxes family.
    const int64_t m = all.size();
    std::vector<int32_t> keep(static_cast<size_t>(m));
    int32_t kept = 0;
    if (m > 0) {
      std::vector<int32_t> labels;
      for (int64_t c : all.classes) labels.push_back(static_cast<int32_t>(c));
      kernels::NmsOptions nms;
      nms.iou_threshold = options.nms_threshold;
      std::vector<unsigned char> workspace(kernels::cpu::batched_nms_workspace_bytes(1, m, nms));
      kernels::cpu::batched_nms<float>(&all.boxes[0][0], all.scores.data(), labels.data(), 1, m,
                                       nms, keep.data(), &kept, nullptr, workspace.data(),
                                       workspace.size());
    }
    std::vector<float> kept_scores;
    for (int32_t i = 0; i < kept; ++i) kept_scores.push_back(all.scores[size_t(keep[size_t(i)])]);
    const size_t count = post_nms_count(kept_scores, options.post_nms_topk);
    results.push_back(select(all, std::vector<int64_t>(keep.begin(), keep.begin() + count)));
  }
  if (flat.top_feats.defined())
    for (FcosDetections& d : results)
      d.controller = ops::index_select(
          flat.top_feats, 0, Tensor::from_vector(d.rows, {d.size()}, flat.top_feats.context_ptr()));
  return results;
}

std::vector<int64_t> rescale_fcos_detections(FcosDetections& det, int in_h, int in_w, int out_h,
                                             int out_w) {
  WSVIS_CHECK(in_h > 0 && in_w > 0 && out_h > 0 && out_w > 0,
              "rescale_fcos_detections: sizes must be positive, got input ", in_h, "x", in_w,
              " and output ", out_h, "x", out_w);
  // detectron2 Boxes.scale / clip / nonempty, in float as its tensors.
  const float sx = float(double(out_w) / in_w), sy = float(double(out_h) / in_h);
  std::vector<int64_t> kept;
  for (int64_t i = 0; i < det.size(); ++i) {
    auto& b = det.boxes[size_t(i)];
    b = {std::clamp(b[0] * sx, 0.0f, float(out_w)), std::clamp(b[1] * sy, 0.0f, float(out_h)),
         std::clamp(b[2] * sx, 0.0f, float(out_w)), std::clamp(b[3] * sy, 0.0f, float(out_h))};
    if (b[2] - b[0] > 0 && b[3] - b[1] > 0) kept.push_back(i);
  }
  if (int64_t(kept.size()) == det.size()) return kept;
  Tensor controller = det.controller;
  det = select(det, kept);
  if (controller.defined()) {
    NoGradGuard no_grad;
    det.controller = ops::index_select(
        controller, 0, Tensor::from_vector(kept, {int64_t(kept.size())}, controller.context_ptr()));
  }
  return kept;
}

}  // namespace wsvis::models
