// CUDA twin of kernels/components.h: union-find labelling in the manner of Playne & Hawick
// (2018), then a renumbering that reproduces the CPU twin's canonical raster-order labels.
//
// labels holds 1-based parent ids during the union-find (0 = background). Every pointer goes
// to an earlier pixel of the same component and only ever decreases (atomicMin), so concurrent
// finds see a valid, if stale, forest; each union hangs the larger root under the smaller, so a
// component ends rooted at its first pixel in raster order. The renumbering then counts roots
// per 1024-pixel tile, scans the counts per image, and numbers roots in raster order.
#include <cstdint>

#include "engine/cuda_check.h"
#include "engine/error.h"
#include "kernels/components.h"
#include "kernels/components_math.h"

namespace wsvis::kernels::cuda {

namespace {

namespace cm = components_math;

constexpr unsigned kFullMask = 0xffffffffu;
constexpr int kThreads = 256;
constexpr int kPerThread = 4;
constexpr int64_t kTile = int64_t(kThreads) * kPerThread;  // pixels per renumbering block
constexpr unsigned kMaxGridY = 65535;

// Root of id (1-based) in the image's label array; volatile because other threads relink
// concurrently and each hop must read memory, not a register.
__device__ inline int32_t find_root(const int32_t* lab, int32_t id) {
  const volatile int32_t* v = lab;
  int32_t parent = v[id - 1];
  while (parent != id) {
    id = parent;
    parent = v[id - 1];
  }
  return id;
}

// Lock-free union: hang the larger root under the smaller with atomicMin; when the root moved
// meanwhile (the atomic returns something else), retry from what it now points to.
__device__ inline void unite(int32_t* lab, int32_t a, int32_t b) {
  while (true) {
    a = find_root(lab, a);
    b = find_root(lab, b);
    if (a == b) return;
    if (a > b) {
      const int32_t t = a;
      a = b;
      b = t;
    }
    const int32_t old = atomicMin(&lab[b - 1], a);
    if (old == b) return;
    b = old;
  }
}

// Each foreground pixel starts at its first foreground earlier neighbour (a valid pointer that
// saves the merge pass work), or at itself.
__global__ void init_kernel(const uint8_t* __restrict__ mask, int32_t* __restrict__ labels,
                            int64_t total, int64_t H, int64_t W, int connectivity) {
  const int64_t HW = H * W;
  for (int64_t g = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; g < total;
       g += int64_t(gridDim.x) * blockDim.x) {
    if (!mask[g]) {
      labels[g] = 0;
      continue;
    }
    const int64_t base = g - g % HW, p = g % HW, y = p / W, x = p % W;
    int64_t id = p + 1;
    for (int k = 0; k < cm::backward_neighbour_count(connectivity); ++k) {
      int dy, dx;
      cm::backward_neighbour(connectivity, k, dy, dx);
      const int64_t q = cm::neighbour_index(y, x, dy, dx, H, W);
      if (q >= 0 && mask[base + q]) {
        id = q + 1;
        break;
      }
    }
    labels[g] = static_cast<int32_t>(id);
  }
}

__global__ void merge_kernel(const uint8_t* __restrict__ mask, int32_t* labels, int64_t total,
                             int64_t H, int64_t W, int connectivity) {
  const int64_t HW = H * W;
  for (int64_t g = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; g < total;
       g += int64_t(gridDim.x) * blockDim.x) {
    if (!mask[g]) continue;
    const int64_t base = g - g % HW, p = g % HW, y = p / W, x = p % W;
    for (int k = 0; k < cm::backward_neighbour_count(connectivity); ++k) {
      int dy, dx;
      cm::backward_neighbour(connectivity, k, dy, dx);
      const int64_t q = cm::neighbour_index(y, x, dy, dx, H, W);
      if (q >= 0 && mask[base + q])
        unite(labels + base, static_cast<int32_t>(p + 1), static_cast<int32_t>(q + 1));
    }
  }
}

// Every foreground pixel points straight at its root afterwards.
__global__ void compress_kernel(int32_t* labels, int64_t total, int64_t HW) {
  for (int64_t g = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; g < total;
       g += int64_t(gridDim.x) * blockDim.x) {
    const int32_t id = labels[g];
    if (id == 0) continue;
    const int64_t base = g - g % HW;
    labels[g] = find_root(labels + base, id);
  }
}

// Exclusive scan of v over the block (kThreads threads); *block_total gets the sum.
__device__ inline int32_t block_exclusive_scan(int32_t v, int32_t* block_total) {
  __shared__ int32_t warp_sums[kThreads / 32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  int32_t x = v;
  for (int off = 1; off < 32; off <<= 1) {
    const int32_t y = __shfl_up_sync(kFullMask, x, off);
    if (lane >= off) x += y;
  }
  if (lane == 31) warp_sums[warp] = x;
  __syncthreads();
  if (warp == 0) {
    int32_t w = lane < kThreads / 32 ? warp_sums[lane] : 0;
    for (int off = 1; off < 32; off <<= 1) {
      const int32_t y = __shfl_up_sync(kFullMask, w, off);
      if (lane >= off) w += y;
    }
    if (lane < kThreads / 32) warp_sums[lane] = w;  // inclusive prefix over warps
  }
  __syncthreads();
  const int32_t before = (warp > 0 ? warp_sums[warp - 1] : 0) + x - v;
  *block_total = warp_sums[kThreads / 32 - 1];
  __syncthreads();  // the next call may overwrite warp_sums
  return before;
}

// Roots among this thread's kPerThread consecutive pixels of tile blockIdx.x of image n.
__device__ inline int root_bits(const int32_t* lab, int64_t HW, int64_t tile) {
  int bits = 0;
  const int64_t p0 = tile * kTile + int64_t(threadIdx.x) * kPerThread;
  for (int k = 0; k < kPerThread; ++k) {
    const int64_t p = p0 + k;
    if (p < HW && lab[p] == p + 1) bits |= 1 << k;
  }
  return bits;
}

__global__ void count_roots_kernel(const int32_t* labels, int64_t N, int64_t HW, int64_t tiles,
                                   int32_t* tile_counts) {
  for (int64_t n = blockIdx.y; n < N; n += gridDim.y) {
    const int bits = root_bits(labels + n * HW, HW, blockIdx.x);
    int32_t sum;
    block_exclusive_scan(__popc(bits), &sum);
    if (threadIdx.x == 0) tile_counts[n * tiles + blockIdx.x] = sum;
  }
}

// Per image: tile counts become exclusive offsets; counts[n] = the image's component count.
__global__ void scan_tiles_kernel(int32_t* tile_counts, int64_t N, int64_t tiles, int32_t* counts) {
  for (int64_t n = blockIdx.x; n < N; n += gridDim.x) {
    int32_t carry = 0;
    for (int64_t s = 0; s < tiles; s += kThreads) {
      const int64_t t = s + threadIdx.x;
      const int32_t v = t < tiles ? tile_counts[n * tiles + t] : 0;
      int32_t chunk;
      const int32_t before = block_exclusive_scan(v, &chunk);
      if (t < tiles) tile_counts[n * tiles + t] = carry + before;
      carry += chunk;
    }
    if (threadIdx.x == 0) counts[n] = carry;
  }
}

// Roots get their canonical number, stored negated so it cannot be read as a parent id.
__global__ void number_roots_kernel(int32_t* labels, int64_t N, int64_t HW, int64_t tiles,
                                    const int32_t* tile_offsets) {
  for (int64_t n = blockIdx.y; n < N; n += gridDim.y) {
    int32_t* lab = labels + n * HW;
    const int bits = root_bits(lab, HW, blockIdx.x);
    int32_t unused;
    int32_t rank = tile_offsets[n * tiles + blockIdx.x] + block_exclusive_scan(__popc(bits), &unused);
    const int64_t p0 = int64_t(blockIdx.x) * kTile + int64_t(threadIdx.x) * kPerThread;
    for (int k = 0; k < kPerThread; ++k)
      if (bits & (1 << k)) lab[p0 + k] = -(++rank);
  }
}

// Roots flip their negated number; other pixels take their root's. A root may flip before or
// after a member reads it, hence the absolute value; each entry is written only by its owner.
__global__ void resolve_kernel(int32_t* labels, int64_t total, int64_t HW) {
  for (int64_t g = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; g < total;
       g += int64_t(gridDim.x) * blockDim.x) {
    const int32_t v = labels[g];
    if (v < 0) {
      labels[g] = -v;
    } else if (v > 0) {
      const volatile int32_t* root = labels + (g - g % HW) + (v - 1);
      const int32_t r = *root;
      labels[g] = r < 0 ? -r : r;
    }
  }
}

}  // namespace

size_t components_workspace_bytes(int64_t N, int64_t H, int64_t W) {
  return sizeof(int32_t) * size_t(N) * size_t(ceil_div(H * W, kTile));
}

void label_components(cudaStream_t stream, const uint8_t* mask, int64_t N, int64_t H, int64_t W,
                      int connectivity, int32_t* labels, int32_t* counts, void* workspace) {
  WSVIS_CHECK(connectivity == 4 || connectivity == 8, "cuda::label_components: connectivity ",
              connectivity, " (4 or 8)");
  WSVIS_CHECK(N >= 0 && H >= 0 && W >= 0, "cuda::label_components: negative size");
  WSVIS_CHECK(H == 0 || W < (int64_t(1) << 31) / H, "cuda::label_components: image ", H, "x", W,
              " has too many pixels for int32 ids");
  if (N == 0) return;
  const int64_t HW = H * W, total = N * HW;
  if (HW == 0) {
    CUDA_CHECK(cudaMemsetAsync(counts, 0, sizeof(int32_t) * size_t(N), stream));
    return;
  }
  const int64_t tiles = ceil_div(HW, kTile);
  WSVIS_CHECK(tiles <= 0x7fffffff, "cuda::label_components: image too large");
  int32_t* tile_counts = static_cast<int32_t*>(workspace);
  const unsigned blocks = elementwise_blocks(total);
  init_kernel<<<blocks, kElementwiseThreads, 0, stream>>>(mask, labels, total, H, W, connectivity);
  WSVIS_LAUNCH_CHECK();
  merge_kernel<<<blocks, kElementwiseThreads, 0, stream>>>(mask, labels, total, H, W, connectivity);
  WSVIS_LAUNCH_CHECK();
  compress_kernel<<<blocks, kElementwiseThreads, 0, stream>>>(labels, total, HW);
  WSVIS_LAUNCH_CHECK();
  const dim3 tile_grid(static_cast<unsigned>(tiles), static_cast<unsigned>(N < kMaxGridY ? N : kMaxGridY));
  count_roots_kernel<<<tile_grid, kThreads, 0, stream>>>(labels, N, HW, tiles, tile_counts);
  WSVIS_LAUNCH_CHECK();
  const unsigned image_blocks = static_cast<unsigned>(N < kMaxGridY ? N : kMaxGridY);
  scan_tiles_kernel<<<image_blocks, kThreads, 0, stream>>>(tile_counts, N, tiles, counts);
  WSVIS_LAUNCH_CHECK();
  number_roots_kernel<<<tile_grid, kThreads, 0, stream>>>(labels, N, HW, tiles, tile_counts);
  WSVIS_LAUNCH_CHECK();
  resolve_kernel<<<blocks, kElementwiseThreads, 0, stream>>>(labels, total, HW);
  WSVIS_LAUNCH_CHECK();
}

}  // namespace wsvis::kernels::cuda
