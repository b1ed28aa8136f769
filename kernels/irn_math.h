// Per-element maths of the irn family (kernels/irn.h), shared by the CPU twin
// (kernels/cpu/irn.cpp) and the CUDA twin (kernels/cuda/irn_*.cu, random_walk.cu).
//
// The pair set of IRN (jiwoon-ahn/irn misc/indexing.py, PathIndex.get_all_dir_paths), as facts:
//  - directions of radius r: (0, x) for x = 1..r-1, then (y, x) for y = 1..r-1 and
//    x = -(r-1)..r-1 with x^2 + y^2 < r^2 (the lower half-plane: each unordered pair once);
//    r = 10 gives 152 directions, r = 5 gives 34.
//  - path of (dy, dx): every integer (y, x) of the bounding box of (0,0)-(dy,dx) whose squared
//    distance to the line through them, (dy*x - dx*y)^2 / (dy^2 + dx^2), is < 1; both
//    endpoints belong to it. IRN sorts the points by decreasing |y| + |x| (a stable sort of the
//    row-major box scan), so the destination comes first and the source (0,0) last.
//  - directions are grouped by path length, in increasing length, keeping the scan order
//    inside a group: that is the order of IRN's affinity channels and displacement targets,
//    and the order of our direction index d everywhere in this family.
// The path maximum takes the first point (in the order above) among equal maxima: torch's
// max_pool2d over IRN's gathered path keeps the first maximum, so the gradient goes where
// IRN's goes.
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/common.h"

