#include "pipeline/crop.h"

#include <algorithm>

namespace wsvis::pipeline {

namespace {

// One axis: (source start, destination start, length).
void crop_axis(int size, int crop, Generator* gen, int* src, int* dst, int* len) {
  const int space = size - crop;
  if (space > 0) {
    *dst = 0;
    *src = gen ? static_cast<int>(gen->randint(0, space + 1)) : 0;
  } else {
    *src = 0;
    *dst = gen ? static_cast<int>(gen->randint(0, -space + 1)) : 0;
  }
  *len = std::min(crop, size);
}

}  // namespace

CropBox random_crop_box(int image_w, int image_h, int crop, Generator& gen) {
  CropBox b;
  // IRN draws the width offsets first, then the height ones.
  crop_axis(image_w, crop, &gen, &b.src_x, &b.dst_x, &b.width);
  crop_axis(image_h, crop, &gen, &b.src_y, &b.dst_y, &b.height);
  return b;
}

CropBox top_left_crop_box(int image_w, int image_h, int crop) {
  CropBox b;
  crop_axis(image_w, crop, nullptr, &b.src_x, &b.dst_x, &b.width);
  crop_axis(image_h, crop, nullptr, &b.src_y, &b.dst_y, &b.height);
  return b;
}

}  // namespace wsvis::pipeline
