// Geometric and photometric augmentation of frames, flow, masks and boxes, applied with ONE
// set of parameters to both frames of a pair and to their flow, so the flow still maps one
// augmented frame onto the other.
//
// Coordinates: pixel (x, y) is the point (x, y) (pixel centres at integers, kernels/warp.h);
// boxes are (x1, y1, x2, y2) in pixel-edge coordinates (the image spans [0, W] x [0, H]).
//   resize  W x H -> W' x H' (sx = W'/W, sy = H'/H): the point x maps to sx*(x + 0.5) - 0.5
//           (align_corners = False, as cv2 / torch bilinear). Images: bilinear, edge clamped,
//           no antialiasing (detectron2's PIL resize antialiases on downscaling; this does
//           not). Flow: the field is resampled bilinearly at the same points AND its values
//           scale, u *= sx, v *= sy (the mapping is affine, so displacements scale exactly).
//           Masks: nearest (source pixel floor((x' + 0.5) / sx)). Boxes: x *= sx, y *= sy.
//   flip    (horizontal) x -> W - 1 - x: images and masks mirrored; flow mirrored AND u
//           negated; boxes x1' = W - x2, x2' = W - x1.
//   colour  (images only, optional) brightness, contrast (around the image's mean grey) and
//           saturation factors in [1 - s, 1 + s], applied in that order, same factors for
//           both frames.
// Order: resize, then flip (they commute), then colour.
// Output size: detectron2 ResizeShortestEdge with sample_style "choice": the shorter side is
// drawn from short_sizes; s = min(short / shorter, max_long / longer) (no cap when
// max_long == 0); new size = int(dim * s + 0.5).
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "data/flow_io.h"
#include "data/image_io.h"
#include "data/weak_labels.h"
#include "engine/random.h"

namespace wsvis::data {

struct AugmentConfig {
  std::vector<int> short_sizes;  // empty: keep the size
  int max_long = 0;              // 0: no cap on the longer side
  double flip_prob = 0.5;
  double color_jitter = 0.0;     // strength s; 0 disables colour jitter
};

struct AugmentParams {
  int in_width = 0, in_height = 0;
  int width = 0, height = 0;  // after resizing
  bool flip = false;
  float brightness = 1, contrast = 1, saturation = 1;
};

// (new_w, new_h) for resizing w x h to shorter side `short_side`.
std::pair<int, int> resize_shortest_edge(int w, int h, int short_side, int max_long);

// Draws the parameters for a w x h pair: first the size (randint over short_sizes), then the
// flip (uniform < flip_prob), then the three colour factors (when enabled).
AugmentParams sample_augment(const AugmentConfig& config, int w, int h, Generator& gen);

// ---- the pieces (each exact to the conventions above) --------------------------------------
Image resize_image(const Image& image, int width, int height);
Image flip_image(const Image& image);
Flow resize_flow(const Flow& flow, int width, int height);
Flow flip_flow(const Flow& flow);
// (h, w) byte mask.
std::vector<uint8_t> resize_mask(const std::vector<uint8_t>& mask, int w, int h, int width,
                                 int height);
std::vector<uint8_t> flip_mask(const std::vector<uint8_t>& mask, int w, int h);
void color_jitter(Image* image, float brightness, float contrast, float saturation);

// ---- with a parameter set --------------------------------------------------------------------
Image augment_image(const Image& image, const AugmentParams& p);  // geometry + colour
Flow augment_flow(const Flow& flow, const AugmentParams& p);
std::vector<uint8_t> augment_mask(const std::vector<uint8_t>& mask, const AugmentParams& p);
std::vector<WeakBox> augment_boxes(const std::vector<WeakBox>& boxes, const AugmentParams& p);

}  // namespace wsvis::data
