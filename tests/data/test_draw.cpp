// Drawing (data/draw.h, data/font.h) and `wsvis draw`: the palette, the documented blend at
// known pixels, box outlines on exact pixels, contours, glyphs and labels (ink inside the label,
// label inside the image), resizing, strips, the YTVIS / results instance views, flow PNGs,
// and the command end to end on a synthetic set, with its errors.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <set>

#include "data/draw.h"
#include "data/file_util.h"
#include "data/flow_color.h"
#include "data/font.h"
#include "data/synth.h"
#include "data/ytvis.h"
#include "engine/error.h"
#include "tests/data/data_paths.h"

namespace wsvis::data {
namespace {

using testing::ScratchDir;

Image uniform(int w, int h, Rgb c, int channels = 3) {
  Image im(w, h, channels);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int k = 0; k < channels; ++k) im.at(y, x, k) = k < 3 ? c[static_cast<size_t>(k)] : 77;
  return im;
}

Rgb pixel(const Image& im, int x, int y) { return {im.at(y, x, 0), im.at(y, x, 1), im.at(y, x, 2)}; }

std::vector<uint8_t> rect_mask(int w, int h, int x0, int y0, int x1, int y1) {
  std::vector<uint8_t> m(static_cast<size_t>(w) * h, 0);
  for (int y = y0; y <= y1; ++y)
    for (int x = x0; x <= x1; ++x) m[static_cast<size_t>(y) * w + x] = 1;
  return m;
}

// ---- palette and blending -----------------------------------------------------------------
TEST(Draw, PaletteIsFixedAndDistinct) {
  const auto& p = track_palette();
  std::set<Rgb> distinct(p.begin(), p.end());
  EXPECT_EQ(distinct.size(), static_cast<size_t>(kTrackPaletteSize));
  EXPECT_EQ(track_color(1), p[0]);
  EXPECT_EQ(track_color(20), p[19]);
  EXPECT_EQ(track_color(21), p[0]);
  EXPECT_EQ(track_color(0), p[19]);
  EXPECT_EQ(track_color(-1), p[18]);
  EXPECT_EQ(track_color(1), (Rgb{255, 56, 56}));  // the documented first entry
}

TEST(Draw, MaskFillBlendsAsDocumented) {
  // Hand-computed from out = (p (255 - a) + c a + 127) / 255 (integer division).
  EXPECT_EQ(blend_channel(100, 255, 115), 170);  // 43452 / 255 = 170.4
  EXPECT_EQ(blend_channel(0, 255, 128), 128);    // 32767 / 255 = 128.5
  EXPECT_EQ(blend_channel(200, 56, 115), 135);   // 34567 / 255 = 135.6
  EXPECT_EQ(blend_channel(255, 0, 255), 0);
  EXPECT_EQ(blend_channel(7, 200, 0), 7);

  // Two overlapping masks on a (100, 150, 200) RGBA image, track 1 red then track 2 blue.
  const int w = 10, h = 8;
  Image im = uniform(w, h, {100, 150, 200}, 4);
  const auto m1 = rect_mask(w, h, 1, 1, 5, 5), m2 = rect_mask(w, h, 4, 4, 8, 6);
  fill_mask(im, m1, track_color(1), 115);
  fill_mask(im, m2, track_color(2), 115);
  EXPECT_EQ(pixel(im, 2, 2), (Rgb{170, 108, 135}));  // red over the background
  EXPECT_EQ(pixel(im, 7, 5), (Rgb{80, 146, 225}));   // blue over the background
  EXPECT_EQ(pixel(im, 4, 4), (Rgb{119, 123, 189}));  // blue over red (later on top)
  EXPECT_EQ(pixel(im, 0, 0), (Rgb{100, 150, 200}));  // outside both: untouched
  EXPECT_EQ(pixel(im, 9, 7), (Rgb{100, 150, 200}));
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) EXPECT_EQ(im.at(y, x, 3), 77) << "alpha changed at " << x << "," << y;
}

