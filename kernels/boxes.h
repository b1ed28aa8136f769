// The boxes family: pairwise box overlaps, mask IoU/IoM matrices, NMS (torchvision semantics,
// batched and class-aware, no host synchronisation on CUDA), IoM-NMS on masks, detectron2 box
// coding, FCOS (l, t, r, b) coding, anchors and FCOS locations. RoIAlign lives in roi_align.h.
//
// CPU twin (the reference): kernels/cpu/boxes.cpp. CUDA twin: kernels/cuda/box_iou.cu,
// box_coding.cu, mask_overlap.cu, nms.cu. Per-element maths: kernels/boxes_math.h.
//
// Boxes are (x1, y1, x2, y2), area (x2 - x1) * (y2 - y1) (no "+1"), row-major and contiguous.
// Masks are uint8 with any non-zero byte counting as foreground.
// All pointers of a CUDA call are device pointers unless a comment says "host".
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>

#include "kernels/boxes_math.h"
#include "kernels/common.h"

#if WSVIS_WITH_CUDA
#include <cuda_runtime.h>
#endif

namespace wsvis::kernels {

// detectron2 Box2BoxTransform weights; (10, 10, 5, 5) for the box head, (1, 1, 1, 1) for the
// RPN. scale_clamp bounds dw, dh from above at decode: log(1000 / 16).
struct BoxCoderWeights {
  double wx = 10.0, wy = 10.0, ww = 5.0, wh = 5.0;
  double scale_clamp = 4.135166556742356;
  static BoxCoderWeights rpn() { return {1.0, 1.0, 1.0, 1.0, 4.135166556742356}; }
  static BoxCoderWeights roi_heads() { return {}; }
};

// One FPN level of detectron2's DefaultAnchorGenerator: cell anchors for every (size, aspect
// ratio) pair, size-major, shifted to (x * stride + offset * stride, y * stride + ...).
struct AnchorSpec {
  static constexpr int kMax = 8;
  int num_sizes = 1;
  double sizes[kMax] = {32.0};
  int num_ratios = 3;
  double ratios[kMax] = {0.5, 1.0, 2.0};  // h / w
  double stride = 4.0;
  double offset = 0.0;
  int anchors_per_cell() const { return num_sizes * num_ratios; }
  // detectron2 defaults for level index 0..4 = P2..P6: size 32 << level, stride 4 << level.
  static AnchorSpec detectron2_level(int level) {
    AnchorSpec s;
    s.sizes[0] = 32.0 * (1 << level);
    s.stride = 4.0 * (1 << level);
    return s;
  }
};

// NMS options shared by batched_nms (and nms, its one-image form).
struct NmsOptions {
  double iou_threshold = 0.5;  // suppress j when IoU(i, j) > iou_threshold (strictly greater)
  // Only boxes with score > score_threshold take part (the default keeps every non-NaN score
  // above -inf); pad unused slots of a batch with -inf. NaN scores never take part.
  double score_threshold = -std::numeric_limits<double>::infinity();
  // K: at most the K best-scoring boxes of each image take part (-1: all M). The CUDA
  // workspace holds a K x K bit matrix per image, so this bounds memory.
  int64_t candidate_limit = -1;
  // Stop after this many boxes are kept in an image (detectron2 post_nms_topk and
  // detections_per_image applied to batched_nms's score-ordered output); -1: no cap.
  int64_t max_keep = -1;
};

// ------------------------------------------------------------------------------------------
// Semantics common to both twins.
//
// box_overlap: a (N, 4), b (M, 4) -> out (N, M) of IoU / IoA (over area of b) / IoM; 0 where
//   the boxes do not intersect (so also for two empty boxes).
// box_encode: src (N, 4), target (N, 4) -> deltas (N, 4) (detectron2 get_deltas).
// box_decode: boxes (N, 4), deltas (N, K*4) -> out (N, K*4) (detectron2 apply_deltas, with K
//   class-specific delta sets per box; dw, dh clamped at scale_clamp).
// fcos_encode: points (N, 2) as (x, y), boxes (N, 4), scales (N) or nullptr (= 1) -> ltrb (N, 4).
// fcos_decode: points (N, 2), ltrb (N, 4), scales (N) or nullptr -> boxes (N, 4).
// clip_boxes: boxes (N, 4) clamped in place to x in [0, width], y in [0, height].
// anchors: one level, feature map (H, W) -> out (H * W * A, 4), A = spec.anchors_per_cell(),
//   ordered by row, column, then cell anchor; value float(shift) + float(cell anchor) as in
//   detectron2 (shifts from float arange, cell anchors computed in double then rounded).
// fcos_locations: (H, W), stride s -> out (H * W, 2) = (x * s + s / 2, y * s + s / 2), s / 2
//   integer division (AdelaiDet compute_locations).
//
// mask_overlap: a (K, P) and b (L, P) uint8 masks (P = H * W pixels) -> iou (K, L) and iom
//   (K, L) (intersection over the smaller area); either output may be nullptr. Ratios are
//   0 where the denominator is 0 (two empty masks: IoU 0; an empty mask: IoM 0).
//
// batched_nms: boxes (B, M, 4), scores (B, M), labels (B, M) int32 or nullptr. Within each
//   image b, the boxes taking part (score > score_threshold, then the candidate_limit best)
//   are ordered by score descending, ties by slot index ascending; greedily, a box is kept
//   unless an earlier kept box OF THE SAME LABEL has IoU > iou_threshold with it (torchvision
//   batched_nms: different labels, i.e. classes or FPN levels, never suppress each other;
//   different images never interact). Outputs, all overwritten:
//     keep (B, M) int32: image b's kept slot indices (0..M-1) in descending score order in
//       keep[b, 0 : keep_count[b]], then -1;
//     keep_count (B) int32;
//     keep_mask (B, M) uint8 or nullptr: 1 where the slot was kept.
//   On CUDA the whole call is one stream-ordered launch sequence with no host
//   synchronisation: the caller reads keep_count whenever it likes. CUDA instantiates
//   T = float only (the score is packed with the image index into one 64-bit radix key);
//   the CPU reference has float and double.
// nms: the one-image form (B = 1, no labels): boxes (N, 4), scores (N) -> keep (N), keep_count (1).
//
// mask_iom_nms: masks (N, P) uint8, scores (N) -> keep (N) int32 (kept mask indices in
//   descending score order, then -1), keep_count (1) int32. Greedy in score order (ties by
//   index, NaN scores dropped); j is suppressed when an earlier kept i has
//   intersection / min(area_i, area_j) > threshold (MaskConsist uses 0.5).
// ------------------------------------------------------------------------------------------

namespace cpu {
template <typename T>
void box_overlap(const T* a, int64_t n, const T* b, int64_t m, Overlap kind, T* out);

template <typename T>
void box_encode(const T* src, const T* target, int64_t n, const BoxCoderWeights& w, T* deltas);
template <typename T>
void box_decode(const T* boxes, const T* deltas, int64_t n, int64_t k, const BoxCoderWeights& w,
                T* out);
template <typename T>
void fcos_encode(const T* points, const T* boxes, const T* scales, int64_t n, T* ltrb);
template <typename T>
void fcos_decode(const T* points, const T* ltrb, const T* scales, int64_t n, T* boxes);
template <typename T>
void clip_boxes(T* boxes, int64_t n, T height, T width);
template <typename T>
void anchors(T* out, int64_t height, int64_t width, const AnchorSpec& spec);
template <typename T>
void fcos_locations(T* out, int64_t height, int64_t width, int64_t stride);

size_t mask_overlap_workspace_bytes(int64_t k, int64_t l, int64_t pixels);
template <typename T>
void mask_overlap(const uint8_t* a, int64_t k, const uint8_t* b, int64_t l, int64_t pixels,
                  T* iou, T* iom, void* workspace, size_t workspace_bytes);

size_t batched_nms_workspace_bytes(int64_t batch, int64_t capacity, const NmsOptions& opt);
template <typename T>
void batched_nms(const T* boxes, const T* scores, const int32_t* labels, int64_t batch,
                 int64_t capacity, const NmsOptions& opt, int32_t* keep, int32_t* keep_count,
                 uint8_t* keep_mask, void* workspace, size_t workspace_bytes);
size_t nms_workspace_bytes(int64_t n);
template <typename T>
void nms(const T* boxes, const T* scores, int64_t n, double iou_threshold, int32_t* keep,
         int32_t* keep_count, void* workspace, size_t workspace_bytes);

size_t mask_iom_nms_workspace_bytes(int64_t n, int64_t pixels);
void mask_iom_nms(const uint8_t* masks, const float* scores, int64_t n, int64_t pixels,
                  double threshold, int32_t* keep, int32_t* keep_count, void* workspace,
                  size_t workspace_bytes);
}  // namespace cpu

#if WSVIS_WITH_CUDA
namespace cuda {
template <typename T>
void box_overlap(cudaStream_t stream, const T* a, int64_t n, const T* b, int64_t m, Overlap kind,
                 T* out);

template <typename T>
void box_encode(cudaStream_t stream, const T* src, const T* target, int64_t n,
                const BoxCoderWeights& w, T* deltas);
template <typename T>
void box_decode(cudaStream_t stream, const T* boxes, const T* deltas, int64_t n, int64_t k,
                const BoxCoderWeights& w, T* out);
template <typename T>
void fcos_encode(cudaStream_t stream, const T* points, const T* boxes, const T* scales, int64_t n,
                 T* ltrb);
template <typename T>
void fcos_decode(cudaStream_t stream, const T* points, const T* ltrb, const T* scales, int64_t n,
                 T* boxes);
template <typename T>
void clip_boxes(cudaStream_t stream, T* boxes, int64_t n, T height, T width);
template <typename T>
void anchors(cudaStream_t stream, T* out, int64_t height, int64_t width, const AnchorSpec& spec);
template <typename T>
void fcos_locations(cudaStream_t stream, T* out, int64_t height, int64_t width, int64_t stride);

// Workspace sizes are host computations (no device query, no synchronisation).
size_t mask_overlap_workspace_bytes(int64_t k, int64_t l, int64_t pixels);
template <typename T>
void mask_overlap(cudaStream_t stream, const uint8_t* a, int64_t k, const uint8_t* b, int64_t l,
                  int64_t pixels, T* iou, T* iom, void* workspace, size_t workspace_bytes);

size_t batched_nms_workspace_bytes(int64_t batch, int64_t capacity, const NmsOptions& opt);
template <typename T>
void batched_nms(cudaStream_t stream, const T* boxes, const T* scores, const int32_t* labels,
                 int64_t batch, int64_t capacity, const NmsOptions& opt, int32_t* keep,
                 int32_t* keep_count, uint8_t* keep_mask, void* workspace,
                 size_t workspace_bytes);
size_t nms_workspace_bytes(int64_t n);
template <typename T>
void nms(cudaStream_t stream, const T* boxes, const T* scores, int64_t n, double iou_threshold,
         int32_t* keep, int32_t* keep_count, void* workspace, size_t workspace_bytes);

size_t mask_iom_nms_workspace_bytes(int64_t n, int64_t pixels);
void mask_iom_nms(cudaStream_t stream, const uint8_t* masks, const float* scores, int64_t n,
                  int64_t pixels, double threshold, int32_t* keep, int32_t* keep_count,
                  void* workspace, size_t workspace_bytes);
}  // namespace cuda
#endif

}  // namespace wsvis::kernels
