// IRN's random crop (misc/imutils.py random_crop): a crop x crop window over an image of any
// size. Where the image is larger the window takes a random part of it; where it is smaller
// the whole image is placed at a random offset inside the window, the rest is padding (image
// 0 after normalisation, label 255 = ignore, flow 0). Independently per axis.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/random.h"

namespace wsvis::pipeline {

struct CropBox {
  int src_x = 0, src_y = 0;  // top-left of the copied region in the image
  int dst_x = 0, dst_y = 0;  // where it lands in the crop
  int width = 0, height = 0;  // copied region size
};

CropBox random_crop_box(int image_w, int image_h, int crop, Generator& gen);
// The top-left crop (IRN's mean-shift pass and inference padding): no randomness.
CropBox top_left_crop_box(int image_w, int image_h, int crop);

// Copies the box of an (C, H, W) plane stack into a (C, crop, crop) one already filled with
// the padding value.
template <typename T>
void copy_crop(const T* src, int channels, int image_w, int image_h, const CropBox& box, int crop,
               T* dst) {
  for (int c = 0; c < channels; ++c)
    for (int y = 0; y < box.height; ++y) {
      const T* s = src + (static_cast<int64_t>(c) * image_h + box.src_y + y) * image_w + box.src_x;
      T* d = dst + (static_cast<int64_t>(c) * crop + box.dst_y + y) * crop + box.dst_x;
      for (int x = 0; x < box.width; ++x) d[x] = s[x];
    }
}

// The stride-4 grid of a (C, S, S) crop: pixel (4i + 2, 4j + 2) of each plane (PIL NEAREST
// downscaling by 4, as IRN samples its labels) -> (C, S/4, S/4).
template <typename T>
std::vector<T> sample_stride4(const std::vector<T>& planes, int channels, int S) {
  const int S4 = S / 4;
  std::vector<T> out(static_cast<size_t>(channels) * S4 * S4);
  for (int c = 0; c < channels; ++c)
    for (int i = 0; i < S4; ++i)
      for (int j = 0; j < S4; ++j)
        out[(static_cast<size_t>(c) * S4 + i) * S4 + j] =
            planes[(static_cast<size_t>(c) * S + 4 * i + 2) * S + 4 * j + 2];
  return out;
}

}  // namespace wsvis::pipeline