// ---- boxes and contours -------------------------------------------------------------------
// Every pixel of the image: painted iff on the t-pixel ring of the inclusive rectangle.
void expect_ring(const Image& im, const PixelRect& r, int t, Rgb ink, Rgb bg) {
  for (int y = 0; y < im.height; ++y)
    for (int x = 0; x < im.width; ++x) {
      const bool in = x >= r.x0 && x <= r.x1 && y >= r.y0 && y <= r.y1;
      const bool ring = in && (x < r.x0 + t || x > r.x1 - t || y < r.y0 + t || y > r.y1 - t);
      EXPECT_EQ(pixel(im, x, y), ring ? ink : bg) << "pixel " << x << "," << y;
    }
}

TEST(Draw, BoxOutlineLandsOnExactPixels) {
  const Rgb bg{10, 20, 30}, ink{250, 240, 230};
  Image im = uniform(12, 10, bg);
  draw_box(im, {3, 2, 5, 4}, ink, 1);  // columns 3..7, rows 2..5
  EXPECT_TRUE(box_pixels({3, 2, 5, 4}) == (PixelRect{3, 2, 7, 5}));
  expect_ring(im, {3, 2, 7, 5}, 1, ink, bg);

  im = uniform(12, 10, bg);
  draw_box(im, {2.5, 1.2, 3.0, 3.0}, ink, 2);  // fractional: columns 2..5, rows 1..4
  EXPECT_TRUE(box_pixels({2.5, 1.2, 3.0, 3.0}) == (PixelRect{2, 1, 5, 4}));
  expect_ring(im, {2, 1, 5, 4}, 2, ink, bg);

  // The box of a mask (rle_to_bbox) outlines the mask's extreme pixels.
  const auto m = rect_mask(12, 10, 4, 3, 9, 8);
  const BoxXywh b = rle_to_bbox(rle_encode(m, 10, 12));
  EXPECT_TRUE(box_pixels(b) == mask_extent(m, 10, 12));
  EXPECT_TRUE(mask_extent(m, 10, 12) == (PixelRect{4, 3, 9, 8}));

  // Clipped at the image border; empty boxes draw nothing.
  im = uniform(12, 10, bg);
  draw_box(im, {-3, -2, 20, 8}, ink, 1);  // columns -3..16 (clipped to 0..11), rows -2..5
  for (int x = 0; x < 12; ++x) EXPECT_EQ(pixel(im, x, 5), ink);
  for (int y = 0; y < 5; ++y) {
    EXPECT_EQ(pixel(im, 0, y), bg);  // the left and right edges are off-image
    EXPECT_EQ(pixel(im, 11, y), bg);
  }
  EXPECT_EQ(pixel(im, 5, 0), bg);
  Image before = uniform(12, 10, bg);
  im = before;
  draw_box(im, {3, 3, 0, 5}, ink, 1);
  EXPECT_EQ(im.data, before.data);
}

TEST(Draw, ContourIsTheMasksInnerBoundary) {
  const Rgb bg{0, 0, 0}, ink{1, 2, 3};
  const int w = 14, h = 12;
  Image im = uniform(w, h, bg);
  draw_mask_contour(im, rect_mask(w, h, 3, 2, 9, 8), ink, 1);
  expect_ring(im, {3, 2, 9, 8}, 1, ink, bg);
  im = uniform(w, h, bg);
  draw_mask_contour(im, rect_mask(w, h, 3, 2, 9, 8), ink, 2);
  expect_ring(im, {3, 2, 9, 8}, 2, ink, bg);
  // A mask that fills the image: its contour is the image's outermost ring.
  im = uniform(w, h, bg);
  draw_mask_contour(im, rect_mask(w, h, 0, 0, w - 1, h - 1), ink, 1);
  expect_ring(im, {0, 0, w - 1, h - 1}, 1, ink, bg);
  // A diagonal neighbour outside counts (Chebyshev distance 1): an L-shaped mask's inner corner.
  std::vector<uint8_t> l = rect_mask(w, h, 2, 2, 8, 8);
  for (int y = 2; y <= 5; ++y)
    for (int x = 6; x <= 8; ++x) l[static_cast<size_t>(y) * w + x] = 0;
  im = uniform(w, h, bg);
  draw_mask_contour(im, l, ink, 1);
  EXPECT_EQ(pixel(im, 5, 6), ink);  // touches (6, 5) diagonally
  EXPECT_EQ(pixel(im, 4, 4), bg);   // interior
  EXPECT_EQ(pixel(im, 5, 5), ink);
}

