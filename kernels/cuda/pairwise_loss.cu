// CUDA twin of the BoxInst pairwise loss in kernels/cpu/pairwise.cpp (colour-only and
// motion-aware). Nothing is unfolded: a thread reads its logit and its 8 neighbours', the edge
// similarities of its image, and accumulates; the forward visits only each instance's box, the
// backward recomputes what it needs (no saved activations besides the two totals).
#include "engine/cuda_check.h"
#include "engine/error.h"
#include "kernels/cuda/block_reduce.cuh"
#include "kernels/pairwise.h"

namespace wsvis::kernels::cuda {

namespace {

constexpr int kLossThreads = 256;
constexpr int64_t kMaxBlocksPerInstance = 16;
constexpr int64_t kMaxGridY = 65535;

// Blocks along one instance's box: enough for about 4 pixels per thread on a full-map box, at
// most 16 (128 instances x 16 blocks keep all SMs busy); grid-stride loops cover the rest.
int64_t blocks_per_instance(int64_t H, int64_t W) {
  int64_t b = ceil_div(H * W, int64_t(kLossThreads) * 4);
  if (b < 1) b = 1;
  return b < kMaxBlocksPerInstance ? b : kMaxBlocksPerInstance;
}

__device__ inline bool in_rect(const int32_t* r, int64_t y, int64_t x) {
  return x >= r[0] && x <= r[2] && y >= r[1] && y <= r[3];
}

// partials: (K, gridDim.x, 2) doubles, (loss sum, weight sum) of each block's share of a box.
template <typename T>
__global__ void pairwise_forward_kernel(const T* __restrict__ logits,
                                        const int32_t* __restrict__ im_inds,
                                        const int32_t* __restrict__ rects, int64_t K, int64_t N,
                                        int64_t H, int64_t W, const T* __restrict__ color_sim,
                                        const T* __restrict__ flow_sim, int dilation, T tc, T tf,
                                        double* __restrict__ partials) {
  const int64_t plane = H * W;
  // The loop bound depends on blockIdx only, so every thread reaches the block reduction.
  for (int64_t k = blockIdx.y; k < K; k += gridDim.y) {
    double lsum = 0, wsum = 0;
    int64_t r[4];
    const int64_t n = im_inds[k];
    if (n >= 0 && n < N && clamp_rect(rects + 4 * k, H, W, r)) {
      const int64_t rw = r[2] - r[0] + 1, area = rw * (r[3] - r[1] + 1);
      const T* z = logits + k * plane;
      const T* cs = color_sim + n * kPairwiseNeighbours * plane;
      const T* fs = flow_sim ? flow_sim + n * kPairwiseNeighbours * plane : nullptr;
      for (int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; idx < area;
           idx += int64_t(gridDim.x) * blockDim.x) {
        const int64_t ry = idx / rw;
        const int64_t y = r[1] + ry, x = r[0] + (idx - ry * rw);
        const int64_t p = y * W + x;
        const T a = z[p];
        const Softplus2<T> sa = softplus2(a);
#pragma unroll
        for (int e = 0; e < kPairwiseNeighbours; ++e) {
          if (!pairwise_edge_on(cs, fs, e, plane, p, tc, tf)) continue;
          wsum += 1;
          int dy, dx;
          pairwise_offset(e, dilation, &dy, &dx);
          const int64_t ny = y + dy, nx = x + dx;
          if (ny < 0 || ny >= H || nx < 0 || nx >= W) continue;  // zero padding: loss 0
          const T b = z[ny * W + nx];
          lsum += static_cast<double>(pairwise_edge_loss(a, sa, b, softplus2(b)));
        }
      }
    }
    detail::block_tree_sum2<kLossThreads>(lsum, wsum);
    if (threadIdx.x == 0) {
      double* out = partials + 2 * (k * gridDim.x + blockIdx.x);
      out[0] = lsum;
      out[1] = wsum;
    }
  }
}

// One block: thread t adds partials t, t + 256, ... in order, then a fixed tree.
template <typename T>
__global__ void pairwise_finish_kernel(const double* __restrict__ partials, int64_t count,
                                       T* __restrict__ loss, T* __restrict__ stats) {
  double lsum = 0, wsum = 0;
  for (int64_t j = threadIdx.x; j < count; j += blockDim.x) {
    lsum += partials[2 * j];
    wsum += partials[2 * j + 1];
  }
  detail::block_tree_sum2<kLossThreads>(lsum, wsum);
  if (threadIdx.x == 0) {
    stats[0] = static_cast<T>(lsum);
    stats[1] = static_cast<T>(wsum);
    loss[0] = static_cast<T>(lsum / (wsum > 1.0 ? wsum : 1.0));
  }
}

// A gather over every logit of every instance: pixels farther than `dilation` from the box get
// 0; the others sum d(edge)/d(logit) over the edges they are the centre of (inside the box) and
// the neighbour of (centre inside the box), in the CPU twin's order.
template <typename T>
__global__ void pairwise_backward_kernel(const T* __restrict__ logits,
                                         const int32_t* __restrict__ im_inds,
                                         const int32_t* __restrict__ rects, int64_t K, int64_t N,
                                         int64_t H, int64_t W, const T* __restrict__ color_sim,
                                         const T* __restrict__ flow_sim, int dilation, T tc, T tf,
                                         const T* __restrict__ stats,
                                         const T* __restrict__ grad_loss,
                                         T* __restrict__ grad_logits) {
  const int64_t plane = H * W;
  const T weight_sum = stats[1];
  const T scale = grad_loss[0] / (weight_sum > T(1) ? weight_sum : T(1));
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < K * plane;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t k = i / plane, p = i - k * plane, y = p / W, x = p - y * W;
    const int32_t* r = rects + 4 * k;
    const int64_t n = im_inds[k];
    T acc = T(0);
    // (x, y) is on the map, so testing it against the unclamped rect is the same as against
    // the clamped one.
    if (n >= 0 && n < N && !rect_empty(r) && x >= int64_t(r[0]) - dilation &&
        x <= int64_t(r[2]) + dilation && y >= int64_t(r[1]) - dilation &&
        y <= int64_t(r[3]) + dilation) {
      const T* z = logits + k * plane;
      const T* cs = color_sim + n * kPairwiseNeighbours * plane;
      const T* fs = flow_sim ? flow_sim + n * kPairwiseNeighbours * plane : nullptr;
      const T a = z[p];
      const T sig_a = pw_sigmoid(a);
      const bool centre_in = in_rect(r, y, x);
#pragma unroll
      for (int e = 0; e < kPairwiseNeighbours; ++e) {
        int dy, dx;
        pairwise_offset(e, dilation, &dy, &dx);
        const int64_t ny = y + dy, nx = x + dx;
        if (ny < 0 || ny >= H || nx < 0 || nx >= W) continue;
        const int64_t q = ny * W + nx;
        const bool as_centre = centre_in && pairwise_edge_on(cs, fs, e, plane, p, tc, tf);
        const bool as_neighbour =
            in_rect(r, ny, nx) && pairwise_edge_on(cs, fs, pairwise_opposite(e), plane, q, tc, tf);
        if (!as_centre && !as_neighbour) continue;
        const T dl = sig_a - pw_sigmoid(a + z[q]);
        acc += (as_centre ? dl : T(0)) + (as_neighbour ? dl : T(0));
      }
    }
    grad_logits[i] = scale * acc;
  }
}

void check_args(const char* what, int64_t K, int64_t N, int64_t H, int64_t W,
                const PairwiseParams& params) {
  WSVIS_CHECK(K >= 0 && N >= 0 && H >= 0 && W >= 0, what, ": negative size K=", K, " N=", N,
              " H=", H, " W=", W);
  WSVIS_CHECK(params.dilation >= 1, what, ": dilation must be >= 1, got ", params.dilation);
}

}  // namespace

