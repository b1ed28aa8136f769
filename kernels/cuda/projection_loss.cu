// CUDA twin of the BoxInst projection loss in kernels/cpu/pairwise.cpp: dice on the max-
// projections of each instance's mask probabilities against its box's projections.
// Forward: one block per instance (threads own columns for the column maxima, warps own rows
// for the row maxima), one more block averages the instances. Backward: one thread per pixel.
// Argmax ties go to the first index (max_replaces, kernels/reduce.h), as on the CPU.
#include "engine/cuda_check.h"
#include "engine/error.h"
#include "kernels/cuda/block_reduce.cuh"
#include "kernels/pairwise.h"
#include "kernels/reduce.h"

namespace wsvis::kernels::cuda {

namespace {

constexpr int kProjThreads = 256;

template <typename T>
__global__ void projection_forward_kernel(const T* __restrict__ probs,
                                          const int32_t* __restrict__ rects, int64_t K,
                                          int64_t H, int64_t W, double eps, T* __restrict__ stats,
                                          int32_t* __restrict__ argmax_x,
                                          int32_t* __restrict__ argmax_y) {
  const int64_t plane = H * W;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  for (int64_t k = blockIdx.x; k < K; k += gridDim.x) {  // uniform per block
    const T* p = probs + k * plane;
    const int32_t* r = rects + 4 * k;
    int64_t clamped[4];  // a rect with no pixel on the map projects to zeros
    const bool empty = !clamp_rect(r, H, W, clamped);
    double ix = 0, ux = 0;
    // Column maxima (the profile along x): consecutive threads read consecutive columns.
    for (int64_t x = threadIdx.x; x < W; x += blockDim.x) {
      int64_t best = 0;
      T bv = H > 0 ? p[x] : T(0);
      for (int64_t y = 1; y < H; ++y) {
        const T v = p[y * W + x];
        if (max_replaces(bv, best, v, y)) {
          bv = v;
          best = y;
        }
      }
      argmax_x[k * W + x] = static_cast<int32_t>(best);
      const double m = bv, t = (!empty && x >= r[0] && x <= r[2]) ? 1.0 : 0.0;
      ix += m * t;
      ux += m * m + t * t;
    }
    detail::block_tree_sum2<kProjThreads>(ix, ux);
    // Row maxima (the profile along y): a warp per row, lanes stride along it.
    double iy = 0, uy = 0;
    for (int64_t y = warp; y < H; y += warps) {
      // Lanes past the row's end start from element 0: a real candidate, so it cannot win
      // wrongly (on a tie the lower index wins anyway).
      int64_t best = lane < W ? lane : 0;
      T bv = W > 0 ? p[y * W + best] : T(0);
      for (int64_t x = lane + 32; x < W; x += 32) {
        const T v = p[y * W + x];
        if (max_replaces(bv, best, v, x)) {
          bv = v;
          best = x;
        }
      }
      detail::warp_argmax(bv, best);
      if (lane == 0) {
        argmax_y[k * H + y] = static_cast<int32_t>(best);
        const double m = W > 0 ? double(bv) : 0.0;
        const double t = (!empty && y >= r[1] && y <= r[3]) ? 1.0 : 0.0;
        iy += m * t;
        uy += m * m + t * t;
      }
    }
    detail::block_tree_sum2<kProjThreads>(iy, uy);
    if (threadIdx.x == 0) {
      T* s = stats + 4 * k;
      s[0] = static_cast<T>(ix);
      s[1] = static_cast<T>(ux + eps);
      s[2] = static_cast<T>(iy);
      s[3] = static_cast<T>(uy + eps);
    }
  }
}

template <typename T>
__global__ void projection_finish_kernel(const T* __restrict__ stats, int64_t K,
                                         T* __restrict__ loss) {
  double total = 0, unused = 0;
  for (int64_t k = threadIdx.x; k < K; k += blockDim.x) {
    const T* s = stats + 4 * k;
    total += (1.0 - 2.0 * double(s[0]) / double(s[1])) + (1.0 - 2.0 * double(s[2]) / double(s[3]));
  }
  detail::block_tree_sum2<kProjThreads>(total, unused);
  if (threadIdx.x == 0) loss[0] = static_cast<T>(K > 0 ? total / double(K) : 0.0);
}

template <typename T>
__global__ void projection_backward_kernel(const T* __restrict__ probs,
                                           const int32_t* __restrict__ rects, int64_t K,
                                           int64_t H, int64_t W, const T* __restrict__ stats,
                                           const int32_t* __restrict__ argmax_x,
                                           const int32_t* __restrict__ argmax_y,
                                           const T* __restrict__ grad_loss,
                                           T* __restrict__ grad_probs) {
  const int64_t plane = H * W;
  const T scale = grad_loss[0] / static_cast<T>(K);
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < K * plane;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t k = i / plane, pix = i - k * plane, y = pix / W, x = pix - y * W;
    const int32_t* r = rects + 4 * k;
    int64_t clamped[4];  // a rect with no pixel on the map projects to zeros
    const bool empty = !clamp_rect(r, H, W, clamped);
    const T* s = stats + 4 * k;
    T g = T(0);
    if (argmax_x[k * W + x] == y) {
      const T t = (!empty && x >= r[0] && x <= r[2]) ? T(1) : T(0);
      g += dice_grad_elem(probs[i], t, s[0], s[1]);
    }
    if (argmax_y[k * H + y] == x) {
      const T t = (!empty && y >= r[1] && y <= r[3]) ? T(1) : T(0);
      g += dice_grad_elem(probs[i], t, s[2], s[3]);
    }
    grad_probs[i] = scale * g;
  }
}

}  // namespace