// ---- font, text and labels ----------------------------------------------------------------
TEST(Font, GlyphsAreDistinctAndInked) {
  std::set<Glyph> seen;
  for (int c = 32; c <= 126; ++c) {
    const Glyph& g = font_glyph(static_cast<char>(c));
    int ink = 0;
    for (int y = 0; y < kGlyphHeight; ++y) {
      EXPECT_EQ(g[static_cast<size_t>(y)] >> kGlyphWidth, 0) << "glyph " << char(c);
      for (int x = 0; x < kGlyphWidth; ++x) ink += glyph_pixel(g, x, y);
    }
    if (c == ' ') EXPECT_EQ(ink, 0);
    else EXPECT_GT(ink, 0) << "glyph '" << char(c) << "' is empty";
    EXPECT_TRUE(seen.insert(g).second) << "glyph '" << char(c) << "' duplicates another";
  }
  // Bytes outside 32..126 share the hollow box, which is none of the printable glyphs.
  EXPECT_EQ(font_glyph('\n'), font_glyph(static_cast<char>(0xC3)));
  EXPECT_EQ(seen.count(font_glyph('\t')), 0u);
  // Capitals sit on row 6 and leave the descender row empty; 'g' descends into it.
  EXPECT_EQ(font_glyph('E')[7], 0);
  EXPECT_EQ(font_glyph('E')[6], 0x1F);
  EXPECT_NE(font_glyph('g')[7], 0);
  EXPECT_TRUE((text_extent("car", 1) == std::array<int, 2>{17, 8}));
  EXPECT_TRUE((text_extent("car", 3) == std::array<int, 2>{51, 24}));
  EXPECT_TRUE((text_extent("", 2) == std::array<int, 2>{0, 0}));
}

TEST(Draw, TextInkFollowsTheGlyphs) {
  const Rgb bg{200, 200, 200}, ink{0, 0, 255};
  for (int scale : {1, 2}) {
    Image im = uniform(40, 30, bg);
    draw_text(im, 3, 4, "Ab", ink, scale);
    for (int y = 0; y < im.height; ++y)
      for (int x = 0; x < im.width; ++x) {
        bool expect = false;
        const int gy = (y - 4) / scale;
        if (y >= 4 && gy < kGlyphHeight)
          for (int i = 0; i < 2; ++i) {
            const int gx0 = 3 + i * kGlyphAdvance * scale;
            if (x >= gx0 && x < gx0 + kGlyphWidth * scale)
              expect = glyph_pixel(font_glyph("Ab"[i]), (x - gx0) / scale, gy);
          }
        EXPECT_EQ(pixel(im, x, y), expect ? ink : bg) << "scale " << scale << " pixel " << x << "," << y;
      }
  }
}

// The label's rectangle, the margin ring of background and the ink inside it.
void check_label(const Image& before, const Image& im, const PixelRect& r, const std::string& text,
                 int scale, Rgb background) {
  const auto ext = text_extent(text, scale);
  EXPECT_EQ(r.width(), ext[0] + 2 * scale);
  EXPECT_EQ(r.height(), ext[1] + 2 * scale);
  EXPECT_GE(r.x0, 0);
  EXPECT_GE(r.y0, 0);
  EXPECT_LT(r.x1, im.width);  // the label fits in the image
  EXPECT_LT(r.y1, im.height);
  const Rgb ink = text_color_on(background);
  int inked = 0;
  for (int y = 0; y < im.height; ++y)
    for (int x = 0; x < im.width; ++x) {
      const bool in_rect = x >= r.x0 && x <= r.x1 && y >= r.y0 && y <= r.y1;
      const bool in_text = x >= r.x0 + scale && x <= r.x1 - scale && y >= r.y0 + scale &&
                           y <= r.y1 - scale;
      const Rgb p = pixel(im, x, y);
      if (!in_rect) EXPECT_EQ(p, pixel(before, x, y)) << "outside the label at " << x << "," << y;
      else if (!in_text) EXPECT_EQ(p, background) << "margin at " << x << "," << y;
      else {
        EXPECT_TRUE(p == background || p == ink) << x << "," << y;
        inked += p == ink;
      }
    }
  EXPECT_GT(inked, 0);
}

