#include "data/draw.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "data/flow_color.h"
#include "data/font.h"
#include "engine/error.h"

namespace wsvis::data {

namespace {

void check_rgb(const Image& image, const char* who) {
  WSVIS_CHECK(image.channels == 3 || image.channels == 4, who,
              ": needs an RGB or RGBA image, got ", image.channels, " channels");
  WSVIS_CHECK(image.data.size() == static_cast<size_t>(image.width) * image.height * image.channels,
              who, ": image buffer has ", image.data.size(), " bytes for ", image.width, "x",
              image.height, "x", image.channels);
}

void check_mask(const Image& image, const std::vector<uint8_t>& mask, const char* who) {
  WSVIS_CHECK(mask.size() == static_cast<size_t>(image.width) * image.height, who, ": mask has ",
              mask.size(), " pixels for a ", image.width, "x", image.height, " image");
}

inline void put(Image& image, int x, int y, const Rgb& color) {
  uint8_t* p = &image.data[(static_cast<size_t>(y) * image.width + x) * image.channels];
  p[0] = color[0];
  p[1] = color[1];
  p[2] = color[2];
}

PixelRect clip(const PixelRect& r, int width, int height) {
  return {std::max(r.x0, 0), std::max(r.y0, 0), std::min(r.x1, width - 1),
          std::min(r.y1, height - 1)};
}

}  // namespace

const std::array<Rgb, kTrackPaletteSize>& track_palette() {
  // Saturated hues first (ids 1-10 are the most distinct), then darker and lighter variants.
  static const std::array<Rgb, kTrackPaletteSize> palette = {{
      {255, 56, 56},   {56, 142, 255},  {72, 210, 72},   {255, 200, 30},  {190, 80, 255},
      {0, 210, 210},   {255, 120, 0},   {255, 90, 200},  {140, 200, 20},  {0, 110, 140},
      {150, 90, 40},   {120, 120, 255}, {255, 160, 140}, {0, 160, 90},    {200, 0, 120},
      {150, 150, 0},   {100, 40, 180},  {255, 230, 130}, {90, 200, 160},  {180, 30, 30},
  }};
  return palette;
}

Rgb track_color(int64_t id) {
  const int64_t k = ((id - 1) % kTrackPaletteSize + kTrackPaletteSize) % kTrackPaletteSize;
  return track_palette()[static_cast<size_t>(k)];
}

Rgb text_color_on(const Rgb& bg) {
  const int luma1000 = 299 * bg[0] + 587 * bg[1] + 114 * bg[2];
  return luma1000 >= 128 * 1000 ? Rgb{0, 0, 0} : Rgb{255, 255, 255};
}

PixelRect box_pixels(const BoxXywh& box) {
  if (!(box[2] > 0) || !(box[3] > 0)) return {};
  auto to_int = [](double v) {
    return static_cast<int>(std::max(-1e9, std::min(1e9, v)));
  };
  return {to_int(std::floor(box[0])), to_int(std::floor(box[1])),
          to_int(std::ceil(box[0] + box[2])) - 1, to_int(std::ceil(box[1] + box[3])) - 1};
}

PixelRect mask_extent(const std::vector<uint8_t>& mask, int height, int width) {
  WSVIS_CHECK(mask.size() == static_cast<size_t>(width) * height, "mask_extent: mask has ",
              mask.size(), " pixels for ", width, "x", height);
  PixelRect r{width, height, -1, -1};
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      if (mask[static_cast<size_t>(y) * width + x]) {
        r.x0 = std::min(r.x0, x);
        r.x1 = std::max(r.x1, x);
        r.y0 = std::min(r.y0, y);
        r.y1 = std::max(r.y1, y);
      }
  return r.x1 < 0 ? PixelRect{} : r;
}

void fill_mask(Image& image, const std::vector<uint8_t>& mask, const Rgb& color, int alpha) {
  check_rgb(image, "fill_mask");
  check_mask(image, mask, "fill_mask");
  WSVIS_CHECK(alpha >= 0 && alpha <= 255, "fill_mask: alpha must be in 0..255, got ", alpha);
  const size_t n = mask.size();
  const int c = image.channels;
  for (size_t i = 0; i < n; ++i) {
    if (!mask[i]) continue;
    uint8_t* p = &image.data[i * c];
    for (int k = 0; k < 3; ++k) p[k] = blend_channel(p[k], color[static_cast<size_t>(k)], alpha);
  }
}

void draw_mask_contour(Image& image, const std::vector<uint8_t>& mask, const Rgb& color,
                       int thickness) {
  check_rgb(image, "draw_mask_contour");
  check_mask(image, mask, "draw_mask_contour");
  WSVIS_CHECK(thickness >= 1 && thickness <= 16, "draw_mask_contour: thickness must be in 1..16, got ",
              thickness);
  const int w = image.width, h = image.height, t = thickness;
  auto inside = [&](int x, int y) {
    return x >= 0 && y >= 0 && x < w && y < h && mask[static_cast<size_t>(y) * w + x] != 0;
  };
  // Decide every pixel before painting (painting does not change the mask, but keep the
  // decision independent of the order anyway).
  // Only the mask's bounding rectangle can hold contour pixels.
  const PixelRect ext = mask_extent(mask, h, w);
  std::vector<uint8_t> edge(mask.size(), 0);
  for (int y = ext.y0; y <= ext.y1; ++y)
    for (int x = ext.x0; x <= ext.x1; ++x) {
      if (!inside(x, y)) continue;
      bool on = false;
      for (int dy = -t; dy <= t && !on; ++dy)
        for (int dx = -t; dx <= t && !on; ++dx) on = !inside(x + dx, y + dy);
      edge[static_cast<size_t>(y) * w + x] = on;
    }
  for (int y = ext.y0; y <= ext.y1; ++y)
    for (int x = ext.x0; x <= ext.x1; ++x)
      if (edge[static_cast<size_t>(y) * w + x]) put(image, x, y, color);
}

void fill_rect(Image& image, const PixelRect& rect, const Rgb& color) {
  check_rgb(image, "fill_rect");
  const PixelRect r = clip(rect, image.width, image.height);
  for (int y = r.y0; y <= r.y1; ++y)
    for (int x = r.x0; x <= r.x1; ++x) put(image, x, y, color);
}

void draw_rect(Image& image, const PixelRect& rect, const Rgb& color, int thickness) {
  check_rgb(image, "draw_rect");
  WSVIS_CHECK(thickness >= 1, "draw_rect: thickness must be >= 1, got ", thickness);
  if (rect.empty()) return;
  const int t = thickness;
  // Each ring side as a filled band inside the rectangle; bands overlap at the corners.
  fill_rect(image, {rect.x0, rect.y0, rect.x1, std::min(rect.y1, rect.y0 + t - 1)}, color);
  fill_rect(image, {rect.x0, std::max(rect.y0, rect.y1 - t + 1), rect.x1, rect.y1}, color);
  fill_rect(image, {rect.x0, rect.y0, std::min(rect.x1, rect.x0 + t - 1), rect.y1}, color);
  fill_rect(image, {std::max(rect.x0, rect.x1 - t + 1), rect.y0, rect.x1, rect.y1}, color);
}

void draw_box(Image& image, const BoxXywh& box, const Rgb& color, int thickness) {
  draw_rect(image, box_pixels(box), color, thickness);
}

void draw_text(Image& image, int x, int y, const std::string& text, const Rgb& color, int scale) {
  check_rgb(image, "draw_text");
  WSVIS_CHECK(scale >= 1, "draw_text: scale must be >= 1, got ", scale);
  for (size_t i = 0; i < text.size(); ++i) {
    const Glyph& g = font_glyph(text[i]);
    const int gx = x + static_cast<int>(i) * kGlyphAdvance * scale;
    for (int row = 0; row < kGlyphHeight; ++row)
      for (int col = 0; col < kGlyphWidth; ++col)
        if (glyph_pixel(g, col, row))
          fill_rect(image,
                    {gx + col * scale, y + row * scale, gx + (col + 1) * scale - 1,
                     y + (row + 1) * scale - 1},
                    color);
  }
}

PixelRect label_rect(const std::string& text, int ax, int ay, int width, int height, int scale) {
  const auto ext = text_extent(text, scale);
  const int lw = ext[0] + 2 * scale, lh = ext[1] + 2 * scale;
  int x0 = ax;
  int y0 = ay - lh >= 0 ? ay - lh : ay;  // above the box, else inside its top
  // Shift into the image where the label fits (a label wider than the image stays left-aligned).
  if (x0 + lw > width) x0 = width - lw;
  if (y0 + lh > height) y0 = height - lh;
  x0 = std::max(x0, 0);
  y0 = std::max(y0, 0);
  return {x0, y0, x0 + lw - 1, y0 + lh - 1};
}

PixelRect draw_label(Image& image, const std::string& text, int ax, int ay, const Rgb& background,
                     int scale) {
  const PixelRect r = label_rect(text, ax, ay, image.width, image.height, scale);
  fill_rect(image, r, background);
  draw_text(image, r.x0 + scale, r.y0 + scale, text, text_color_on(background), scale);
  return r;
}

std::string instance_label(const std::string& name, double score) {
  if (score < 0) return name;
  char buf[32];
  std::snprintf(buf, sizeof(buf), " %.2f", score);
  return name + buf;
}

void draw_instances(Image& image, const std::vector<DrawInstance>& instances,
                    const DrawStyle& style) {
  check_rgb(image, "draw_instances");
  for (const DrawInstance& inst : instances)
    if (!inst.mask.empty()) check_mask(image, inst.mask, "draw_instances");
  if (style.mask_alpha > 0)
    for (const DrawInstance& inst : instances)
      if (!inst.mask.empty()) fill_mask(image, inst.mask, track_color(inst.track_id), style.mask_alpha);
  if (style.contour_thickness > 0)
    for (const DrawInstance& inst : instances)
      if (!inst.mask.empty())
        draw_mask_contour(image, inst.mask, track_color(inst.track_id), style.contour_thickness);
  if (style.box_thickness > 0)
    for (const DrawInstance& inst : instances)
      if (inst.box) draw_box(image, *inst.box, track_color(inst.track_id), style.box_thickness);
  if (style.text_scale > 0)
    for (const DrawInstance& inst : instances) {
      if (inst.label.empty()) continue;
      PixelRect anchor = inst.box ? box_pixels(*inst.box) : PixelRect{};
      if (anchor.empty() && !inst.mask.empty()) anchor = mask_extent(inst.mask, image.height, image.width);
      if (anchor.empty()) continue;  // nothing to label
      draw_label(image, inst.label, anchor.x0, anchor.y0, track_color(inst.track_id), style.text_scale);
    }
}

std::vector<DrawInstance> ytvis_frame_instances(const YtvisDataset& dataset, size_t video_index,
                                                int t) {
  WSVIS_CHECK(video_index < dataset.videos.size(), "ytvis_frame_instances: video index ",
              video_index, " of ", dataset.videos.size());
  const YtvisVideo& video = dataset.videos[video_index];
  WSVIS_CHECK(t >= 0 && t < video.length, "ytvis_frame_instances: frame ", t, " of ", video.length);
  std::vector<DrawInstance> out;
  int64_t track = 0;
  for (const YtvisAnnotation& a : dataset.annotations) {
    if (a.video_id != video.id) continue;
    ++track;
    const size_t ti = static_cast<size_t>(t);
    if (ti >= a.segmentations.size() || !a.segmentations[ti]) continue;
    DrawInstance inst;
    inst.track_id = track;
    inst.mask = rle_decode(a.segmentations[ti]->to_rle(video.height, video.width));
    if (ti < a.bboxes.size() && a.bboxes[ti]) inst.box = *a.bboxes[ti];
    const int64_t ci = dataset.category_index(a.category_id);
    inst.label = ci >= 0 ? dataset.categories[static_cast<size_t>(ci)].name
                         : "category " + std::to_string(a.category_id);
    out.push_back(std::move(inst));
  }
  return out;
}

namespace {

// The indices of the results `keep` selects, by descending score (ties in file order): the
// drawing order, and each instance's colour by rank.
template <typename Result, typename Keep>
std::vector<size_t> by_score(const std::vector<Result>& results, const Keep& keep) {
  std::vector<size_t> order;
  for (size_t i = 0; i < results.size(); ++i)
    if (keep(results[i])) order.push_back(i);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return results[a].score > results[b].score; });
  return order;
}

