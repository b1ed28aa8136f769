// Drawing on RGB frames: instance masks, contours, boxes and labels; flow images; strips of
// frames per video. Pure functions on host buffers (data/image_io.h Image); `wsvis draw`
// (apps/draw_cmd.h) reads the files and writes the PNGs.
//
// Conventions:
//  - Images are (H, W, C) uint8 with C = 3 (RGB) or 4 (RGBA; the alpha channel is left as it
//    is). Masks are (H, W) row-major uint8, nonzero = inside, of the image's size. Programming
//    errors (a mask of the wrong size, a grey image) throw wsvis::Error.
//  - Colours come from a fixed palette of 20 (track_palette): track / instance id k >= 1 gets
//    palette[(k - 1) mod 20], so ids 1..20 of a video are all distinct.
//  - Blending: a mask fill mixes each RGB channel p of a pixel inside the mask with the colour
//    c as  out = (p * (255 - alpha) + c * alpha + 127) / 255  (integer division; alpha 0..255,
//    0 leaves the pixel, 255 paints c; the default 115 is 45 %). Masks are filled in list order,
//    so a later instance blends over an earlier one where they overlap.
//  - Boxes are COCO (x, y, w, h) in pixel units with pixel (i, j) covering [i, i+1) x [j, j+1):
//    the box covers pixel columns floor(x) .. ceil(x + w) - 1 and rows floor(y) .. ceil(y + h) - 1
//    (box_pixels). For the integer box of a mask (rle_to_bbox) these are exactly the mask's
//    extreme pixels. A thickness-t outline paints the t outermost rings of that rectangle
//    (inside it), clipped to the image.
//  - Contours: the mask pixels that have a pixel outside the mask, or outside the image, within
//    Chebyshev distance `thickness` (thickness 1: an 8-neighbour), painted in full colour.
//  - Labels: the text (data/font.h, 5x8 glyphs on a 6-pixel advance, integer scale s) on a
//    filled rectangle of the instance's colour with a margin of s pixels on every side, so a
//    label is (6n - 1)s + 2s wide and 8s + 2s tall for n characters. The text is black on light
//    colours and white on dark ones (luma 0.299 R + 0.587 G + 0.114 B >= 128 -> black). A label
//    sits on top of its box, left-aligned with it, or just inside the top of the box when there
//    is no room above; it is then shifted to lie inside the image when it fits.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "data/coco.h"
#include "data/flow_io.h"
#include "data/image_io.h"
#include "data/rle.h"
#include "data/ytvis.h"