TEST(Draw, LabelsHoldTheirInkAndFitTheImage) {
  const Rgb bg{90, 90, 90};
  const Image before = uniform(64, 40, bg);
  // Room above the box: the label's bottom row is just above the anchor row.
  Image im = before;
  PixelRect r = draw_label(im, "box 0.87", 10, 20, track_color(2), 1);
  EXPECT_EQ(r.y1, 19);
  EXPECT_EQ(r.x0, 10);
  check_label(before, im, r, "box 0.87", 1, track_color(2));
  // No room above: inside the top of the box.
  im = before;
  r = draw_label(im, "star", 5, 4, track_color(4), 2);
  EXPECT_EQ(r.y0, 4);
  check_label(before, im, r, "star", 2, track_color(4));
  // Near the right edge: shifted left to fit.
  im = before;
  r = draw_label(im, "ellipse", 60, 30, track_color(1), 1);
  EXPECT_EQ(r.x1, 63);
  check_label(before, im, r, "ellipse", 1, track_color(1));
  // Text colour by luma: black on yellow, white on blue.
  EXPECT_EQ(text_color_on({255, 200, 30}), (Rgb{0, 0, 0}));
  EXPECT_EQ(text_color_on({0, 110, 140}), (Rgb{255, 255, 255}));
  EXPECT_EQ(text_color_on({56, 142, 255}), (Rgb{0, 0, 0}));  // luma 129.2
  EXPECT_EQ(instance_label("car", 0.8749), "car 0.87");
  EXPECT_EQ(instance_label("car"), "car");
}

TEST(Draw, InstancesDrawFillsThenLinesThenLabels) {
  const int w = 48, h = 40;
  const Image before = uniform(w, h, {100, 150, 200});
  Image im = before;
  DrawInstance a;
  a.track_id = 1;
  a.mask = rect_mask(w, h, 10, 15, 30, 30);
  a.box = BoxXywh{10, 15, 21, 16};
  a.label = "ab";
  DrawInstance b;  // overlaps a, drawn later: its fill must not cover a's outline
  b.track_id = 2;
  b.mask = rect_mask(w, h, 20, 20, 40, 35);
  draw_instances(im, {a, b});
  EXPECT_EQ(pixel(im, 10, 20), track_color(1));       // a's box / contour
  EXPECT_EQ(pixel(im, 30, 25), track_color(1));       // a's right edge, inside b's fill
  EXPECT_EQ(pixel(im, 25, 35), track_color(2));       // b's contour (bottom row)
  EXPECT_EQ(pixel(im, 25, 33), (Rgb{80, 146, 225}));  // b's fill over the background
  EXPECT_EQ(pixel(im, 15, 20), (Rgb{170, 108, 135})); // a's fill only
  EXPECT_EQ(pixel(im, 35, 27), (Rgb{80, 146, 225}));  // b's fill only
  EXPECT_EQ(pixel(im, 2, 2), (Rgb{100, 150, 200}));
  // a's label above its box: rows 15 - 10 .. 14, columns 10 ..
  const PixelRect lr = label_rect("ab", 10, 15, w, h, 1);
  EXPECT_TRUE(lr == (PixelRect{10, 5, 10 + 11 + 2 - 1, 14}));
  EXPECT_EQ(pixel(im, lr.x0, lr.y0), track_color(1));
  // Style switches: nothing drawn with everything off.
  im = before;
  DrawStyle off;
  off.mask_alpha = 0;
  off.contour_thickness = off.box_thickness = off.text_scale = 0;
  draw_instances(im, {a, b}, off);
  EXPECT_EQ(im.data, before.data);
}

// ---- resizing and strips ------------------------------------------------------------------
TEST(Draw, ResizeAreaAveragesAndMasksSampleNearest) {
  Image im(4, 2, 1);
  const uint8_t v[8] = {0, 10, 50, 50, 20, 30, 50, 51};
  std::copy(v, v + 8, im.data.begin());
  const Image half = resize_area(im, 2, 1);
  EXPECT_EQ(half.data[0], 15);  // (0 + 10 + 20 + 30) / 4
  EXPECT_EQ(half.data[1], 50);  // 50.25
  const Image third = resize_area(uniform(9, 6, {1, 2, 3}), 3, 2);
  for (int y = 0; y < 2; ++y)
    for (int x = 0; x < 3; ++x) EXPECT_EQ(pixel(third, x, y), (Rgb{1, 2, 3}));
  // 3 -> 2 columns: output 0 covers [0, 1.5): (2/3) * a + (1/3) * b.
  Image row(3, 1, 1);
  row.data = {30, 90, 0};
  EXPECT_EQ(resize_area(row, 2, 1).data[0], 50);
  const auto m = rect_mask(8, 8, 4, 0, 7, 7);
  const auto m2 = resize_mask_nearest(m, 8, 8, 4, 2);
  EXPECT_EQ(m2, (std::vector<uint8_t>{0, 1, 0, 1, 0, 1, 0, 1}));
}

