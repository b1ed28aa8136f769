// Warp- and block-level reductions shared by kernels/cuda/reduce.cu and softmax.cu.
// Requirements: blockDim.x is a multiple of 32 and at most 1024; every thread of the block
// calls the block_* function (they contain __syncthreads), and every thread gets the result.
// The combination order is fixed by blockDim, so results are deterministic run to run.
#pragma once

#include <cstdint>

#include "kernels/reduce.h"

namespace wsvis::kernels::cuda::detail {

constexpr unsigned kFullMask = 0xffffffffu;

// Threads for a one-block-per-row reduction of `rows` rows of R elements: only as many
// warps as a short row can use; 256 when there are enough rows to fill the GPU with blocks,
// up to 1024 when there are few rows (a full reduction is one row), so that the few busy
// SMs each keep more loads in flight. A multiple of 32, as the block_* functions require.
inline int row_threads(int64_t R, int64_t rows) {
  constexpr int64_t kFewRows = 256;  // about two blocks per SM on a 132-SM H100
  const int64_t cap = rows < kFewRows ? 1024 : 256;
  int64_t t = ((R + 31) / 32) * 32;
  if (t < 32) t = 32;
  if (t > cap) t = cap;
  return static_cast<int>(t);
}

// Sums two doubles over a block of kThreads threads (a power of two) through a shared-memory
// tree, in an order fixed by thread indices: the batch- and group-norm statistics use it so
// every run gives the same bits. Every thread gets both totals.
template <int kThreads>
__device__ void block_tree_sum2(double& a, double& b) {
  static_assert((kThreads & (kThreads - 1)) == 0, "the tree halves kThreads down to one");
  __shared__ double shared_a[kThreads];
  __shared__ double shared_b[kThreads];
  shared_a[threadIdx.x] = a;
  shared_b[threadIdx.x] = b;
  __syncthreads();
  for (int half = kThreads / 2; half > 0; half >>= 1) {
    if (threadIdx.x < half) {
      shared_a[threadIdx.x] += shared_a[threadIdx.x + half];
      shared_b[threadIdx.x] += shared_b[threadIdx.x + half];
    }
    __syncthreads();
  }
  a = shared_a[0];
  b = shared_b[0];
  __syncthreads();  // the shared arrays may be reused by the caller's next reduction
}

template <typename T>
__device__ inline T warp_sum(T v) {
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(kFullMask, v, offset);
  return v;
}

template <typename T>
__device__ inline T warp_max(T v) {
  for (int offset = 16; offset > 0; offset >>= 1) {
    const T other = __shfl_xor_sync(kFullMask, v, offset);
    v = other > v ? other : v;
  }
  return v;
}

template <typename T>
__device__ inline void warp_argmax(T& v, int64_t& idx) {
  for (int offset = 16; offset > 0; offset >>= 1) {
    const T other = __shfl_xor_sync(kFullMask, v, offset);
    const int64_t other_idx = __shfl_xor_sync(kFullMask, idx, offset);
    if (max_replaces(v, idx, other, other_idx)) {
      v = other;
      idx = other_idx;
    }
  }
}

// `scratch` holds 32 values in shared memory.
template <typename T>
__device__ inline T block_sum(T v, T* scratch) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  v = warp_sum(v);
  __syncthreads();  // the previous call's readers are done with scratch
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  v = lane < warps ? scratch[lane] : T(0);
  return warp_sum(v);
}

// Only reduces real values: lanes past the last warp copy warp 0's value, which cannot
// change a maximum.
template <typename T>
__device__ inline T block_max(T v, T* scratch) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  v = warp_max(v);
  __syncthreads();
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  v = scratch[lane < warps ? lane : 0];
  return warp_max(v);
}

// Same for (value, index) pairs under max_replaces; a copy of warp 0's pair has the same
// index, so it never displaces anything.
template <typename T>
__device__ inline void block_argmax(T& v, int64_t& idx, T* scratch, int64_t* scratch_idx) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  warp_argmax(v, idx);
  __syncthreads();
  if (lane == 0) {
    scratch[warp] = v;
    scratch_idx[warp] = idx;
  }
  __syncthreads();
  const int src = lane < warps ? lane : 0;
  v = scratch[src];
  idx = scratch_idx[src];
  warp_argmax(v, idx);
}

}  // namespace wsvis::kernels::cuda::detail
