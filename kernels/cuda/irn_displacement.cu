// CUDA twin of kernels/cpu/irn_displacement.cpp. The per-pixel maths is shared
// (kernels/irn_displacement_math.h, non-fused IEEE operations), the components come from
// kernels/components.h, and the renumberings are prefix sums, so every output equals the CPU
// twin's exactly. Nothing here synchronises with the host.
#include <cub/device/device_scan.cuh>

#include "engine/cuda_check.h"
#include "engine/error.h"
#include "kernels/components.h"
#include "kernels/irn_displacement.h"

namespace wsvis::kernels::cuda {

namespace {

namespace im = irn_displacement_math;

size_t aligned(size_t bytes) { return (bytes + 255) & ~size_t(255); }

struct Carver {
  char* base;
  size_t offset = 0;
  template <typename U>
  U* take(size_t bytes) {
    U* p = reinterpret_cast<U*>(base + offset);
    offset += aligned(bytes);
    return p;
  }
};

size_t scan_temp_bytes(int64_t n) {
  size_t bytes = 0;
  CUDA_CHECK(cub::DeviceScan::ExclusiveSum(nullptr, bytes, static_cast<const int32_t*>(nullptr),
                                           static_cast<int32_t*>(nullptr), static_cast<int>(n)));
  return bytes;
}

// One thread per pixel iterating all steps: the work per pixel is fixed (iterations x 8 taps),
// so threads of a warp stay in step; the taps of neighbouring pixels converge to the same
// places and hit in L1.
template <typename T>
__global__ void find_centroids_kernel(const T* __restrict__ disp, int64_t H, int64_t W,
                                      int iterations, int32_t* __restrict__ centroids) {
  const int64_t P = H * W;
  for (int64_t p = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; p < P;
       p += int64_t(gridDim.x) * blockDim.x)
    im::find_centroid(disp, H, W, iterations, p / W, p % W, centroids[p], centroids[P + p]);
}

template <typename T>
__global__ void weak_region_kernel(const T* __restrict__ disp, int64_t P, T threshold,
                                   uint8_t* __restrict__ weak) {
  for (int64_t p = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; p < P;
       p += int64_t(gridDim.x) * blockDim.x)
    weak[p] = im::weak_displacement(disp[p], disp[P + p], threshold) ? 1 : 0;
}

// instance_map[p] = component label at the centroid of p; used[label] = 1 (a benign race:
// every writer stores 1).
__global__ void centroid_label_kernel(const int32_t* __restrict__ centroids,
                                      const int32_t* __restrict__ labels, int64_t H, int64_t W,
                                      int32_t* __restrict__ instance_map,
                                      int32_t* __restrict__ used) {
  const int64_t P = H * W;
  for (int64_t p = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; p < P;
       p += int64_t(gridDim.x) * blockDim.x) {
    // Centroids are clamped into the grid by construction; clamp again so a bad input cannot
    // read out of bounds (the CPU twin raises an error instead).
    int64_t cy = centroids[p], cx = centroids[P + p];
    cy = cy < 0 ? 0 : (cy >= H ? H - 1 : cy);
    cx = cx < 0 ? 0 : (cx >= W ? W - 1 : cx);
    const int32_t v = labels[cy * W + cx];
    instance_map[p] = v;
    used[v] = 1;
  }
}

// Maps labels through the exclusive scan of the used flags; the last entry gives n.
__global__ void compress_kernel(int32_t* __restrict__ instance_map,
                                const int32_t* __restrict__ used, const int32_t* __restrict__ rank,
                                int64_t P, int32_t* __restrict__ count) {
  const int64_t i0 = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (i0 == 0) *count = rank[P] + used[P];
  for (int64_t p = i0; p < P; p += int64_t(gridDim.x) * blockDim.x)
    instance_map[p] = rank[instance_map[p]];
}

template <typename T>
__global__ void instance_seeds_kernel(const T* __restrict__ cams, int64_t C,
                                      const int32_t* __restrict__ instance_map, int64_t K,
                                      int64_t P, T* __restrict__ seeds) {
  const int64_t total = C * K * P;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t p = i % P, ck = i / P, c = ck / K, k = ck % K;
    seeds[i] = instance_map[p] == k ? cams[c * P + p] : T(0);
  }
}

}  // namespace