TEST(Draw, StripHasTheDocumentedSize) {
  EXPECT_EQ(strip_frame_indices(10, 4), (std::vector<int>{0, 3, 6, 9}));
  EXPECT_EQ(strip_frame_indices(5, 8), (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_EQ(strip_frame_indices(7, 1), (std::vector<int>{0}));
  EXPECT_TRUE(strip_frame_indices(0, 3).empty());
  EXPECT_TRUE(strip_frame_indices(5, 0).empty());

  std::vector<Image> frames(3, uniform(40, 30, {100, 150, 200}));
  std::vector<std::vector<DrawInstance>> inst(3);
  DrawInstance a;
  a.track_id = 2;
  a.mask = rect_mask(40, 30, 0, 0, 19, 29);  // the left half
  inst[1].push_back(a);
  StripOptions so;
  so.height = 15;
  const Image s = draw_strip(frames, inst, so);
  EXPECT_EQ(s.width, 3 * 20 + 2 * 2);
  EXPECT_EQ(s.height, 15);
  EXPECT_EQ(s.channels, 3);
  EXPECT_EQ(pixel(s, 20, 7), (Rgb{255, 255, 255}));   // the gap
  EXPECT_EQ(pixel(s, 5, 7), (Rgb{100, 150, 200}));    // frame 0: no instance
  EXPECT_EQ(pixel(s, 22 + 5, 7), (Rgb{80, 146, 225})); // frame 1: blue fill, left half
  EXPECT_EQ(pixel(s, 22 + 15, 7), (Rgb{100, 150, 200}));
  EXPECT_EQ(pixel(s, 22 + 9, 7), track_color(2));      // the scaled mask's contour (column 9)
  so.height = 16;
  std::vector<Image> wide(3, uniform(50, 30, {1, 1, 1}));
  const Image s2 = draw_strip(wide, std::vector<std::vector<DrawInstance>>(3), so);
  EXPECT_EQ(s2.width, 3 * 27 + 2 * 2);  // round(50 * 16 / 30) = round(26.67)
  EXPECT_EQ(s2.height, 16);
}

TEST(Draw, VconcatStacksLeftAligned) {
  const Image s = vconcat({uniform(4, 3, {10, 20, 30}), uniform(6, 2, {40, 50, 60})}, 1, {0, 0, 255});
  EXPECT_EQ(s.width, 6);
  EXPECT_EQ(s.height, 3 + 1 + 2);
  EXPECT_EQ(pixel(s, 0, 0), (Rgb{10, 20, 30}));
  EXPECT_EQ(pixel(s, 5, 0), (Rgb{0, 0, 255}));  // right of the narrower image
  EXPECT_EQ(pixel(s, 2, 3), (Rgb{0, 0, 255}));  // the gap row
  EXPECT_EQ(pixel(s, 5, 5), (Rgb{40, 50, 60}));
  EXPECT_THROW(vconcat({uniform(2, 2, {0, 0, 0}), Image(2, 2, 1)}), Error);
}

// ---- instance views of YTVIS files ---------------------------------------------------------
YtvisDataset tiny_dataset() {
  YtvisDataset ds;
  YtvisVideo v;
  v.id = 7;
  v.width = 12;
  v.height = 10;
  v.length = 2;
  v.file_names = {"vid/00000.jpg", "vid/00005.jpg"};
  ds.videos.push_back(v);
  ds.categories = {{1, "person", ""}, {2, "dog", ""}};
  for (int k = 0; k < 2; ++k) {
    YtvisAnnotation a;
    a.id = 100 + k;
    a.video_id = 7;
    a.category_id = k + 1;
    const Rle rle = rle_encode(rect_mask(12, 10, 2 + 4 * k, 2, 4 + 4 * k, 6), 10, 12);
    a.segmentations = {Segmentation::from_rle(rle), std::nullopt};
    a.bboxes = {rle_to_bbox(rle), std::nullopt};
    a.areas = {static_cast<double>(rle_area(rle)), std::nullopt};
    if (k == 1) {  // the dog is present in both frames
      a.segmentations[1] = Segmentation::from_rle(rle);
      a.bboxes[1] = rle_to_bbox(rle);
      a.areas[1] = a.areas[0];
    }
    ds.annotations.push_back(a);
  }
  ds.reindex();
  return ds;
}

TEST(Draw, YtvisAndResultInstances) {
  const YtvisDataset ds = tiny_dataset();
  auto f0 = ytvis_frame_instances(ds, 0, 0), f1 = ytvis_frame_instances(ds, 0, 1);
  ASSERT_EQ(f0.size(), 2u);
  ASSERT_EQ(f1.size(), 1u);
  EXPECT_EQ(f0[0].label, "person");
  EXPECT_EQ(f0[1].track_id, 2);
  EXPECT_EQ(f1[0].track_id, 2);  // the dog keeps its colour
  EXPECT_EQ(f1[0].label, "dog");
  ASSERT_TRUE(f0[0].box.has_value());
  EXPECT_TRUE(box_pixels(*f0[0].box) == (PixelRect{2, 2, 4, 6}));
  EXPECT_EQ(f0[0].mask, rect_mask(12, 10, 2, 2, 4, 6));

  std::vector<YtvisResult> res(3);
  for (int k = 0; k < 3; ++k) {
    res[static_cast<size_t>(k)].video_id = 7;
    res[static_cast<size_t>(k)].category_id = k == 2 ? 9 : 1;
    res[static_cast<size_t>(k)].segmentations = {rle_encode(rect_mask(12, 10, k, k, k + 3, k + 3), 10, 12),
                                                 std::nullopt};
  }
  res[0].score = 0.4;
  res[1].score = 0.95;
  res[2].score = 0.6;
  const auto r = result_frame_instances(res, ds.categories, 7, 0, 0.5);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].label, "person 0.95");
  EXPECT_EQ(r[0].track_id, 1);
  EXPECT_EQ(r[1].label, "category 9 0.60");
  EXPECT_EQ(r[1].track_id, 2);
  EXPECT_TRUE(box_pixels(*r[0].box) == (PixelRect{1, 1, 4, 4}));
  EXPECT_TRUE(result_frame_instances(res, ds.categories, 7, 1, 0.5).empty());
  EXPECT_TRUE(result_frame_instances(res, ds.categories, 8, 0, 0.0).empty());
}