std::string category_name(const std::vector<Category>& categories, int64_t id) {
  for (const Category& c : categories)
    if (c.id == id) return c.name;
  return "category " + std::to_string(id);
}

}  // namespace

std::vector<DrawInstance> coco_frame_instances(const std::vector<CocoResult>& results,
                                               const std::vector<Category>& categories,
                                               int64_t image_id, double min_score) {
  const std::vector<size_t> order = by_score(
      results, [&](const CocoResult& r) { return r.image_id == image_id && r.score >= min_score; });
  std::vector<DrawInstance> out;
  for (size_t rank = 0; rank < order.size(); ++rank) {
    const CocoResult& r = results[order[rank]];
    DrawInstance inst;
    inst.track_id = static_cast<int64_t>(rank) + 1;
    if (r.segmentation) inst.mask = rle_decode(*r.segmentation);
    inst.box = r.bbox ? *r.bbox : r.segmentation ? rle_to_bbox(*r.segmentation) : BoxXywh{};
    inst.label = instance_label(category_name(categories, r.category_id), r.score);
    out.push_back(std::move(inst));
  }
  return out;
}

std::vector<DrawInstance> result_frame_instances(const std::vector<YtvisResult>& results,
                                                 const std::vector<Category>& categories,
                                                 int64_t video_id, int t, double min_score) {
  const std::vector<size_t> order = by_score(
      results, [&](const YtvisResult& r) { return r.video_id == video_id && r.score >= min_score; });
  std::vector<DrawInstance> out;
  for (size_t rank = 0; rank < order.size(); ++rank) {
    const YtvisResult& r = results[order[rank]];
    const size_t ti = static_cast<size_t>(t);
    if (t < 0 || ti >= r.segmentations.size() || !r.segmentations[ti]) continue;
    const Rle& rle = *r.segmentations[ti];
    if (rle_area(rle) == 0) continue;
    DrawInstance inst;
    inst.track_id = static_cast<int64_t>(rank) + 1;
    inst.mask = rle_decode(rle);
    inst.box = rle_to_bbox(rle);
    inst.label = instance_label(category_name(categories, r.category_id), r.score);
    out.push_back(std::move(inst));
  }
  return out;
}

