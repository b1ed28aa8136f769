// Internal pieces shared by the CUDA files of the boxes family (nms.cu, mask_overlap.cu,
// mask_nms.cu): workspace carving, the mask bit-packing and intersection launchers, and the
// on-device greedy scan that turns a suppression bit matrix into a keep list.
#pragma once

#include <cstddef>
#include <cstdint>

#include "engine/cuda_check.h"
#include "engine/error.h"
#include "kernels/boxes.h"

namespace wsvis::kernels::cuda::detail {

// Carves 256-byte aligned sub-buffers from a workspace. With a null base it only measures,
// so the *_workspace_bytes functions and the launchers share one layout.
class Carver {
 public:
  Carver(void* base, size_t bytes) : base_(static_cast<char*>(base)), bytes_(bytes) {}
  template <typename U>
  U* take(int64_t count) {
    used_ = (used_ + 255) / 256 * 256;
    U* p = base_ ? reinterpret_cast<U*>(base_ + used_) : nullptr;
    used_ += static_cast<size_t>(count) * sizeof(U);
    return p;
  }
  void* take_bytes(size_t bytes) { return take<char>(static_cast<int64_t>(bytes)); }
  size_t used() const { return used_; }
  void check(const char* who) const {
    WSVIS_CHECK(base_ != nullptr || used_ == 0, who, ": workspace is null");
    WSVIS_CHECK(used_ <= bytes_, who, ": workspace of ", bytes_, " bytes is too small (needs ",
                used_, "; ask *_workspace_bytes)");
  }

