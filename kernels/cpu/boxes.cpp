// CPU twin of the boxes family (kernels/boxes.h): plain loops, the reference for the CUDA
// twin. Per-element maths from kernels/boxes_math.h.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "engine/error.h"
#include "kernels/boxes.h"

namespace wsvis::kernels::cpu {

namespace {

// Carves aligned sub-buffers out of a caller-provided workspace.
class Carver {
 public:
  Carver(void* base, size_t bytes) : base_(static_cast<char*>(base)), bytes_(bytes) {}
  template <typename U>
  U* take(int64_t count) {
    used_ = (used_ + 63) / 64 * 64;
    U* p = reinterpret_cast<U*>(base_ + used_);
    used_ += static_cast<size_t>(count) * sizeof(U);
    WSVIS_CHECK(base_ != nullptr || count == 0, "boxes: workspace is null");
    WSVIS_CHECK(used_ <= bytes_, "boxes: workspace of ", bytes_, " bytes is too small (needs ",
                used_, ")");
    return p;
  }

 private:
  char* base_;
  size_t bytes_;
  size_t used_ = 0;
};

size_t carve_size(std::initializer_list<size_t> parts) {
  size_t total = 0;
  for (size_t p : parts) total = (total + 63) / 64 * 64 + p;
  return total;
}

int64_t effective_candidates(int64_t capacity, const NmsOptions& opt) {
  return opt.candidate_limit < 0 ? capacity : std::min(opt.candidate_limit, capacity);
}

}  // namespace

// ---- pairwise box overlaps --------------------------------------------------------------------

template <typename T>
void box_overlap(const T* a, int64_t n, const T* b, int64_t m, Overlap kind, T* out) {
#pragma omp parallel for if (n * m > (1 << 16))
  for (int64_t i = 0; i < n; ++i) {
    const T area_a = box_area(a + 4 * i);
    for (int64_t j = 0; j < m; ++j)
      out[i * m + j] = box_overlap_ratio(a + 4 * i, b + 4 * j, area_a, box_area(b + 4 * j), kind);
  }
}

// ---- coding ---------------------------------------------------------------------------------

template <typename T>
void box_encode(const T* src, const T* target, int64_t n, const BoxCoderWeights& w, T* deltas) {
  for (int64_t i = 0; i < n; ++i)
    box_encode_one(src + 4 * i, target + 4 * i, T(w.wx), T(w.wy), T(w.ww), T(w.wh),
                   deltas + 4 * i);
}

template <typename T>
void box_decode(const T* boxes, const T* deltas, int64_t n, int64_t k, const BoxCoderWeights& w,
                T* out) {
#pragma omp parallel for if (n * k > (1 << 14))
  for (int64_t i = 0; i < n; ++i)
    for (int64_t c = 0; c < k; ++c)
      box_decode_one(boxes + 4 * i, deltas + (i * k + c) * 4, T(w.wx), T(w.wy), T(w.ww),
                     T(w.wh), T(w.scale_clamp), out + (i * k + c) * 4);
}

template <typename T>
void fcos_encode(const T* points, const T* boxes, const T* scales, int64_t n, T* ltrb) {
  for (int64_t i = 0; i < n; ++i)
    fcos_encode_one(points + 2 * i, boxes + 4 * i, scales ? scales[i] : T(1), ltrb + 4 * i);
}

template <typename T>
void fcos_decode(const T* points, const T* ltrb, const T* scales, int64_t n, T* boxes) {
  for (int64_t i = 0; i < n; ++i)
    fcos_decode_one(points + 2 * i, ltrb + 4 * i, scales ? scales[i] : T(1), boxes + 4 * i);
}

template <typename T>
void clip_boxes(T* boxes, int64_t n, T height, T width) {
  for (int64_t i = 0; i < n; ++i) {
    T* b = boxes + 4 * i;
    b[0] = bx_min(bx_max(b[0], T(0)), width);
    b[1] = bx_min(bx_max(b[1], T(0)), height);
    b[2] = bx_min(bx_max(b[2], T(0)), width);
    b[3] = bx_min(bx_max(b[3], T(0)), height);
  }
}

template <typename T>
void anchors(T* out, int64_t height, int64_t width, const AnchorSpec& spec) {
  const int a = spec.anchors_per_cell();
  WSVIS_CHECK(spec.num_sizes >= 1 && spec.num_sizes <= AnchorSpec::kMax && spec.num_ratios >= 1 &&
                  spec.num_ratios <= AnchorSpec::kMax,
              "anchors: need 1..", AnchorSpec::kMax, " sizes and ratios, got ", spec.num_sizes,
              " and ", spec.num_ratios);
  T cells[AnchorSpec::kMax * AnchorSpec::kMax][4];
  for (int s = 0; s < spec.num_sizes; ++s)
    for (int r = 0; r < spec.num_ratios; ++r) {
      double c[4];
      cell_anchor(spec.sizes[s], spec.ratios[r], c);
      for (int q = 0; q < 4; ++q) cells[s * spec.num_ratios + r][q] = static_cast<T>(c[q]);
    }
  for (int64_t y = 0; y < height; ++y)
    for (int64_t x = 0; x < width; ++x) {
      // torch.arange(offset * stride, W * stride, stride) element x: start + x * step.
      const double start = mul_rn(spec.offset, spec.stride);
      const T sx = static_cast<T>(start + mul_rn(static_cast<double>(x), spec.stride));
      const T sy = static_cast<T>(start + mul_rn(static_cast<double>(y), spec.stride));
      T* o = out + ((y * width + x) * a) * 4;
      for (int c = 0; c < a; ++c) {
        o[4 * c + 0] = sx + cells[c][0];
        o[4 * c + 1] = sy + cells[c][1];
        o[4 * c + 2] = sx + cells[c][2];
        o[4 * c + 3] = sy + cells[c][3];
      }
    }
}

template <typename T>
void fcos_locations(T* out, int64_t height, int64_t width, int64_t stride) {
  for (int64_t y = 0; y < height; ++y)
    for (int64_t x = 0; x < width; ++x) {
      out[2 * (y * width + x) + 0] = static_cast<T>(x * stride + stride / 2);
      out[2 * (y * width + x) + 1] = static_cast<T>(y * stride + stride / 2);
    }
}

// ---- mask overlaps --------------------------------------------------------------------------

size_t mask_overlap_workspace_bytes(int64_t k, int64_t l, int64_t pixels) {
  return carve_size({static_cast<size_t>(k) * sizeof(int64_t), static_cast<size_t>(l) * sizeof(int64_t)});
}

namespace {
int64_t mask_area(const uint8_t* m, int64_t pixels) {
  int64_t s = 0;
  for (int64_t p = 0; p < pixels; ++p) s += m[p] != 0;
  return s;
}
int64_t mask_intersection(const uint8_t* a, const uint8_t* b, int64_t pixels) {
  int64_t s = 0;
  for (int64_t p = 0; p < pixels; ++p) s += (a[p] != 0) & (b[p] != 0);
  return s;
}
}  // namespace

template <typename T>
void mask_overlap(const uint8_t* a, int64_t k, const uint8_t* b, int64_t l, int64_t pixels,
                  T* iou, T* iom, void* workspace, size_t workspace_bytes) {
  Carver carve(workspace, workspace_bytes);
  int64_t* area_a = carve.take<int64_t>(k);
  int64_t* area_b = carve.take<int64_t>(l);
  for (int64_t i = 0; i < k; ++i) area_a[i] = mask_area(a + i * pixels, pixels);
  for (int64_t j = 0; j < l; ++j) area_b[j] = mask_area(b + j * pixels, pixels);
#pragma omp parallel for collapse(2) if (k * l * pixels > (1 << 20))
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = 0; j < l; ++j) {
      const int64_t inter = mask_intersection(a + i * pixels, b + j * pixels, pixels);
      if (iou) iou[i * l + j] = static_cast<T>(mask_iou(inter, area_a[i], area_b[j]));
      if (iom) iom[i * l + j] = static_cast<T>(mask_iom(inter, area_a[i], area_b[j]));
    }
}