namespace {

// Overlap weights of output cells [i s, (i+1) s) (s = in / out) with input pixels: for each
// output index, (first input index, weights normalised to sum 1).
struct AreaTaps {
  std::vector<int> first;
  std::vector<std::vector<double>> weights;
};

AreaTaps area_taps(int in, int out) {
  AreaTaps taps;
  taps.first.resize(static_cast<size_t>(out));
  taps.weights.resize(static_cast<size_t>(out));
  const double s = static_cast<double>(in) / out;
  for (int i = 0; i < out; ++i) {
    const double a = i * s, b = (i + 1) * s;
    const int j0 = static_cast<int>(std::floor(a));
    const int j1 = std::min(in - 1, static_cast<int>(std::ceil(b)) - 1);
    taps.first[static_cast<size_t>(i)] = j0;
    auto& w = taps.weights[static_cast<size_t>(i)];
    for (int j = j0; j <= j1; ++j) w.push_back(std::min(b, j + 1.0) - std::max(a, double(j)));
    const double sum = std::accumulate(w.begin(), w.end(), 0.0);
    for (double& v : w) v /= sum;
  }
  return taps;
}

}  // namespace

Image resize_area(const Image& image, int width, int height) {
  WSVIS_CHECK(width >= 1 && height >= 1, "resize_area: bad output size ", width, "x", height);
  WSVIS_CHECK(image.width >= 1 && image.height >= 1 && image.channels >= 1 &&
                  image.data.size() == static_cast<size_t>(image.width) * image.height * image.channels,
              "resize_area: bad input image ", image.width, "x", image.height, "x", image.channels);
  const int c = image.channels;
  const AreaTaps tx = area_taps(image.width, width), ty = area_taps(image.height, height);
  // Horizontal pass into (image.height, width, c) doubles, then vertical.
  std::vector<double> mid(static_cast<size_t>(image.height) * width * c, 0.0);
  for (int y = 0; y < image.height; ++y)
    for (int x = 0; x < width; ++x) {
      const auto& w = tx.weights[static_cast<size_t>(x)];
      for (size_t k = 0; k < w.size(); ++k) {
        const int sx = tx.first[static_cast<size_t>(x)] + static_cast<int>(k);
        for (int ch = 0; ch < c; ++ch)
          mid[(static_cast<size_t>(y) * width + x) * c + ch] += w[k] * image.at(y, sx, ch);
      }
    }
  Image out(width, height, c);
  for (int y = 0; y < height; ++y) {
    const auto& w = ty.weights[static_cast<size_t>(y)];
    for (int x = 0; x < width; ++x)
      for (int ch = 0; ch < c; ++ch) {
        double v = 0;
        for (size_t k = 0; k < w.size(); ++k) {
          const int sy = ty.first[static_cast<size_t>(y)] + static_cast<int>(k);
          v += w[k] * mid[(static_cast<size_t>(sy) * width + x) * c + ch];
        }
        out.at(y, x, ch) = static_cast<uint8_t>(std::min(255.0, std::max(0.0, std::floor(v + 0.5))));
      }
  }
  return out;
}

