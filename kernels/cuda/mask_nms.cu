// CUDA twin of mask_iom_nms (kernels/boxes.h): greedy NMS over masks by intersection over the
// smaller area, with no host synchronisation:
//   pack masks to bits -> all-pairs intersections (mask_overlap's kernels) -> sort scores
//   (cub radix sort, stable) -> suppression bit matrix in sorted order -> one-block greedy scan.
#include <cub/device/device_radix_sort.cuh>

#include "kernels/cuda/boxes_detail.cuh"

namespace wsvis::kernels::cuda {

namespace {

constexpr int kTile = 64;
constexpr int kScanThreads = 256;

struct MaskNmsBuffers {
  uint32_t *bits, *keys_in, *keys_out;
  int32_t *areas, *inter, *vals_in, *vals_out, *count;
  uint64_t* mask;
  void* sort_temp;
};

size_t sort_bytes(int64_t n) {
  size_t bytes = 0;
  if (n > 0)
    CUDA_CHECK(cub::DeviceRadixSort::SortPairs(
        nullptr, bytes, static_cast<const uint32_t*>(nullptr), static_cast<uint32_t*>(nullptr),
        static_cast<const int32_t*>(nullptr), static_cast<int32_t*>(nullptr), n, 0, 32));
  return bytes;
}

MaskNmsBuffers carve(detail::Carver& c, int64_t n, int64_t pixels, size_t sort) {
  const int64_t words = ceil_div(n, kTile);
  MaskNmsBuffers b;
  b.bits = c.take<uint32_t>(n * detail::mask_words(pixels));
  b.areas = c.take<int32_t>(n);
  b.inter = c.take<int32_t>(n * n);
  b.keys_in = c.take<uint32_t>(n);
  b.keys_out = c.take<uint32_t>(n);
  b.vals_in = c.take<int32_t>(n);
  b.vals_out = c.take<int32_t>(n);
  b.count = c.take<int32_t>(1);
  b.mask = c.take<uint64_t>(n * words);
  b.sort_temp = c.take_bytes(sort);
  return b;
}

__global__ void mask_keys_kernel(const float* scores, int64_t n, uint32_t* keys, int32_t* vals) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const float s = scores[i];
    // NaN and -inf never take part (the CPU twin's rule).
    keys[i] = s > -INFINITY ? score_key_descending(s) : kDroppedScoreKey;
    vals[i] = static_cast<int32_t>(i);
  }
}

// Valid keys form a prefix of the sorted run; one thread writes its length.
__global__ void mask_count_kernel(const uint32_t* keys, int64_t n, int32_t* count) {
  for (int64_t r = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; r < n;
       r += int64_t(gridDim.x) * blockDim.x) {
    const bool valid = keys[r] != kDroppedScoreKey;
    if (valid && (r + 1 == n || keys[r + 1] == kDroppedScoreKey)) *count = int32_t(r + 1);
    if (!valid && r == 0) *count = 0;
  }
}

// grid (words, words), kTile threads: bit jj of mask[64R + t][C] when sorted mask 64C + jj
// comes after sorted mask 64R + t and their IoM exceeds the threshold.
__global__ void mask_suppression_kernel(const int32_t* order, const int32_t* count,
                                        const int32_t* inter, const int32_t* areas, int64_t n,
                                        int64_t words, double threshold, uint64_t* mask) {
  const int row_block = blockIdx.y, col_block = blockIdx.x;
  if (col_block < row_block) return;
  const int m = *count;
  const int i = row_block * kTile + threadIdx.x;
  const int col0 = col_block * kTile;
  if (i >= m || col0 >= m) return;
  const int cols = min(kTile, m - col0);
  const int32_t a = order[i];
  uint64_t bits = 0;
  for (int jj = row_block == col_block ? int(threadIdx.x) + 1 : 0; jj < cols; ++jj) {
    const int32_t b = order[col0 + jj];
    if (mask_iom(inter[int64_t(a) * n + b], areas[a], areas[b]) > threshold) bits |= 1ull << jj;
  }
  mask[int64_t(i) * words + col_block] = bits;
}

__global__ void mask_scan_kernel(const uint64_t* mask, const int32_t* count, const int32_t* order,
                                 int64_t n, int64_t words, int32_t* keep, int32_t* keep_count) {
  extern __shared__ uint64_t removed[];
  for (int64_t s = threadIdx.x; s < n; s += blockDim.x) keep[s] = -1;
  __syncthreads();
  const int total = detail::greedy_scan(mask, words, *count, -1, removed,
                                        [&](int rank, int pos) { keep[rank] = order[pos]; });
  if (threadIdx.x == 0) *keep_count = total;
}

}  // namespace

size_t mask_iom_nms_workspace_bytes(int64_t n, int64_t pixels) {
  detail::Carver c(nullptr, 0);
  carve(c, n, pixels, sort_bytes(n));
  return c.used();
}

void mask_iom_nms(cudaStream_t stream, const uint8_t* masks, const float* scores, int64_t n,
                  int64_t pixels, double threshold, int32_t* keep, int32_t* keep_count,
                  void* workspace, size_t workspace_bytes) {
  WSVIS_CHECK(n >= 0 && n <= 65535 * int64_t(kTile) && pixels >= 0 && pixels <= INT32_MAX,
              "mask_iom_nms: bad sizes N=", n, " P=", pixels);
  if (n == 0) {
    CUDA_CHECK(cudaMemsetAsync(keep_count, 0, sizeof(int32_t), stream));
    return;
  }
  const size_t sort = sort_bytes(n);
  detail::Carver c(workspace, workspace_bytes);
  const MaskNmsBuffers w = carve(c, n, pixels, sort);
  c.check("mask_iom_nms");
  const int64_t mwords = detail::mask_words(pixels), words = ceil_div(n, kTile);

  detail::pack_masks(stream, masks, n, pixels, w.bits, w.areas);
  detail::mask_intersections(stream, w.bits, n, w.bits, n, mwords, w.inter);
  mask_keys_kernel<<<elementwise_blocks(n), kElementwiseThreads, 0, stream>>>(scores, n, w.keys_in,
                                                                              w.vals_in);
  WSVIS_LAUNCH_CHECK();
  size_t bytes = sort;
  CUDA_CHECK(cub::DeviceRadixSort::SortPairs(w.sort_temp, bytes, w.keys_in, w.keys_out, w.vals_in,
                                             w.vals_out, n, 0, 32, stream));
  mask_count_kernel<<<elementwise_blocks(n), kElementwiseThreads, 0, stream>>>(w.keys_out, n,
                                                                               w.count);
  WSVIS_LAUNCH_CHECK();
  mask_suppression_kernel<<<dim3(unsigned(words), unsigned(words)), kTile, 0, stream>>>(
      w.vals_out, w.count, w.inter, w.areas, n, words, threshold, w.mask);
  WSVIS_LAUNCH_CHECK();
  const size_t shared = detail::scan_shared_bytes(mask_scan_kernel, n);
  mask_scan_kernel<<<1, kScanThreads, shared, stream>>>(w.mask, w.count, w.vals_out, n, words,
                                                        keep, keep_count);
  WSVIS_LAUNCH_CHECK();
}

}  // namespace wsvis::kernels::cuda
