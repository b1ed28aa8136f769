// CUDA twin of cpu::warp_backward_input: the gradient of the warp with respect to its input,
// a scatter of grad_out onto the four taps of every pixel. Two schedules:
//  - atomic: one thread per pixel and chunk of channels adds into grad_x with atomicAdd. Fast,
//    but the order of the additions changes from run to run, so float results vary in the
//    last bits between runs (as torch's grid_sample backward does).
//  - deterministic: the taps of all pixels are sorted by the pixel they land on (cub's radix
//    sort is stable, so within one target they stay in source-pixel order), then every grad_x
//    element gathers its contributions in that order. Same bits every run, and the same
//    summation order as the CPU twin.
#include <climits>

#include <cub/device/device_radix_sort.cuh>

#include "engine/cuda_check.h"
#include "engine/error.h"
#include "kernels/warp.h"

namespace wsvis::kernels::cuda {

namespace {

constexpr int64_t kChannelsPerThread = 16;
constexpr int64_t kMaxGridY = 65535;

// I: the pixel index type, int32_t when N*H*W < 2^30 (cheaper division; see warp.cu).
template <typename T, typename I>
__global__ void warp_scatter_kernel(const T* __restrict__ grad_out, const T* __restrict__ flow,
                                    int64_t N, int64_t C, int64_t H, int64_t W,
                                    WarpPadding padding, int64_t chunk, T* grad_x) {
  const int64_t plane = H * W;
  const int64_t c_begin = blockIdx.y * chunk;
  const int64_t c_end = c_begin + chunk < C ? c_begin + chunk : C;
  const I pixels = static_cast<I>(N * plane), plane_ = static_cast<I>(plane), w_ = static_cast<I>(W);
  for (I i = static_cast<I>(blockIdx.x * blockDim.x + threadIdx.x); i < pixels;
       i += static_cast<I>(gridDim.x * blockDim.x)) {
    const I n_ = i / plane_, p_ = i - n_ * plane_, y_ = p_ / w_;
    const int64_t n = n_, p = p_, y = y_, xx = p_ - y_ * w_;
    const WarpPixel<T> px = warp_pixel(flow, n, y, xx, H, W, padding);
    for (int64_t c = c_begin; c < c_end; ++c) {
      const int64_t base = (n * C + c) * plane;
      const T g = grad_out[base + p];
#pragma unroll
      for (int tap = 0; tap < 4; ++tap)
        if (px.taps.valid(tap)) atomicAdd(grad_x + base + px.taps.offset(tap, W), px.taps.weight(tap) * g);
    }
  }
}

// ---- deterministic path ----------------------------------------------------------------
// Entry e = 4 * (n * H * W + pixel) + tap; its key is the flat (n, target pixel) index, or
// N*H*W (the sentinel, sorted last and never gathered) when the tap is out of range.

struct SortLayout {
  int64_t entries = 0;  // 4 * N * H * W
  int end_bit = 0;      // bits the keys occupy (the sort skips the rest)
  size_t keys_in = 0, keys_out = 0, vals_in = 0, vals_out = 0, offsets = 0, temp = 0;
  size_t temp_bytes = 0, total = 0;
};

size_t align_up(size_t v) { return (v + 255) / 256 * 256; }

SortLayout sort_layout(int64_t N, int64_t H, int64_t W) {
  SortLayout L;
  const int64_t pixels = N * H * W;
  WSVIS_CHECK(4 * pixels + 4 <= INT32_MAX, "warp_backward_input (deterministic): 4*N*H*W=",
              4 * pixels, " does not fit the int32 sort keys; use the atomic path");
  L.entries = 4 * pixels;
  while ((int64_t(1) << L.end_bit) <= pixels) ++L.end_bit;
  CUDA_CHECK(cub::DeviceRadixSort::SortPairs(
      nullptr, L.temp_bytes, static_cast<const uint32_t*>(nullptr), static_cast<uint32_t*>(nullptr),
      static_cast<const int32_t*>(nullptr), static_cast<int32_t*>(nullptr),
      static_cast<int>(L.entries), 0, L.end_bit));
  const size_t ints = static_cast<size_t>(L.entries) * sizeof(int32_t);  // keys and values
  size_t at = 0;
  L.keys_in = at;
  at += align_up(ints);
  L.keys_out = at;
  at += align_up(ints);
  L.vals_in = at;
  at += align_up(ints);
  L.vals_out = at;
  at += align_up(ints);
  L.offsets = at;
  at += align_up(static_cast<size_t>(pixels + 1) * sizeof(int32_t));
  L.temp = at;
  at += align_up(L.temp_bytes);
  L.total = at;
  return L;
}

template <typename T>
__global__ void tap_keys_kernel(const T* __restrict__ flow, int64_t N, int64_t H, int64_t W,
                                WarpPadding padding, uint32_t* keys, int32_t* vals) {
  const int64_t plane = H * W;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < N * plane;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t n = i / plane, p = i - n * plane;
    const int64_t y = p / W, xx = p - y * W;
    const WarpPixel<T> px = warp_pixel(flow, n, y, xx, H, W, padding);
#pragma unroll
    for (int tap = 0; tap < 4; ++tap) {
      const int64_t e = 4 * i + tap;
      keys[e] = static_cast<uint32_t>(px.taps.valid(tap) ? n * plane + px.taps.offset(tap, W)
                                                        : N * plane);
      vals[e] = static_cast<int32_t>(e);
    }
  }
}

// offsets[q] = first sorted entry whose key is >= q, for q in [0, N*H*W]: target q owns the
// entries [offsets[q], offsets[q + 1]).
__global__ void segment_offsets_kernel(const uint32_t* __restrict__ sorted_keys, int64_t entries,
                                       int64_t targets, int32_t* offsets) {
  for (int64_t q = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; q <= targets;
       q += int64_t(gridDim.x) * blockDim.x) {
    int64_t lo = 0, hi = entries;
    while (lo < hi) {
      const int64_t mid = (lo + hi) / 2;
      if (static_cast<int64_t>(sorted_keys[mid]) < q) lo = mid + 1;
      else hi = mid;
    }
    offsets[q] = static_cast<int32_t>(lo);
  }
}

// One thread per grad_x element (n, c, q), q fastest so neighbouring threads read neighbouring
// segments. The weight of each entry is recomputed from the flow with the same maths as the
// forward, so it is bit-identical to the weight the scatter would use.
template <typename T>
__global__ void tap_gather_kernel(const T* __restrict__ grad_out, const T* __restrict__ flow,
                                  const int32_t* __restrict__ sorted_vals,
                                  const int32_t* __restrict__ offsets, int64_t N, int64_t C,
                                  int64_t H, int64_t W, WarpPadding padding, T* grad_x) {
  const int64_t plane = H * W;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < N * C * plane;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t nc = i / plane, q = i - nc * plane;
    const int64_t n = nc / C;
    const int32_t begin = offsets[n * plane + q], end = offsets[n * plane + q + 1];
    T acc = T(0);
    for (int32_t e = begin; e < end; ++e) {
      const int64_t v = sorted_vals[e];
      const int tap = static_cast<int>(v & 3);
      const int64_t p = (v >> 2) - n * plane;  // source pixel inside image n
      const int64_t y = p / W, xx = p - y * W;
      const WarpPixel<T> px = warp_pixel(flow, n, y, xx, H, W, padding);
      acc += px.taps.weight(tap) * grad_out[nc * plane + p];
    }
    grad_x[i] = acc;
  }
}

}  // namespace