template <typename T>
void find_centroids(cudaStream_t stream, const T* disp, int64_t H, int64_t W, int iterations,
                    int32_t* centroids) {
  WSVIS_CHECK(H >= 0 && W >= 0, "find_centroids: negative size ", H, "x", W);
  WSVIS_CHECK(iterations >= 0, "find_centroids: negative iteration count ", iterations);
  const int64_t P = H * W;
  if (P == 0) return;
  // 128 threads: 450 blocks at 720p stride 4 keep every SM busy through the long loop.
  const int threads = 128;
  const unsigned blocks = static_cast<unsigned>(ceil_div(P, threads));
  find_centroids_kernel<T><<<blocks, threads, 0, stream>>>(disp, H, W, iterations, centroids);
  WSVIS_LAUNCH_CHECK();
}

size_t cluster_centroids_workspace_bytes(int64_t H, int64_t W) {
  const int64_t P = H * W;
  const size_t p = static_cast<size_t>(P);
  return aligned(p) + aligned(4 * p) + 2 * aligned(4 * (p + 1)) + aligned(4) +
         aligned(components_workspace_bytes(1, H, W)) + aligned(scan_temp_bytes(P + 1));
}

template <typename T>
void cluster_centroids(cudaStream_t stream, const T* disp, const int32_t* centroids, int64_t H,
                       int64_t W, double threshold, int32_t* instance_map, int32_t* count,
                       void* workspace) {
  WSVIS_CHECK(H >= 0 && W >= 0, "cluster_centroids: negative size ", H, "x", W);
  const int64_t P = H * W;
  if (P == 0) {
    CUDA_CHECK(cudaMemsetAsync(count, 0, sizeof(int32_t), stream));
    return;
  }
  WSVIS_CHECK(P < (int64_t(1) << 31) - 1, "cluster_centroids: ", H, "x", W, " too large");
  WSVIS_CHECK(workspace != nullptr, "cluster_centroids: no workspace");
  const size_t p = static_cast<size_t>(P);
  Carver c{static_cast<char*>(workspace)};
  uint8_t* weak = c.take<uint8_t>(p);
  int32_t* labels = c.take<int32_t>(4 * p);
  int32_t* used = c.take<int32_t>(4 * (p + 1));
  int32_t* rank = c.take<int32_t>(4 * (p + 1));
  int32_t* components = c.take<int32_t>(4);
  const size_t cc_bytes = components_workspace_bytes(1, H, W);
  void* cc_ws = c.take<char>(cc_bytes);
  size_t scan_bytes = scan_temp_bytes(P + 1);
  void* scan_ws = c.take<char>(scan_bytes);

  const unsigned blocks = elementwise_blocks(P);
  weak_region_kernel<T>
      <<<blocks, kElementwiseThreads, 0, stream>>>(disp, P, static_cast<T>(threshold), weak);
  WSVIS_LAUNCH_CHECK();
  label_components(stream, weak, 1, H, W, 4, labels, components, cc_ws);
  CUDA_CHECK(cudaMemsetAsync(used, 0, 4 * (p + 1), stream));
  centroid_label_kernel<<<blocks, kElementwiseThreads, 0, stream>>>(centroids, labels, H, W,
                                                                    instance_map, used);
  WSVIS_LAUNCH_CHECK();
  CUDA_CHECK(cub::DeviceScan::ExclusiveSum(scan_ws, scan_bytes, used, rank, static_cast<int>(P + 1),
                                           stream));
  compress_kernel<<<blocks, kElementwiseThreads, 0, stream>>>(instance_map, used, rank, P, count);
  WSVIS_LAUNCH_CHECK();
}

template <typename T>
void instance_seeds(cudaStream_t stream, const T* cams, int64_t C, const int32_t* instance_map,
                    int64_t K, int64_t H, int64_t W, T* seeds) {
  WSVIS_CHECK(C >= 0 && K >= 0 && H >= 0 && W >= 0, "instance_seeds: negative size C=", C, " K=", K,
              " H=", H, " W=", W);
  const int64_t total = C * K * H * W;
  if (total == 0) return;
  instance_seeds_kernel<T><<<elementwise_blocks(total), kElementwiseThreads, 0, stream>>>(
      cams, C, instance_map, K, H * W, seeds);
  WSVIS_LAUNCH_CHECK();
}

#define WSVIS_INSTANTIATE(T)                                                                   \
  template void find_centroids<T>(cudaStream_t, const T*, int64_t, int64_t, int, int32_t*);    \
  template void cluster_centroids<T>(cudaStream_t, const T*, const int32_t*, int64_t, int64_t, \
                                     double, int32_t*, int32_t*, void*);                       \
  template void instance_seeds<T>(cudaStream_t, const T*, int64_t, const int32_t*, int64_t,    \
                                  int64_t, int64_t, T*);
WSVIS_INSTANTIATE(float)
WSVIS_INSTANTIATE(double)
#undef WSVIS_INSTANTIATE

}  // namespace wsvis::kernels::cuda