std::vector<uint8_t> resize_mask_nearest(const std::vector<uint8_t>& mask, int height, int width,
                                         int out_height, int out_width) {
  WSVIS_CHECK(mask.size() == static_cast<size_t>(width) * height, "resize_mask_nearest: mask has ",
              mask.size(), " pixels for ", width, "x", height);
  WSVIS_CHECK(out_width >= 1 && out_height >= 1, "resize_mask_nearest: bad output size ",
              out_width, "x", out_height);
  std::vector<uint8_t> out(static_cast<size_t>(out_width) * out_height);
  for (int y = 0; y < out_height; ++y) {
    const int sy = std::min(height - 1, static_cast<int>((y + 0.5) * height / out_height));
    for (int x = 0; x < out_width; ++x) {
      const int sx = std::min(width - 1, static_cast<int>((x + 0.5) * width / out_width));
      out[static_cast<size_t>(y) * out_width + x] = mask[static_cast<size_t>(sy) * width + sx];
    }
  }
  return out;
}

DrawInstance scale_instance(const DrawInstance& instance, int src_w, int src_h, int dst_w,
                            int dst_h) {
  DrawInstance out;
  out.track_id = instance.track_id;
  out.label = instance.label;
  if (!instance.mask.empty())
    out.mask = resize_mask_nearest(instance.mask, src_h, src_w, dst_h, dst_w);
  if (instance.box) {
    const double sx = static_cast<double>(dst_w) / src_w, sy = static_cast<double>(dst_h) / src_h;
    const BoxXywh& b = *instance.box;
    out.box = BoxXywh{b[0] * sx, b[1] * sy, b[2] * sx, b[3] * sy};
  }
  return out;
}

