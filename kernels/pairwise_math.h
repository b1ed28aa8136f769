// Per-element maths of the pairwise family (kernels/pairwise.h), shared by the CPU twin and the
// CUDA kernels: sRGB -> CIE Lab with skimage's constants, the 8-neighbour stencil at dilation 2
// (AdelaiDet's unfold_wo_center order), the neighbour similarity, BoxInst's pairwise edge loss
// and its derivative, the box bitmask at mask resolution, and the dice terms of the projection
// loss. Formulas and constants: specs/boxinst_maskrcnn_ytvis.md A.4 (and the Ikeda & Mori paper
// for the flow similarity).
#pragma once

#include <math.h>

#include <cstdint>

#include "kernels/common.h"

namespace wsvis::kernels {

// ---- constants (spec A.4; Ikeda & Mori sec. 4) ----------------------------------------------
constexpr int kPairwiseNeighbours = 8;       // 3x3 kernel without its centre
constexpr int kPairwiseDilation = 2;         // MODEL.BOXINST.PAIRWISE.DILATION
constexpr double kPairwiseColorThresh = 0.3; // MODEL.BOXINST.PAIRWISE.COLOR_THRESH (tau_color)
constexpr double kColorSimilarityTheta = 2;  // exp(-||dLab|| * 0.5): theta_color = 2
constexpr double kFlowSimilarityTheta = 0.5; // theta_flow (paper), on flow colours in [0, 1]
constexpr double kPairwiseFlowThresh = 0.6;  // tau_flow (paper)
constexpr int kMaskOutStride = 4;            // MASK_OUT_STRIDE: similarity and masks at stride 4
constexpr double kProjectionDiceEps = 1e-5;  // dice_coefficient's eps

struct PairwiseParams {
  int dilation = kPairwiseDilation;
  double color_thresh = kPairwiseColorThresh;  // an edge needs color_sim >= color_thresh
  double flow_thresh = kPairwiseFlowThresh;    // ... and flow_sim >= flow_thresh (when given)
};

// ---- the stencil ----------------------------------------------------------------------------
// Neighbour e in [0, 8) of the 3x3 kernel at the given dilation, in unfold order with the centre
// removed: (dy, dx) = (-d,-d), (-d,0), (-d,d), (0,-d), (0,d), (d,-d), (d,0), (d,d).
WSVIS_HD inline void pairwise_offset(int e, int dilation, int* dy, int* dx) {
  const int kk = e < 4 ? e : e + 1;  // index in the full 3x3 kernel
  *dy = (kk / 3 - 1) * dilation;
  *dx = (kk % 3 - 1) * dilation;
}
// The neighbour whose offset is the negation of e's: edge (i, i + o_e) seen from i + o_e.
WSVIS_HD inline int pairwise_opposite(int e) { return kPairwiseNeighbours - 1 - e; }

// ---- sRGB -> CIE Lab (skimage.color.rgb2lab, illuminant D65, 2 degree observer) -------------
// Always in double (skimage works in float64; AdelaiDet casts the result to float32 after).
WSVIS_HD inline double srgb_to_linear(double c) {
  return c > 0.04045 ? pow((c + 0.055) / 1.055, 2.4) : c / 12.92;
}
WSVIS_HD inline double lab_f(double t) { return t > 0.008856 ? cbrt(t) : 7.787 * t + 16.0 / 116.0; }

// r, g, b in [0, 1] -> L, a, b.
WSVIS_HD inline void rgb_to_lab_pixel(double r, double g, double b, double* lab) {
  r = srgb_to_linear(r);
  g = srgb_to_linear(g);
  b = srgb_to_linear(b);
  // XYZ = M rgb with skimage's xyz_from_rgb, divided by the D65 white (0.95047, 1, 1.08883).
  const double x = (0.412453 * r + 0.357580 * g + 0.180423 * b) / 0.95047;
  const double y = (0.212671 * r + 0.715160 * g + 0.072169 * b) / 1.0;
  const double z = (0.019334 * r + 0.119193 * g + 0.950227 * b) / 1.08883;
  const double fx = lab_f(x), fy = lab_f(y), fz = lab_f(z);
  lab[0] = 116.0 * fy - 16.0;
  lab[1] = 500.0 * (fx - fy);
  lab[2] = 200.0 * (fy - fz);
}

// A channel value as rgb2lab sees it: uint8 / 255 (img_as_float), float as is.
WSVIS_HD inline double unit_colour(uint8_t v) { return v / 255.0; }
WSVIS_HD inline double unit_colour(float v) { return v; }
WSVIS_HD inline double unit_colour(double v) { return v; }

// Value of one pooled pixel as AdelaiDet's `.byte()` makes it: truncation toward zero (clamped
// to [0, 255] so out-of-range input cannot overflow; NaN gives 0).
WSVIS_HD inline uint8_t truncate_to_byte(double v) {
  if (!(v >= 0)) return 0;
  if (v >= 255) return 255;
  return static_cast<uint8_t>(v);
}

// ---- transcendental overloads ---------------------------------------------------------------
WSVIS_HD inline float pw_exp(float x) { return expf(x); }
WSVIS_HD inline double pw_exp(double x) { return exp(x); }
WSVIS_HD inline float pw_log1p(float x) { return log1pf(x); }
WSVIS_HD inline double pw_log1p(double x) { return log1p(x); }
WSVIS_HD inline float pw_sqrt(float x) { return sqrtf(x); }
WSVIS_HD inline double pw_sqrt(double x) { return sqrt(x); }

// exp(-||f_i - f_j|| * value_scale / theta): the similarity of two feature vectors, with the
// difference formed and squared in T like torch.norm over float32 Lab values.
template <typename T>
WSVIS_HD inline T similarity_from_sqdist(T sqdist, T inv_theta) {
  return pw_exp(-pw_sqrt(sqdist) * inv_theta);
}

// ---- the pairwise edge loss -----------------------------------------------------------------
// For logits a (pixel i) and b (neighbour j), AdelaiDet computes
//   -log P(same) = -logsumexp(logsig(a) + logsig(b), logsig(-a) + logsig(-b)).
// With sp = softplus: logsig(x) = -sp(-x), so u = sp(-a) + sp(-b) and v = sp(a) + sp(b) are the
// two negated log terms, u - v = -(a + b), and
//   -log P(same) = min(u, v) - log1p(exp(-|a + b|)),
//   d/da = sigmoid(a) - sigmoid(a + b)   (symmetric in b).
// sp(x) and sp(-x) share t = log1p(exp(-|x|)): sp(x) = max(x, 0) + t, sp(-x) = max(-x, 0) + t.
template <typename T>
struct Softplus2 {
  T pos, neg;  // softplus(x), softplus(-x)
};
template <typename T>
WSVIS_HD inline Softplus2<T> softplus2(T x) {
  const T t = pw_log1p(pw_exp(-(x < T(0) ? -x : x)));
  return {(x > T(0) ? x : T(0)) + t, (x < T(0) ? -x : T(0)) + t};
}

template <typename T>
WSVIS_HD inline T pairwise_edge_loss(T a, const Softplus2<T>& sa, T b, const Softplus2<T>& sb) {
  const T u = sa.neg + sb.neg, v = sa.pos + sb.pos;
  const T s = a + b;
  return (u < v ? u : v) - pw_log1p(pw_exp(-(s < T(0) ? -s : s)));
}

template <typename T>
WSVIS_HD inline T pw_sigmoid(T x) {
  if (x >= T(0)) return T(1) / (T(1) + pw_exp(-x));
  const T e = pw_exp(x);
  return e / (T(1) + e);
}

// Whether edge e of pixel p (flat index inside an (H, W) plane) is a positive edge of the loss:
// color_sim >= color_thresh and, when flow_sim is given, flow_sim >= flow_thresh. The sims
// point at image n's (8, H, W) block.
template <typename T>
WSVIS_HD inline bool pairwise_edge_on(const T* color_sim, const T* flow_sim, int e, int64_t plane,
                                      int64_t p, T color_thresh, T flow_thresh) {
  if (!(color_sim[e * plane + p] >= color_thresh)) return false;
  return flow_sim == nullptr || flow_sim[e * plane + p] >= flow_thresh;
}

// ---- the box bitmask at mask resolution -----------------------------------------------------
inline int64_t floor_div_i64(int64_t a, int64_t b) {  // b > 0
  const int64_t q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}

// AdelaiDet's box "mask": full-resolution rows int(y1) .. int(y2 + 1) - 1 and columns
// int(x1) .. int(x2 + 1) - 1 (int() truncates, the +1 is added in the box's float precision),
// sampled at [stride/2 :: stride] onto an (H, W) map whose full resolution is (H*stride,
// W*stride). It is a rectangle: rect = (x0, y0, x1, y1), inclusive, on the (H, W) map; empty
// (x1 < x0 or y1 < y0) when no sample falls inside. Coordinates are clamped to the full image
// first (detectron2 clips GT boxes, so this only matters for malformed input).
template <typename T>
inline void box_mask_rect(T bx1, T by1, T bx2, T by2, int64_t H, int64_t W, int stride,
                          int32_t* rect) {
  const int64_t off = stride / 2;
  auto span = [&](T lo, T hi, int64_t size, int32_t* first, int32_t* last) {
    const double full = double(size) * stride;
    auto trunc_clamp = [&](double v) -> int64_t {
      if (!(v > 0)) return 0;  // NaN too
      if (v > full) return static_cast<int64_t>(full);
      return static_cast<int64_t>(v);  // truncation toward zero, like Python's int()
    };
    const int64_t s = trunc_clamp(static_cast<double>(lo));
    const int64_t e = trunc_clamp(static_cast<double>(static_cast<T>(hi + T(1))));  // exclusive
    // sample q covers full-res row q*stride + off: inside iff s <= q*stride + off < e.
    int64_t q0 = -floor_div_i64(-(s - off), stride);  // ceil((s - off) / stride)
    int64_t q1 = floor_div_i64(e - 1 - off, stride);
    if (q0 < 0) q0 = 0;
    if (q1 > size - 1) q1 = size - 1;
    *first = static_cast<int32_t>(q0);
    *last = static_cast<int32_t>(q1);
  };
  span(bx1, bx2, W, &rect[0], &rect[2]);
  span(by1, by2, H, &rect[1], &rect[3]);
  if (rect[2] < rect[0] || rect[3] < rect[1]) rect[0] = rect[1] = 0, rect[2] = rect[3] = -1;
}

WSVIS_HD inline bool rect_empty(const int32_t* rect) { return rect[2] < rect[0] || rect[3] < rect[1]; }

// The part of rect inside an (H, W) map as (x0, y0, x1, y1) inclusive; false when none is (so
// a malformed rect can never send a kernel outside the map).
WSVIS_HD inline bool clamp_rect(const int32_t* rect, int64_t H, int64_t W, int64_t* c) {
  c[0] = rect[0] > 0 ? rect[0] : 0;
  c[1] = rect[1] > 0 ? rect[1] : 0;
  c[2] = rect[2] < W - 1 ? rect[2] : W - 1;
  c[3] = rect[3] < H - 1 ? rect[3] : H - 1;
  return c[0] <= c[2] && c[1] <= c[3];
}

// ---- projection loss (dice on max-projections) ----------------------------------------------
// d(1 - 2 I / U)/dp for one element p with target t, I = sum p t, U = sum p^2 + sum t^2 + eps.
template <typename T>
WSVIS_HD inline T dice_grad_elem(T p, T t, T inter, T uni) {
  return (T(4) * inter * p - T(2) * t * uni) / (uni * uni);
}

}  // namespace wsvis::kernels
