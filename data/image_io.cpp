#include "data/image_io.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "data/file_util.h"
#include "engine/error.h"

// The one translation unit that holds stb's implementations (system headers: their own
// warnings are not ours).
#define STB_IMAGE_IMPLEMENTATION
#define STBI_FAILURE_USERMSG
#include <stb/stb_image.h>
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>

namespace wsvis::data {

namespace {

[[noreturn]] void bad(const std::string& path, const std::string& what) {
  throw InputError(path + ": " + what);
}

int checked_len(const std::string& path, size_t n) {
  if (n > static_cast<size_t>(INT32_MAX)) bad(path, "file too large for the image decoder");
  return static_cast<int>(n);
}

}  // namespace

// ---- stb-backed images ---------------------------------------------------------------------

Image read_image(const std::string& path, int channels) {
  WSVIS_CHECK(channels >= 0 && channels <= 4, "read_image: channels must be 0..4, got ", channels);
  const std::string bytes = read_file_bytes(path);
  if (bytes.empty()) bad(path, "cannot decode image: the file is empty");
  int w = 0, h = 0, stored = 0;
  stbi_uc* pixels =
      stbi_load_from_memory(reinterpret_cast<const stbi_uc*>(bytes.data()),
                            checked_len(path, bytes.size()), &w, &h, &stored, channels);
  if (!pixels) {
    const char* reason = stbi_failure_reason();
    bad(path, std::string("cannot decode image: ") + (reason ? reason : "unknown reason"));
  }
  const int c = channels == 0 ? stored : channels;
  Image img(w, h, c);
  std::memcpy(img.data.data(), pixels, img.data.size());
  stbi_image_free(pixels);
  return img;
}

std::array<int, 3> image_info(const std::string& path) {
  const std::string bytes = read_file_bytes(path);
  int w = 0, h = 0, c = 0;
  if (!stbi_info_from_memory(reinterpret_cast<const stbi_uc*>(bytes.data()),
                             checked_len(path, bytes.size()), &w, &h, &c)) {
    const char* reason = stbi_failure_reason();
    bad(path, std::string("cannot read image header: ") + (reason ? reason : "unknown reason"));
  }
  return {w, h, c};
}

namespace {

void append_bytes(void* context, void* data, int size) {
  auto* out = static_cast<std::string*>(context);
  out->append(static_cast<const char*>(data), static_cast<size_t>(size));
}

}  // namespace

void write_png(const std::string& path, const Image& image) {
  WSVIS_CHECK(image.width > 0 && image.height > 0 && image.channels >= 1 && image.channels <= 4,
              "write_png: ", path, ": cannot write a ", image.width, "x", image.height, "x",
              image.channels, " image");
  WSVIS_CHECK(image.data.size() == static_cast<size_t>(image.width) * image.height * image.channels,
              "write_png: ", path, ": data has ", image.data.size(), " bytes, expected ",
              image.width, "x", image.height, "x", image.channels);
  std::string encoded;
  if (!stbi_write_png_to_func(append_bytes, &encoded, image.width, image.height, image.channels,
                              image.data.data(), image.width * image.channels))
    bad(path, "PNG encoding failed");
  write_file_atomic(path, encoded);
}

// ---- PNG index maps ------------------------------------------------------------------------

namespace {

uint32_t crc_table_entry(uint32_t n) {
  uint32_t c = n;
  for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
  return c;
}

uint32_t crc32(const uint8_t* data, size_t n, uint32_t crc = 0) {
  static const std::vector<uint32_t> table = [] {
    std::vector<uint32_t> t(256);
    for (uint32_t i = 0; i < 256; ++i) t[i] = crc_table_entry(i);
    return t;
  }();
  uint32_t c = crc ^ 0xffffffffu;
  for (size_t i = 0; i < n; ++i) c = table[(c ^ data[i]) & 0xff] ^ (c >> 8);
  return c ^ 0xffffffffu;
}

uint32_t read_be32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

void put_be32(std::string& out, uint32_t v) {
  out.push_back(static_cast<char>(v >> 24));
  out.push_back(static_cast<char>(v >> 16));
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v));
}

const uint8_t kPngSignature[8] = {137, 80, 78, 71, 13, 10, 26, 10};

uint8_t paeth(int a, int b, int c) {
  const int p = a + b - c;
  const int pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
  if (pa <= pb && pa <= pc) return static_cast<uint8_t>(a);
  if (pb <= pc) return static_cast<uint8_t>(b);
  return static_cast<uint8_t>(c);
}

}  // namespace

