#include "kernels/im2col.h"

namespace wsvis::kernels::cpu {

template <typename T>
void im2col(const T* image, const Im2colGeometry& g, T* columns) {
  const int64_t rows = g.col_rows();
  const int64_t plane = g.col_cols();
  // One column row per iteration: rows are independent and each is a contiguous write.
#pragma omp parallel for if (rows * plane > (1 << 15))
  for (int64_t row = 0; row < rows; ++row) {
    const int j = static_cast<int>(row % g.kernel_w);
    const int i = static_cast<int>((row / g.kernel_w) % g.kernel_h);
    const int64_t c = row / (int64_t(g.kernel_w) * g.kernel_h);
    T* dst = columns + row * plane;
    for (int64_t oh = 0; oh < g.out_h; ++oh)
      for (int64_t ow = 0; ow < g.out_w; ++ow)
        dst[oh * g.out_w + ow] = im2col_value(image, g, c, i, j, oh, ow);
  }
}

template <typename T>
void col2im(const T* columns, const Im2colGeometry& g, T* image) {
  const int64_t image_rows = g.channels * g.height;
#pragma omp parallel for if (image_rows * g.width > (1 << 15))
  for (int64_t ch = 0; ch < image_rows; ++ch) {
    const int64_t c = ch / g.height, h = ch % g.height;
    T* dst = image + ch * g.width;
    for (int64_t w = 0; w < g.width; ++w) dst[w] = col2im_value(columns, g, c, h, w);
  }
}

template void im2col<float>(const float*, const Im2colGeometry&, float*);
template void im2col<double>(const double*, const Im2colGeometry&, double*);
template void col2im<float>(const float*, const Im2colGeometry&, float*);
template void col2im<double>(const double*, const Im2colGeometry&, double*);

}  // namespace wsvis::kernels::cpu
