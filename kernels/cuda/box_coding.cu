// CUDA twin of box coding, FCOS coding, clipping, anchors and FCOS locations
// (kernels/boxes.h). One thread per box (or per anchor); the maths is boxes_math.h's.
#include "engine/cuda_check.h"
#include "kernels/boxes.h"

namespace wsvis::kernels::cuda {

namespace {

#define WSVIS_GRID_STRIDE(i, n)                                                    \
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < (n);       \
       i += int64_t(gridDim.x) * blockDim.x)

template <typename T>
struct Weights {
  T wx, wy, ww, wh, clamp;
};

template <typename T>
Weights<T> to_weights(const BoxCoderWeights& w) {
  return {T(w.wx), T(w.wy), T(w.ww), T(w.wh), T(w.scale_clamp)};
}

template <typename T>
__global__ void box_encode_kernel(const T* src, const T* target, int64_t n, Weights<T> w,
                                  T* deltas) {
  WSVIS_GRID_STRIDE(i, n) {
    T s[4], t[4], d[4];
    for (int q = 0; q < 4; ++q) {
      s[q] = src[4 * i + q];
      t[q] = target[4 * i + q];
    }
    box_encode_one(s, t, w.wx, w.wy, w.ww, w.wh, d);
    for (int q = 0; q < 4; ++q) deltas[4 * i + q] = d[q];
  }
}

// One thread per (box, class) delta quadruple.
template <typename T>
__global__ void box_decode_kernel(const T* boxes, const T* deltas, int64_t n, int64_t k,
                                  Weights<T> w, T* out) {
  WSVIS_GRID_STRIDE(f, n * k) {
    const int64_t i = f / k;
    T b[4], d[4], o[4];
    for (int q = 0; q < 4; ++q) {
      b[q] = boxes[4 * i + q];
      d[q] = deltas[4 * f + q];
    }
    box_decode_one(b, d, w.wx, w.wy, w.ww, w.wh, w.clamp, o);
    for (int q = 0; q < 4; ++q) out[4 * f + q] = o[q];
  }
}

template <typename T>
__global__ void fcos_encode_kernel(const T* points, const T* boxes, const T* scales, int64_t n,
                                   T* ltrb) {
  WSVIS_GRID_STRIDE(i, n) {
    const T p[2] = {points[2 * i], points[2 * i + 1]};
    T b[4], o[4];
    for (int q = 0; q < 4; ++q) b[q] = boxes[4 * i + q];
    fcos_encode_one(p, b, scales ? scales[i] : T(1), o);
    for (int q = 0; q < 4; ++q) ltrb[4 * i + q] = o[q];
  }
}

template <typename T>
__global__ void fcos_decode_kernel(const T* points, const T* ltrb, const T* scales, int64_t n,
                                   T* boxes) {
  WSVIS_GRID_STRIDE(i, n) {
    const T p[2] = {points[2 * i], points[2 * i + 1]};
    T d[4], o[4];
    for (int q = 0; q < 4; ++q) d[q] = ltrb[4 * i + q];
    fcos_decode_one(p, d, scales ? scales[i] : T(1), o);
    for (int q = 0; q < 4; ++q) boxes[4 * i + q] = o[q];
  }
}

template <typename T>
__global__ void clip_boxes_kernel(T* boxes, int64_t n, T height, T width) {
  WSVIS_GRID_STRIDE(i, n) {
    T* b = boxes + 4 * i;
    b[0] = bx_min(bx_max(b[0], T(0)), width);
    b[1] = bx_min(bx_max(b[1], T(0)), height);
    b[2] = bx_min(bx_max(b[2], T(0)), width);
    b[3] = bx_min(bx_max(b[3], T(0)), height);
  }
}

// One thread per anchor coordinate quadruple. The AnchorSpec travels by value (kernel
// parameter space); the cell anchor is recomputed in double per thread, bit-identical to the
// host's since sqrt and division are correctly rounded.
template <typename T>
__global__ void anchors_kernel(T* out, int64_t height, int64_t width, AnchorSpec spec) {
  const int a = spec.num_sizes * spec.num_ratios;
  WSVIS_GRID_STRIDE(f, height * width * a) {
    const int c = int(f % a);
    const int64_t cell = f / a;
    const int64_t x = cell % width, y = cell / width;
    double ca[4];
    cell_anchor(spec.sizes[c / spec.num_ratios], spec.ratios[c % spec.num_ratios], ca);
    // mul_rn keeps nvcc from fusing the products into an FMA (the host never does).
    const double start = mul_rn(spec.offset, spec.stride);
    const T sx = T(start + mul_rn(double(x), spec.stride));
    const T sy = T(start + mul_rn(double(y), spec.stride));
    out[4 * f + 0] = sx + T(ca[0]);
    out[4 * f + 1] = sy + T(ca[1]);
    out[4 * f + 2] = sx + T(ca[2]);
    out[4 * f + 3] = sy + T(ca[3]);
  }
}

template <typename T>
__global__ void fcos_locations_kernel(T* out, int64_t height, int64_t width, int64_t stride) {
  WSVIS_GRID_STRIDE(f, height * width) {
    out[2 * f + 0] = T((f % width) * stride + stride / 2);
    out[2 * f + 1] = T((f / width) * stride + stride / 2);
  }
}

}  // namespace