// ---- NMS ------------------------------------------------------------------------------------

size_t batched_nms_workspace_bytes(int64_t batch, int64_t capacity, const NmsOptions& opt) {
  const size_t per = static_cast<size_t>(batch) * static_cast<size_t>(capacity);
  return carve_size({per * sizeof(int32_t), per * sizeof(uint8_t)});
}

template <typename T>
void batched_nms(const T* boxes, const T* scores, const int32_t* labels, int64_t batch,
                 int64_t capacity, const NmsOptions& opt, int32_t* keep, int32_t* keep_count,
                 uint8_t* keep_mask, void* workspace, size_t workspace_bytes) {
  WSVIS_CHECK(batch >= 0 && capacity >= 0 && capacity <= INT32_MAX,
              "batched_nms: bad sizes B=", batch, " M=", capacity);
  Carver carve(workspace, workspace_bytes);
  int32_t* order_all = carve.take<int32_t>(batch * capacity);
  uint8_t* removed_all = carve.take<uint8_t>(batch * capacity);
  const int64_t limit = effective_candidates(capacity, opt);
  const double thr = opt.iou_threshold;

#pragma omp parallel for schedule(dynamic) if (batch > 1)
  for (int64_t b = 0; b < batch; ++b) {
    const T* bx = boxes + b * capacity * 4;
    const T* sc = scores + b * capacity;
    const int32_t* lb = labels ? labels + b * capacity : nullptr;
    int32_t* order = order_all + b * capacity;
    uint8_t* removed = removed_all + b * capacity;
    int32_t* kp = keep + b * capacity;
    for (int64_t s = 0; s < capacity; ++s) kp[s] = -1;
    if (keep_mask)
      for (int64_t s = 0; s < capacity; ++s) keep_mask[b * capacity + s] = 0;

    int64_t n = 0;
    for (int64_t s = 0; s < capacity; ++s)
      if (static_cast<double>(sc[s]) > opt.score_threshold) order[n++] = static_cast<int32_t>(s);
    // Score descending, slot ascending among equal scores: a strict total order, so std::sort
    // gives the stable order without stable_sort's scratch allocation.
    std::sort(order, order + n, [sc](int32_t x, int32_t y) {
      return sc[x] > sc[y] || (!(sc[y] > sc[x]) && x < y);
    });
    n = std::min(n, limit);
    for (int64_t i = 0; i < n; ++i) removed[i] = 0;

    int64_t kept = 0;
    for (int64_t i = 0; i < n; ++i) {
      if (removed[i]) continue;
      if (opt.max_keep >= 0 && kept >= opt.max_keep) break;
      const int32_t si = order[i];
      kp[kept++] = si;
      if (keep_mask) keep_mask[b * capacity + si] = 1;
      const T* bi = bx + 4 * si;
      const T area_i = box_area(bi);
      for (int64_t j = i + 1; j < n; ++j) {
        if (removed[j]) continue;
        const int32_t sj = order[j];
        if (lb && lb[sj] != lb[si]) continue;
        const T* bj = bx + 4 * sj;
        const T iou = box_overlap_ratio(bi, bj, area_i, box_area(bj), Overlap::iou);
        if (static_cast<double>(iou) > thr) removed[j] = 1;
      }
    }
    keep_count[b] = static_cast<int32_t>(kept);
  }
}

