// A generated image-classification task for the engine's end-to-end checks (the training test
// and `wsvis demo` before the video pipeline exists): grey S x S images, each showing one of
// four shapes at a random place, size and brightness over Gaussian noise.
//   0: horizontal bar   1: vertical bar   2: filled square   3: diagonal line
// Translation and size vary, so the classifier must learn local oriented structure; the
// noise (sigma 0.25 against contrast 0.6-1.0) keeps it from being trivial.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/random.h"

namespace wsvis::data {

struct ToyShapesBatch {
  int count = 0;
  int size = 0;
  std::vector<float> images;   // (count, 1, size, size), row-major
  std::vector<int64_t> labels; // (count), in [0, kToyShapeClasses)
};

constexpr int kToyShapeClasses = 4;

ToyShapesBatch make_toy_shapes(int count, int size, Generator& gen);

}  // namespace wsvis::data