size_t pairwise_loss_workspace_bytes(int64_t K, int64_t H, int64_t W) {
  if (K <= 0) return 0;
  return static_cast<size_t>(K * blocks_per_instance(H, W)) * 2 * sizeof(double);
}

template <typename T>
void pairwise_loss_forward(cudaStream_t stream, const T* logits, const int32_t* im_inds,
                           const int32_t* rects, int64_t K, int64_t N, int64_t H, int64_t W,
                           const T* color_sim, const T* flow_sim, const PairwiseParams& params,
                           void* workspace, size_t workspace_bytes, T* loss, T* stats) {
  check_args("pairwise_loss_forward", K, N, H, W, params);
  if (K == 0 || H * W == 0) {  // no edges: both totals and the loss are 0
    CUDA_CHECK(cudaMemsetAsync(stats, 0, 2 * sizeof(T), stream));
    CUDA_CHECK(cudaMemsetAsync(loss, 0, sizeof(T), stream));
    return;
  }
  const size_t need = pairwise_loss_workspace_bytes(K, H, W);
  WSVIS_CHECK(workspace != nullptr && workspace_bytes >= need, "pairwise_loss_forward: needs ",
              need, " bytes of workspace, got ", workspace_bytes);
  const int64_t bx = blocks_per_instance(H, W);
  const dim3 grid(static_cast<unsigned>(bx), static_cast<unsigned>(K < kMaxGridY ? K : kMaxGridY));
  double* partials = static_cast<double*>(workspace);
  pairwise_forward_kernel<T><<<grid, kLossThreads, 0, stream>>>(
      logits, im_inds, rects, K, N, H, W, color_sim, flow_sim, params.dilation,
      static_cast<T>(params.color_thresh), static_cast<T>(params.flow_thresh), partials);
  WSVIS_LAUNCH_CHECK();
  pairwise_finish_kernel<T><<<1, kLossThreads, 0, stream>>>(partials, K * bx, loss, stats);
  WSVIS_LAUNCH_CHECK();
}

