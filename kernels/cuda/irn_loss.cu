// CUDA twin of the IRN losses (kernels/irn.h, CPU twin kernels/cpu/irn.cpp). Pair labels come
// from the two label reads of each pair on the fly; no pair-label tensor exists.
//  - forward: one thread per source pixel loops over the D directions (a warp shares d, so
//    affinity reads are coalesced), accumulates the five sums and three counts in double,
//    reduces per block into the workspace; a one-block pass sums the block partials in a fixed
//    order and finishes the terms: deterministic, two launches.
//  - backward: one thread per pixel gathers its gradient as the source of its D pairs and as the
//    destination of the D pairs that end on it (no atomics, deterministic), one launch.
#include "engine/cuda_check.h"
#include "engine/error.h"
#include "kernels/irn.h"

namespace wsvis::kernels::cuda {

namespace {

constexpr int kLossThreads = 256;
constexpr int64_t kLossMaxBlocks = 1024;
constexpr int kSums = 8;  // bg, fg, neg, dp_fg, dp_bg, count bg, fg, neg

int64_t loss_blocks(int64_t pixels) {
  const int64_t b = ceil_div(pixels, kLossThreads);
  return b < 1 ? 1 : (b > kLossMaxBlocks ? kLossMaxBlocks : b);
}

// Fixed-order tree sum of kSums doubles over a block of kLossThreads threads; thread 0 gets it.
__device__ void block_sum8(double* v, double (*shared)[kLossThreads]) {
  for (int k = 0; k < kSums; ++k) shared[k][threadIdx.x] = v[k];
  __syncthreads();
  for (int half = kLossThreads / 2; half > 0; half >>= 1) {
    if (threadIdx.x < half)
      for (int k = 0; k < kSums; ++k) shared[k][threadIdx.x] += shared[k][threadIdx.x + half];
    __syncthreads();
  }
  for (int k = 0; k < kSums; ++k) v[k] = shared[k][0];
}

template <typename T>
__global__ void __launch_bounds__(kLossThreads)
    irn_loss_partial_kernel(const T* __restrict__ affinity, const T* __restrict__ displacement,
                            const uint8_t* __restrict__ labels, int64_t N, int64_t H, int64_t W,
                            const IrnPairSet set, bool crop, double* __restrict__ partial) {
  __shared__ double shared[kSums][kLossThreads];
  const int64_t D = set.num_directions, plane = H * W, total = N * plane;
  double acc[kSums] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (int64_t t = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; t < total;
       t += int64_t(gridDim.x) * blockDim.x) {
    const int64_t n = t / plane, i = t % plane, y = i / W, x = i % W;
    const uint8_t* lab = labels + n * plane;
    const T* dyp = displacement + n * 2 * plane;
    const T* dxp = dyp + plane;
    for (int d = 0; d < D; ++d) {
      const int kind = irn_loss_pair_kind(lab, H, W, y, x, set, d, crop);
      if (kind == kIrnPairNone) continue;
      const int64_t j = i + set.dy[d] * W + set.dx[d];
      const double alpha = affinity[(n * D + d) * plane + i];
      const double ey = double(dyp[i]) - double(dyp[j]), ex = double(dxp[i]) - double(dxp[j]);
      if (kind == kIrnPairBgPos) {
        acc[0] += -log(alpha + kIrnLogEps);
        acc[4] += fabs(ey) + fabs(ex);
        acc[5] += 1;
      } else if (kind == kIrnPairFgPos) {
        acc[1] += -log(alpha + kIrnLogEps);
        acc[3] += fabs(ey - set.dy[d]) + fabs(ex - set.dx[d]);
        acc[6] += 1;
      } else {
        acc[2] += -log(1.0 + kIrnLogEps - alpha);
        acc[7] += 1;
      }
    }
  }
  block_sum8(acc, shared);
  if (threadIdx.x == 0)
    for (int k = 0; k < kSums; ++k) partial[blockIdx.x * kSums + k] = acc[k];
}

template <typename T>
__global__ void __launch_bounds__(kLossThreads)
    irn_loss_finish_kernel(const double* __restrict__ partial, int64_t blocks, T* stats) {
  __shared__ double shared[kSums][kLossThreads];
  double acc[kSums] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (int64_t b = threadIdx.x; b < blocks; b += kLossThreads)
    for (int k = 0; k < kSums; ++k) acc[k] += partial[b * kSums + k];
  block_sum8(acc, shared);
  if (threadIdx.x == 0) {
    double out[kIrnLossStats];
    irn_loss_finish(acc, out);
    for (int k = 0; k < kIrnLossStats; ++k) stats[k] = static_cast<T>(out[k]);
  }
}

template <typename T>
__global__ void irn_loss_backward_kernel(
    const T* __restrict__ grad_stats, const T* __restrict__ stats, const T* __restrict__ affinity,
    const T* __restrict__ displacement, const uint8_t* __restrict__ labels, int64_t N, int64_t H,
    int64_t W, const IrnPairSet set, bool crop, T* __restrict__ grad_affinity,
    T* __restrict__ grad_displacement) {
  const int64_t D = set.num_directions, plane = H * W, total = N * plane;
  const IrnLossCoeffs<T> co = irn_loss_coeffs(grad_stats, stats);
  for (int64_t t = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; t < total;
       t += int64_t(gridDim.x) * blockDim.x) {
    const int64_t n = t / plane, i = t % plane, y = i / W, x = i % W;
    const uint8_t* lab = labels + n * plane;
    const T* disp = displacement + n * 2 * plane;
    T gy = 0, gx = 0;
    for (int d = 0; d < D; ++d) {
      T ga = 0, py = 0, px = 0;
      const int kind = irn_loss_pair_kind(lab, H, W, y, x, set, d, crop);
      if (kind != kIrnPairNone) {
        irn_loss_pair_grad(co, kind, affinity[(n * D + d) * plane + i], disp, plane, i,
                           i + set.dy[d] * W + set.dx[d], set.dy[d], set.dx[d], &ga, &py, &px);
        gy += py;
        gx += px;
      }
      grad_affinity[(n * D + d) * plane + i] = ga;
      const int64_t sy = y - set.dy[d], sx = x - set.dx[d];
      if (!irn_inside(sy, sx, H, W)) continue;
      const int kind2 = irn_loss_pair_kind(lab, H, W, sy, sx, set, d, crop);
      if (kind2 == kIrnPairNone) continue;
      const int64_t s = sy * W + sx;
      T ga2, py2, px2;
      irn_loss_pair_grad(co, kind2, affinity[(n * D + d) * plane + s], disp, plane, s, i, set.dy[d],
                         set.dx[d], &ga2, &py2, &px2);
      gy -= py2;
      gx -= px2;
    }
    grad_displacement[n * 2 * plane + i] = gy;
    grad_displacement[n * 2 * plane + plane + i] = gx;
  }
}

}  // namespace

size_t irn_loss_workspace_bytes(int64_t N, int64_t H, int64_t W) {
  return sizeof(double) * kSums * static_cast<size_t>(loss_blocks(N * H * W));
}

template <typename T>
void irn_loss_forward(cudaStream_t stream, const T* affinity, const T* displacement,
                      const uint8_t* labels, int64_t N, int64_t H, int64_t W, const IrnPairSet& set,
                      bool irn_source_crop, T* stats, void* workspace, size_t workspace_bytes) {
  WSVIS_CHECK(workspace_bytes >= irn_loss_workspace_bytes(N, H, W), "irn_loss_forward: workspace ",
              workspace_bytes, " bytes, needs ", irn_loss_workspace_bytes(N, H, W));
  const int64_t blocks = loss_blocks(N * H * W);
  double* partial = static_cast<double*>(workspace);
  // Empty inputs still write the stats (all zero) through the same two kernels.
  irn_loss_partial_kernel<T><<<static_cast<unsigned>(blocks), kLossThreads, 0, stream>>>(
      affinity, displacement, labels, N, H, W, set, irn_source_crop, partial);
  WSVIS_LAUNCH_CHECK();
  irn_loss_finish_kernel<T><<<1, kLossThreads, 0, stream>>>(partial, blocks, stats);
  WSVIS_LAUNCH_CHECK();
}

template <typename T>
void irn_loss_backward(cudaStream_t stream, const T* grad_stats, const T* stats, const T* affinity,
                       const T* displacement, const uint8_t* labels, int64_t N, int64_t H,
                       int64_t W, const IrnPairSet& set, bool irn_source_crop, T* grad_affinity,
                       T* grad_displacement) {
  const int64_t total = N * H * W;
  if (total == 0) return;
  irn_loss_backward_kernel<T><<<elementwise_blocks(total), kElementwiseThreads, 0, stream>>>(
      grad_stats, stats, affinity, displacement, labels, N, H, W, set, irn_source_crop,
      grad_affinity, grad_displacement);
  WSVIS_LAUNCH_CHECK();
}

#define WSVIS_IRN_LOSS_INSTANTIATE(T)                                                              \
  template void irn_loss_forward<T>(cudaStream_t, const T*, const T*, const uint8_t*, int64_t,     \
                                    int64_t, int64_t, const IrnPairSet&, bool, T*, void*, size_t); \
  template void irn_loss_backward<T>(cudaStream_t, const T*, const T*, const T*, const T*,         \
                                     const uint8_t*, int64_t, int64_t, int64_t, const IrnPairSet&, \
                                     bool, T*, T*);
WSVIS_IRN_LOSS_INSTANTIATE(float)
WSVIS_IRN_LOSS_INSTANTIATE(double)
#undef WSVIS_IRN_LOSS_INSTANTIATE

}  // namespace wsvis::kernels::cuda