size_t warp_backward_input_workspace_bytes(int64_t N, int64_t H, int64_t W, bool deterministic) {
  if (!deterministic || N * H * W == 0) return 0;
  return sort_layout(N, H, W).total;
}

template <typename T>
void warp_backward_input(cudaStream_t stream, const T* grad_out, const T* flow, int64_t N,
                         int64_t C, int64_t H, int64_t W, WarpPadding padding, bool deterministic,
                         void* workspace, size_t workspace_bytes, T* grad_x) {
  WSVIS_CHECK(N >= 0 && C >= 0 && H >= 0 && W >= 0, "warp_backward_input: negative size");
  if (N == 0 || C == 0 || H == 0 || W == 0) return;
  const int64_t pixels = N * H * W;
  if (!deterministic) {
    CUDA_CHECK(cudaMemsetAsync(grad_x, 0, sizeof(T) * static_cast<size_t>(pixels * C), stream));
    int64_t chunk = kChannelsPerThread;
    if (ceil_div(C, chunk) > kMaxGridY) chunk = ceil_div(C, kMaxGridY);
    const dim3 grid(elementwise_blocks(pixels), static_cast<unsigned>(ceil_div(C, chunk)));
    if (pixels < (int64_t(1) << 30))
      warp_scatter_kernel<T, int32_t><<<grid, kElementwiseThreads, 0, stream>>>(
          grad_out, flow, N, C, H, W, padding, chunk, grad_x);
    else
      warp_scatter_kernel<T, int64_t><<<grid, kElementwiseThreads, 0, stream>>>(
          grad_out, flow, N, C, H, W, padding, chunk, grad_x);
    WSVIS_LAUNCH_CHECK();
    return;
  }
  const SortLayout L = sort_layout(N, H, W);
  WSVIS_CHECK(workspace != nullptr && workspace_bytes >= L.total,
              "warp_backward_input (deterministic): workspace of ", workspace_bytes,
              " bytes given, ", L.total, " needed (warp_backward_input_workspace_bytes)");
  char* ws = static_cast<char*>(workspace);
  uint32_t* keys_in = reinterpret_cast<uint32_t*>(ws + L.keys_in);
  uint32_t* keys_out = reinterpret_cast<uint32_t*>(ws + L.keys_out);
  int32_t* vals_in = reinterpret_cast<int32_t*>(ws + L.vals_in);
  int32_t* vals_out = reinterpret_cast<int32_t*>(ws + L.vals_out);
  int32_t* offsets = reinterpret_cast<int32_t*>(ws + L.offsets);

  tap_keys_kernel<T><<<elementwise_blocks(pixels), kElementwiseThreads, 0, stream>>>(
      flow, N, H, W, padding, keys_in, vals_in);
  WSVIS_LAUNCH_CHECK();
  size_t temp_bytes = L.temp_bytes;
  CUDA_CHECK(cub::DeviceRadixSort::SortPairs(ws + L.temp, temp_bytes, keys_in, keys_out, vals_in,
                                             vals_out, static_cast<int>(L.entries), 0, L.end_bit,
                                             stream));
  WSVIS_LAUNCH_CHECK();
  segment_offsets_kernel<<<elementwise_blocks(pixels + 1), kElementwiseThreads, 0, stream>>>(
      keys_out, L.entries, pixels, offsets);
  WSVIS_LAUNCH_CHECK();
  tap_gather_kernel<T><<<elementwise_blocks(pixels * C), kElementwiseThreads, 0, stream>>>(
      grad_out, flow, vals_out, offsets, N, C, H, W, padding, grad_x);
  WSVIS_LAUNCH_CHECK();
}

#define WSVIS_INSTANTIATE_WARP_BACKWARD(T)                                                    \
  template void warp_backward_input<T>(cudaStream_t, const T*, const T*, int64_t, int64_t,     \
                                       int64_t, int64_t, WarpPadding, bool, void*, size_t, T*);
WSVIS_INSTANTIATE_WARP_BACKWARD(float)
WSVIS_INSTANTIATE_WARP_BACKWARD(double)

}  // namespace wsvis::kernels::cuda
