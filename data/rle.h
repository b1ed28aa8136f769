// COCO run-length encoding of binary masks, with the semantics of pycocotools' maskApi.c.
//
// Masks in our API are (H, W) row-major uint8 buffers (nonzero = foreground). RLE runs go
// down the columns, as in COCO: the mask is read in column-major (Fortran) order, pixel
// (y, x) at flat index x*H + y. counts alternate background/foreground runs and always start
// with a background run (which may be 0). Every function below gives the same numbers as
// pycocotools (tests/python/test_rle_pycocotools.py checks it on hundreds of random cases),
// including its quirks; where we deviate (rle_merge of differently sized masks) it is said.
//
// Errors: malformed input (a bad counts string, counts that do not sum to H*W where the sum
// matters) throws wsvis::Error with a plain message; readers of user files (ytvis.h, coco.h)
// catch it and rethrow an InputError that names the file and the field.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace wsvis::data {

struct Rle {
  int h = 0;                      // mask height
  int w = 0;                      // mask width
  std::vector<uint32_t> counts;   // alternating run lengths, background first

  bool operator==(const Rle& o) const { return h == o.h && w == o.w && counts == o.counts; }
  bool operator!=(const Rle& o) const { return !(*this == o); }
};

// Box as COCO writes it: (x, y, width, height).
using BoxXywh = std::array<double, 4>;

// ---- encode / decode -----------------------------------------------------------------------
// mask: (h, w) row-major, nonzero = foreground. Canonical output: a new run starts exactly
// where the value changes; an all-background mask gives counts {h*w}.
Rle rle_encode(const uint8_t* mask, int h, int w);
Rle rle_encode(const std::vector<uint8_t>& mask, int h, int w);
// Same, for a mask already in column-major order (index x*h + y), as pycocotools takes it.
Rle rle_encode_colmajor(const uint8_t* mask_colmajor, int h, int w);

// Decodes into an (h, w) row-major 0/1 buffer. Throws wsvis::Error if the counts do not sum
// to h*w (pycocotools would read or write out of bounds).
std::vector<uint8_t> rle_decode(const Rle& rle);
void rle_decode(const Rle& rle, uint8_t* mask_out);

// Throws wsvis::Error unless h, w >= 0 and the counts sum to h*w.
void rle_validate(const Rle& rle);

// ---- compressed string form (maskApi.c rleToString / rleFrString) --------------------------
// Each count (minus the count two positions back, from the fourth on) is written as 5-bit
// groups, least significant first, each char = 48 + group (+32 when more groups follow).
std::string rle_to_string(const std::vector<uint32_t>& counts);
inline std::string rle_to_string(const Rle& rle) { return rle_to_string(rle.counts); }
// Throws wsvis::Error on a character outside '0'..'o', a string that ends inside a number,
// or a decoded count that is negative or above 2^32-1.
std::vector<uint32_t> rle_counts_from_string(const std::string& s);
Rle rle_from_string(const std::string& s, int h, int w);

// ---- measures ------------------------------------------------------------------------------
// Number of foreground pixels: the sum of the odd-indexed counts.
int64_t rle_area(const Rle& rle);
// maskApi.c rleToBbox (the version pip's pycocotools 2.0.x builds): (x, y, w, h) of the
// foreground, w = x_end - x_start + 1; a foreground run that wraps into the next column
// makes the box span the full height. All zeros for an empty mask (where pycocotools
// returns a wrapped-around box for counts with zero-length foreground runs).
BoxXywh rle_to_bbox(const Rle& rle);

// ---- set operations ------------------------------------------------------------------------
// Union (intersect = false) or intersection of all masks. An empty list gives the 0x0 RLE
// (as maskApi). Unlike maskApi (which silently returns an empty 0x0 RLE), masks of different
// sizes throw wsvis::Error.
Rle rle_merge(const std::vector<Rle>& rles, bool intersect);

// IoU matrix (D, G) row-major, out[d * G + g], exactly as maskApi.c rleIou / pycocotools
// mask.iou: a box pre-check first (0 where the boxes do not overlap), then
// |d ∩ g| / |d ∪ g|, or |d ∩ g| / |d| when iscrowd[g] is nonzero; -1 where the sizes of d and
// g differ (and their boxes overlap). iscrowd is empty (no crowds) or has G entries.
std::vector<double> rle_iou(const std::vector<Rle>& dt, const std::vector<Rle>& gt,
                            const std::vector<uint8_t>& iscrowd = {});
// Intersection over minimum, (D, G) row-major: |d ∩ g| / min(|d|, |g|), 0 when the
// intersection is empty, -1 where the sizes differ. Not in pycocotools; iscrowd does not
// apply (MaskConsist's IoM-NMS uses it on predictions, which are never crowds).
std::vector<double> rle_iom(const std::vector<Rle>& dt, const std::vector<Rle>& gt);
// maskApi.c bbIou on (x, y, w, h) boxes, (D, G) row-major, with the same crowd rule.
std::vector<double> bbox_iou(const std::vector<BoxXywh>& dt, const std::vector<BoxXywh>& gt,
                             const std::vector<uint8_t>& iscrowd = {});

// Throws wsvis::Error naming `fn` unless h, w >= 0 and h * w fits the 32-bit run lengths of
// COCO RLE (pycocotools' uint counts).
void check_rle_dims(int h, int w, const char* fn);

// ---- rasterisation -------------------------------------------------------------------------
// maskApi.c rleFrPoly: one polygon given as (x0, y0, x1, y1, ...) in pixel coordinates,
// rasterised at 5x and sampled back, byte-identical to pycocotools. An odd number of values
// throws wsvis::Error; fewer than one vertex gives an empty mask. Unlike maskApi, coordinates
// must be finite and within max(4 image sizes, 1024 pixels) of the image, and the boundary at 5x
// resolution at most 2^25 points long (wsvis::Error otherwise): a vertex far outside would make
// the walk billions of points long.
Rle rle_from_polygon(const std::vector<double>& xy, int h, int w);
// The checks rle_from_polygon makes before rasterising (readers call it at parse time so a bad
// polygon is reported with its file and field): wsvis::Error when one fails.
constexpr int64_t kMaxPolygonBoundaryPoints = int64_t(1) << 25;
void check_polygon(const std::vector<double>& xy, int h, int w);
// Several polygons (one COCO object): each rasterised, then united (pycocotools annToRLE).
Rle rle_from_polygons(const std::vector<std::vector<double>>& polygons, int h, int w);
// maskApi.c rleFrBbox: the box as a 4-vertex polygon through rle_from_polygon.
Rle rle_from_bbox(const BoxXywh& box, int h, int w);

}  // namespace wsvis::data
