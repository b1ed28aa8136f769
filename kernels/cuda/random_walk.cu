// CUDA twin of IRN's random walk and the label/score hooks after it (kernels/irn.h, CPU twin
// kernels/cpu/irn.cpp).
//
// Launches per frame (steps >= 1): (1) the normalised stencil weights (2D+1, H, W) from the
// boundary map, one thread per pixel; (2) one persistent cooperative kernel that runs all
// `steps` gathers, x'_j = sum_k weights[k, j] x_{j + o_k}, with a grid-wide sync between
// steps, ping-ponging between `out` and the scratch copy so that the last step lands in
// `out`. The seeds' (1 - B) mask is applied as step 0 reads them, so there is no init pass.
// Two launches in all; a frame's state (C x H x W floats: 1 MB at 125x94 x 21, 4.8 MB at
// 320x180 x 21) and weights (69 x H x W) stay resident in L2 across the steps. Where the device
// cannot launch cooperatively, the same step body runs as one launch per step (steps + 1).
// A thread owns one pixel and kWalkChunk channels, so the weight of a neighbour is read once
// per chunk and the neighbour reads of a warp (consecutive pixels, same offset) coalesce.
#include <cooperative_groups.h>

#include "engine/cuda_check.h"
#include "engine/error.h"
#include "kernels/irn.h"

namespace wsvis::kernels::cuda {

namespace {

namespace cg = cooperative_groups;

constexpr int kWalkThreads = 256;
constexpr int kWalkChunk = 4;
constexpr int kMaxStencil = 2 * kIrnMaxDirections + 1;

struct WalkStencil {
  int K = 0;
  int8_t oy[kMaxStencil] = {};
  int8_t ox[kMaxStencil] = {};
};

WalkStencil make_stencil(const IrnPairSet& set) {
  WalkStencil s;
  s.K = 2 * set.num_directions + 1;
  for (int k = 0; k < s.K; ++k) {
    int oy, ox;
    irn_walk_offset(set, k, &oy, &ox);
    s.oy[k] = static_cast<int8_t>(oy);
    s.ox[k] = static_cast<int8_t>(ox);
  }
  return s;
}

template <typename T>
__global__ void irn_walk_weights_kernel(const T* __restrict__ boundary, int64_t H, int64_t W,
                                        const IrnPairSet set, T beta, T* __restrict__ weights) {
  const int64_t plane = H * W;
  const int K = 2 * set.num_directions + 1;
  for (int64_t j = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; j < plane;
       j += int64_t(gridDim.x) * blockDim.x) {
    const int64_t y = j / W, x = j % W;
    T sum = 0;
    for (int k = 0; k < K; ++k) {
      const T w = irn_walk_weight(irn_walk_alpha(boundary, H, W, y, x, set, k), beta);
      weights[k * plane + j] = w;
      sum += w;
    }
    for (int k = 0; k < K; ++k) weights[k * plane + j] /= sum;
  }
}

// One gather step over the whole frame, grid-stride. src / dst carry no __restrict__ and are
// not read through the non-coherent cache: in the persistent kernel other blocks wrote src
// before the grid sync. Step 0 reads the seeds and applies the (1 - B) mask on the fly.
template <typename T>
__device__ void walk_step(const T* __restrict__ weights, const T* src, bool first,
                          const T* __restrict__ boundary, bool mask, int64_t C, int64_t H,
                          int64_t W, const WalkStencil& st, T* dst) {
  const int64_t plane = H * W, chunks = (C + kWalkChunk - 1) / kWalkChunk;
  const bool masked = first && mask;
  for (int64_t t = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; t < plane * chunks;
       t += int64_t(gridDim.x) * blockDim.x) {
    const int64_t j = t % plane, c0 = (t / plane) * kWalkChunk;
    const int64_t y = j / W, x = j % W;
    T acc[kWalkChunk];
#pragma unroll
    for (int cc = 0; cc < kWalkChunk; ++cc) acc[cc] = T(0);
    for (int k = 0; k < st.K; ++k) {
      const int64_t ny = y + st.oy[k], nx = x + st.ox[k];
      if (!irn_inside(ny, nx, H, W)) continue;
      const int64_t nb = ny * W + nx;
      const T w = weights[k * plane + j];
      const T keep = masked ? T(1) - boundary[nb] : T(1);
#pragma unroll
      for (int cc = 0; cc < kWalkChunk; ++cc)
        if (c0 + cc < C) {
          T v = src[(c0 + cc) * plane + nb];
          if (masked) v *= keep;
          acc[cc] += w * v;
        }
    }
#pragma unroll
    for (int cc = 0; cc < kWalkChunk; ++cc)
      if (c0 + cc < C) dst[(c0 + cc) * plane + j] = acc[cc];
  }
}

// Step s writes `out` when steps - 1 - s is even, so the last one does.
template <typename T>
__device__ inline T* walk_dst(int s, int steps, T* out, T* scratch) {
  return ((steps - 1 - s) % 2 == 0) ? out : scratch;
}

template <typename T>
__global__ void __launch_bounds__(kWalkThreads)
    irn_walk_persistent_kernel(const T* __restrict__ weights, const T* __restrict__ seeds,
                               const T* __restrict__ boundary, bool mask, int64_t C, int64_t H,
                               int64_t W, const WalkStencil st, int steps, T* out, T* scratch) {
  cg::grid_group grid = cg::this_grid();
  for (int s = 0; s < steps; ++s) {
    T* dst = walk_dst(s, steps, out, scratch);
    const T* src = s == 0 ? seeds : (dst == out ? scratch : out);
    walk_step(weights, src, s == 0, boundary, mask, C, H, W, st, dst);
    if (s + 1 < steps) grid.sync();  // every write of step s visible to every block
  }
}

template <typename T>
__global__ void __launch_bounds__(kWalkThreads)
    irn_walk_step_kernel(const T* __restrict__ weights, const T* src, bool first,
                         const T* __restrict__ boundary, bool mask, int64_t C, int64_t H, int64_t W,
                         const WalkStencil st, T* dst) {
  walk_step(weights, src, first, boundary, mask, C, H, W, st, dst);
}

// steps == 0: out = seeds (times 1 - B).
template <typename T>
__global__ void irn_walk_init_kernel(const T* __restrict__ seeds, const T* __restrict__ boundary,
                                     bool mask, int64_t C, int64_t plane, T* __restrict__ out) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < C * plane;
       i += int64_t(gridDim.x) * blockDim.x)
    out[i] = mask ? seeds[i] * (T(1) - boundary[i % plane]) : seeds[i];
}

