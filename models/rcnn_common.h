// Host-side pieces shared by the RPN and the RoI heads of Mask R-CNN (detectron2
// modeling/matcher.py, sampling.py, box IoU of structures/boxes.py, batched_nms), and the
// ground-truth / detection records they pass around. The ground truth is small and lives on the
// host, as in models/fcos_targets.h; per-step targets are uploaded once by the losses.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "engine/random.h"

namespace wsvis::models {

using RcnnBox = std::array<float, 4>;  // x1, y1, x2, y2 in input-image pixels

// The size of an input image before padding (detectron2 image_sizes): boxes are clipped to it.
struct ImageSize {
  int height = 0, width = 0;
};

// One image's ground truth.
struct RcnnInstances {
  std::vector<RcnnBox> boxes;     // (G)
  std::vector<int64_t> classes;   // (G) in [0, num_classes)
  // (G, mask_h, mask_w) uint8 bitmasks in input pixels (non-zero = inside), or empty when the
  // model has no mask head. mask_h, mask_w cover at least the unpadded image.
  std::vector<uint8_t> masks;
  int mask_h = 0, mask_w = 0;
  int64_t size() const { return static_cast<int64_t>(boxes.size()); }
};

// detectron2 Matcher. quality: (G, P) row-major (IoU of GT g with prediction p). For each p:
// matches[p] = argmax_g quality (first of ties); labels[p] = 0 if max < low, -1 if
// low <= max < high, 1 if max >= high (low == high gives the two-way 0 / 1 split of the RoI
// heads). allow_low_quality: for every GT, each prediction attaining that GT's highest quality
// (ties included, even when it is 0, as detectron2) gets label 1, keeping its argmax match.
// G == 0: every prediction matches 0 with label 0.
struct MatchResult {
  std::vector<int64_t> matches;  // (P)
  std::vector<int8_t> labels;    // (P)
};
MatchResult match_quality(const std::vector<float>& quality, int64_t G, int64_t P, double low,
                          double high, bool allow_low_quality);

// detectron2 subsample_labels: positives are labels not in {-1, bg_label}, negatives equal
// bg_label; at most int(batch_size * positive_fraction) positives, then negatives up to
// batch_size, each drawn uniformly without replacement (partial Fisher-Yates with `gen`).
struct SampledIndices {
  std::vector<int64_t> positive, negative;  // indices into labels, in draw order
};
SampledIndices subsample_labels(const std::vector<int64_t>& labels, int64_t batch_size,
                                double positive_fraction, int64_t bg_label, Generator& gen);

// IoU of every GT box with every box: (G, P) row-major (kernels::cpu::box_overlap).
std::vector<float> box_iou_matrix(const std::vector<RcnnBox>& gt, const std::vector<RcnnBox>& boxes);

// torchvision batched_nms on the host (kernels::cpu::batched_nms): boxes taking part in
// descending score order, suppressed by an earlier kept box of the same label with IoU >
// threshold. Returns the kept indices in descending score order, at most max_keep (-1: all).
std::vector<int64_t> host_batched_nms(const std::vector<RcnnBox>& boxes,
                                      const std::vector<float>& scores,
                                      const std::vector<int32_t>& labels, double iou_threshold,
                                      int64_t max_keep = -1);

// Rows of `indices` in ascending order of -score (stable: ties keep index order), the first k.
std::vector<int64_t> top_k_indices(const std::vector<float>& scores, int64_t k);

}  // namespace wsvis::models