TEST(Draw, CocoResultInstances) {
  const YtvisDataset ds = tiny_dataset();
  std::vector<CocoResult> res(3);
  for (int k = 0; k < 3; ++k) {
    res[size_t(k)].image_id = k == 0 ? 5 : 4;
    res[size_t(k)].category_id = 2;
    res[size_t(k)].score = 0.5 + 0.1 * k;
    res[size_t(k)].segmentation = rle_encode(rect_mask(12, 10, k, 0, k + 2, 3), 10, 12);
  }
  res[1].bbox = BoxXywh{0, 0, 5, 5};  // a predicted box is drawn as given
  const auto r = coco_frame_instances(res, ds.categories, 4, 0.55);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].label, "dog 0.70");
  EXPECT_EQ(r[0].mask, rect_mask(12, 10, 2, 0, 4, 3));
  EXPECT_TRUE(box_pixels(*r[0].box) == (PixelRect{2, 0, 4, 3}));  // the mask's box
  EXPECT_EQ(r[1].track_id, 2);
  EXPECT_TRUE(box_pixels(*r[1].box) == (PixelRect{0, 0, 4, 4}));
  EXPECT_TRUE(coco_frame_instances(res, ds.categories, 6, 0.0).empty());
}

TEST(Draw, FlowPngIsTheColourWheelImage) {
  ScratchDir dir;
  Flow f(6, 4);
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 6; ++x) {
      f.u(x, y) = static_cast<float>(x - 2.5);
      f.v(x, y) = static_cast<float>(y - 1.5);
    }
  write_flow_png(dir.file("f.png"), f);
  const Image png = read_image(dir.file("f.png"), 3);
  EXPECT_EQ(png.data, flow_to_color(f).data);
  EXPECT_EQ(dir.list(), std::vector<std::string>{"f.png"});
}