// ---- after the walk: global max, labels, channel masks, instance scores ----------------------

constexpr int kMaxBlocksMax = 512;

__device__ void block_max_to(double v, double* shared, double* dst) {
  shared[threadIdx.x] = v;
  __syncthreads();
  for (int half = kWalkThreads / 2; half > 0; half >>= 1) {
    if (threadIdx.x < half)
      shared[threadIdx.x] = fmax(shared[threadIdx.x], shared[threadIdx.x + half]);
    __syncthreads();
  }
  if (threadIdx.x == 0) *dst = shared[0];
}

// Max over the top-left H x W window of rw (C, Hs, Ws): one partial per block.
template <typename T>
__global__ void __launch_bounds__(kWalkThreads)
    window_max_partial_kernel(const T* __restrict__ rw, int64_t C, int64_t Hs, int64_t Ws,
                              int64_t H, int64_t W, double* __restrict__ partial) {
  __shared__ double shared[kWalkThreads];
  double m = -INFINITY;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < C * H * W;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t x = i % W, y = (i / W) % H, c = i / (H * W);
    m = fmax(m, double(rw[(c * Hs + y) * Ws + x]));
  }
  block_max_to(m, shared, partial + blockIdx.x);
}

__global__ void __launch_bounds__(kWalkThreads)
    window_max_finish_kernel(double* partial, int blocks) {
  __shared__ double shared[kWalkThreads];
  double m = -INFINITY;
  for (int b = threadIdx.x; b < blocks; b += kWalkThreads) m = fmax(m, partial[b]);
  block_max_to(m, shared, partial + kMaxBlocksMax);
}

template <typename T>
__global__ void walk_labels_kernel(const T* __restrict__ rw, int64_t C, int64_t Hs, int64_t Ws,
                                   int64_t H, int64_t W, T bg_threshold,
                                   const double* __restrict__ max_value,
                                   int32_t* __restrict__ labels, T* __restrict__ normalised) {
  const T m = static_cast<T>(*max_value);
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < H * W;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t y = i / W, x = i % W;
    T best = bg_threshold;
    int32_t label = 0;
    for (int64_t c = 0; c < C; ++c) {
      const T v = rw[(c * Hs + y) * Ws + x] / m;
      if (normalised) normalised[c * H * W + i] = v;
      if (v > best) {
        best = v;
        label = static_cast<int32_t>(c + 1);
      }
    }
    labels[i] = label;
  }
}

__global__ void channel_masks_kernel(const int32_t* __restrict__ labels, int64_t C, int64_t plane,
                                     uint8_t* __restrict__ masks) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < C * plane;
       i += int64_t(gridDim.x) * blockDim.x)
    masks[i] = labels[i % plane] == i / plane + 1 ? 1 : 0;
}