template <typename T>
void projection_loss_forward(cudaStream_t stream, const T* probs, const int32_t* rects, int64_t K,
                             int64_t H, int64_t W, double eps, T* loss, T* stats,
                             int32_t* argmax_x, int32_t* argmax_y) {
  WSVIS_CHECK(K >= 0 && H >= 0 && W >= 0, "projection_loss_forward: negative size K=", K, " H=",
              H, " W=", W);
  if (K > 0) {
    const int64_t blocks = K < 65535 * 8 ? K : 65535 * 8;
    projection_forward_kernel<T><<<static_cast<unsigned>(blocks), kProjThreads, 0, stream>>>(
        probs, rects, K, H, W, eps, stats, argmax_x, argmax_y);
    WSVIS_LAUNCH_CHECK();
  }
  projection_finish_kernel<T><<<1, kProjThreads, 0, stream>>>(stats, K, loss);
  WSVIS_LAUNCH_CHECK();
}

template <typename T>
void projection_loss_backward(cudaStream_t stream, const T* probs, const int32_t* rects,
                              int64_t K, int64_t H, int64_t W, const T* stats,
                              const int32_t* argmax_x, const int32_t* argmax_y,
                              const T* grad_loss, T* grad_probs) {
  WSVIS_CHECK(K >= 0 && H >= 0 && W >= 0, "projection_loss_backward: negative size K=", K, " H=",
              H, " W=", W);
  if (K * H * W == 0) return;
  projection_backward_kernel<T><<<elementwise_blocks(K * H * W), kElementwiseThreads, 0,
                                  stream>>>(probs, rects, K, H, W, stats, argmax_x, argmax_y,
                                            grad_loss, grad_probs);
  WSVIS_LAUNCH_CHECK();
}

#define WSVIS_INSTANTIATE_PROJECTION_CUDA(T)                                                    \
  template void projection_loss_forward<T>(cudaStream_t, const T*, const int32_t*, int64_t,     \
                                           int64_t, int64_t, double, T*, T*, int32_t*,          \
                                           int32_t*);                                           \
  template void projection_loss_backward<T>(cudaStream_t, const T*, const int32_t*, int64_t,    \
                                            int64_t, int64_t, const T*, const int32_t*,         \
                                            const int32_t*, const T*, T*);
WSVIS_INSTANTIATE_PROJECTION_CUDA(float)
WSVIS_INSTANTIATE_PROJECTION_CUDA(double)

}  // namespace wsvis::kernels::cuda
