// CUDA twin of kernels/cpu/warp.cpp: the forward warp and the gradient with respect to the
// flow. The input gradient lives in warp_backward.cu, mask warping in mask_warp.cu.
#include "engine/cuda_check.h"
#include "engine/error.h"
#include "kernels/warp.h"

namespace wsvis::kernels::cuda {

namespace {

// Channels one forward thread handles. The flow is read and the taps computed once per chunk;
// chunking keeps about a million threads in flight for one 200x336 image with 256 channels
// (looping over all C in one thread would leave 67k threads, too few to cover memory latency).
constexpr int64_t kChannelsPerThread = 16;
constexpr int64_t kMaxGridY = 65535;

// I: the type of the pixel index, int32_t when N*H*W < 2^30 (32-bit division is several times
// cheaper than 64-bit; the grid-stride step is at most 2^27, so the index cannot overflow).
template <typename T, typename I>
__global__ void warp_forward_kernel(const T* __restrict__ x, const T* __restrict__ flow,
                                    int64_t N, int64_t C, int64_t H, int64_t W,
                                    WarpPadding padding, int64_t chunk, T* __restrict__ out) {
  const int64_t plane = H * W;
  const int64_t c_begin = blockIdx.y * chunk;
  const int64_t c_end = c_begin + chunk < C ? c_begin + chunk : C;
  const I pixels = static_cast<I>(N * plane), plane_ = static_cast<I>(plane), w_ = static_cast<I>(W);
  for (I i = static_cast<I>(blockIdx.x * blockDim.x + threadIdx.x); i < pixels;
       i += static_cast<I>(gridDim.x * blockDim.x)) {
    const I n_ = i / plane_, p_ = i - n_ * plane_, y_ = p_ / w_;
    const int64_t n = n_, p = p_, y = y_, xx = p_ - y_ * w_;
    const WarpPixel<T> px = warp_pixel(flow, n, y, xx, H, W, padding);
#pragma unroll 4
    for (int64_t c = c_begin; c < c_end; ++c) {
      const int64_t base = (n * C + c) * plane;
      out[base + p] = warp_sample(x + base, px.taps, W);
    }
  }
}

// Flow gradient: a block of 32 pixels x kFlowSlices channel slices. Slice s sums channels
// s, s + kFlowSlices, ... in order; slice 0 then adds the slices' totals in order. The split
// depends only on the sizes, so the result is the same every run (no atomics).
constexpr int kFlowPixels = 32;
constexpr int kFlowSlices = 8;

template <typename T>
__global__ void warp_backward_flow_kernel(const T* __restrict__ grad_out, const T* __restrict__ x,
                                          const T* __restrict__ flow, int64_t N, int64_t C,
                                          int64_t H, int64_t W, WarpPadding padding,
                                          T* __restrict__ grad_flow) {
  __shared__ T part[2][kFlowSlices][kFlowPixels];
  const int64_t plane = H * W;
  // Every thread of the block runs the same number of iterations (the loop bound depends on
  // blockIdx only), so the __syncthreads below are reached by all of them.
  for (int64_t first = int64_t(blockIdx.x) * kFlowPixels; first < N * plane;
       first += int64_t(gridDim.x) * kFlowPixels) {
    const int64_t i = first + threadIdx.x;
    T gx = T(0), gy = T(0);
    WarpPixel<T> px;
    int64_t n = 0, p = 0;
    if (i < N * plane) {
      n = i / plane;
      p = i - n * plane;
      const int64_t y = p / W, xx = p - y * W;
      px = warp_pixel(flow, n, y, xx, H, W, padding);
      for (int64_t c = threadIdx.y; c < C; c += kFlowSlices) {
        const int64_t base = (n * C + c) * plane;
        T dx, dy;
        warp_sample_grad(x + base, px.taps, W, &dx, &dy);
        const T g = grad_out[base + p];
        gx += g * dx;
        gy += g * dy;
      }
    }
    part[0][threadIdx.y][threadIdx.x] = gx;
    part[1][threadIdx.y][threadIdx.x] = gy;
    __syncthreads();
    if (threadIdx.y == 0 && i < N * plane) {
      T sx = T(0), sy = T(0);
      for (int s = 0; s < kFlowSlices; ++s) {
        sx += part[0][s][threadIdx.x];
        sy += part[1][s][threadIdx.x];
      }
      grad_flow[n * 2 * plane + p] = sx * px.gx_mult;
      grad_flow[n * 2 * plane + plane + p] = sy * px.gy_mult;
    }
    __syncthreads();  // part is reused by the next group of pixels
  }
}

}  // namespace

template <typename T>
void warp_forward(cudaStream_t stream, const T* x, const T* flow, int64_t N, int64_t C,
                  int64_t H, int64_t W, WarpPadding padding, T* out) {
  WSVIS_CHECK(N >= 0 && C >= 0 && H >= 0 && W >= 0, "warp_forward: negative size");
  if (N == 0 || C == 0 || H == 0 || W == 0) return;
  int64_t chunk = kChannelsPerThread;
  if (ceil_div(C, chunk) > kMaxGridY) chunk = ceil_div(C, kMaxGridY);
  const dim3 grid(elementwise_blocks(N * H * W), static_cast<unsigned>(ceil_div(C, chunk)));
  if (N * H * W < (int64_t(1) << 30))
    warp_forward_kernel<T, int32_t><<<grid, kElementwiseThreads, 0, stream>>>(
        x, flow, N, C, H, W, padding, chunk, out);
  else
    warp_forward_kernel<T, int64_t><<<grid, kElementwiseThreads, 0, stream>>>(
        x, flow, N, C, H, W, padding, chunk, out);
  WSVIS_LAUNCH_CHECK();
}

template <typename T>
void warp_backward_flow(cudaStream_t stream, const T* grad_out, const T* x, const T* flow,
                        int64_t N, int64_t C, int64_t H, int64_t W, WarpPadding padding,
                        T* grad_flow) {
  WSVIS_CHECK(N >= 0 && C >= 0 && H >= 0 && W >= 0, "warp_backward_flow: negative size");
  if (N == 0 || H == 0 || W == 0) return;
  int64_t blocks = ceil_div(N * H * W, kFlowPixels);
  if (blocks > 65535LL * 8) blocks = 65535LL * 8;
  // C == 0 still runs: the gradient is then 0 and must be written.
  warp_backward_flow_kernel<T><<<static_cast<unsigned>(blocks), dim3(kFlowPixels, kFlowSlices),
                                 0, stream>>>(grad_out, x, flow, N, C, H, W, padding, grad_flow);
  WSVIS_LAUNCH_CHECK();
}

#define WSVIS_INSTANTIATE_WARP_CUDA(T)                                                       \
  template void warp_forward<T>(cudaStream_t, const T*, const T*, int64_t, int64_t, int64_t,  \
                                int64_t, WarpPadding, T*);                                    \
  template void warp_backward_flow<T>(cudaStream_t, const T*, const T*, const T*, int64_t,    \
                                      int64_t, int64_t, int64_t, WarpPadding, T*);
WSVIS_INSTANTIATE_WARP_CUDA(float)
WSVIS_INSTANTIATE_WARP_CUDA(double)

}  // namespace wsvis::kernels::cuda
