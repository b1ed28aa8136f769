// im2col / col2im: the lowering that turns a 2-D convolution into a GEMM (the CPU conv path),
// and its adjoint. One image (or one group's channel slice of it) at a time:
//   image: (C, H, W)   columns: (C * kh * kw, out_h * out_w), row r = (c * kh + i) * kw + j
// columns[r][oh * out_w + ow] = image[c][oh * stride_h - pad_h + i * dil_h]
//                                       [ow * stride_w - pad_w + j * dil_w]   (0 outside)
// col2im is the exact adjoint (the transpose of that sparse map): every image element is the
// sum of the column entries that read it. It is written as a gather (each image element sums
// its own contributors) rather than a scatter, so it needs no atomics on the GPU, overwrites
// its output, and gives the same bits on every run.
// CPU twin in kernels/cpu/im2col.cpp, CUDA twin in kernels/cuda/im2col.cu; the per-element
// maths below is shared by both.
#pragma once

#include <cstdint>

#include "kernels/common.h"

#if WSVIS_WITH_CUDA
#include <cuda_runtime.h>
#endif

namespace wsvis::kernels {

// Sizes of one im2col lowering. out_h / out_w are given, not derived, so the same geometry
// serves conv_transpose2d whose output_padding makes the image larger than a plain conv needs.
struct Im2colGeometry {
  int64_t channels = 0, height = 0, width = 0;  // the image: (C, H, W)
  int64_t out_h = 0, out_w = 0;                 // the convolution output plane
  int kernel_h = 1, kernel_w = 1;
  int pad_h = 0, pad_w = 0;
  int stride_h = 1, stride_w = 1;
  int dilation_h = 1, dilation_w = 1;

  WSVIS_HD int64_t col_rows() const { return channels * kernel_h * kernel_w; }
  WSVIS_HD int64_t col_cols() const { return out_h * out_w; }
};

// Output extent of a convolution along one axis (torch.nn.Conv2d's formula); <= 0 when the
// (dilated) kernel does not fit in the padded input.
inline int64_t conv_out_size(int64_t in, int kernel, int pad, int stride, int dilation) {
  const int64_t span = int64_t(dilation) * (kernel - 1) + 1;
  const int64_t padded = in + 2 * int64_t(pad);
  return padded < span ? 0 : (padded - span) / stride + 1;
}

// columns[(c, i, j), (oh, ow)]: the image value kernel tap (i, j) of output (oh, ow) reads.
template <typename T>
WSVIS_HD inline T im2col_value(const T* image, const Im2colGeometry& g, int64_t c, int i, int j,
                               int64_t oh, int64_t ow) {
  const int64_t ih = oh * g.stride_h - g.pad_h + int64_t(i) * g.dilation_h;
  const int64_t iw = ow * g.stride_w - g.pad_w + int64_t(j) * g.dilation_w;
  if (ih < 0 || ih >= g.height || iw < 0 || iw >= g.width) return T(0);
  return image[(c * g.height + ih) * g.width + iw];
}

// image[c, h, w] = sum of the column entries that read it.
template <typename T>
WSVIS_HD inline T col2im_value(const T* columns, const Im2colGeometry& g, int64_t c, int64_t h,
                               int64_t w) {
  const int64_t plane = g.out_h * g.out_w;
  T sum = T(0);
  for (int i = 0; i < g.kernel_h; ++i) {
    // Output row oh reads h through tap i when oh * stride = h + pad - i * dilation.
    const int64_t th = h + g.pad_h - int64_t(i) * g.dilation_h;
    if (th < 0 || th % g.stride_h != 0) continue;
    const int64_t oh = th / g.stride_h;
    if (oh >= g.out_h) continue;
    for (int j = 0; j < g.kernel_w; ++j) {
      const int64_t tw = w + g.pad_w - int64_t(j) * g.dilation_w;
      if (tw < 0 || tw % g.stride_w != 0) continue;
      const int64_t ow = tw / g.stride_w;
      if (ow >= g.out_w) continue;
      const int64_t row = (c * g.kernel_h + i) * g.kernel_w + j;
      sum += columns[row * plane + oh * g.out_w + ow];
    }
  }
  return sum;
}

namespace cpu {
// image: (C, H, W) -> columns: (C * kh * kw, out_h * out_w), overwritten.
template <typename T>
void im2col(const T* image, const Im2colGeometry& g, T* columns);
// columns: (C * kh * kw, out_h * out_w) -> image: (C, H, W), overwritten (not accumulated).
template <typename T>
void col2im(const T* columns, const Im2colGeometry& g, T* image);
}  // namespace cpu

#if WSVIS_WITH_CUDA
namespace cuda {
template <typename T>
void im2col(cudaStream_t stream, const T* image, const Im2colGeometry& g, T* columns);
template <typename T>
void col2im(cudaStream_t stream, const T* columns, const Im2colGeometry& g, T* image);
}  // namespace cuda
#endif

}  // namespace wsvis::kernels