__device__ inline void atomic_max_nonneg(float* p, float v) {
  atomicMax(reinterpret_cast<unsigned int*>(p), __float_as_uint(v > 0.f ? v : 0.f));
}
__device__ inline void atomic_max_nonneg(double* p, double v) {
  atomicMax(reinterpret_cast<unsigned long long*>(p),
            static_cast<unsigned long long>(__double_as_longlong(v > 0.0 ? v : 0.0)));
}

template <typename T>
__global__ void instance_scores_kernel(const T* __restrict__ normalised,
                                       const int32_t* __restrict__ components,
                                       const int32_t* __restrict__ counts, int64_t C, int64_t plane,
                                       int64_t K, T* scores, int32_t* areas) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < C * plane;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t c = i / plane;
    const int32_t k = components[i];
    if (k < 1 || k > counts[c] || k > K) continue;
    atomicAdd(areas + c * K + k - 1, 1);
    atomic_max_nonneg(scores + c * K + k - 1, normalised[i]);
  }
}

template <typename T>
__global__ void instance_scores_finish_kernel(int64_t n, double min_area, T* scores,
                                              const int32_t* __restrict__ areas) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < n;
       e += int64_t(gridDim.x) * blockDim.x)
    if (double(areas[e]) < min_area) scores[e] = T(0);
}

}  // namespace

template <typename T>
void irn_walk_weights(cudaStream_t stream, const T* boundary, int64_t H, int64_t W,
                      const IrnPairSet& set, T beta, T* weights) {
  if (H * W == 0) return;
  irn_walk_weights_kernel<T><<<elementwise_blocks(H * W), kElementwiseThreads, 0, stream>>>(
      boundary, H, W, set, beta, weights);
  WSVIS_LAUNCH_CHECK();
}

template <typename T>
size_t irn_random_walk_workspace_bytes(int64_t C, int64_t H, int64_t W, const IrnPairSet& set) {
  return sizeof(T) * static_cast<size_t>(H * W) *
         static_cast<size_t>(2 * set.num_directions + 1 + C);
}

template <typename T>
void irn_random_walk(cudaStream_t stream, const T* boundary, const T* seeds, int64_t C, int64_t H,
                     int64_t W, const IrnPairSet& set, T beta, int steps, bool mask_seeds, T* out,
                     void* workspace, size_t workspace_bytes) {
  WSVIS_CHECK(steps >= 0, "irn_random_walk: steps ", steps, " < 0");
  const int64_t plane = H * W;
  if (C * plane == 0) return;
  WSVIS_CHECK(workspace_bytes >= irn_random_walk_workspace_bytes<T>(C, H, W, set),
              "irn_random_walk: workspace of ", workspace_bytes, " bytes, needs ",
              irn_random_walk_workspace_bytes<T>(C, H, W, set));
  if (steps == 0) {
    irn_walk_init_kernel<T><<<elementwise_blocks(C * plane), kElementwiseThreads, 0, stream>>>(
        seeds, boundary, mask_seeds, C, plane, out);
    WSVIS_LAUNCH_CHECK();
    return;
  }
  T* weights = static_cast<T*>(workspace);
  T* scratch = weights + static_cast<size_t>(2 * set.num_directions + 1) * plane;
  irn_walk_weights(stream, boundary, H, W, set, beta, weights);
  const WalkStencil st = make_stencil(set);
  const int64_t items = plane * ((C + kWalkChunk - 1) / kWalkChunk);
  const int64_t needed = ceil_div(items, kWalkThreads);

  int device = 0, coop = 0, sms = 0, per_sm = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  CUDA_CHECK(cudaDeviceGetAttribute(&coop, cudaDevAttrCooperativeLaunch, device));
  CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  if (coop)
    CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, irn_walk_persistent_kernel<T>,
                                                             kWalkThreads, 0));
  const int64_t resident = int64_t(per_sm) * sms;
  if (coop && resident > 0) {
    // Every block must be resident for the grid sync: at most `resident` blocks, grid-stride.
    const unsigned blocks = static_cast<unsigned>(needed < resident ? needed : resident);
    const T* a_weights = weights;
    const T* a_seeds = seeds;
    const T* a_boundary = boundary;
    bool a_mask = mask_seeds;
    int64_t a_C = C, a_H = H, a_W = W;
    int a_steps = steps;
    T* a_out = out;
    T* a_scratch = scratch;
    void* args[] = {&a_weights, &a_seeds, &a_boundary, &a_mask,
                    &a_C,       &a_H,     &a_W,        const_cast<WalkStencil*>(&st),
                    &a_steps,   &a_out,   &a_scratch};
    CUDA_CHECK(cudaLaunchCooperativeKernel(reinterpret_cast<void*>(irn_walk_persistent_kernel<T>),
                                           dim3(blocks), dim3(kWalkThreads), args, 0, stream));
    WSVIS_LAUNCH_CHECK();
    return;
  }
  const unsigned blocks = elementwise_blocks(items);
  for (int s = 0; s < steps; ++s) {
    T* dst = ((steps - 1 - s) % 2 == 0) ? out : scratch;
    const T* src = s == 0 ? seeds : (dst == out ? scratch : out);
    irn_walk_step_kernel<T><<<blocks, kWalkThreads, 0, stream>>>(weights, src, s == 0, boundary,
                                                                 mask_seeds, C, H, W, st, dst);
    WSVIS_LAUNCH_CHECK();
  }
}

