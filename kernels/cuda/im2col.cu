#include "engine/cuda_check.h"
#include "kernels/im2col.h"

namespace wsvis::kernels::cuda {

namespace {

// One thread per column entry; the flat index decomposes as ((c, i, j), (oh, ow)) exactly as
// the CPU twin's loops nest, so each writes the same element from the same formula.
template <typename T>
__global__ void im2col_kernel(const T* image, Im2colGeometry g, T* columns, int64_t n) {
  const int64_t plane = g.out_h * g.out_w;
  for (int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; idx < n;
       idx += int64_t(gridDim.x) * blockDim.x) {
    const int64_t row = idx / plane, pos = idx % plane;
    const int j = static_cast<int>(row % g.kernel_w);
    const int i = static_cast<int>((row / g.kernel_w) % g.kernel_h);
    const int64_t c = row / (int64_t(g.kernel_w) * g.kernel_h);
    columns[idx] = im2col_value(image, g, c, i, j, pos / g.out_w, pos % g.out_w);
  }
}

// One thread per image element, gathering its contributors: no atomics, deterministic.
template <typename T>
__global__ void col2im_kernel(const T* columns, Im2colGeometry g, T* image, int64_t n) {
  for (int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; idx < n;
       idx += int64_t(gridDim.x) * blockDim.x) {
    const int64_t w = idx % g.width;
    const int64_t ch = idx / g.width;
    image[idx] = col2im_value(columns, g, ch / g.height, ch % g.height, w);
  }
}

}  // namespace

template <typename T>
void im2col(cudaStream_t stream, const T* image, const Im2colGeometry& g, T* columns) {
  const int64_t n = g.col_rows() * g.col_cols();
  if (n == 0) return;
  im2col_kernel<<<elementwise_blocks(n), kElementwiseThreads, 0, stream>>>(image, g, columns, n);
  WSVIS_LAUNCH_CHECK();
}

template <typename T>
void col2im(cudaStream_t stream, const T* columns, const Im2colGeometry& g, T* image) {
  const int64_t n = g.channels * g.height * g.width;
  if (n == 0) return;
  col2im_kernel<<<elementwise_blocks(n), kElementwiseThreads, 0, stream>>>(columns, g, image, n);
  WSVIS_LAUNCH_CHECK();
}

template void im2col<float>(cudaStream_t, const float*, const Im2colGeometry&, float*);
template void im2col<double>(cudaStream_t, const double*, const Im2colGeometry&, double*);
template void col2im<float>(cudaStream_t, const float*, const Im2colGeometry&, float*);
template void col2im<double>(cudaStream_t, const double*, const Im2colGeometry&, double*);

}  // namespace wsvis::kernels::cuda
