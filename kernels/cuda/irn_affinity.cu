// CUDA twin of the irn path affinity (kernels/irn.h, CPU twin kernels/cpu/irn.cpp): one thread
// per (image, direction, source pixel), pixels fastest, so a warp shares its direction and the
// path table reads (from the by-value IrnPairSet in the parameter bank) are uniform. Max and
// arg-max are computed on the fly: nothing of IRN's gathered (path length x pairs) tensor is
// materialised.
#include "engine/cuda_check.h"
#include "engine/error.h"
#include "kernels/irn.h"

namespace wsvis::kernels::cuda {

namespace {

template <typename T>
__global__ void irn_affinity_forward_kernel(const T* __restrict__ boundary, int64_t N, int64_t H,
                                            int64_t W, const IrnPairSet set,
                                            T* __restrict__ affinity) {
  const int64_t D = set.num_directions, plane = H * W, total = N * D * plane;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t p = i % plane, nd = i / plane;
    const int d = static_cast<int>(nd % D);
    const int64_t n = nd / D, y = p / W, x = p % W;
    T a = T(0);
    if (irn_inside(y + set.dy[d], x + set.dx[d], H, W)) {
      int64_t arg;
      a = T(1) - irn_path_max(boundary + n * plane, W, y, x, set, d, &arg);
    }
    affinity[i] = a;
  }
}

// Scatter to the arg-max point with atomics (the CPU twin sums in a fixed order instead).
template <typename T>
__global__ void irn_affinity_backward_kernel(const T* __restrict__ grad_affinity,
                                             const T* __restrict__ boundary, int64_t N, int64_t H,
                                             int64_t W, const IrnPairSet set,
                                             T* __restrict__ grad_boundary) {
  const int64_t D = set.num_directions, plane = H * W, total = N * D * plane;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t p = i % plane, nd = i / plane;
    const int d = static_cast<int>(nd % D);
    const int64_t n = nd / D, y = p / W, x = p % W;
    if (!irn_inside(y + set.dy[d], x + set.dx[d], H, W)) continue;
    const T g = grad_affinity[i];
    if (g == T(0)) continue;  // pairs outside a loss's pair set carry no gradient
    int64_t arg;
    irn_path_max(boundary + n * plane, W, y, x, set, d, &arg);
    atomicAdd(grad_boundary + n * plane + arg, -g);
  }
}

}  // namespace

template <typename T>
void irn_affinity_forward(cudaStream_t stream, const T* boundary, int64_t N, int64_t H, int64_t W,
                          const IrnPairSet& set, T* affinity) {
  const int64_t total = N * set.num_directions * H * W;
  if (total == 0) return;
  irn_affinity_forward_kernel<T><<<elementwise_blocks(total), kElementwiseThreads, 0, stream>>>(
      boundary, N, H, W, set, affinity);
  WSVIS_LAUNCH_CHECK();
}

template <typename T>
void irn_affinity_backward(cudaStream_t stream, const T* grad_affinity, const T* boundary,
                           int64_t N, int64_t H, int64_t W, const IrnPairSet& set,
                           T* grad_boundary) {
  if (N * H * W == 0) return;
  CUDA_CHECK(cudaMemsetAsync(grad_boundary, 0, sizeof(T) * size_t(N * H * W), stream));
  const int64_t total = N * set.num_directions * H * W;
  if (total == 0) return;
  irn_affinity_backward_kernel<T><<<elementwise_blocks(total), kElementwiseThreads, 0, stream>>>(
      grad_affinity, boundary, N, H, W, set, grad_boundary);
  WSVIS_LAUNCH_CHECK();
}

#define WSVIS_IRN_AFF_INSTANTIATE(T)                                                         \
  template void irn_affinity_forward<T>(cudaStream_t, const T*, int64_t, int64_t, int64_t,   \
                                        const IrnPairSet&, T*);                              \
  template void irn_affinity_backward<T>(cudaStream_t, const T*, const T*, int64_t, int64_t, \
                                         int64_t, const IrnPairSet&, T*);
WSVIS_IRN_AFF_INSTANTIATE(float)
WSVIS_IRN_AFF_INSTANTIATE(double)
#undef WSVIS_IRN_AFF_INSTANTIATE

}  // namespace wsvis::kernels::cuda