 private:
  char* base_;
  size_t bytes_;
  size_t used_ = 0;
};

// Masks (rows, P) uint8 -> bits (rows, words) uint32 with words = ceil(P / 32), pixel p of a
// row at bit p % 32 of word p / 32 (tail bits 0), and areas (rows) int32 = foreground pixels.
int64_t mask_words(int64_t pixels);
void pack_masks(cudaStream_t stream, const uint8_t* masks, int64_t rows, int64_t pixels,
                uint32_t* bits, int32_t* areas);
// inter (K, L) int32 = popcount(a_bits[i] & b_bits[j]) over `words` words.
void mask_intersections(cudaStream_t stream, const uint32_t* a_bits, int64_t k,
                        const uint32_t* b_bits, int64_t l, int64_t words, int32_t* inter);

// Greedy scan of one segment by one thread block (blockDim.x >= 64, a multiple of 32).
// mask: the segment's suppression matrix, row r (sorted position) holding row_words uint64
// words; bit c of word w of row r is set when box r suppresses box 64*w + c (set only for
// columns > r; words below r / 64 are never read). n: boxes in the segment. removed: shared
// memory of at least ceil(n / 64) words. on_keep(rank, position) runs once per kept box, on
// one thread. Returns the kept count in every thread.
//
// Per 64-box chunk, warp 0 resolves the chunk serially from the rows' diagonal words, held in
// registers and broadcast by shuffles (no block barrier per box, unlike a thread-0 loop with
// __syncthreads per kept box), while the next chunk's diagonal words are already loading.
// Then the whole block folds the kept rows into the later chunks' removed words: one
// (kept row, word) pair per thread, coalesced along the row, combined by shared-memory
// atomicOr (order-independent, so deterministic), so a chunk with many kept boxes costs a few
// memory latencies rather than one per kept box.
template <typename OnKeep>
__device__ int greedy_scan(const uint64_t* __restrict__ mask, int64_t row_words, int n,
                           int64_t max_keep, uint64_t* removed, OnKeep on_keep) {
  __shared__ uint64_t chunk_kept;
  __shared__ int kept_pos[64];
  const int words = (n + 63) / 64;
  const int lane = threadIdx.x & 31;
  auto diagonal = [&](int c, int r) -> uint64_t {
    return r < n ? mask[int64_t(r) * row_words + c] : 0ull;
  };
  for (int w = threadIdx.x; w < words; w += blockDim.x) removed[w] = 0;
  uint64_t d0 = 0, d1 = 0;  // warp 0: diagonal words of rows base + lane, base + 32 + lane
  if (threadIdx.x < 32 && words > 0) {
    d0 = diagonal(0, lane);
    d1 = diagonal(0, 32 + lane);
  }
  __syncthreads();
  int total = 0;
  for (int c = 0; c < words; ++c) {
    const int base = c * 64;
    if (threadIdx.x < 32) {
      uint64_t next0 = 0, next1 = 0;
      if (c + 1 < words) {
        next0 = diagonal(c + 1, base + 64 + lane);
        next1 = diagonal(c + 1, base + 96 + lane);
      }
      uint64_t rem = removed[c];
      const int valid = n - base < 64 ? n - base : 64;
      if (valid < 64) rem |= ~0ull << valid;  // positions past n are no candidates
      uint64_t kept = 0;
      int64_t t = total;
#pragma unroll
      for (int bit = 0; bit < 32; ++bit) {
        const uint64_t row = __shfl_sync(0xffffffffu, d0, bit);
        if (!((rem >> bit) & 1ull) && (max_keep < 0 || t < max_keep)) {
          kept |= 1ull << bit;
          rem |= row;
          ++t;
        }
      }
#pragma unroll
      for (int bit = 0; bit < 32; ++bit) {
        const uint64_t row = __shfl_sync(0xffffffffu, d1, bit);
        if (!((rem >> (bit + 32)) & 1ull) && (max_keep < 0 || t < max_keep)) {
          kept |= 1ull << (bit + 32);
          rem |= row;
          ++t;
        }
      }
      // The kept positions in order, for the fold below.
      if ((kept >> lane) & 1ull) kept_pos[__popcll(kept & ((1ull << lane) - 1ull))] = lane;
      if ((kept >> (lane + 32)) & 1ull)
        kept_pos[__popcll(kept & ((1ull << (lane + 32)) - 1ull))] = lane + 32;
      if (lane == 0) chunk_kept = kept;
      d0 = next0;
      d1 = next1;
    }
    __syncthreads();
    const uint64_t kept = chunk_kept;
    const int count = __popcll(kept);
    const int rest = words - c - 1;
    for (int idx = threadIdx.x; idx < count * rest; idx += blockDim.x) {
      const int q = idx / rest, w = c + 1 + idx % rest;
      const uint64_t v = mask[int64_t(base + kept_pos[q]) * row_words + w];
      if (v)
        atomicOr(reinterpret_cast<unsigned long long*>(&removed[w]),
                 static_cast<unsigned long long>(v));
    }
    if (threadIdx.x < 64 && ((kept >> threadIdx.x) & 1ull))
      on_keep(total + __popcll(kept & ((1ull << threadIdx.x) - 1ull)), base + int(threadIdx.x));
    total += count;
    // removed[] of later chunks complete, chunk_kept and kept_pos read by all, before the
    // next chunk overwrites them.
    __syncthreads();
    if (max_keep >= 0 && total >= max_keep) break;
  }
  return total;
}

// Dynamic shared memory for a scan over up to n boxes; opts the kernel into more than the
// default 48 KiB when needed (a host-side attribute, no synchronisation).
template <typename Kernel>
size_t scan_shared_bytes(Kernel kernel, int64_t n) {
  const size_t bytes = static_cast<size_t>((n + 63) / 64) * sizeof(uint64_t);
  if (bytes > 48 * 1024) {
    WSVIS_CHECK(bytes <= 227 * 1024, "NMS scan: ", n, " candidates per segment exceed the ",
                "shared-memory bit set (at most ", 227 * 1024 * 8, ")");
    CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                    static_cast<int>(bytes)));
  }
  return bytes;
}

}  // namespace wsvis::kernels::cuda::detail