size_t nms_workspace_bytes(int64_t n) { return batched_nms_workspace_bytes(1, n, NmsOptions{}); }

template <typename T>
void nms(const T* boxes, const T* scores, int64_t n, double iou_threshold, int32_t* keep,
         int32_t* keep_count, void* workspace, size_t workspace_bytes) {
  NmsOptions opt;
  opt.iou_threshold = iou_threshold;
  batched_nms<T>(boxes, scores, nullptr, 1, n, opt, keep, keep_count, nullptr, workspace,
                 workspace_bytes);
}

// ---- IoM-NMS on masks -------------------------------------------------------------------------

size_t mask_iom_nms_workspace_bytes(int64_t n, int64_t pixels) {
  return carve_size({static_cast<size_t>(n) * sizeof(int64_t),
                     static_cast<size_t>(n) * sizeof(int32_t), static_cast<size_t>(n)});
}

void mask_iom_nms(const uint8_t* masks, const float* scores, int64_t n, int64_t pixels,
                  double threshold, int32_t* keep, int32_t* keep_count, void* workspace,
                  size_t workspace_bytes) {
  WSVIS_CHECK(n >= 0 && n <= INT32_MAX, "mask_iom_nms: bad mask count ", n);
  Carver carve(workspace, workspace_bytes);
  int64_t* area = carve.take<int64_t>(n);
  int32_t* order = carve.take<int32_t>(n);
  uint8_t* removed = carve.take<uint8_t>(n);
  int64_t m = 0;
  for (int64_t i = 0; i < n; ++i) {
    keep[i] = -1;
    area[i] = mask_area(masks + i * pixels, pixels);
    if (scores[i] > -std::numeric_limits<float>::infinity()) order[m++] = static_cast<int32_t>(i);
  }
  std::sort(order, order + m, [scores](int32_t x, int32_t y) {
    return scores[x] > scores[y] || (!(scores[y] > scores[x]) && x < y);
  });
  for (int64_t i = 0; i < m; ++i) removed[i] = 0;
  int64_t kept = 0;
  for (int64_t i = 0; i < m; ++i) {
    if (removed[i]) continue;
    const int32_t a = order[i];
    keep[kept++] = a;
    for (int64_t j = i + 1; j < m; ++j) {
      if (removed[j]) continue;
      const int32_t b = order[j];
      const int64_t inter = mask_intersection(masks + a * pixels, masks + b * pixels, pixels);
      if (mask_iom(inter, area[a], area[b]) > threshold) removed[j] = 1;
    }
  }
  keep_count[0] = static_cast<int32_t>(kept);
}

