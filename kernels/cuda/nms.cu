// CUDA twin of batched_nms / nms (kernels/boxes.h): one stream-ordered launch sequence, no
// host synchronisation, no allocation.
//
//   1. keys:   key = (image << 32) | descending score key (dropped boxes: all ones), value =
//              slot; one cub::DeviceRadixSort over the B*M pairs sorts every image's boxes by
//              score, descending, and (radix sort being stable) ties by slot ascending.
//   2. gather: each image's first K sorted boxes and labels, contiguous; the image's candidate
//              count (boxes taking part, at most K) found where valid keys end.
//   3. mask:   64x64 tiles of the upper triangle of each image's K x K pairs, one bit per pair
//              (same label and IoU > threshold), 64 threads per tile (torchvision's layout).
//   4. scan:   one block per image runs the greedy pass over its bit matrix (greedy_scan).
#include <cub/device/device_radix_sort.cuh>

#include "kernels/cuda/boxes_detail.cuh"

namespace wsvis::kernels::cuda {

namespace {

constexpr int kTile = 64;
constexpr int kScanThreads = 256;

struct NmsLayout {
  int64_t n = 0, k = 0, words = 0;
  int end_bit = 32;
  size_t sort_bytes = 0;
};

NmsLayout nms_layout(int64_t batch, int64_t capacity, const NmsOptions& opt) {
  NmsLayout L;
  L.n = batch * capacity;
  L.k = opt.candidate_limit < 0 ? capacity : std::min(opt.candidate_limit, capacity);
  L.words = ceil_div(L.k, kTile);
  int bits = 0;
  while ((int64_t(1) << bits) < batch) ++bits;
  L.end_bit = 32 + bits;
  if (L.n > 0)
    CUDA_CHECK(cub::DeviceRadixSort::SortPairs(
        nullptr, L.sort_bytes, static_cast<const uint64_t*>(nullptr), static_cast<uint64_t*>(nullptr),
        static_cast<const int32_t*>(nullptr), static_cast<int32_t*>(nullptr), L.n, 0, L.end_bit));
  return L;
}

template <typename T>
struct NmsBuffers {
  uint64_t *keys_in, *keys_out, *mask;
  int32_t *vals_in, *vals_out, *labels, *slots, *count;
  T* boxes;
  void* sort_temp;
};

template <typename T>
NmsBuffers<T> carve(detail::Carver& c, int64_t batch, const NmsLayout& L) {
  NmsBuffers<T> b;
  b.keys_in = c.take<uint64_t>(L.n);
  b.keys_out = c.take<uint64_t>(L.n);
  b.vals_in = c.take<int32_t>(L.n);
  b.vals_out = c.take<int32_t>(L.n);
  b.boxes = c.take<T>(batch * L.k * 4);
  b.labels = c.take<int32_t>(batch * L.k);
  b.slots = c.take<int32_t>(batch * L.k);
  b.count = c.take<int32_t>(batch);
  b.mask = c.take<uint64_t>(batch * L.k * L.words);
  b.sort_temp = c.take_bytes(L.sort_bytes);
  return b;
}

template <typename T>
__global__ void nms_keys_kernel(const T* scores, int64_t total, int64_t capacity,
                                double score_threshold, uint64_t* keys, int32_t* vals) {
  for (int64_t f = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; f < total;
       f += int64_t(gridDim.x) * blockDim.x) {
    const T s = scores[f];
    const uint32_t low =
        static_cast<double>(s) > score_threshold ? score_key_descending(float(s)) : kDroppedScoreKey;
    keys[f] = (static_cast<uint64_t>(f / capacity) << 32) | low;
    vals[f] = static_cast<int32_t>(f % capacity);
  }
}

// One thread per (image, sorted rank < K).
template <typename T>
__global__ void nms_gather_kernel(const T* boxes, const int32_t* labels, const uint64_t* keys,
                                  const int32_t* vals, int64_t batch, int64_t capacity, int64_t k,
                                  T* sboxes, int32_t* slabels, int32_t* slots, int32_t* count) {
  for (int64_t f = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; f < batch * k;
       f += int64_t(gridDim.x) * blockDim.x) {
    const int64_t b = f / k, r = f % k, p = b * capacity + r;
    const bool valid = static_cast<uint32_t>(keys[p]) != kDroppedScoreKey;
    // Valid keys form a prefix of the image's sorted run: exactly one thread per image writes
    // its count (the last valid rank below K, or rank 0 when none is valid).
    if (valid && (r + 1 == k || static_cast<uint32_t>(keys[p + 1]) == kDroppedScoreKey))
      count[b] = static_cast<int32_t>(r + 1);
    if (!valid && r == 0) count[b] = 0;
    if (!valid) continue;
    const int32_t s = vals[p];
    const int64_t src = b * capacity + s;
    for (int q = 0; q < 4; ++q) sboxes[4 * f + q] = boxes[4 * src + q];
    slabels[f] = labels ? labels[src] : 0;
    slots[f] = s;
  }
}

// grid (words, words, B), kTile threads: thread t of tile (row block R, column block C) sets
// bit jj of mask[b][64R + t][C] when sorted box 64C + jj comes after it, has its label, and
// overlaps it with IoU > threshold. Tiles below the diagonal or past the image's count exit.
template <typename T>
__global__ void nms_mask_kernel(const T* sboxes, const int32_t* slabels, const int32_t* count,
                                int64_t k, int64_t words, double threshold, uint64_t* mask) {
  const int64_t b = blockIdx.z;
  const int row_block = blockIdx.y, col_block = blockIdx.x;
  if (col_block < row_block) return;
  const int n = count[b];
  const int row0 = row_block * kTile, col0 = col_block * kTile;
  if (row0 >= n || col0 >= n) return;
  const int rows = min(kTile, n - row0), cols = min(kTile, n - col0);
  __shared__ T cb[kTile][4];
  __shared__ T carea[kTile];
  __shared__ int32_t clabel[kTile];
  const int t = threadIdx.x;
  const T* seg = sboxes + b * k * 4;
  if (t < cols) {
    for (int q = 0; q < 4; ++q) cb[t][q] = seg[4 * (col0 + t) + q];
    carea[t] = box_area(&cb[t][0]);
    clabel[t] = slabels[b * k + col0 + t];
  }
  __syncthreads();
  if (t >= rows) return;
  const int i = row0 + t;
  T bi[4];
  for (int q = 0; q < 4; ++q) bi[q] = seg[4 * i + q];
  const T area_i = box_area(bi);
  const int32_t li = slabels[b * k + i];
  uint64_t bits = 0;
  for (int jj = row_block == col_block ? t + 1 : 0; jj < cols; ++jj) {
    if (clabel[jj] != li) continue;
    const T iou = box_overlap_ratio(bi, &cb[jj][0], area_i, carea[jj], Overlap::iou);
    if (static_cast<double>(iou) > threshold) bits |= 1ull << jj;
  }
  mask[(b * k + i) * words + col_block] = bits;
}

__global__ void nms_scan_kernel(const uint64_t* mask, const int32_t* count, const int32_t* slots,
                                int64_t capacity, int64_t k, int64_t words, int64_t max_keep,
                                int32_t* keep, int32_t* keep_count, uint8_t* keep_mask) {
  extern __shared__ uint64_t removed[];
  const int64_t b = blockIdx.x;
  int32_t* kp = keep + b * capacity;
  uint8_t* km = keep_mask ? keep_mask + b * capacity : nullptr;
  for (int64_t s = threadIdx.x; s < capacity; s += blockDim.x) {
    kp[s] = -1;
    if (km) km[s] = 0;
  }
  __syncthreads();  // the fills land before any kept entry is written by another thread
  const int32_t* sl = slots + b * k;
  const int total = detail::greedy_scan(mask + b * k * words, words, count[b], max_keep, removed,
                                        [&](int rank, int pos) {
                                          const int32_t s = sl[pos];
                                          kp[rank] = s;
                                          if (km) km[s] = 1;
                                        });
  if (threadIdx.x == 0) keep_count[b] = total;
}

}  // namespace

size_t batched_nms_workspace_bytes(int64_t batch, int64_t capacity, const NmsOptions& opt) {
  const NmsLayout L = nms_layout(batch, capacity, opt);
  detail::Carver c(nullptr, 0);
  carve<float>(c, batch, L);
  return c.used();
}

template <typename T>
void batched_nms(cudaStream_t stream, const T* boxes, const T* scores, const int32_t* labels,
                 int64_t batch, int64_t capacity, const NmsOptions& opt, int32_t* keep,
                 int32_t* keep_count, uint8_t* keep_mask, void* workspace,
                 size_t workspace_bytes) {
  WSVIS_CHECK(batch >= 0 && batch <= 65535 && capacity >= 0 && capacity <= INT32_MAX,
              "batched_nms: need 0 <= B <= 65535 and 0 <= M < 2^31, got B=", batch, " M=",
              capacity);
  if (batch == 0) return;
  if (capacity == 0) {
    CUDA_CHECK(cudaMemsetAsync(keep_count, 0, sizeof(int32_t) * batch, stream));
    return;
  }
  const NmsLayout L = nms_layout(batch, capacity, opt);
  detail::Carver c(workspace, workspace_bytes);
  NmsBuffers<T> w = carve<T>(c, batch, L);
  c.check("batched_nms");

  nms_keys_kernel<T><<<elementwise_blocks(L.n), kElementwiseThreads, 0, stream>>>(
      scores, L.n, capacity, opt.score_threshold, w.keys_in, w.vals_in);
  WSVIS_LAUNCH_CHECK();
  size_t sort_bytes = L.sort_bytes;
  CUDA_CHECK(cub::DeviceRadixSort::SortPairs(w.sort_temp, sort_bytes, w.keys_in, w.keys_out,
                                             w.vals_in, w.vals_out, L.n, 0, L.end_bit, stream));
  if (L.k > 0) {
    nms_gather_kernel<T><<<elementwise_blocks(batch * L.k), kElementwiseThreads, 0, stream>>>(
        boxes, labels, w.keys_out, w.vals_out, batch, capacity, L.k, w.boxes, w.labels, w.slots,
        w.count);
    WSVIS_LAUNCH_CHECK();
    const dim3 grid(unsigned(L.words), unsigned(L.words), unsigned(batch));
    WSVIS_CHECK(L.words <= 65535, "batched_nms: candidate limit ", L.k, " too large");
    nms_mask_kernel<T><<<grid, kTile, 0, stream>>>(w.boxes, w.labels, w.count, L.k, L.words,
                                                  opt.iou_threshold, w.mask);
    WSVIS_LAUNCH_CHECK();
  } else {
    CUDA_CHECK(cudaMemsetAsync(w.count, 0, sizeof(int32_t) * batch, stream));
  }
  const size_t shared = detail::scan_shared_bytes(nms_scan_kernel, L.k);
  nms_scan_kernel<<<unsigned(batch), kScanThreads, shared, stream>>>(
      w.mask, w.count, w.slots, capacity, L.k, L.words, opt.max_keep, keep, keep_count,
      keep_mask);
  WSVIS_LAUNCH_CHECK();
}

size_t nms_workspace_bytes(int64_t n) { return batched_nms_workspace_bytes(1, n, NmsOptions{}); }

template <typename T>
void nms(cudaStream_t stream, const T* boxes, const T* scores, int64_t n, double iou_threshold,
         int32_t* keep, int32_t* keep_count, void* workspace, size_t workspace_bytes) {
  NmsOptions opt;
  opt.iou_threshold = iou_threshold;
  batched_nms<T>(stream, boxes, scores, nullptr, 1, n, opt, keep, keep_count, nullptr, workspace,
                 workspace_bytes);
}

template void batched_nms<float>(cudaStream_t, const float*, const float*, const int32_t*,
                                 int64_t, int64_t, const NmsOptions&, int32_t*, int32_t*,
                                 uint8_t*, void*, size_t);
template void nms<float>(cudaStream_t, const float*, const float*, int64_t, double, int32_t*,
                         int32_t*, void*, size_t);

}  // namespace wsvis::kernels::cuda
