// CUDA twin of mask_overlap (kernels/boxes.h), and the mask bit-packing and intersection
// launchers that mask_nms.cu shares (kernels/cuda/boxes_detail.cuh).
//
// Masks are packed to one bit per pixel (warp ballots), so a pair's intersection is a
// popcount of ANDed 32-bit words: 32 pixels per instruction, and a (32 x 32 pairs) tile reads
// each packed row once into shared memory per 32-word chunk, like a GEMM with AND/popcount
// in place of multiply/add. The word range is split across blocks (integer atomics, so the
// result is exact and order-independent) to fill the GPU when K x L is small (~100 x 100).
#include "kernels/cuda/boxes_detail.cuh"

namespace wsvis::kernels::cuda {

namespace detail {

namespace {

constexpr int kPackWarps = 8;        // warps per packing block
constexpr int kPackWordsPerWarp = 32;  // words each warp packs
constexpr int kPairTile = 32;        // pairs per tile side
constexpr int kTileRows = 8;         // threads per tile column: each thread owns 4 rows
constexpr int kChunkWords = 32;      // words staged per shared-memory round
constexpr int kTargetBlocks = 264;   // two blocks per SM on a 132-SM H100

// grid (rows, ceil(words / (kPackWarps * kPackWordsPerWarp))), kPackWarps * 32 threads.
// Lane l of a warp reads pixel 32 w + l of word w (32 consecutive bytes per warp), the ballot
// is the packed word; lane 0 stores it and sums its popcount into the row's area.
__global__ void pack_masks_kernel(const uint8_t* __restrict__ masks, int64_t pixels,
                                  int64_t words, uint32_t* __restrict__ bits,
                                  int32_t* __restrict__ areas) {
  const int64_t r = blockIdx.x;
  const uint8_t* m = masks + r * pixels;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t w0 = (int64_t(blockIdx.y) * kPackWarps + warp) * kPackWordsPerWarp;
  int count = 0;
  for (int q = 0; q < kPackWordsPerWarp; ++q) {
    const int64_t w = w0 + q;
    if (w >= words) break;  // uniform across the warp
    const int64_t p = w * 32 + lane;
    const bool on = p < pixels && m[p] != 0;
    const uint32_t word = __ballot_sync(0xffffffffu, on);
    if (lane == 0) {
      bits[r * words + w] = word;
      count += __popc(word);
    }
  }
  if (lane == 0 && count) atomicAdd(&areas[r], count);
}

// grid (ceil(L / 32), ceil(K / 32), splits), block (32, 8). Thread (x, y) accumulates pairs
// (rows y, y+8, y+16, y+24 of the tile) x (column x) over its split's words.
__global__ void intersections_kernel(const uint32_t* __restrict__ a, int64_t k,
                                     const uint32_t* __restrict__ b, int64_t l, int64_t words,
                                     int64_t words_per_split, int32_t* __restrict__ inter) {
  __shared__ uint32_t sa[kPairTile][kChunkWords + 1];
  __shared__ uint32_t sb[kPairTile][kChunkWords + 1];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t i0 = int64_t(blockIdx.y) * kPairTile, j0 = int64_t(blockIdx.x) * kPairTile;
  const int64_t w_begin = int64_t(blockIdx.z) * words_per_split;
  const int64_t w_end = min(words, w_begin + words_per_split);
  int acc[kPairTile / kTileRows] = {0, 0, 0, 0};
  for (int64_t w0 = w_begin; w0 < w_end; w0 += kChunkWords) {
    for (int q = 0; q < kPairTile / kTileRows; ++q) {
      const int row = ty + q * kTileRows;
      const int64_t w = w0 + tx;
      const bool in_w = w < w_end;
      sa[row][tx] = (in_w && i0 + row < k) ? a[(i0 + row) * words + w] : 0u;
      sb[row][tx] = (in_w && j0 + row < l) ? b[(j0 + row) * words + w] : 0u;
    }
    __syncthreads();
#pragma unroll 8
    for (int w = 0; w < kChunkWords; ++w) {
      const uint32_t bw = sb[tx][w];  // row stride 33 words: conflict-free across tx
      for (int q = 0; q < kPairTile / kTileRows; ++q)
        acc[q] += __popc(sa[ty + q * kTileRows][w] & bw);  // broadcast within the warp
    }
    __syncthreads();
  }
  const int64_t j = j0 + tx;
  if (j >= l) return;
  for (int q = 0; q < kPairTile / kTileRows; ++q) {
    const int64_t i = i0 + ty + q * kTileRows;
    if (i < k && acc[q]) atomicAdd(&inter[i * l + j], acc[q]);
  }
}

}  // namespace

int64_t mask_words(int64_t pixels) { return ceil_div(pixels, 32); }

void pack_masks(cudaStream_t stream, const uint8_t* masks, int64_t rows, int64_t pixels,
                uint32_t* bits, int32_t* areas) {
  if (rows == 0) return;
  CUDA_CHECK(cudaMemsetAsync(areas, 0, sizeof(int32_t) * rows, stream));
  const int64_t words = mask_words(pixels);
  if (words == 0) return;
  const int64_t gy = ceil_div(words, kPackWarps * kPackWordsPerWarp);
  WSVIS_CHECK(rows <= INT32_MAX && gy <= 65535, "pack_masks: ", rows, " masks of ", pixels,
              " pixels exceed the launch grid");
  pack_masks_kernel<<<dim3(unsigned(rows), unsigned(gy)), kPackWarps * 32, 0, stream>>>(
      masks, pixels, words, bits, areas);
  WSVIS_LAUNCH_CHECK();
}

void mask_intersections(cudaStream_t stream, const uint32_t* a_bits, int64_t k,
                        const uint32_t* b_bits, int64_t l, int64_t words, int32_t* inter) {
  if (k == 0 || l == 0) return;
  CUDA_CHECK(cudaMemsetAsync(inter, 0, sizeof(int32_t) * k * l, stream));
  if (words == 0) return;
  const int64_t tiles_k = ceil_div(k, kPairTile), tiles_l = ceil_div(l, kPairTile);
  const int64_t chunks = ceil_div(words, kChunkWords);
  const int64_t want = std::max<int64_t>(1, ceil_div(kTargetBlocks, tiles_k * tiles_l));
  const int64_t splits = std::min(chunks, want);
  const int64_t words_per_split = ceil_div(chunks, splits) * kChunkWords;
  const int64_t gz = ceil_div(words, words_per_split);
  WSVIS_CHECK(tiles_l <= INT32_MAX && tiles_k <= 65535 && gz <= 65535,
              "mask_intersections: sizes exceed the launch grid: K=", k, " L=", l);
  intersections_kernel<<<dim3(unsigned(tiles_l), unsigned(tiles_k), unsigned(gz)),
                         dim3(kPairTile, kTileRows), 0, stream>>>(a_bits, k, b_bits, l, words,
                                                                  words_per_split, inter);
  WSVIS_LAUNCH_CHECK();
}

}  // namespace detail

namespace {

template <typename T>
__global__ void overlap_ratios_kernel(const int32_t* inter, const int32_t* area_a,
                                      const int32_t* area_b, int64_t k, int64_t l, T* iou,
                                      T* iom) {
  for (int64_t f = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; f < k * l;
       f += int64_t(gridDim.x) * blockDim.x) {
    const int64_t i = f / l, j = f % l;
    if (iou) iou[f] = static_cast<T>(mask_iou(inter[f], area_a[i], area_b[j]));
    if (iom) iom[f] = static_cast<T>(mask_iom(inter[f], area_a[i], area_b[j]));
  }
}

struct OverlapBuffers {
  uint32_t *a_bits, *b_bits;
  int32_t *area_a, *area_b, *inter;
};

OverlapBuffers carve_overlap(detail::Carver& c, int64_t k, int64_t l, int64_t pixels) {
  const int64_t words = detail::mask_words(pixels);
  OverlapBuffers o;
  o.a_bits = c.take<uint32_t>(k * words);
  o.b_bits = c.take<uint32_t>(l * words);
  o.area_a = c.take<int32_t>(k);
  o.area_b = c.take<int32_t>(l);
  o.inter = c.take<int32_t>(k * l);
  return o;
}

}  // namespace

size_t mask_overlap_workspace_bytes(int64_t k, int64_t l, int64_t pixels) {
  detail::Carver c(nullptr, 0);
  carve_overlap(c, k, l, pixels);
  return c.used();
}

template <typename T>
void mask_overlap(cudaStream_t stream, const uint8_t* a, int64_t k, const uint8_t* b, int64_t l,
                  int64_t pixels, T* iou, T* iom, void* workspace, size_t workspace_bytes) {
  WSVIS_CHECK(k >= 0 && l >= 0 && pixels >= 0 && pixels <= INT32_MAX,
              "mask_overlap: bad sizes K=", k, " L=", l, " P=", pixels);
  if (k == 0 || l == 0) return;
  detail::Carver c(workspace, workspace_bytes);
  const OverlapBuffers o = carve_overlap(c, k, l, pixels);
  c.check("mask_overlap");
  const int64_t words = detail::mask_words(pixels);
  detail::pack_masks(stream, a, k, pixels, o.a_bits, o.area_a);
  detail::pack_masks(stream, b, l, pixels, o.b_bits, o.area_b);
  detail::mask_intersections(stream, o.a_bits, k, o.b_bits, l, words, o.inter);
  overlap_ratios_kernel<T><<<elementwise_blocks(k * l), kElementwiseThreads, 0, stream>>>(
      o.inter, o.area_a, o.area_b, k, l, iou, iom);
  WSVIS_LAUNCH_CHECK();
}

template void mask_overlap<float>(cudaStream_t, const uint8_t*, int64_t, const uint8_t*, int64_t,
                                  int64_t, float*, float*, void*, size_t);
template void mask_overlap<double>(cudaStream_t, const uint8_t*, int64_t, const uint8_t*,
                                   int64_t, int64_t, double*, double*, void*, size_t);

}  // namespace wsvis::kernels::cuda
