// Pastes M x M mask probabilities back into the image as detectron2's paste_masks_in_image /
// _do_paste_mask (layers/mask_ops.py) on the GPU path (every pixel of the image, no skip_empty
// window): for the pixel centre (x + 0.5, y + 0.5) the grid coordinate
// g = (x + 0.5 - x0) / (x1 - x0) * 2 - 1 (likewise y) samples the map with F.grid_sample
// (bilinear, zero padding, align_corners False: source index ((g + 1) * M - 1) / 2); the pixel
// is foreground when the sample is >= threshold. Pixels whose sample can only be 0 (source index
// outside (-1, M)) are skipped, which changes nothing. Boxes must be in the output image's
// pixels (scale them first when the network saw a resized image).
// Host code (CPU twin only): the masks of <= 100 detections at video-frame sizes.
#pragma once

#include <cstdint>
#include <vector>

#include "models/rcnn_common.h"

namespace wsvis::models {

// probs (D, M, M), boxes (D) -> (D, height, width) uint8 masks in {0, 1}; D = 0 gives none
// whatever M.
std::vector<uint8_t> paste_masks(const std::vector<float>& probs, int M,
                                 const std::vector<RcnnBox>& boxes, int height, int width,
                                 float threshold = 0.5f);

}  // namespace wsvis::models