IndexMap read_index_png(const std::string& path) {
  const std::string file = read_file_bytes(path);
  const auto* d = reinterpret_cast<const uint8_t*>(file.data());
  const size_t n = file.size();
  if (n < 8 || std::memcmp(d, kPngSignature, 8) != 0) bad(path, "not a PNG file (bad signature)");

  uint32_t width = 0, height = 0;
  int bit_depth = 0, colour_type = -1, interlace = 0;
  bool have_header = false, have_end = false;
  std::vector<std::array<uint8_t, 3>> palette;
  std::string idat;
  size_t p = 8;
  while (p < n && !have_end) {
    if (n - p < 12) bad(path, "truncated PNG: incomplete chunk at byte " + std::to_string(p));
    const uint32_t len = read_be32(d + p);
    const std::string type(reinterpret_cast<const char*>(d + p + 4), 4);
    if (len > n - p - 12)
      bad(path, "truncated PNG: chunk " + type + " at byte " + std::to_string(p) + " needs " +
                    std::to_string(len) + " bytes, " + std::to_string(n - p - 12) + " remain");
    const uint8_t* body = d + p + 8;
    if (crc32(d + p + 4, len + 4) != read_be32(body + len))
      bad(path, "corrupt PNG: CRC mismatch in chunk " + type + " at byte " + std::to_string(p));
    if (type == "IHDR") {
      if (len != 13) bad(path, "corrupt PNG: IHDR has " + std::to_string(len) + " bytes, not 13");
      width = read_be32(body);
      height = read_be32(body + 4);
      bit_depth = body[8];
      colour_type = body[9];
      interlace = body[12];
      have_header = true;
    } else if (type == "PLTE") {
      if (len % 3 != 0 || len == 0 || len > 768)
        bad(path, "corrupt PNG: PLTE has " + std::to_string(len) + " bytes");
      for (uint32_t i = 0; i < len; i += 3) palette.push_back({body[i], body[i + 1], body[i + 2]});
    } else if (type == "IDAT") {
      idat.append(reinterpret_cast<const char*>(body), len);
    } else if (type == "IEND") {
      have_end = true;
    }
    p += 12 + static_cast<size_t>(len);
  }
  if (!have_header) bad(path, "corrupt PNG: no IHDR chunk");
  if (!have_end) bad(path, "truncated PNG: no IEND chunk");
  if (colour_type != 0 && colour_type != 3)
    bad(path, "not an index map: PNG colour type " + std::to_string(colour_type) +
                  " (index maps are paletted, type 3, or greyscale, type 0)");
  if (bit_depth != 1 && bit_depth != 2 && bit_depth != 4 && bit_depth != 8)
    bad(path, "not an index map: bit depth " + std::to_string(bit_depth) + " (1, 2, 4 or 8 expected)");
  if (interlace != 0) bad(path, "interlaced (Adam7) PNG index maps are not supported");
  if (width == 0 || height == 0 || width > (1u << 24) || height > (1u << 24))
    bad(path, "absurd PNG size " + std::to_string(width) + "x" + std::to_string(height));
  if (colour_type == 3 && palette.empty()) bad(path, "corrupt PNG: paletted image without PLTE");
  if (idat.empty()) bad(path, "corrupt PNG: no image data (IDAT)");

  const size_t row_bytes = (static_cast<size_t>(width) * bit_depth + 7) / 8;
  const size_t expected = (row_bytes + 1) * height;
  int out_len = 0;
  char* raw = stbi_zlib_decode_malloc_guesssize_headerflag(
      idat.data(), checked_len(path, idat.size()),
      static_cast<int>(std::min<size_t>(expected, INT32_MAX)), &out_len, 1);
  if (!raw) {
    const char* reason = stbi_failure_reason();
    bad(path, std::string("corrupt PNG: image data does not inflate (") +
                  (reason ? reason : "zlib error") + ")");
  }
  std::vector<uint8_t> data(reinterpret_cast<uint8_t*>(raw), reinterpret_cast<uint8_t*>(raw) + out_len);
  std::free(raw);
  if (data.size() < expected)
    bad(path, "truncated PNG: image data inflates to " + std::to_string(data.size()) +
                  " bytes, " + std::to_string(expected) + " needed");

  // Undo the per-row filters in place (filter unit: 1 byte, as every format here has
  // fewer than 8 bits per pixel or exactly 8).
  IndexMap map;
  map.width = static_cast<int>(width);
  map.height = static_cast<int>(height);
  map.palette = palette;
  map.index.resize(static_cast<size_t>(width) * height);
  std::vector<uint8_t> prev(row_bytes, 0), cur(row_bytes);
  for (uint32_t y = 0; y < height; ++y) {
    const uint8_t* row = data.data() + y * (row_bytes + 1);
    const int filter = row[0];
    for (size_t i = 0; i < row_bytes; ++i) {
      const int x = row[1 + i];
      const int a = i > 0 ? cur[i - 1] : 0, b = prev[i], c = i > 0 ? prev[i - 1] : 0;
      int value;
      switch (filter) {
        case 0: value = x; break;
        case 1: value = x + a; break;
        case 2: value = x + b; break;
        case 3: value = x + (a + b) / 2; break;
        case 4: value = x + paeth(a, b, c); break;
        default:
          bad(path, "corrupt PNG: unknown filter type " + std::to_string(filter) + " on row " +
                        std::to_string(y));
      }
      cur[i] = static_cast<uint8_t>(value & 0xff);
    }
    // Unpack samples, most significant bits first.
    const int per_byte = 8 / bit_depth;
    const int mask = (1 << bit_depth) - 1;
    for (uint32_t x = 0; x < width; ++x) {
      const uint8_t byte = cur[x / per_byte];
      const int shift = 8 - bit_depth * (static_cast<int>(x % per_byte) + 1);
      const uint8_t v = static_cast<uint8_t>((byte >> shift) & mask);
      if (colour_type == 3 && v >= palette.size())
        bad(path, "corrupt PNG: pixel (x=" + std::to_string(x) + ", y=" + std::to_string(y) +
                      ") has index " + std::to_string(v) + " but the palette has " +
                      std::to_string(palette.size()) + " entries");
      map.index[static_cast<size_t>(y) * width + x] = v;
    }
    std::swap(prev, cur);
  }
  return map;
}