// ---- instantiations ---------------------------------------------------------------------------

#define WSVIS_INSTANTIATE_BOXES(T)                                                              \
  template void box_overlap<T>(const T*, int64_t, const T*, int64_t, Overlap, T*);              \
  template void box_encode<T>(const T*, const T*, int64_t, const BoxCoderWeights&, T*);         \
  template void box_decode<T>(const T*, const T*, int64_t, int64_t, const BoxCoderWeights&, T*); \
  template void fcos_encode<T>(const T*, const T*, const T*, int64_t, T*);                      \
  template void fcos_decode<T>(const T*, const T*, const T*, int64_t, T*);                      \
  template void clip_boxes<T>(T*, int64_t, T, T);                                               \
  template void anchors<T>(T*, int64_t, int64_t, const AnchorSpec&);                            \
  template void fcos_locations<T>(T*, int64_t, int64_t, int64_t);                               \
  template void mask_overlap<T>(const uint8_t*, int64_t, const uint8_t*, int64_t, int64_t, T*,  \
                                T*, void*, size_t);                                             \
  template void batched_nms<T>(const T*, const T*, const int32_t*, int64_t, int64_t,            \
                               const NmsOptions&, int32_t*, int32_t*, uint8_t*, void*, size_t); \
  template void nms<T>(const T*, const T*, int64_t, double, int32_t*, int32_t*, void*, size_t);
WSVIS_INSTANTIATE_BOXES(float)
WSVIS_INSTANTIATE_BOXES(double)

}  // namespace wsvis::kernels::cpu
