// FCOS training targets as AdelaiDet computes them (adet/modeling/fcos/fcos_outputs.py
// _get_ground_truth, get_sample_region, compute_targets_for_locations, compute_ctrness_targets).
// Host code: the ground truth is small and lives on the host; the results are uploaded once per
// step by the loss (models/fcos_loss.h).
//
// For every location (x, y) of every level (cell centres (j*s + s/2, i*s + s/2), s/2 integer
// division, kernels::cpu::fcos_locations) and every GT box of its image:
//   (l, t, r, b) = (x - x1, y - y1, x2 - x, y2 - y), measured to the full box;
//   in the sample region: centre sampling (default) - the box (cx -/+ R*s, cy -/+ R*s) around
//     the GT's centre (R = pos_radius 1.5, s the level stride), clipped to the GT box, must hold
//     the location strictly inside (all four distances > 0); without centre sampling the GT box
//     itself must;
//   cared for by the level: lo_l <= max(l, t, r, b) <= hi_l (both inclusive), the ranges
//     (-1, 64), (64, 128), (128, 256), (256, 512), (512, 1e8) from sizes_of_interest.
// A location with several qualifying GTs takes the one of minimal box area (the first of equal
// areas); one with none is negative (label num_classes). Regression targets are divided by the
// stride. Centreness target of a positive: sqrt(min(l, r) / max(l, r) * min(t, b) / max(t, b)).
// Arithmetic in float, as AdelaiDet's float32 tensors.
//
// The GT centre is the centroid of its full-resolution mask when one is given (CondInst: the
// instance mask; BoxInst: the filled box mask of add_bitmasks_from_boxes, so about the box
// centre) - pass it in FcosGtInstances::centers, from fcos_mask_centroid - else the box centre.
// Difference from AdelaiDet: get_sample_region returns "no positive anywhere in the image" when
// the FIRST GT's centre has x == 0 (its check for an image without GT); here only that GT's own
// sample region is affected (an empty mask's centroid is (0, 0), as AdelaiDet computes it).
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "engine/tensor.h"

namespace wsvis::models {

// The geometry of the flattened predictions (models/fcos_head.h FcosFlatPredictions): rows
// ordered level, image, location y * W_l + x.
struct FcosLayout {
  int num_images = 0;
  std::vector<int> strides;              // per level
  std::vector<int64_t> heights, widths;  // per level
  std::vector<int64_t> level_begin;      // L + 1 row offsets; level l holds N * H_l * W_l rows

  // From per-level maps (N, D, H_l, W_l) (any D) and their strides.
  static FcosLayout from_maps(const std::vector<Tensor>& maps, const std::vector<int>& strides);
  static FcosLayout from_sizes(int num_images, const std::vector<int>& strides,
                               const std::vector<int64_t>& heights,
                               const std::vector<int64_t>& widths);
  int num_levels() const { return static_cast<int>(strides.size()); }
  int64_t locations(int level) const { return heights[size_t(level)] * widths[size_t(level)]; }
  int64_t rows() const { return level_begin.back(); }
  int64_t row(int level, int image, int64_t location) const {
    return level_begin[size_t(level)] + int64_t(image) * locations(level) + location;
  }
  // The (x, y) image-pixel centre of a location of a level.
  std::array<float, 2> location_xy(int level, int64_t location) const;
};

// One image's ground truth, in the input (resized, unpadded) image's pixels.
struct FcosGtInstances {
  std::vector<std::array<float, 4>> boxes;  // (G) x1, y1, x2, y2
  std::vector<int64_t> classes;             // (G) in [0, num_classes)
  // (G) centre-sampling centres (x, y), e.g. mask centroids; empty: the box centres.
  std::vector<std::array<float, 2>> centers;
};

// AdelaiDet's centroid of a (height, width) mask (non-zero = inside), in pixel-index
// coordinates: (sum x / m00, sum y / m00) with m00 = max(count, 1e-6), so (0, 0) when empty.
std::array<float, 2> fcos_mask_centroid(const uint8_t* mask, int height, int width);

// AdelaiDet's SIZES_OF_INTEREST: {64, 128, 256, 512}.
std::vector<double> fcos_default_sizes_of_interest();

struct FcosTargetOptions {
  int num_classes = 80;
  std::vector<double> sizes_of_interest = fcos_default_sizes_of_interest();  // L - 1 bounds
  bool center_sample = true;
  double pos_radius = 1.5;
};

// Targets for every row of a layout.
struct FcosTargets {
  FcosLayout layout;
  int num_classes = 0;
  std::vector<int64_t> labels;     // (R) class, or num_classes for a negative
  std::vector<int64_t> gt_index;   // (R) GT index within its image, -1 for a negative
  std::vector<float> reg_targets;  // (R, 4) (l, t, r, b) / stride to the assigned GT; 0 when negative
  std::vector<int64_t> positives;  // rows of the positives, ascending
  std::vector<float> ctr_targets;  // (M) centreness target of each positive
  int64_t num_positives() const { return static_cast<int64_t>(positives.size()); }
  // Image of a row.
  int image_of(int64_t row) const;
  int level_of(int64_t row) const;
};

// gts: one entry per image of the layout. Throws (WSVIS_CHECK) on a class outside
// [0, num_classes), a box with x2 < x1 or y2 < y1, a centres list of the wrong length, or
// sizes_of_interest not one shorter than the levels.
FcosTargets compute_fcos_targets(const FcosLayout& layout,
                                 const std::vector<FcosGtInstances>& gts,
                                 const FcosTargetOptions& options);

// The positive locations of a batch, concatenated in row order, as CondInst's mask head takes
// them (AdelaiDet's `instances` after fcos_losses: gt_inds, im_inds, locations, fpn_levels,
// top_feats).
struct FcosPositives {
  Tensor rows;        // (M) i64 rows of the flattened predictions, on the model's context
  Tensor controller;  // (M, P) controller outputs at the positives (autograd); undefined if P = 0
  std::vector<int64_t> image_index, gt_index, level;   // per positive; gt_index within the image
  std::vector<std::array<float, 2>> location;          // (x, y) image pixels
  Tensor quality;     // (M) sigmoid(max class logit) * sigmoid(ctrness), detached
  int64_t size() const { return static_cast<int64_t>(image_index.size()); }
};

}  // namespace wsvis::models
