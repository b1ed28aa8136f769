#include "models/rcnn_common.h"

#include <algorithm>
#include <numeric>

#include "engine/error.h"
#include "kernels/boxes.h"

namespace wsvis::models {

MatchResult match_quality(const std::vector<float>& quality, int64_t G, int64_t P, double low,
                          double high, bool allow_low_quality) {
  WSVIS_CHECK(int64_t(quality.size()) == G * P, "match_quality: ", quality.size(),
              " values for a ", G, " x ", P, " matrix");
  WSVIS_CHECK(low <= high, "match_quality: thresholds (", low, ", ", high, ") out of order");
  MatchResult m;
  m.matches.assign(size_t(P), 0);
  m.labels.assign(size_t(P), 0);
  if (G == 0) return m;
  for (int64_t p = 0; p < P; ++p) {
    float best = quality[size_t(p)];
    int64_t arg = 0;
    for (int64_t g = 1; g < G; ++g)
      if (quality[size_t(g * P + p)] > best) best = quality[size_t(g * P + p)], arg = g;
    m.matches[size_t(p)] = arg;
    m.labels[size_t(p)] = best < low ? 0 : (best < high ? -1 : 1);
  }
  if (allow_low_quality)
    for (int64_t g = 0; g < G; ++g) {
      const float* row = &quality[size_t(g * P)];
      const float highest = P > 0 ? *std::max_element(row, row + P) : 0.f;
      for (int64_t p = 0; p < P; ++p)
        if (row[p] == highest) m.labels[size_t(p)] = 1;
    }
  return m;
}

namespace {

// The first k of a uniform random permutation of `pool` (partial Fisher-Yates).
std::vector<int64_t> draw(std::vector<int64_t> pool, int64_t k, Generator& gen) {
  const int64_t n = int64_t(pool.size());
  for (int64_t i = 0; i < k && i < n; ++i) std::swap(pool[size_t(i)], pool[size_t(gen.randint(i, n))]);
  pool.resize(size_t(std::min(k, n)));
  return pool;
}

}  // namespace

SampledIndices subsample_labels(const std::vector<int64_t>& labels, int64_t batch_size,
                                double positive_fraction, int64_t bg_label, Generator& gen) {
  WSVIS_CHECK(batch_size >= 0 && positive_fraction >= 0 && positive_fraction <= 1,
              "subsample_labels: batch_size ", batch_size, " and positive_fraction ",
              positive_fraction, " out of range");
  std::vector<int64_t> pos, neg;
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] == bg_label) neg.push_back(int64_t(i));
    else if (labels[i] != -1) pos.push_back(int64_t(i));
  }
  const int64_t num_pos =
      std::min(int64_t(double(batch_size) * positive_fraction), int64_t(pos.size()));
  const int64_t num_neg = std::min(batch_size - num_pos, int64_t(neg.size()));
  SampledIndices s;
  s.positive = draw(std::move(pos), num_pos, gen);
  s.negative = draw(std::move(neg), num_neg, gen);
  return s;
}

std::vector<float> box_iou_matrix(const std::vector<RcnnBox>& gt,
                                  const std::vector<RcnnBox>& boxes) {
  std::vector<float> out(gt.size() * boxes.size());
  if (!out.empty())
    kernels::cpu::box_overlap<float>(&gt[0][0], int64_t(gt.size()), &boxes[0][0],
                                     int64_t(boxes.size()), kernels::Overlap::iou, out.data());
  return out;
}

std::vector<int64_t> host_batched_nms(const std::vector<RcnnBox>& boxes,
                                      const std::vector<float>& scores,
                                      const std::vector<int32_t>& labels, double iou_threshold,
                                      int64_t max_keep) {
  const int64_t m = int64_t(boxes.size());
  WSVIS_CHECK(int64_t(scores.size()) == m && int64_t(labels.size()) == m,
              "host_batched_nms: ", m, " boxes, ", scores.size(), " scores, ", labels.size(),
              " labels");
  if (m == 0) return {};
  kernels::NmsOptions nms;
  nms.iou_threshold = iou_threshold;
  nms.max_keep = max_keep;
  std::vector<int32_t> keep(static_cast<size_t>(m));
  int32_t kept = 0;
  std::vector<unsigned char> workspace(kernels::cpu::batched_nms_workspace_bytes(1, m, nms));
  kernels::cpu::batched_nms<float>(&boxes[0][0], scores.data(), labels.data(), 1, m, nms,
                                   keep.data(), &kept, nullptr, workspace.data(),
                                   workspace.size());
  return std::vector<int64_t>(keep.begin(), keep.begin() + kept);
}

std::vector<int64_t> top_k_indices(const std::vector<float>& scores, int64_t k) {
  std::vector<int64_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return scores[size_t(a)] > scores[size_t(b)]; });
  if (k >= 0 && int64_t(order.size()) > k) order.resize(size_t(k));
  return order;
}

}  // namespace wsvis::models
