// CUDA twin of cpu::warp_masks: warp K masks by one flow, threshold, and reduce each result to
// its tight box and area. Blocks cover 256 pixels of one mask; each block reduces its pixels'
// box and count (warp shuffles, then shared memory) and folds them into the per-mask result
// with one integer atomicMin/atomicMax/atomicAdd per quantity. Integer min, max and sum do not
// depend on order, so the result is exact and the same every run.
#include <climits>

#include "engine/cuda_check.h"
#include "engine/error.h"
#include "kernels/warp.h"

namespace wsvis::kernels::cuda {

namespace {

constexpr int kMaskThreads = 256;
constexpr int kMaskWarps = kMaskThreads / 32;

// Running box before finishing: (min x, min y, max x, max y), inclusive, (INT_MAX, INT_MAX,
// -1, -1) while empty.
__global__ void mask_box_init_kernel(int64_t K, int32_t* boxes, int32_t* areas) {
  for (int64_t k = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; k < K;
       k += int64_t(gridDim.x) * blockDim.x) {
    if (boxes) {
      boxes[4 * k + 0] = INT_MAX;
      boxes[4 * k + 1] = INT_MAX;
      boxes[4 * k + 2] = -1;
      boxes[4 * k + 3] = -1;
    }
    if (areas) areas[k] = 0;
  }
}

// Inclusive running box -> the documented form: exclusive (x1, y1), (0, 0, 0, 0) when empty.
__global__ void mask_box_finish_kernel(int64_t K, int32_t* boxes) {
  for (int64_t k = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; k < K;
       k += int64_t(gridDim.x) * blockDim.x) {
    int32_t* b = boxes + 4 * k;
    if (b[2] < 0) {
      b[0] = b[1] = b[2] = b[3] = 0;
    } else {
      b[2] += 1;
      b[3] += 1;
    }
  }
}

__device__ inline int warp_min(int v) {
  for (int o = 16; o > 0; o >>= 1) v = min(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}
__device__ inline int warp_max(int v) {
  for (int o = 16; o > 0; o >>= 1) v = max(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}
__device__ inline int warp_sum(int v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// grid: (pixel blocks, masks). Loops stride over both so any K and H*W fit the grid limits;
// loop bounds depend on blockIdx only, so every thread reaches the __syncthreads.
template <typename V>
__global__ void warp_masks_kernel(const V* __restrict__ masks, const float* __restrict__ flow,
                                  int64_t K, int64_t H, int64_t W, uint8_t* __restrict__ out,
                                  int32_t* boxes, int32_t* areas) {
  __shared__ int red[5][kMaskWarps];
  const int64_t plane = H * W;
  const int lane = threadIdx.x & 31, wid = threadIdx.x >> 5;
  for (int64_t k = blockIdx.y; k < K; k += gridDim.y) {
    for (int64_t first = int64_t(blockIdx.x) * kMaskThreads; first < plane;
         first += int64_t(gridDim.x) * kMaskThreads) {
      const int64_t p = first + threadIdx.x;
      int x0 = INT_MAX, y0 = INT_MAX, x1 = -1, y1 = -1, count = 0;
      if (p < plane) {
        const int64_t y = p / W, xx = p - y * W;
        const WarpPixel<float> px = warp_pixel(flow, 0, y, xx, H, W, WarpPadding::zeros);
        const bool fg = mask_sample(masks + k * plane, px.taps, W);
        if (out) out[k * plane + p] = fg ? 1 : 0;
        if (fg) {
          x0 = x1 = static_cast<int>(xx);
          y0 = y1 = static_cast<int>(y);
          count = 1;
        }
      }
      if (boxes == nullptr && areas == nullptr) continue;  // uniform across the block
      x0 = warp_min(x0);
      y0 = warp_min(y0);
      x1 = warp_max(x1);
      y1 = warp_max(y1);
      count = warp_sum(count);
      if (lane == 0) {
        red[0][wid] = x0;
        red[1][wid] = y0;
        red[2][wid] = x1;
        red[3][wid] = y1;
        red[4][wid] = count;
      }
      __syncthreads();
      if (threadIdx.x == 0) {
        for (int w = 1; w < kMaskWarps; ++w) {
          x0 = min(x0, red[0][w]);
          y0 = min(y0, red[1][w]);
          x1 = max(x1, red[2][w]);
          y1 = max(y1, red[3][w]);
          count += red[4][w];
        }
        if (count > 0) {  // empty blocks leave the running result alone
          if (boxes) {
            atomicMin(boxes + 4 * k + 0, x0);
            atomicMin(boxes + 4 * k + 1, y0);
            atomicMax(boxes + 4 * k + 2, x1);
            atomicMax(boxes + 4 * k + 3, y1);
          }
          if (areas) atomicAdd(areas + k, count);
        }
      }
      __syncthreads();  // red is reused by the next group of pixels
    }
  }
}

}  // namespace

template <typename V>
void warp_masks(cudaStream_t stream, const V* masks, const float* flow, int64_t K, int64_t H,
                int64_t W, uint8_t* out, int32_t* boxes, int32_t* areas) {
  WSVIS_CHECK(K >= 0 && H >= 0 && W >= 0, "warp_masks: negative size K=", K, " H=", H, " W=", W);
  WSVIS_CHECK(H * W < INT32_MAX, "warp_masks: H*W=", H * W, " does not fit the int32 areas");
  if (K == 0) return;
  if (boxes || areas) {
    mask_box_init_kernel<<<elementwise_blocks(K), kElementwiseThreads, 0, stream>>>(K, boxes,
                                                                                    areas);
    WSVIS_LAUNCH_CHECK();
  }
  if (H > 0 && W > 0) {
    int64_t bx = ceil_div(H * W, kMaskThreads);
    if (bx > 65535LL * 8) bx = 65535LL * 8;
    const int64_t by = K < 65535 ? K : 65535;
    warp_masks_kernel<V><<<dim3(static_cast<unsigned>(bx), static_cast<unsigned>(by)),
                           kMaskThreads, 0, stream>>>(masks, flow, K, H, W, out, boxes, areas);
    WSVIS_LAUNCH_CHECK();
  }
  if (boxes) {
    mask_box_finish_kernel<<<elementwise_blocks(K), kElementwiseThreads, 0, stream>>>(K, boxes);
    WSVIS_LAUNCH_CHECK();
  }
}

template void warp_masks<float>(cudaStream_t, const float*, const float*, int64_t, int64_t,
                                int64_t, uint8_t*, int32_t*, int32_t*);
template void warp_masks<uint8_t>(cudaStream_t, const uint8_t*, const float*, int64_t, int64_t,
                                  int64_t, uint8_t*, int32_t*, int32_t*);

}  // namespace wsvis::kernels::cuda