template <typename T>
void box_encode(cudaStream_t stream, const T* src, const T* target, int64_t n,
                const BoxCoderWeights& w, T* deltas) {
  if (n == 0) return;
  box_encode_kernel<T><<<elementwise_blocks(n), kElementwiseThreads, 0, stream>>>(
      src, target, n, to_weights<T>(w), deltas);
  WSVIS_LAUNCH_CHECK();
}

template <typename T>
void box_decode(cudaStream_t stream, const T* boxes, const T* deltas, int64_t n, int64_t k,
                const BoxCoderWeights& w, T* out) {
  if (n == 0 || k == 0) return;
  box_decode_kernel<T><<<elementwise_blocks(n * k), kElementwiseThreads, 0, stream>>>(
      boxes, deltas, n, k, to_weights<T>(w), out);
  WSVIS_LAUNCH_CHECK();
}

template <typename T>
void fcos_encode(cudaStream_t stream, const T* points, const T* boxes, const T* scales, int64_t n,
                 T* ltrb) {
  if (n == 0) return;
  fcos_encode_kernel<T><<<elementwise_blocks(n), kElementwiseThreads, 0, stream>>>(
      points, boxes, scales, n, ltrb);
  WSVIS_LAUNCH_CHECK();
}

template <typename T>
void fcos_decode(cudaStream_t stream, const T* points, const T* ltrb, const T* scales, int64_t n,
                 T* boxes) {
  if (n == 0) return;
  fcos_decode_kernel<T><<<elementwise_blocks(n), kElementwiseThreads, 0, stream>>>(
      points, ltrb, scales, n, boxes);
  WSVIS_LAUNCH_CHECK();
}

template <typename T>
void clip_boxes(cudaStream_t stream, T* boxes, int64_t n, T height, T width) {
  if (n == 0) return;
  clip_boxes_kernel<T><<<elementwise_blocks(n), kElementwiseThreads, 0, stream>>>(
      boxes, n, height, width);
  WSVIS_LAUNCH_CHECK();
}

template <typename T>
void anchors(cudaStream_t stream, T* out, int64_t height, int64_t width, const AnchorSpec& spec) {
  WSVIS_CHECK(spec.num_sizes >= 1 && spec.num_sizes <= AnchorSpec::kMax && spec.num_ratios >= 1 &&
                  spec.num_ratios <= AnchorSpec::kMax,
              "anchors: need 1..", AnchorSpec::kMax, " sizes and ratios, got ", spec.num_sizes,
              " and ", spec.num_ratios);
  const int64_t total = height * width * spec.anchors_per_cell();
  if (total == 0) return;
  anchors_kernel<T><<<elementwise_blocks(total), kElementwiseThreads, 0, stream>>>(
      out, height, width, spec);
  WSVIS_LAUNCH_CHECK();
}

template <typename T>
void fcos_locations(cudaStream_t stream, T* out, int64_t height, int64_t width, int64_t stride) {
  if (height * width == 0) return;
  fcos_locations_kernel<T><<<elementwise_blocks(height * width), kElementwiseThreads, 0, stream>>>(
      out, height, width, stride);
  WSVIS_LAUNCH_CHECK();
}

#define WSVIS_INSTANTIATE_CODING(T)                                                             \
  template void box_encode<T>(cudaStream_t, const T*, const T*, int64_t, const BoxCoderWeights&, \
                              T*);                                                              \
  template void box_decode<T>(cudaStream_t, const T*, const T*, int64_t, int64_t,               \
                              const BoxCoderWeights&, T*);                                      \
  template void fcos_encode<T>(cudaStream_t, const T*, const T*, const T*, int64_t, T*);        \
  template void fcos_decode<T>(cudaStream_t, const T*, const T*, const T*, int64_t, T*);        \
  template void clip_boxes<T>(cudaStream_t, T*, int64_t, T, T);                                 \
  template void anchors<T>(cudaStream_t, T*, int64_t, int64_t, const AnchorSpec&);             \
  template void fcos_locations<T>(cudaStream_t, T*, int64_t, int64_t, int64_t);
WSVIS_INSTANTIATE_CODING(float)
WSVIS_INSTANTIATE_CODING(double)

}  // namespace wsvis::kernels::cuda
