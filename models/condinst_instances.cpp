#include "models/condinst_instances.h"

#include <algorithm>
#include <numeric>

#include "engine/error.h"
#include "engine/ops/shape.h"

namespace wsvis::models {

namespace {

void check_positives(const FcosPositives& positives, const char* what) {
  const size_t M = positives.image_index.size();
  WSVIS_CHECK(positives.gt_index.size() == M && positives.level.size() == M &&
                  positives.location.size() == M,
              what, ": positives with ", M, " images but ", positives.gt_index.size(),
              " GT indices, ", positives.level.size(), " levels and ", positives.location.size(),
              " locations");
}

}  // namespace

std::vector<int64_t> select_topk_proposals_per_image(const FcosPositives& positives,
                                                     int64_t k_per_image) {
  check_positives(positives, "select_topk_proposals_per_image");
  const int64_t M = positives.size();
  std::vector<int64_t> all(static_cast<size_t>(M));
  std::iota(all.begin(), all.end(), int64_t(0));
  if (k_per_image <= 0 || M == 0) return all;
  WSVIS_CHECK(positives.quality.defined() && positives.quality.numel() == M,
              "select_topk_proposals_per_image: quality must hold one score per positive (", M,
              "), got ", positives.quality.defined() ? positives.quality.shape_str() : "undefined");
  const std::vector<float> quality = positives.quality.to_vector<float>();
  const int64_t num_images =
      1 + *std::max_element(positives.image_index.begin(), positives.image_index.end());

  std::vector<int64_t> keep;
  for (int64_t n = 0; n < num_images; ++n) {
    std::vector<int64_t> gts;
    for (int64_t k = 0; k < M; ++k)
      if (positives.image_index[size_t(k)] == n) gts.push_back(positives.gt_index[size_t(k)]);
    if (gts.empty()) continue;
    std::sort(gts.begin(), gts.end());
    gts.erase(std::unique(gts.begin(), gts.end()), gts.end());
    // int(TOPK / #GTs) in AdelaiDet: both positive, so integer division is the same.
    const int64_t per_gt = std::max<int64_t>(k_per_image / static_cast<int64_t>(gts.size()), 1);
    for (int64_t g : gts) {
      std::vector<int64_t> rows;
      for (int64_t k = 0; k < M; ++k)
        if (positives.image_index[size_t(k)] == n && positives.gt_index[size_t(k)] == g)
          rows.push_back(k);
      if (static_cast<int64_t>(rows.size()) > per_gt) {
        std::stable_sort(rows.begin(), rows.end(), [&](int64_t a, int64_t b) {
          return quality[size_t(a)] > quality[size_t(b)];
        });
        rows.resize(size_t(per_gt));
      }
      keep.insert(keep.end(), rows.begin(), rows.end());
    }
  }
  return keep;
}

std::vector<int64_t> sample_max_proposals(const FcosPositives& positives, int64_t max_proposals,
                                          Generator& gen) {
  const int64_t M = positives.size();
  std::vector<int64_t> keep(static_cast<size_t>(M));
  std::iota(keep.begin(), keep.end(), int64_t(0));
  if (max_proposals <= 0 || M <= max_proposals) return keep;
  for (int64_t i = M - 1; i > 0; --i)  // Fisher-Yates: the first max_proposals are uniform
    std::swap(keep[size_t(i)], keep[size_t(gen.randint(0, i + 1))]);
  keep.resize(size_t(max_proposals));
  std::sort(keep.begin(), keep.end());
  return keep;
}

MaskHeadInstances mask_head_instances(const FcosPositives& positives,
                                      const std::vector<int64_t>& keep) {
  check_positives(positives, "mask_head_instances");
  const int64_t M = positives.size();
  std::vector<int64_t> order = keep;
  for (int64_t k : order)
    WSVIS_CHECK(k >= 0 && k < M, "mask_head_instances: index ", k, " outside the ", M,
                " positives");
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return positives.image_index[size_t(a)] < positives.image_index[size_t(b)];
  });
  MaskHeadInstances out;
  for (int64_t k : order) {
    out.image_index.push_back(positives.image_index[size_t(k)]);
    out.gt_index.push_back(positives.gt_index[size_t(k)]);
    out.level.push_back(positives.level[size_t(k)]);
    out.location.push_back(positives.location[size_t(k)]);
  }
  if (order.empty() || !positives.controller.defined()) return out;
  bool identity = static_cast<int64_t>(order.size()) == M;
  for (size_t i = 0; identity && i < order.size(); ++i) identity = order[i] == int64_t(i);
  const Tensor& rows = positives.controller;
  out.params = identity ? rows
                        : ops::index_select(rows, 0,
                                            Tensor::from_vector(order, {int64_t(order.size())},
                                                                rows.context_ptr(), DType::i64));
  return out;
}

MaskHeadInstances mask_head_instances(const std::vector<FcosDetections>& detections) {
  MaskHeadInstances out;
  std::vector<Tensor> params;
  for (size_t i = 0; i < detections.size(); ++i) {
    const FcosDetections& d = detections[i];
    if (d.size() == 0) continue;
    WSVIS_CHECK(d.controller.defined() && d.controller.size(0) == d.size(),
                "mask_head_instances: image ", i, " has ", d.size(),
                " detections but no controller row for each (built without a controller?)");
    params.push_back(d.controller);
    for (int64_t k = 0; k < d.size(); ++k) {
      out.image_index.push_back(static_cast<int64_t>(i));
      out.level.push_back(d.level[size_t(k)]);
      out.location.push_back(d.location[size_t(k)]);
    }
  }
  if (!params.empty()) out.params = params.size() == 1 ? params[0] : ops::concat(params, 0);
  return out;
}

}  // namespace wsvis::models