TEST(DrawErrors, BadBuffersThrow) {
  Image im = uniform(8, 6, {0, 0, 0});
  EXPECT_THROW(fill_mask(im, std::vector<uint8_t>(47, 1), {1, 2, 3}, 100), Error);
  EXPECT_THROW(fill_mask(im, std::vector<uint8_t>(48, 1), {1, 2, 3}, 300), Error);
  EXPECT_THROW(draw_mask_contour(im, std::vector<uint8_t>(10, 1), {1, 2, 3}), Error);
  Image grey(8, 6, 1);
  EXPECT_THROW(draw_box(grey, {1, 1, 3, 3}, {1, 2, 3}), Error);
  EXPECT_THROW(draw_text(im, 0, 0, "x", {1, 2, 3}, 0), Error);
  EXPECT_THROW(hconcat({uniform(2, 2, {0, 0, 0}), Image(2, 2, 1)}), Error);
  EXPECT_THROW(draw_strip({im}, {}, {}), Error);
  DrawInstance bad;
  bad.mask.assign(5, 1);
  EXPECT_THROW(draw_instances(im, {bad}), Error);
  EXPECT_THROW(ytvis_frame_instances(tiny_dataset(), 0, 2), Error);
  EXPECT_INPUT_ERROR(write_flow_png("/nonexistent_dir/f.png", Flow(2, 2)), "/nonexistent_dir/f.png");
}