namespace wsvis::kernels {

constexpr int kIrnMaxRadius = 10;
constexpr int kIrnMaxDirections = 152;   // radius 10
constexpr int kIrnMaxPathPoints = 2134;  // radius 10: sum over its directions of path length
constexpr int kIrnIgnoreLabel = 255;     // IR labels: 0 background, 1..C classes, 255 ignored
// IRN's train_irn.py constants: -log(alpha + 1e-5), -log(1 + 1e-5 - alpha), sum / (count + 1e-5)
constexpr double kIrnLogEps = 1e-5;
constexpr double kIrnCountEps = 1e-5;

// Directions and paths of one radius, as plain arrays so kernels take it by value (about
// 5 KB: CUDA 12.1+ allows kernel parameters up to 32 KB on sm_70 and later).
struct IrnPairSet {
  int radius = 0;
  int num_directions = 0;  // D
  int num_points = 0;      // sum of the path lengths
  int8_t dy[kIrnMaxDirections] = {};
  int8_t dx[kIrnMaxDirections] = {};
  // Points of direction d: indices path_begin[d] .. path_begin[d+1]-1 of py/px, offsets from
  // the source pixel; the first is the destination (dy[d], dx[d]), the last the source (0, 0).
  int16_t path_begin[kIrnMaxDirections + 1] = {};
  int8_t py[kIrnMaxPathPoints] = {};
  int8_t px[kIrnMaxPathPoints] = {};
};

// What a pair of IR labels says (IRN voc12/dataloader.py): both valid (not 255) and equal ->
// background-positive (label 0) or foreground-positive; both valid and different -> negative.
enum IrnPairKind : int { kIrnPairNone = 0, kIrnPairBgPos = 1, kIrnPairFgPos = 2, kIrnPairNeg = 3 };

WSVIS_HD inline int irn_pair_kind(int li, int lj) {
  if (li == kIrnIgnoreLabel || lj == kIrnIgnoreLabel) return kIrnPairNone;
  if (li != lj) return kIrnPairNeg;
  return li == 0 ? kIrnPairBgPos : kIrnPairFgPos;
}

// Max of the boundary plane b (H, W) over the path of direction d from source (y, x); the
// caller guarantees the destination (and so the whole bounding box) is inside the image.
// *arg receives the flat pixel index (y*W + x) of the first maximum.
template <typename T>
WSVIS_HD inline T irn_path_max(const T* b, int64_t W, int64_t y, int64_t x, const IrnPairSet& s,
                               int d, int64_t* arg) {
  const int begin = s.path_begin[d], end = s.path_begin[d + 1];
  int64_t a = (y + s.py[begin]) * W + (x + s.px[begin]);
  T m = b[a];
  for (int k = begin + 1; k < end; ++k) {
    const int64_t idx = (y + s.py[k]) * W + (x + s.px[k]);
    const T v = b[idx];
    if (v > m) {  // strict: ties keep the earlier point
      m = v;
      a = idx;
    }
  }
  *arg = a;
  return m;
}

WSVIS_HD inline bool irn_inside(int64_t y, int64_t x, int64_t H, int64_t W) {
  return y >= 0 && y < H && x >= 0 && x < W;
}

// Whether source (y, x) belongs to IRN's training source crop: rows 0..H-rf-1, columns
// rf..W-rf-1 with rf = radius - 1 (every direction's destination is then inside).
WSVIS_HD inline bool irn_in_source_crop(int64_t y, int64_t x, int64_t H, int64_t W, int radius) {
  const int64_t rf = radius - 1;
  return y < H - rf && x >= rf && x < W - rf;
}

template <typename T>
WSVIS_HD inline T irn_sign(T v) {
  return v > T(0) ? T(1) : (v < T(0) ? T(-1) : T(0));  // torch's abs backward: 0 at 0
}

// alpha^beta for the random-walk weights (alpha in [0, 1]); beta = 10 in IRN.
template <typename T>
WSVIS_HD inline T irn_walk_weight(T alpha, T beta) {
  if (alpha <= T(0)) return T(0);
  T w = T(1);
  // IRN's beta is the integer 10: square-and-multiply is exact to rounding and avoids pow's
  // host/device differences; other betas fall back to exp(beta * log alpha).
  const int ib = static_cast<int>(beta);
  if (T(ib) == beta && ib >= 0 && ib <= 64) {
    T base = alpha;
    for (int e = ib; e > 0; e >>= 1) {
      if (e & 1) w *= base;
      base *= base;
    }
    return w;
  }
  return static_cast<T>(::exp(static_cast<double>(beta) * ::log(static_cast<double>(alpha))));
}

// Neighbour k of the random-walk stencil (0 <= k < 2D+1): k = 0 is the pixel itself,
// k = 1..D the destinations +d of the pairs where it is the source, k = D+1..2D the sources
// -d of the pairs where it is the destination.
WSVIS_HD inline void irn_walk_offset(const IrnPairSet& s, int k, int* oy, int* ox) {
  const int D = s.num_directions;
  if (k == 0) {
    *oy = 0;
    *ox = 0;
  } else if (k <= D) {
    *oy = s.dy[k - 1];
    *ox = s.dx[k - 1];
  } else {
    *oy = -s.dy[k - 1 - D];
    *ox = -s.dx[k - 1 - D];
  }
}

// Affinity alpha between pixel (y, x) and its stencil neighbour k, from the boundary plane b:
// 1 for k = 0, 0 when the neighbour is outside the image (IRN pads B with 1 there), else
// 1 - path max over the pair's path (taken from whichever end is the pair's source).
template <typename T>
WSVIS_HD inline T irn_walk_alpha(const T* b, int64_t H, int64_t W, int64_t y, int64_t x,
                                 const IrnPairSet& s, int k) {
  if (k == 0) return T(1);
  int oy, ox;
  irn_walk_offset(s, k, &oy, &ox);
  if (!irn_inside(y + oy, x + ox, H, W)) return T(0);
  const int D = s.num_directions;
  const int d = k <= D ? k - 1 : k - 1 - D;
  const int64_t sy = k <= D ? y : y + oy, sx = k <= D ? x : x + ox;
  int64_t arg;
  return T(1) - irn_path_max(b, W, sy, sx, s, d, &arg);
}

// IRN loss statistics (one array of kIrnLossStats values written by irn_loss_forward):
// the five terms, IRN's total, and the pair counts the terms were normalised by.
enum IrnLossStat : int {
  kIrnLossBgPos = 0,  // sum_{bg_pos} -log(alpha + 1e-5) / (|bg_pos| + 1e-5)
  kIrnLossFgPos = 1,  // sum_{fg_pos} -log(alpha + 1e-5) / (|fg_pos| + 1e-5)
  kIrnLossNeg = 2,    // sum_{neg} -log(1 + 1e-5 - alpha) / (|neg| + 1e-5)
  kIrnLossDpFg = 3,   // sum_{fg_pos} |D(i) - D(j) - (dy, dx)|_1 / (2 |fg_pos| + 1e-5)
  kIrnLossDpBg = 4,   // sum_{bg_pos} |D(i) - D(j)|_1 / (2 |bg_pos| + 1e-5)
  kIrnLossTotal = 5,  // (bg_pos/2 + fg_pos/2 + neg)/2 + (dp_fg + dp_bg)/2 (train_irn.py)
  kIrnCountBgPos = 6,
  kIrnCountFgPos = 7,
  kIrnCountNeg = 8,
  kIrnLossStats = 9
};
// d total / d term for the five terms (kIrnLossBgPos..kIrnLossDpBg): 1/4, 1/4, 1/2, 1/2, 1/2.
WSVIS_HD inline double irn_total_weight(int term) { return term < kIrnLossNeg ? 0.25 : 0.5; }

// Which loss term the pair (source (y, x), direction d) feeds, or kIrnPairNone when the pair
// is outside the loss's pair set (destination outside; source outside IRN's crop when
// `crop`) or its labels say nothing. lab: one image's (H, W) labels.
WSVIS_HD inline int irn_loss_pair_kind(const uint8_t* lab, int64_t H, int64_t W, int64_t y,
                                       int64_t x, const IrnPairSet& s, int d, bool crop) {
  const int64_t ty = y + s.dy[d], tx = x + s.dx[d];
  if (!irn_inside(ty, tx, H, W)) return kIrnPairNone;
  if (crop && !irn_in_source_crop(y, x, H, W, s.radius)) return kIrnPairNone;
  return irn_pair_kind(lab[y * W + x], lab[ty * W + tx]);
}

// sums: [bg, fg, neg, dp_fg, dp_bg, count bg, count fg, count neg] -> kIrnLossStats values.
WSVIS_HD inline void irn_loss_finish(const double* sums, double* stats) {
  const double cb = sums[5], cf = sums[6], cn = sums[7];
  stats[kIrnLossBgPos] = sums[0] / (cb + kIrnCountEps);
  stats[kIrnLossFgPos] = sums[1] / (cf + kIrnCountEps);
  stats[kIrnLossNeg] = sums[2] / (cn + kIrnCountEps);
  stats[kIrnLossDpFg] = sums[3] / (2 * cf + kIrnCountEps);
  stats[kIrnLossDpBg] = sums[4] / (2 * cb + kIrnCountEps);
  const double pos = stats[kIrnLossBgPos] / 2 + stats[kIrnLossFgPos] / 2;
  stats[kIrnLossTotal] =
      (pos + stats[kIrnLossNeg]) / 2 + (stats[kIrnLossDpFg] + stats[kIrnLossDpBg]) / 2;
  stats[kIrnCountBgPos] = cb;
  stats[kIrnCountFgPos] = cf;
  stats[kIrnCountNeg] = cn;
}

// d loss / d (per-pair quantity): the upstream gradient of each term (plus the total's share)
// over the term's normaliser.
template <typename T>
struct IrnLossCoeffs {
  T aff_bg, aff_fg, aff_neg, dp_fg, dp_bg;
};

template <typename T>
WSVIS_HD inline IrnLossCoeffs<T> irn_loss_coeffs(const T* grad_stats, const T* stats) {
  const double gt = grad_stats[kIrnLossTotal];
  double g[5];
  for (int t = 0; t < 5; ++t) g[t] = double(grad_stats[t]) + irn_total_weight(t) * gt;
  const double cb = stats[kIrnCountBgPos], cf = stats[kIrnCountFgPos], cn = stats[kIrnCountNeg];
  IrnLossCoeffs<T> c;
  c.aff_bg = static_cast<T>(g[kIrnLossBgPos] / (cb + kIrnCountEps));
  c.aff_fg = static_cast<T>(g[kIrnLossFgPos] / (cf + kIrnCountEps));
  c.aff_neg = static_cast<T>(g[kIrnLossNeg] / (cn + kIrnCountEps));
  c.dp_fg = static_cast<T>(g[kIrnLossDpFg] / (2 * cf + kIrnCountEps));
  c.dp_bg = static_cast<T>(g[kIrnLossDpBg] / (2 * cb + kIrnCountEps));
  return c;
}

// Gradient of one pair (source i, destination j = i + (dy, dx), flat indices in one image;
// disp: that image's (2, H, W) displacement, plane = H * W): *ga = d loss / d alpha, (*gy, *gx)
// = d loss / d D(i); D(j) receives the negation.
template <typename T>
WSVIS_HD inline void irn_loss_pair_grad(const IrnLossCoeffs<T>& co, int kind, T alpha,
                                        const T* disp, int64_t plane, int64_t i, int64_t j, int dy,
                                        int dx, T* ga, T* gy, T* gx) {
  *gy = T(0);
  *gx = T(0);
  if (kind == kIrnPairNeg) {
    *ga = co.aff_neg / (T(1) + T(kIrnLogEps) - alpha);
    return;
  }
  const T ey = disp[i] - disp[j], ex = disp[plane + i] - disp[plane + j];
  if (kind == kIrnPairBgPos) {
    *ga = -co.aff_bg / (alpha + T(kIrnLogEps));
    *gy = co.dp_bg * irn_sign(ey);
    *gx = co.dp_bg * irn_sign(ex);
  } else {
    *ga = -co.aff_fg / (alpha + T(kIrnLogEps));
    *gy = co.dp_fg * irn_sign(ey - T(dy));
    *gx = co.dp_fg * irn_sign(ex - T(dx));
  }
}

}  // namespace wsvis::kernels