std::vector<int> strip_frame_indices(int frames, int n) {
  WSVIS_CHECK(frames >= 0 && n >= 0, "strip_frame_indices: bad arguments ", frames, ", ", n);
  n = std::min(n, frames);
  std::vector<int> idx;
  if (n == 0) return idx;
  if (n == 1) return {0};
  for (int i = 0; i < n; ++i)
    idx.push_back(static_cast<int>(std::lround(static_cast<double>(i) * (frames - 1) / (n - 1))));
  return idx;
}

namespace {

// Images side by side (horizontal) or stacked (vertical), aligned to the top / left edge,
// `gap` lines of gap_color between them and around the smaller ones.
Image concat(const std::vector<Image>& images, int gap, const Rgb& gap_color, bool horizontal) {
  const char* name = horizontal ? "hconcat" : "vconcat";
  WSVIS_CHECK(!images.empty(), name, ": no images");
  WSVIS_CHECK(gap >= 0, name, ": gap must be >= 0, got ", gap);
  const int c = images[0].channels;
  int along = gap * static_cast<int>(images.size() - 1), across = 0;
  for (const Image& im : images) {
    WSVIS_CHECK(im.channels == c, name, ": images have ", c, " and ", im.channels, " channels");
    along += horizontal ? im.width : im.height;
    across = std::max(across, horizontal ? im.height : im.width);
  }
  const int width = horizontal ? along : across, height = horizontal ? across : along;
  Image out(width, height, c);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      for (int ch = 0; ch < c; ++ch)
        out.at(y, x, ch) = ch < 3 ? gap_color[static_cast<size_t>(ch)] : 255;
  int offset = 0;  // x of the next image (horizontal) or its y (vertical)
  for (const Image& im : images) {
    const int x0 = horizontal ? offset : 0, y0 = horizontal ? 0 : offset;
    for (int y = 0; y < im.height; ++y)
      std::copy_n(&im.data[static_cast<size_t>(y) * im.width * c], static_cast<size_t>(im.width) * c,
                  &out.data[(static_cast<size_t>(y0 + y) * width + x0) * c]);
    offset += (horizontal ? im.width : im.height) + gap;
  }
  return out;
}

}  // namespace