template <typename T>
void pairwise_loss_backward(cudaStream_t stream, const T* logits, const int32_t* im_inds,
                            const int32_t* rects, int64_t K, int64_t N, int64_t H, int64_t W,
                            const T* color_sim, const T* flow_sim, const PairwiseParams& params,
                            const T* stats, const T* grad_loss, T* grad_logits) {
  check_args("pairwise_loss_backward", K, N, H, W, params);
  if (K * H * W == 0) return;
  pairwise_backward_kernel<T><<<elementwise_blocks(K * H * W), kElementwiseThreads, 0, stream>>>(
      logits, im_inds, rects, K, N, H, W, color_sim, flow_sim, params.dilation,
      static_cast<T>(params.color_thresh), static_cast<T>(params.flow_thresh), stats, grad_loss,
      grad_logits);
  WSVIS_LAUNCH_CHECK();
}

#define WSVIS_INSTANTIATE_PAIRWISE_CUDA(T)                                                      \
  template void pairwise_loss_forward<T>(cudaStream_t, const T*, const int32_t*,                \
                                         const int32_t*, int64_t, int64_t, int64_t, int64_t,    \
                                         const T*, const T*, const PairwiseParams&, void*,      \
                                         size_t, T*, T*);                                       \
  template void pairwise_loss_backward<T>(cudaStream_t, const T*, const int32_t*,               \
                                          const int32_t*, int64_t, int64_t, int64_t, int64_t,   \
                                          const T*, const T*, const PairwiseParams&, const T*,  \
                                          const T*, T*);
WSVIS_INSTANTIATE_PAIRWISE_CUDA(float)
WSVIS_INSTANTIATE_PAIRWISE_CUDA(double)

}  // namespace wsvis::kernels::cuda