size_t irn_walk_labels_workspace_bytes() { return sizeof(double) * (kMaxBlocksMax + 1); }

template <typename T>
void irn_walk_labels(cudaStream_t stream, const T* rw, int64_t C, int64_t Hs, int64_t Ws, int64_t H,
                     int64_t W, T bg_threshold, int32_t* labels, T* normalised, void* workspace) {
  WSVIS_CHECK(H <= Hs && W <= Ws, "irn_walk_labels: window ", H, "x", W, " larger than the map ",
              Hs, "x", Ws);
  if (H * W == 0) return;
  double* partial = static_cast<double*>(workspace);
  int64_t blocks = ceil_div(C * H * W, kWalkThreads);
  blocks = blocks < 1 ? 1 : (blocks > kMaxBlocksMax ? kMaxBlocksMax : blocks);
  window_max_partial_kernel<T>
      <<<static_cast<unsigned>(blocks), kWalkThreads, 0, stream>>>(rw, C, Hs, Ws, H, W, partial);
  WSVIS_LAUNCH_CHECK();
  window_max_finish_kernel<<<1, kWalkThreads, 0, stream>>>(partial, static_cast<int>(blocks));
  WSVIS_LAUNCH_CHECK();
  walk_labels_kernel<T><<<elementwise_blocks(H * W), kElementwiseThreads, 0, stream>>>(
      rw, C, Hs, Ws, H, W, bg_threshold, partial + kMaxBlocksMax, labels, normalised);
  WSVIS_LAUNCH_CHECK();
}

void irn_channel_masks(cudaStream_t stream, const int32_t* labels, int64_t C, int64_t H, int64_t W,
                       uint8_t* masks) {
  if (C * H * W == 0) return;
  channel_masks_kernel<<<elementwise_blocks(C * H * W), kElementwiseThreads, 0, stream>>>(
      labels, C, H * W, masks);
  WSVIS_LAUNCH_CHECK();
}

template <typename T>
void irn_instance_scores(cudaStream_t stream, const T* normalised, const int32_t* components,
                         const int32_t* counts, int64_t C, int64_t H, int64_t W,
                         int64_t max_components, double min_area_fraction, T* scores,
                         int32_t* areas) {
  const int64_t n = C * max_components;
  if (n == 0) return;
  CUDA_CHECK(cudaMemsetAsync(scores, 0, sizeof(T) * size_t(n), stream));
  CUDA_CHECK(cudaMemsetAsync(areas, 0, sizeof(int32_t) * size_t(n), stream));
  if (H * W > 0) {
    instance_scores_kernel<T><<<elementwise_blocks(C * H * W), kElementwiseThreads, 0, stream>>>(
        normalised, components, counts, C, H * W, max_components, scores, areas);
    WSVIS_LAUNCH_CHECK();
  }
  instance_scores_finish_kernel<T><<<elementwise_blocks(n), kElementwiseThreads, 0, stream>>>(
      n, min_area_fraction * double(H * W), scores, areas);
  WSVIS_LAUNCH_CHECK();
}

#define WSVIS_IRN_WALK_INSTANTIATE(T)                                                            \
  template void irn_walk_weights<T>(cudaStream_t, const T*, int64_t, int64_t, const IrnPairSet&, \
                                    T, T*);                                                      \
  template size_t irn_random_walk_workspace_bytes<T>(int64_t, int64_t, int64_t,                  \
                                                     const IrnPairSet&);                         \
  template void irn_random_walk<T>(cudaStream_t, const T*, const T*, int64_t, int64_t, int64_t,  \
                                   const IrnPairSet&, T, int, bool, T*, void*, size_t);          \
  template void irn_walk_labels<T>(cudaStream_t, const T*, int64_t, int64_t, int64_t, int64_t,   \
                                   int64_t, T, int32_t*, T*, void*);                             \
  template void irn_instance_scores<T>(cudaStream_t, const T*, const int32_t*, const int32_t*,   \
                                       int64_t, int64_t, int64_t, int64_t, double, T*, int32_t*);
WSVIS_IRN_WALK_INSTANTIATE(float)
WSVIS_IRN_WALK_INSTANTIATE(double)
#undef WSVIS_IRN_WALK_INSTANTIATE

}  // namespace wsvis::kernels::cuda
