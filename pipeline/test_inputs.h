// A frame as detectors see it at test time (detectron2 ResizeShortestEdge, then the batch
// padding): resized to the test size, normalised as the backbone expects
// (pipeline/detector_training.h detector_backbone) and padded with 0 to a multiple of 32.
#pragma once

#include <array>
#include <cstdint>

#include "data/flow_io.h"
#include "data/image_io.h"
#include "data/loader.h"
#include "engine/tensor.h"
#include "models/motion_encoder.h"

namespace wsvis::pipeline {

struct TestImage {
  Tensor image;                        // (1, 3, Hp, Wp)
  std::array<int64_t, 2> resized{0, 0};  // (h, w) inside the padding
};

TestImage test_image(const data::Image& image, int short_size, int max_long, data::PixelNorm norm,
                     const ContextPtr& ctx);

// The frame's flow resized like the image and rendered as the two-stream encoder's second input
// (models/motion_encoder.h flow_color_inputs): (1, 3, Hp, Wp), 0 on the padding.
Tensor test_flow_image(const data::Flow& flow, const TestImage& image, const models::PixelNormalization& norm,
                       const ContextPtr& ctx);

}  // namespace wsvis::pipeline