namespace wsvis::data {

using Rgb = std::array<uint8_t, 3>;

constexpr int kTrackPaletteSize = 20;
const std::array<Rgb, kTrackPaletteSize>& track_palette();
// palette[(id - 1) mod 20] (id 0 and negative ids wrap the same way: id 0 is palette[19]).
Rgb track_color(int64_t id);

// One blended channel value (formula above).
inline uint8_t blend_channel(uint8_t p, uint8_t c, int alpha) {
  return static_cast<uint8_t>((p * (255 - alpha) + c * alpha + 127) / 255);
}
// Black or white, whichever reads on bg (luma rule above).
Rgb text_color_on(const Rgb& bg);

// An inclusive pixel rectangle: columns x0..x1, rows y0..y1 (empty when x1 < x0 or y1 < y0).
struct PixelRect {
  int x0 = 0, y0 = 0, x1 = -1, y1 = -1;
  bool empty() const { return x1 < x0 || y1 < y0; }
  int width() const { return empty() ? 0 : x1 - x0 + 1; }
  int height() const { return empty() ? 0 : y1 - y0 + 1; }
  bool operator==(const PixelRect& o) const {
    return x0 == o.x0 && y0 == o.y0 && x1 == o.x1 && y1 == o.y1;
  }
};
PixelRect box_pixels(const BoxXywh& box);
// The bounding rectangle of a mask's nonzero pixels (empty for an empty mask).
PixelRect mask_extent(const std::vector<uint8_t>& mask, int height, int width);

// ---- primitives (everything is clipped to the image) ------------------------------------
void fill_mask(Image& image, const std::vector<uint8_t>& mask, const Rgb& color, int alpha);
void draw_mask_contour(Image& image, const std::vector<uint8_t>& mask, const Rgb& color,
                       int thickness = 1);
void fill_rect(Image& image, const PixelRect& rect, const Rgb& color);
void draw_rect(Image& image, const PixelRect& rect, const Rgb& color, int thickness = 1);
void draw_box(Image& image, const BoxXywh& box, const Rgb& color, int thickness = 1);
// Text with the top-left of its first glyph cell at (x, y); ink only, no background.
void draw_text(Image& image, int x, int y, const std::string& text, const Rgb& color,
               int scale = 1);
// Where a label of `text` anchored at the top-left pixel (ax, ay) of its box goes in a
// width x height image (placement rule above).
PixelRect label_rect(const std::string& text, int ax, int ay, int width, int height,
                     int scale = 1);
// Draws the label (background and text) at label_rect and returns that rectangle.
PixelRect draw_label(Image& image, const std::string& text, int ax, int ay, const Rgb& background,
                     int scale = 1);
// "name" when score < 0, else "name 0.87" (two decimals).
std::string instance_label(const std::string& name, double score = -1);

// ---- instances ---------------------------------------------------------------------------
struct DrawInstance {
  int64_t track_id = 1;        // colour: track_color(track_id)
  std::string label;           // drawn when not empty and labels are on
  std::vector<uint8_t> mask;   // (H, W) of the image, or empty (box only)
  std::optional<BoxXywh> box;  // drawn when present; the label anchors to it, else to the mask
};

struct DrawStyle {
  int mask_alpha = 115;        // 0..255; 0 = no fill
  int contour_thickness = 1;   // 0 = no contours
  int box_thickness = 1;       // 0 = no boxes
  int text_scale = 1;          // 0 = no labels
};

// Fills all masks (list order), then contours, then boxes, then labels, so no fill covers a
// line or a label.
void draw_instances(Image& image, const std::vector<DrawInstance>& instances,
                    const DrawStyle& style = {});

// The instances of frame t of a YouTube-VIS video: every annotation present at t, in file
// order, with track id = 1 + its index among the video's annotations (stable colours along the
// video), its mask, its box (as stored or derived by the reader) and its category name.
std::vector<DrawInstance> ytvis_frame_instances(const YtvisDataset& dataset, size_t video_index,
                                                int t);
// The predictions of frame t of a video: the results for video_id with score >= min_score,
// sorted by descending score (ties keep file order); track id = 1 + rank in that order (the
// same in every frame of the video), box = rle_to_bbox of the mask, label "name 0.87"
// (category names from `categories`, "category <id>" when unknown).
std::vector<DrawInstance> result_frame_instances(const std::vector<YtvisResult>& results,
                                                 const std::vector<Category>& categories,
                                                 int64_t video_id, int t, double min_score);
// The detections of one image in COCO results (per-frame predictions): score >= min_score,
// by descending score (ties keep file order), track id = 1 + rank, the mask when the result
// has one, the predicted box, label "name 0.87".
std::vector<DrawInstance> coco_frame_instances(const std::vector<CocoResult>& results,
                                               const std::vector<Category>& categories,
                                               int64_t image_id, double min_score);

// ---- resizing and strips -----------------------------------------------------------------
// Area resampling: output pixel (x, y) averages the source over
// [x W/w, (x+1) W/w) x [y H/h, (y+1) H/h) weighted by overlap, rounded to nearest.
Image resize_area(const Image& image, int width, int height);
// Nearest neighbour: output (x, y) takes source (floor((x + 0.5) W/w), floor((y + 0.5) H/h)).
std::vector<uint8_t> resize_mask_nearest(const std::vector<uint8_t>& mask, int height, int width,
                                         int out_height, int out_width);
// The instance mapped from a src_w x src_h frame to dst_w x dst_h (mask nearest, box scaled).
DrawInstance scale_instance(const DrawInstance& instance, int src_w, int src_h, int dst_w,
                            int dst_h);

// n frame indices spread evenly over 0..frames-1 (round(i (frames-1)/(n-1)); first and last
// always included; n is clamped to frames; n = 1 gives {0}).
std::vector<int> strip_frame_indices(int frames, int n);
// Images side by side, top-aligned, separated by `gap` columns of gap_color; rows below a
// shorter image are gap_color too. All images must have the same channel count.
Image hconcat(const std::vector<Image>& images, int gap = 0, const Rgb& gap_color = {255, 255, 255});
// Images one below the other, left-aligned, separated by `gap` rows of gap_color; columns right
// of a narrower image are gap_color too.
Image vconcat(const std::vector<Image>& images, int gap = 0, const Rgb& gap_color = {255, 255, 255});

struct StripOptions {
  int height = 128;  // every frame is resized to this height, width in proportion
                     // (max(1, round(W * height / H)))
  int gap = 2;
  Rgb gap_color = {255, 255, 255};
};
// The frames given (instances[k] belongs to frames[k]), each resized (resize_area) with its
// instances drawn at the new size, concatenated left to right. Width: the sum of the resized
// widths plus gap * (frames - 1); height: options.height.
Image draw_strip(const std::vector<Image>& frames,
                 const std::vector<std::vector<DrawInstance>>& instances,
                 const StripOptions& options = {}, const DrawStyle& style = {});

// ---- flow --------------------------------------------------------------------------------
// The flow colour image (data/flow_color.h, flow_vis wheel; rad_max <= 0 normalises by the
// frame's largest motion) written as PNG (atomically).
void write_flow_png(const std::string& path, const Flow& flow, double rad_max = 0);

}  // namespace wsvis::data