Image hconcat(const std::vector<Image>& images, int gap, const Rgb& gap_color) {
  return concat(images, gap, gap_color, /*horizontal=*/true);
}

Image vconcat(const std::vector<Image>& images, int gap, const Rgb& gap_color) {
  return concat(images, gap, gap_color, /*horizontal=*/false);
}

Image draw_strip(const std::vector<Image>& frames,
                 const std::vector<std::vector<DrawInstance>>& instances,
                 const StripOptions& options, const DrawStyle& style) {
  WSVIS_CHECK(!frames.empty(), "draw_strip: no frames");
  WSVIS_CHECK(instances.size() == frames.size(), "draw_strip: ", frames.size(), " frames but ",
              instances.size(), " instance lists");
  WSVIS_CHECK(options.height >= 1, "draw_strip: height must be >= 1, got ", options.height);
  std::vector<Image> tiles;
  for (size_t k = 0; k < frames.size(); ++k) {
    const Image& f = frames[k];
    check_rgb(f, "draw_strip");
    const int w = std::max(1, static_cast<int>(std::lround(static_cast<double>(f.width) *
                                                           options.height / f.height)));
    Image tile = resize_area(f, w, options.height);
    std::vector<DrawInstance> scaled;
    for (const DrawInstance& inst : instances[k]) {
      if (!inst.mask.empty()) check_mask(f, inst.mask, "draw_strip");
      scaled.push_back(scale_instance(inst, f.width, f.height, w, options.height));
    }
    draw_instances(tile, scaled, style);
    tiles.push_back(std::move(tile));
  }
  return hconcat(tiles, options.gap, options.gap_color);
}

void write_flow_png(const std::string& path, const Flow& flow, double rad_max) {
  write_png(path, flow_to_color(flow, FlowWheel::flow_vis, rad_max));
}

}  // namespace wsvis::data
