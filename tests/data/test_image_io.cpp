// Images through stb and PNG index maps through our own decoder: real JPEG/PNG/PPM files,
// DAVIS palette and greyscale annotations (pixel counts and boxes from the data README, and a
// pixel-by-pixel cross-check against stb's palette expansion), every PNG filter and bit depth,
// round trips, and one test per kind of bad file.
#include <gtest/gtest.h>

#include <stb/stb_image_write.h>

#include <map>

#include "data/image_io.h"
#include "engine/error.h"
#include "tests/data/data_paths.h"

namespace wsvis::data {
namespace {

using testing::ScratchDir;

// ---- a minimal PNG writer for hand-made test files (stored deflate blocks) --------------------

uint32_t crc32_of(const std::string& s) {
  uint32_t c = 0xffffffffu;
  for (unsigned char ch : s) {
    c ^= ch;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
  }
  return c ^ 0xffffffffu;
}

void be32(std::string& out, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<char>((v >> s) & 0xff));
}

std::string zlib_stored(const std::string& data) {
  std::string z = "\x78\x01";
  size_t pos = 0;
  do {
    const size_t n = std::min<size_t>(65535, data.size() - pos);
    const bool last = pos + n == data.size();
    z.push_back(last ? 1 : 0);
    z.push_back(static_cast<char>(n & 0xff));
    z.push_back(static_cast<char>(n >> 8));
    z.push_back(static_cast<char>(~n & 0xff));
    z.push_back(static_cast<char>((~n >> 8) & 0xff));
    z += data.substr(pos, n);
    pos += n;
  } while (pos < data.size());
  uint32_t a = 1, b = 0;
  for (unsigned char ch : data) {
    a = (a + ch) % 65521;
    b = (b + a) % 65521;
  }
  be32(z, (b << 16) | a);
  return z;
}

std::string chunk(const std::string& type, const std::string& body) {
  std::string out;
  be32(out, static_cast<uint32_t>(body.size()));
  out += type + body;
  be32(out, crc32_of(type + body));
  return out;
}

// rows: already filtered scanlines, each starting with its filter byte.
std::string make_png(uint32_t w, uint32_t h, int depth, int colour, int palette_size,
                     const std::string& rows, int interlace = 0) {
  std::string png = "\x89PNG\r\n\x1a\n";
  std::string ihdr;
  be32(ihdr, w);
  be32(ihdr, h);
  ihdr += std::string{static_cast<char>(depth), static_cast<char>(colour), 0, 0,
                      static_cast<char>(interlace)};
  png += chunk("IHDR", ihdr);
  if (palette_size > 0) {
    std::string plte;
    for (int i = 0; i < palette_size; ++i) plte += std::string{static_cast<char>(i * 10), 0, 0};
    png += chunk("PLTE", plte);
  }
  png += chunk("IDAT", zlib_stored(rows));
  png += chunk("IEND", "");
  return png;
}

// ---- real files --------------------------------------------------------------------------------

TEST(ImageIo, ReadsCocoJpeg) {
  WSVIS_REQUIRE_SHARED_DATA(data);
  const std::string path = data + "/coco_dummy/val2017/000000000139.jpg";
  const Image rgb = read_image(path);
  EXPECT_EQ(rgb.width, 640);
  EXPECT_EQ(rgb.height, 426);
  EXPECT_EQ(rgb.channels, 3);
  EXPECT_EQ(rgb.data.size(), 640u * 426u * 3u);
  EXPECT_EQ(read_image(path, 0).channels, 3);  // as stored
  const Image grey = read_image(path, 1);
  EXPECT_EQ(grey.channels, 1);
  EXPECT_EQ((image_info(data + "/coco_dummy/val2017/000000255917.jpg")), (std::array<int, 3>{640, 427, 3}));
  // Not a flat image: the pixel values vary.
  std::map<int, int> hist;
  for (uint8_t v : grey.data) hist[v / 32]++;
  EXPECT_GE(hist.size(), 6u);
}

TEST(ImageIo, ReadsPpm) {
  WSVIS_REQUIRE_SHARED_DATA(data);
  const Image im = read_image(data + "/flow_sample/flyingchairs_00001_crop/00001_img1.ppm");
  EXPECT_EQ(im.width, 50);
  EXPECT_EQ(im.height, 50);
  EXPECT_EQ(im.channels, 3);
}

TEST(ImageIo, DavisPaletteAnnotations) {
  WSVIS_REQUIRE_SHARED_DATA(data);
  struct Expect {
    const char* file;
    std::map<int, int> counts;
    std::array<int, 4> box1, box2;  // inclusive x0, y0, x1, y1
  };
  const Expect cases[] = {
      {"00000.png", {{0, 392318}, {1, 17015}, {2, 362}, {255, 225}}, {146, 96, 381, 383}, {65, 196, 160, 212}},
      {"00001.png", {{0, 391161}, {1, 17675}, {2, 916}, {255, 168}}, {155, 92, 373, 381}, {93, 216, 168, 239}},
  };
  for (const Expect& e : cases) {
    const std::string path = data + "/davis2017_tennis/Annotations/" + e.file;
    const IndexMap m = read_index_png(path);
    ASSERT_EQ(m.width, 854);
    ASSERT_EQ(m.height, 480);
    ASSERT_EQ(m.palette.size(), 256u);
    EXPECT_EQ(m.palette[1], (std::array<uint8_t, 3>{128, 0, 0}));
    EXPECT_EQ(m.palette[2], (std::array<uint8_t, 3>{0, 128, 0}));
    EXPECT_EQ(m.palette, davis_palette());
    std::map<int, int> counts;
    for (uint8_t v : m.index) counts[v]++;
    EXPECT_EQ(counts, e.counts) << e.file;
    EXPECT_EQ(object_ids(m), (std::vector<int>{1, 2}));
    EXPECT_EQ(object_ids(m, -1), (std::vector<int>{1, 2, 255}));
    for (int id : {1, 2}) {
      const auto mask = index_mask(m, static_cast<uint8_t>(id));
      std::array<int, 4> box{m.width, m.height, -1, -1};
      int n = 0;
      for (int y = 0; y < m.height; ++y)
        for (int x = 0; x < m.width; ++x)
          if (mask[static_cast<size_t>(y) * m.width + x]) {
            ++n;
            box = {std::min(box[0], x), std::min(box[1], y), std::max(box[2], x), std::max(box[3], y)};
          }
      EXPECT_EQ(n, e.counts.at(id));
      EXPECT_EQ(box, id == 1 ? e.box1 : e.box2) << e.file << " object " << id;
    }
    // Cross-check with stb, which expands the palette: colour == palette[index] everywhere.
    const Image rgb = read_image(path, 3);
    size_t mismatches = 0;
    for (size_t i = 0; i < m.index.size(); ++i)
      for (int c = 0; c < 3; ++c)
        mismatches += rgb.data[3 * i + static_cast<size_t>(c)] != m.palette[m.index[i]][static_cast<size_t>(c)];
    EXPECT_EQ(mismatches, 0u) << e.file;
  }
}

TEST(ImageIo, DavisGreyscaleAnnotations) {
  WSVIS_REQUIRE_SHARED_DATA(data);
  const int expected[] = {41790, 40939, 39876, 38834, 37746, 36793, 35862, 34878, 33845, 32916,
                          31960, 30995, 30056, 29154, 28272, 27407, 26553, 25703, 24859, 24116,
                          23361, 22574, 21749, 20986, 20299, 19610, 18992, 18358, 17728, 17136,
                          16583, 15968, 15434, 14891, 14389, 13938, 13459, 12999, 12547, 12077};
  for (int t = 0; t < 40; ++t) {
    char name[64];
    std::snprintf(name, sizeof name, "/davis_car_shadow/Annotations/%05d.png", t);
    const IndexMap m = read_index_png(data + name);
    EXPECT_TRUE(m.palette.empty());
    int fg = 0, other = 0;
    for (uint8_t v : m.index) {
      fg += v == 255;
      other += v != 0 && v != 255;
    }
    EXPECT_EQ(fg, expected[t]) << name;
    EXPECT_EQ(other, 0) << name;
    if (t == 0) {
      const Image grey = read_image(data + name, 1);
      EXPECT_EQ(grey.data, m.index);  // stb agrees on greyscale files
      int x0 = 9999, y0 = 9999, x1 = -1, y1 = -1;
      for (int y = 0; y < m.height; ++y)
        for (int x = 0; x < m.width; ++x)
          if (m.index[static_cast<size_t>(y) * m.width + x] > 127) {
            x0 = std::min(x0, x);
            y0 = std::min(y0, y);
            x1 = std::max(x1, x);
            y1 = std::max(y1, y);
          }
      EXPECT_EQ((std::array<int, 4>{x0, y0, x1, y1}), (std::array<int, 4>{313, 88, 654, 281}));
    }
  }
  // An 8-bit greyscale label map from COCO-Stuff also reads.
  const IndexMap stuff = read_index_png(data + "/coco_dummy/stuffthingmaps/val2017/000000000139.png");
  EXPECT_EQ(stuff.width, 640);
  EXPECT_EQ(stuff.height, 426);
}

// ---- round trips -------------------------------------------------------------------------------

Image pattern(int w, int h, int c) {
  Image im(w, h, c);
  for (size_t i = 0; i < im.data.size(); ++i) im.data[i] = static_cast<uint8_t>((i * 37 + i / 7) % 251);
  return im;
}

TEST(ImageIo, PngRoundTripIsAtomic) {
  ScratchDir dir;
  for (int c : {1, 3, 4}) {
    const Image im = pattern(13, 9, c);
    const std::string path = dir.file("im" + std::to_string(c) + ".png");
    write_png(path, im);
    const Image back = read_image(path, 0);
    EXPECT_EQ(back.channels, c);
    EXPECT_EQ(back.width, 13);
    EXPECT_EQ(back.data, im.data);
  }
  EXPECT_EQ(dir.list(), (std::vector<std::string>{"im1.png", "im3.png", "im4.png"}));
  // Overwrite in place.
  write_png(dir.file("im1.png"), pattern(2, 2, 1));
  EXPECT_EQ(read_image(dir.file("im1.png"), 0).width, 2);
}

TEST(ImageIo, IndexDecoderHandlesEveryFilter) {
  ScratchDir dir;
  Image im(37, 23, 1);
  for (int y = 0; y < im.height; ++y)
    for (int x = 0; x < im.width; ++x) im.at(y, x, 0) = static_cast<uint8_t>((x * x + 3 * y * x + y) % 256);
  for (int filter = 0; filter <= 4; ++filter) {
    stbi_write_force_png_filter = filter;
    const std::string path = dir.file("f" + std::to_string(filter) + ".png");
    write_png(path, im);
    EXPECT_EQ(read_index_png(path).index, im.data) << "filter " << filter;
  }
  stbi_write_force_png_filter = -1;
}

TEST(ImageIo, IndexDecoderHandlesLowBitDepths) {
  ScratchDir dir;
  // 5 x 2 pixels; values packed most significant bits first, rows padded to whole bytes.
  const std::vector<uint8_t> v1 = {1, 0, 1, 1, 0, 0, 1, 0, 0, 1};
  const std::string rows1 = std::string{0, static_cast<char>(0xb0)} + std::string{0, static_cast<char>(0x48)};
  const std::vector<uint8_t> v2 = {3, 0, 2, 1, 3, 1, 1, 2, 0, 0};
  const std::string rows2 = std::string{0, static_cast<char>(0xc9), static_cast<char>(0xc0)} +
                            std::string{0, static_cast<char>(0x58), 0};
  const std::vector<uint8_t> v4 = {15, 0, 9, 4, 1, 2, 3, 10, 11, 12};
  const std::string rows4 = std::string{0, static_cast<char>(0xf0), static_cast<char>(0x94), 0x10} +
                            std::string{0, 0x23, static_cast<char>(0xab), static_cast<char>(0xc0)};
  struct Case {
    int depth;
    const std::vector<uint8_t>* values;
    const std::string* rows;
  };
  for (const Case& c : {Case{1, &v1, &rows1}, Case{2, &v2, &rows2}, Case{4, &v4, &rows4}}) {
    const std::string pal = dir.write("p" + std::to_string(c.depth) + ".png",
                                      make_png(5, 2, c.depth, 3, 1 << c.depth, *c.rows));
    const IndexMap m = read_index_png(pal);
    EXPECT_EQ(m.index, *c.values) << "palette depth " << c.depth;
    EXPECT_EQ(m.palette.size(), static_cast<size_t>(1 << c.depth));
    const std::string grey = dir.write("g" + std::to_string(c.depth) + ".png",
                                       make_png(5, 2, c.depth, 0, 0, *c.rows));
    EXPECT_EQ(read_index_png(grey).index, *c.values) << "grey depth " << c.depth;
  }
}

TEST(ImageIo, IndexPngRoundTrip) {
  ScratchDir dir;
  IndexMap m;
  m.width = 31;
  m.height = 17;
  for (int i = 0; i < m.width * m.height; ++i) m.index.push_back(static_cast<uint8_t>((i / 40) % 4 == 3 ? 255 : (i / 40) % 4));
  write_index_png(dir.file("davis.png"), m);  // empty palette: the DAVIS one
  const IndexMap back = read_index_png(dir.file("davis.png"));
  EXPECT_EQ(back.index, m.index);
  EXPECT_EQ(back.palette, davis_palette());
  EXPECT_EQ(davis_palette()[255], (std::array<uint8_t, 3>{224, 224, 192}));
  const Image rgb = read_image(dir.file("davis.png"));
  for (size_t i = 0; i < m.index.size(); ++i)
    ASSERT_EQ(rgb.data[3 * i], davis_palette()[m.index[i]][0]) << "pixel " << i;
  EXPECT_EQ(dir.list(), (std::vector<std::string>{"davis.png"}));
  // A short custom palette.
  IndexMap small{2, 1, {0, 1}, {{{1, 2, 3}}, {{4, 5, 6}}}};
  write_index_png(dir.file("small.png"), small);
  EXPECT_EQ(read_index_png(dir.file("small.png")).palette, small.palette);
  IndexMap outside{2, 1, {0, 2}, {{{1, 2, 3}}, {{4, 5, 6}}}};
  EXPECT_THROW(write_index_png(dir.file("bad.png"), outside), Error);
}

// ---- bad files ----------------------------------------------------------------------------------

TEST(ImageIoErrors, MissingFile) {
  EXPECT_INPUT_ERROR(read_image("/no/such/frame.jpg"), "/no/such/frame.jpg", "cannot open");
  EXPECT_INPUT_ERROR(read_index_png("/no/such/mask.png"), "/no/such/mask.png", "cannot open");
  EXPECT_INPUT_ERROR(image_info("/no/such/frame.jpg"), "/no/such/frame.jpg", "cannot open");
}

TEST(ImageIoErrors, EmptyAndGarbageFiles) {
  ScratchDir dir;
  const std::string empty = dir.write("empty.jpg", "");
  EXPECT_INPUT_ERROR(read_image(empty), empty, "the file is empty");
  const std::string junk = dir.write("junk.jpg", "this is not an image at all");
  EXPECT_INPUT_ERROR(read_image(junk), junk, "cannot decode image: ");
  EXPECT_INPUT_ERROR(image_info(junk), junk, "cannot read image header");
  EXPECT_INPUT_ERROR(read_index_png(junk), junk, "not a PNG file");
}

TEST(ImageIoErrors, TruncatedFiles) {
  WSVIS_REQUIRE_SHARED_DATA(data);
  ScratchDir dir;
  const std::string jpg = testing::read_all(data + "/coco_dummy/val2017/000000000139.jpg");
  const std::string cut_jpg = dir.write("cut.jpg", jpg.substr(0, 300));
  EXPECT_INPUT_ERROR(read_image(cut_jpg), cut_jpg, "cannot decode image");
  const std::string png = testing::read_all(data + "/davis2017_tennis/Annotations/00000.png");
  const std::string cut_png = dir.write("cut.png", png.substr(0, png.size() / 2));
  EXPECT_INPUT_ERROR(read_image(cut_png), cut_png, "cannot decode image");
  EXPECT_INPUT_ERROR(read_index_png(cut_png), cut_png, "truncated PNG");
}

TEST(ImageIoErrors, CorruptPngChunks) {
  WSVIS_REQUIRE_SHARED_DATA(data);
  ScratchDir dir;
  std::string png = testing::read_all(data + "/davis2017_tennis/Annotations/00000.png");
  const size_t idat = png.find("IDAT");
  ASSERT_NE(idat, std::string::npos);
  png[idat + 20] = static_cast<char>(png[idat + 20] ^ 0x55);
  const std::string p = dir.write("crc.png", png);
  EXPECT_INPUT_ERROR(read_index_png(p), p, "CRC mismatch in chunk IDAT");
  // A valid CRC over data that does not inflate.
  const std::string q = dir.write("zlib.png", make_png(4, 4, 8, 0, 0, ""));
  std::string bad = "\x89PNG\r\n\x1a\n";
  std::string ihdr;
  be32(ihdr, 4);
  be32(ihdr, 4);
  ihdr += std::string{8, 0, 0, 0, 0};
  bad += chunk("IHDR", ihdr) + chunk("IDAT", "\x78\x01garbage-deflate") + chunk("IEND", "");
  const std::string r = dir.write("inflate.png", bad);
  EXPECT_INPUT_ERROR(read_index_png(r), r, "corrupt PNG: image data does not inflate");
  EXPECT_INPUT_ERROR(read_index_png(q), q, "truncated PNG: image data inflates to");
}

TEST(ImageIoErrors, NotAnIndexMap) {
  ScratchDir dir;
  write_png(dir.file("rgb.png"), pattern(4, 4, 3));
  EXPECT_INPUT_ERROR(read_index_png(dir.file("rgb.png")), dir.file("rgb.png"),
                     "not an index map: PNG colour type 2");
  const std::string rows(2 * 5, '\0');
  const std::string inter = dir.write("interlaced.png", make_png(4, 2, 8, 0, 0, rows, 1));
  EXPECT_INPUT_ERROR(read_index_png(inter), inter, "interlaced");
  const std::string d16 = dir.write("d16.png", make_png(2, 2, 16, 0, 0, std::string(2 * 5, '\0')));
  EXPECT_INPUT_ERROR(read_index_png(d16), d16, "bit depth 16");
  const std::string nopal = dir.write("nopal.png", make_png(2, 1, 8, 3, 0, std::string(3, '\0')));
  EXPECT_INPUT_ERROR(read_index_png(nopal), nopal, "paletted image without PLTE");
  const std::string beyond = dir.write("beyond.png", make_png(2, 1, 8, 3, 2, std::string{0, 1, 5}));
  EXPECT_INPUT_ERROR(read_index_png(beyond), beyond, "pixel (x=1, y=0) has index 5 but the palette has 2 entries");
  const std::string filt = dir.write("filter.png", make_png(2, 1, 8, 0, 0, std::string{7, 1, 2}));
  EXPECT_INPUT_ERROR(read_index_png(filt), filt, "unknown filter type 7 on row 0");
}

TEST(ImageIoErrors, WriteFailures) {
  ScratchDir dir;
  EXPECT_INPUT_ERROR(write_png(dir.file("no/dir/a.png"), pattern(2, 2, 3)), dir.file("no/dir/a.png"),
                     "cannot write");
  Image broken = pattern(2, 2, 3);
  broken.data.pop_back();
  EXPECT_THROW(write_png(dir.file("b.png"), broken), Error);
  EXPECT_TRUE(dir.list().empty());
}

}  // namespace
}  // namespace wsvis::data
