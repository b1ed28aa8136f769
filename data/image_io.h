// Images and index maps on the host.
//
// read_image decodes PNG, JPEG, BMP, PPM/PGM, ... through stb_image into an (H, W, C) uint8
// buffer; write_png encodes through stb_image_write and writes atomically. A missing,
// truncated or corrupt file throws wsvis::InputError naming the file and stb's reason.
//
// Index maps (DAVIS annotations): a DAVIS-2017 annotation is an 8-bit paletted PNG whose
// palette *index* is the object id (0 background, 1..N objects, 255 void); stb_image would
// expand the palette to RGB. Rather than mapping colours back through the palette (ambiguous
// when two indices share a colour), read_index_png decodes the PNG itself: chunks with CRC
// checks, zlib through stb's inflater, the five scanline filters, bit depths 1/2/4/8. It
// accepts palette images (value = index) and greyscale images (value = grey level; DAVIS-2016
// masks are greyscale 0/255, so binarise those with `value > 127`). Interlaced PNGs and other
// colour types are rejected with an InputError.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace wsvis::data {

struct Image {
  int width = 0;
  int height = 0;
  int channels = 0;           // 1 grey, 3 RGB, 4 RGBA
  std::vector<uint8_t> data;  // (height, width, channels) row-major

  Image() = default;
  Image(int w, int h, int c)
      : width(w), height(h), channels(c), data(static_cast<size_t>(w) * h * c, 0) {}
  uint8_t& at(int y, int x, int c) {
    return data[(static_cast<size_t>(y) * width + x) * channels + c];
  }
  uint8_t at(int y, int x, int c) const {
    return data[(static_cast<size_t>(y) * width + x) * channels + c];
  }
};

// channels: 1 (grey, stb's luminance conversion), 3 (RGB), 4 (RGBA), or 0 (as stored).
Image read_image(const std::string& path, int channels = 3);
// (width, height, channels) without decoding the pixels.
std::array<int, 3> image_info(const std::string& path);
void write_png(const std::string& path, const Image& image);

struct IndexMap {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> index;                  // (height, width) row-major
  std::vector<std::array<uint8_t, 3>> palette; // empty for greyscale files
};

IndexMap read_index_png(const std::string& path);
// Writes an 8-bit paletted PNG (colour type 3); an empty palette writes the DAVIS palette.
void write_index_png(const std::string& path, const IndexMap& map);

// The DAVIS / PASCAL VOC colour palette (index bits spread over the RGB high bits).
std::vector<std::array<uint8_t, 3>> davis_palette();

// (H, W) 0/1 mask of the pixels whose index equals `id`.
std::vector<uint8_t> index_mask(const IndexMap& map, uint8_t id);
// Sorted object ids present: every index except 0 (background) and `void_index`.
std::vector<int> object_ids(const IndexMap& map, int void_index = 255);

}  // namespace wsvis::data
