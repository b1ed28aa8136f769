// CUDA twin of the pairwise box overlap (kernels/boxes.h box_overlap).
#include "engine/cuda_check.h"
#include "kernels/boxes.h"

namespace wsvis::kernels::cuda {

namespace {

// Block: 32 columns (boxes of b) x 8 rows (boxes of a). The block's 32 b-boxes are staged in
// shared memory once and reused by every row it visits; rows advance by a grid stride so huge N
// stays within the grid-y limit. Writes along j are coalesced.
constexpr int kCols = 32;
constexpr int kRows = 8;

template <typename T>
__global__ void box_overlap_kernel(const T* __restrict__ a, int64_t n, const T* __restrict__ b,
                                   int64_t m, Overlap kind, T* __restrict__ out) {
  __shared__ T sb[kCols][4];
  __shared__ T sarea[kCols];
  const int64_t j = int64_t(blockIdx.x) * kCols + threadIdx.x;
  if (threadIdx.y == 0 && j < m) {
    for (int q = 0; q < 4; ++q) sb[threadIdx.x][q] = b[4 * j + q];
    sarea[threadIdx.x] = box_area(&sb[threadIdx.x][0]);
  }
  __syncthreads();
  if (j >= m) return;
  for (int64_t i = int64_t(blockIdx.y) * kRows + threadIdx.y; i < n;
       i += int64_t(gridDim.y) * kRows) {
    T bi[4];
    for (int q = 0; q < 4; ++q) bi[q] = a[4 * i + q];
    out[i * m + j] =
        box_overlap_ratio(bi, &sb[threadIdx.x][0], box_area(bi), sarea[threadIdx.x], kind);
  }
}

}  // namespace

template <typename T>
void box_overlap(cudaStream_t stream, const T* a, int64_t n, const T* b, int64_t m, Overlap kind,
                 T* out) {
  if (n == 0 || m == 0) return;
  const int64_t gx = ceil_div(m, kCols);
  WSVIS_CHECK(gx <= INT32_MAX, "box_overlap: too many boxes in b: ", m);
  const int64_t gy = std::min<int64_t>(ceil_div(n, kRows), 65535);
  box_overlap_kernel<T><<<dim3(unsigned(gx), unsigned(gy)), dim3(kCols, kRows), 0, stream>>>(
      a, n, b, m, kind, out);
  WSVIS_LAUNCH_CHECK();
}

template void box_overlap<float>(cudaStream_t, const float*, int64_t, const float*, int64_t,
                                 Overlap, float*);
template void box_overlap<double>(cudaStream_t, const double*, int64_t, const double*, int64_t,
                                  Overlap, double*);

}  // namespace wsvis::kernels::cuda