std::vector<std::array<uint8_t, 3>> davis_palette() {
  std::vector<std::array<uint8_t, 3>> pal(256);
  for (int i = 0; i < 256; ++i) {
    int r = 0, g = 0, b = 0, c = i;
    for (int j = 0; j < 8; ++j) {
      r |= ((c >> 0) & 1) << (7 - j);
      g |= ((c >> 1) & 1) << (7 - j);
      b |= ((c >> 2) & 1) << (7 - j);
      c >>= 3;
    }
    pal[static_cast<size_t>(i)] = {static_cast<uint8_t>(r), static_cast<uint8_t>(g),
                                   static_cast<uint8_t>(b)};
  }
  return pal;
}

void write_index_png(const std::string& path, const IndexMap& map) {
  WSVIS_CHECK(map.width > 0 && map.height > 0, "write_index_png: ", path, ": empty map ",
              map.width, "x", map.height);
  WSVIS_CHECK(map.index.size() == static_cast<size_t>(map.width) * map.height, "write_index_png: ",
              path, ": index has ", map.index.size(), " values for ", map.width, "x", map.height);
  const auto palette = map.palette.empty() ? davis_palette() : map.palette;
  WSVIS_CHECK(palette.size() <= 256, "write_index_png: palette has ", palette.size(), " entries");
  const uint8_t max_index = *std::max_element(map.index.begin(), map.index.end());
  WSVIS_CHECK(max_index < palette.size(), "write_index_png: ", path, ": index ",
              static_cast<int>(max_index), " is outside the ", palette.size(), "-entry palette");

  std::string out(reinterpret_cast<const char*>(kPngSignature), 8);
  auto chunk = [&out](const char* type, const std::string& body) {
    put_be32(out, static_cast<uint32_t>(body.size()));
    const size_t start = out.size();
    out.append(type, 4);
    out += body;
    put_be32(out, crc32(reinterpret_cast<const uint8_t*>(out.data() + start), body.size() + 4));
  };
  std::string ihdr;
  put_be32(ihdr, static_cast<uint32_t>(map.width));
  put_be32(ihdr, static_cast<uint32_t>(map.height));
  ihdr += std::string{8, 3, 0, 0, 0};  // 8-bit, paletted, deflate, adaptive filters, no interlace
  chunk("IHDR", ihdr);
  std::string plte;
  for (const auto& c : palette) plte.append(reinterpret_cast<const char*>(c.data()), 3);
  chunk("PLTE", plte);
  // Rows with filter 0 (index maps are flat regions: deflate does well without filters).
  std::vector<uint8_t> rows;
  rows.reserve((static_cast<size_t>(map.width) + 1) * map.height);
  for (int y = 0; y < map.height; ++y) {
    rows.push_back(0);
    const uint8_t* r = map.index.data() + static_cast<size_t>(y) * map.width;
    rows.insert(rows.end(), r, r + map.width);
  }
  int zlen = 0;
  unsigned char* z = stbi_zlib_compress(rows.data(), static_cast<int>(rows.size()), &zlen, 8);
  if (!z) bad(path, "PNG compression failed");
  chunk("IDAT", std::string(reinterpret_cast<const char*>(z), static_cast<size_t>(zlen)));
  STBIW_FREE(z);
  chunk("IEND", "");
  write_file_atomic(path, out);
}

std::vector<uint8_t> index_mask(const IndexMap& map, uint8_t id) {
  std::vector<uint8_t> mask(map.index.size());
  for (size_t i = 0; i < mask.size(); ++i) mask[i] = map.index[i] == id ? 1 : 0;
  return mask;
}

std::vector<int> object_ids(const IndexMap& map, int void_index) {
  bool seen[256] = {};
  for (uint8_t v : map.index) seen[v] = true;
  std::vector<int> ids;
  for (int i = 1; i < 256; ++i)
    if (seen[i] && i != void_index) ids.push_back(i);
  return ids;
}

}  // namespace wsvis::data