// ---- `wsvis draw` end to end ---------------------------------------------------------------
class DrawCli : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe");
    wsvis_ = (self.parent_path().parent_path() / "apps" / "wsvis").string();
    if (!file_exists(wsvis_)) GTEST_SKIP() << wsvis_ << " not built (target wsvis_cli)";
    SynthConfig c;
    c.videos = 2;
    c.frames = 4;
    c.width = 80;
    c.height = 64;
    c.seed = 11;
    c.min_instances = 2;
    c.max_instances = 3;
    write_synth_dataset(c, set_.path());
  }
  int run(const std::string& args) {
    const int status = std::system((wsvis_ + " draw " + args + " > " + out_.file("stdout") +
                                    " 2> " + out_.file("stderr"))
                                       .c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  std::string err() { return testing::read_all(out_.file("stderr")); }
  std::string gt() { return set_.file("train.json"); }
  std::string frames() { return set_.file("JPEGImages"); }

  std::string wsvis_;
  ScratchDir set_, out_;
};

TEST_F(DrawCli, GroundTruthOverlaysStripsAndFlow) {
  ASSERT_EQ(run("--gt " + gt() + " --frames " + frames() + " --out " + out_.file("v") +
                " --strip 3 --strip-height 32 --flow " + set_.file("flow")),
            0)
      << err();
  const YtvisDataset ds = read_ytvis(gt());
  for (size_t vi = 0; vi < ds.videos.size(); ++vi) {
    const std::string name = "synth000" + std::to_string(vi + 1);
    for (int t = 0; t < 4; ++t) {
      const std::string stem = "0000" + std::to_string(t);
      // The command's PNG equals drawing the file's instances on the frame here.
      Image expect = read_image(frames() + "/" + name + "/" + stem + ".png");
      draw_instances(expect, ytvis_frame_instances(ds, vi, t));
      const Image got = read_image(out_.file("v/" + name + "/" + stem + ".png"));
      EXPECT_EQ(got.data, expect.data) << name << " frame " << t;
      EXPECT_EQ(file_exists(out_.file("v/" + name + "/" + stem + "_flow.png")), t < 3);
    }
    const Image strip = read_image(out_.file("v/" + name + "_strip.png"));
    EXPECT_EQ(strip.width, 3 * 40 + 2 * 2);  // 80x64 frames at height 32, gap 2
    EXPECT_EQ(strip.height, 32);
  }
  EXPECT_NE(testing::read_all(out_.file("stdout")).find("2 video(s), 8 frame(s)"), std::string::npos);
}

TEST_F(DrawCli, PredictionsAboveTheThreshold) {
  const YtvisDataset ds = read_ytvis(gt());
  std::vector<YtvisResult> results;
  const double scores[] = {0.9, 0.4, 0.3};  // only the first passes --score-thr 0.5
  size_t k = 0;
  for (const YtvisAnnotation& a : ds.annotations) {
    if (a.video_id != ds.videos[1].id) continue;
    YtvisResult r;
    r.video_id = a.video_id;
    r.category_id = a.category_id;
    r.score = scores[std::min<size_t>(k++, 2)];
    for (const auto& s : a.segmentations)
      r.segmentations.push_back(s ? std::optional<Rle>(s->to_rle(64, 80)) : std::nullopt);
    results.push_back(r);
  }
  ASSERT_GE(results.size(), 2u);
  write_ytvis_results(results, out_.file("results.json"));
  ASSERT_EQ(run("--gt " + gt() + " --frames " + frames() + " --results " + out_.file("results.json") +
                " --video " + std::to_string(ds.videos[1].id) + " --out " + out_.file("p") +
                " --strip 0"),
            0)
      << err();
  const auto back = read_ytvis_results(out_.file("results.json"), &ds);
  size_t drawn = 0;
  for (int t = 0; t < 4; ++t) {
    const auto inst = result_frame_instances(back, ds.categories, ds.videos[1].id, t, 0.5);
    EXPECT_LE(inst.size(), 1u);
    drawn += inst.size();
    if (!inst.empty()) {
      EXPECT_NE(inst[0].label.find(" 0.90"), std::string::npos) << inst[0].label;
    }
    Image expect = read_image(frames() + "/synth0002/0000" + std::to_string(t) + ".png");
    draw_instances(expect, inst);
    EXPECT_EQ(read_image(out_.file("p/synth0002/0000" + std::to_string(t) + ".png")).data, expect.data);
  }
  EXPECT_GT(drawn, 0u);
  EXPECT_FALSE(std::filesystem::exists(out_.file("p/synth0001")));
  EXPECT_FALSE(std::filesystem::exists(out_.file("p/synth0002_strip.png")));
}

TEST_F(DrawCli, BadInputExitsWithStatus2NamingTheFile) {
  const std::string base = "--gt " + gt() + " --frames " + frames() + " --out " + out_.file("e");
  EXPECT_EQ(run("--frames " + frames()), 2);
  EXPECT_NE(err().find("--gt"), std::string::npos) << err();
  EXPECT_EQ(run(base + " --strip many"), 2);
  EXPECT_NE(err().find("--strip"), std::string::npos) << err();
  EXPECT_EQ(run(base + " --bogus"), 2);
  EXPECT_NE(err().find("--bogus"), std::string::npos) << err();
  EXPECT_EQ(run(base + " --video 999"), 2);
  EXPECT_NE(err().find("999"), std::string::npos) << err();
  const std::string bad_json = out_.write("bad.json", "{\"videos\": [");
  EXPECT_EQ(run("--gt " + bad_json + " --frames " + frames()), 2);
  EXPECT_NE(err().find(bad_json), std::string::npos) << err();
  EXPECT_EQ(run(base + " --results " + out_.file("missing.json")), 2);
  EXPECT_NE(err().find("missing.json"), std::string::npos) << err();

  // A flow file of the wrong size.
  const std::string flo = set_.file("flow/synth0001/00001_fw.flo");
  write_flo(flo, Flow(5, 5));
  EXPECT_EQ(run(base + " --flow " + set_.file("flow")), 2);
  EXPECT_NE(err().find(flo), std::string::npos) << err();
  // A frame of the wrong size, a corrupt frame, a missing frame.
  const std::string frame = frames() + "/synth0002/00002.png";
  write_png(frame, Image(10, 10, 3));
  EXPECT_EQ(run(base), 2);
  EXPECT_NE(err().find(frame), std::string::npos) << err();
  EXPECT_NE(err().find("10x10"), std::string::npos) << err();
  write_file_atomic(frame, std::string("\x89PNG\r\n\x1a\n garbage"));
  EXPECT_EQ(run(base), 2);
  EXPECT_NE(err().find(frame), std::string::npos) << err();
  std::filesystem::remove(frame);
  EXPECT_EQ(run(base), 2);
  EXPECT_NE(err().find(frame), std::string::npos) << err();
}

}  // namespace
}  // namespace wsvis::data
