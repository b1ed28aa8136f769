// Per-element box and mask maths shared by the CPU and CUDA twins of the boxes family
// (kernels/boxes.h). Boxes are (x1, y1, x2, y2) in detectron2/torchvision convention:
// width = x2 - x1, height = y2 - y1, no "+1".
//
// NMS parity between the twins hinges on IoU being bit-identical on host and device, so the
// products here go through mul_rn, which on the device forbids nvcc from contracting a
// multiply and a following add into one FMA. The host side relies on the build not enabling
// FMA instructions (baseline x86-64, no -march=native / -mfma): GCC would otherwise contract
// there. Should that change, NMS parity degrades only for IoUs within an ulp of the threshold
// (the tests then compare by edit distance).
#pragma once

#include <math.h>
#include <string.h>

#include <cstdint>

#include "kernels/common.h"

namespace wsvis::kernels {

// Which ratio a pairwise overlap reports. IoA follows detectron2's pairwise_ioa: the
// intersection over the area of the SECOND box (b); IoM: over the smaller of the two areas.
enum class Overlap : int { iou = 0, ioa = 1, iom = 2 };

// ---- float/double maths under one name ----------------------------------------------------
WSVIS_HD inline float bx_exp(float x) { return expf(x); }
WSVIS_HD inline double bx_exp(double x) { return ::exp(x); }
WSVIS_HD inline float bx_log(float x) { return logf(x); }
WSVIS_HD inline double bx_log(double x) { return ::log(x); }
template <typename T>
WSVIS_HD inline T bx_min(T a, T b) { return b < a ? b : a; }
template <typename T>
WSVIS_HD inline T bx_max(T a, T b) { return a < b ? b : a; }

// ---- boxes ----------------------------------------------------------------------------------
// Area without clamping (torchvision box_area): a degenerate box with x2 < x1 has a negative
// area, exactly as in the references.
template <typename T>
WSVIS_HD inline T box_area(const T* b) {
  return mul_rn(b[2] - b[0], b[3] - b[1]);
}

// Intersection area, widths and heights clamped at 0.
template <typename T>
WSVIS_HD inline T box_intersection(const T* a, const T* b) {
  const T w = bx_min(a[2], b[2]) - bx_max(a[0], b[0]);
  const T h = bx_min(a[3], b[3]) - bx_max(a[1], b[1]);
  if (!(w > T(0)) || !(h > T(0))) return T(0);
  return mul_rn(w, h);
}

// IoU / IoA / IoM of boxes a and b given their precomputed areas. Zero whenever the
// intersection is zero (detectron2 pairwise_iou's torch.where(inter > 0, ..., 0)), which also
// defines two empty boxes as 0 rather than 0/0. The union is (area_a + area_b) - inter: the
// sum is commutative in IEEE arithmetic, so IoU(a, b) == IoU(b, a) bit for bit.
template <typename T>
WSVIS_HD inline T box_overlap_ratio(const T* a, const T* b, T area_a, T area_b, Overlap kind) {
  const T inter = box_intersection(a, b);
  if (!(inter > T(0))) return T(0);
  T denom;
  if (kind == Overlap::iou)
    denom = (area_a + area_b) - inter;
  else if (kind == Overlap::ioa)
    denom = area_b;
  else
    denom = bx_min(area_a, area_b);
  return inter / denom;
}

template <typename T>
WSVIS_HD inline T box_iou(const T* a, const T* b) {
  return box_overlap_ratio(a, b, box_area(a), box_area(b), Overlap::iou);
}

// ---- scores as radix-sortable keys ----------------------------------------------------------
// Maps a float to an unsigned key whose ascending order is the float's descending order, with
// -0.0 folded onto +0.0 so the two compare equal as they do under `>` (ties then fall back to
// the original index in both twins). NaN never reaches here: NMS drops it first.
WSVIS_HD inline uint32_t score_key_descending(float score) {
  if (score == 0.0f) score = 0.0f;
  uint32_t u;
  memcpy(&u, &score, sizeof(u));
  const uint32_t ascending = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
  return ~ascending;
}
// No finite or infinite score maps here (it is the key of a negative NaN): marks dropped boxes.
constexpr uint32_t kDroppedScoreKey = 0xFFFFFFFFu;

// ---- box coding -----------------------------------------------------------------------------
// detectron2 Box2BoxTransform.get_deltas for one (src, target) pair, in detectron2's order of
// operations: centres from x1 + 0.5*w, dx = wx*(tx - sx)/sw, dw = ww*log(tw/sw).
template <typename T>
WSVIS_HD inline void box_encode_one(const T* src, const T* tgt, T wx, T wy, T ww, T wh, T* d) {
  const T sw = src[2] - src[0], sh = src[3] - src[1];
  const T sx = src[0] + mul_rn(T(0.5), sw), sy = src[1] + mul_rn(T(0.5), sh);
  const T tw = tgt[2] - tgt[0], th = tgt[3] - tgt[1];
  const T tx = tgt[0] + mul_rn(T(0.5), tw), ty = tgt[1] + mul_rn(T(0.5), th);
  d[0] = mul_rn(wx, tx - sx) / sw;
  d[1] = mul_rn(wy, ty - sy) / sh;
  d[2] = mul_rn(ww, bx_log(tw / sw));
  d[3] = mul_rn(wh, bx_log(th / sh));
}

// detectron2 Box2BoxTransform.apply_deltas for one box and one delta quadruple: dw, dh are
// clamped from above at scale_clamp (log(1000/16) by default) before the exp.
template <typename T>
WSVIS_HD inline void box_decode_one(const T* box, const T* d, T wx, T wy, T ww, T wh,
                                    T scale_clamp, T* out) {
  const T w = box[2] - box[0], h = box[3] - box[1];
  const T cx = box[0] + mul_rn(T(0.5), w), cy = box[1] + mul_rn(T(0.5), h);
  const T dx = d[0] / wx, dy = d[1] / wy;
  const T dw = bx_min(d[2] / ww, scale_clamp), dh = bx_min(d[3] / wh, scale_clamp);
  const T px = mul_rn(dx, w) + cx, py = mul_rn(dy, h) + cy;
  const T pw = mul_rn(bx_exp(dw), w), ph = mul_rn(bx_exp(dh), h);
  out[0] = px - mul_rn(T(0.5), pw);
  out[1] = py - mul_rn(T(0.5), ph);
  out[2] = px + mul_rn(T(0.5), pw);
  out[3] = py + mul_rn(T(0.5), ph);
}

// FCOS: distances (l, t, r, b) from location p = (px, py) to the box sides, in units of
// `scale` (the level stride in AdelaiDet's training targets, 1 for pixels).
template <typename T>
WSVIS_HD inline void fcos_encode_one(const T* p, const T* box, T scale, T* ltrb) {
  ltrb[0] = (p[0] - box[0]) / scale;
  ltrb[1] = (p[1] - box[1]) / scale;
  ltrb[2] = (box[2] - p[0]) / scale;
  ltrb[3] = (box[3] - p[1]) / scale;
}
// AdelaiDet FCOSOutputs: box = location -/+ (l, t, r, b) * stride.
template <typename T>
WSVIS_HD inline void fcos_decode_one(const T* p, const T* ltrb, T scale, T* box) {
  box[0] = p[0] - mul_rn(ltrb[0], scale);
  box[1] = p[1] - mul_rn(ltrb[1], scale);
  box[2] = p[0] + mul_rn(ltrb[2], scale);
  box[3] = p[1] + mul_rn(ltrb[3], scale);
}

// ---- anchors --------------------------------------------------------------------------------
// detectron2 DefaultAnchorGenerator.generate_cell_anchors for one (size, aspect ratio) in
// double (as Python computes it): w = sqrt(size^2 / ratio), h = ratio * w, centred at 0.
// sqrt and division are correctly rounded on host and device alike.
WSVIS_HD inline void cell_anchor(double size, double ratio, double* out) {
  const double w = sqrt(size * size / ratio);
  const double h = ratio * w;
  out[0] = -w / 2.0;
  out[1] = -h / 2.0;
  out[2] = w / 2.0;
  out[3] = h / 2.0;
}

// ---- masks ----------------------------------------------------------------------------------
// count / denom in double, and 0 where the denominator is 0: two empty masks have IoU 0 and
// an empty mask has IoM 0 with anything (nothing of it is covered, so it suppresses nothing
// and is suppressed by nothing).
WSVIS_HD inline double mask_ratio(int64_t count, int64_t denom) {
  return denom > 0 ? static_cast<double>(count) / static_cast<double>(denom) : 0.0;
}
WSVIS_HD inline double mask_iou(int64_t inter, int64_t area_a, int64_t area_b) {
  return mask_ratio(inter, area_a + area_b - inter);
}
WSVIS_HD inline double mask_iom(int64_t inter, int64_t area_a, int64_t area_b) {
  return mask_ratio(inter, area_a < area_b ? area_a : area_b);
}

}  // namespace wsvis::kernels
