// CPU twin of the warp family: the reference the CUDA kernels and the tests check against.
#include "kernels/warp.h"

#include <algorithm>
#include <climits>
#include <cstring>

#include "engine/error.h"

namespace wsvis::kernels::cpu {

namespace {
void check_sizes(const char* what, int64_t N, int64_t C, int64_t H, int64_t W) {
  WSVIS_CHECK(N >= 0 && C >= 0 && H >= 0 && W >= 0, what, ": negative size N=", N, " C=", C,
              " H=", H, " W=", W);
}
}  // namespace

template <typename T>
void warp_forward(const T* x, const T* flow, int64_t N, int64_t C, int64_t H, int64_t W,
                  WarpPadding padding, T* out) {
  check_sizes("warp_forward", N, C, H, W);
  const int64_t plane = H * W;
  // One task per image row: the taps of a pixel are computed once and reused for every channel.
#pragma omp parallel for if (N * C * plane > (1 << 16))
  for (int64_t row = 0; row < N * H; ++row) {
    const int64_t n = row / H, y = row % H;
    for (int64_t xx = 0; xx < W; ++xx) {
      const WarpPixel<T> px = warp_pixel(flow, n, y, xx, H, W, padding);
      for (int64_t c = 0; c < C; ++c) {
        const int64_t base = (n * C + c) * plane;
        out[base + y * W + xx] = warp_sample(x + base, px.taps, W);
      }
    }
  }
}

size_t warp_backward_input_workspace_bytes(int64_t, int64_t, int64_t, bool) { return 0; }

template <typename T>
void warp_backward_input(const T* grad_out, const T* flow, int64_t N, int64_t C, int64_t H,
                         int64_t W, WarpPadding padding, bool, void*, size_t, T* grad_x) {
  check_sizes("warp_backward_input", N, C, H, W);
  const int64_t plane = H * W;
  // Planes are independent (grad_x[n, c] only receives from grad_out[n, c]); inside a plane
  // the scatter runs in pixel order, then tap order, so every element sums its contributions
  // in a fixed order whatever the thread count.
#pragma omp parallel for if (N * C * plane > (1 << 16))
  for (int64_t nc = 0; nc < N * C; ++nc) {
    const int64_t n = nc / C;
    T* g = grad_x + nc * plane;
    const T* go = grad_out + nc * plane;
    std::fill(g, g + plane, T(0));
    for (int64_t y = 0; y < H; ++y)
      for (int64_t xx = 0; xx < W; ++xx) {
        const WarpPixel<T> px = warp_pixel(flow, n, y, xx, H, W, padding);
        const T gv = go[y * W + xx];
        for (int tap = 0; tap < 4; ++tap)
          if (px.taps.valid(tap)) g[px.taps.offset(tap, W)] += px.taps.weight(tap) * gv;
      }
  }
}

template <typename T>
void warp_backward_flow(const T* grad_out, const T* x, const T* flow, int64_t N, int64_t C,
                        int64_t H, int64_t W, WarpPadding padding, T* grad_flow) {
  check_sizes("warp_backward_flow", N, C, H, W);
  const int64_t plane = H * W;
#pragma omp parallel for if (N * C * plane > (1 << 16))
  for (int64_t row = 0; row < N * H; ++row) {
    const int64_t n = row / H, y = row % H;
    for (int64_t xx = 0; xx < W; ++xx) {
      const WarpPixel<T> px = warp_pixel(flow, n, y, xx, H, W, padding);
      T gx = T(0), gy = T(0);
      for (int64_t c = 0; c < C; ++c) {
        const int64_t base = (n * C + c) * plane;
        T dx, dy;
        warp_sample_grad(x + base, px.taps, W, &dx, &dy);
        const T g = grad_out[base + y * W + xx];
        gx += g * dx;
        gy += g * dy;
      }
      grad_flow[n * 2 * plane + y * W + xx] = gx * px.gx_mult;
      grad_flow[n * 2 * plane + plane + y * W + xx] = gy * px.gy_mult;
    }
  }
}

template <typename V>
void warp_masks(const V* masks, const float* flow, int64_t K, int64_t H, int64_t W,
                uint8_t* out, int32_t* boxes, int32_t* areas) {
  check_sizes("warp_masks", 1, K, H, W);
  WSVIS_CHECK(H * W < INT32_MAX, "warp_masks: H*W=", H * W, " does not fit the int32 areas");
  const int64_t plane = H * W;
#pragma omp parallel for if (K * plane > (1 << 16))
  for (int64_t k = 0; k < K; ++k) {
    int64_t x0 = W, y0 = H, x1 = -1, y1 = -1, area = 0;
    for (int64_t y = 0; y < H; ++y)
      for (int64_t xx = 0; xx < W; ++xx) {
        const WarpPixel<float> px = warp_pixel(flow, 0, y, xx, H, W, WarpPadding::zeros);
        const bool fg = mask_sample(masks + k * plane, px.taps, W);
        if (out) out[k * plane + y * W + xx] = fg ? 1 : 0;
        if (fg) {
          x0 = std::min(x0, xx);
          x1 = std::max(x1, xx);
          y0 = std::min(y0, y);
          y1 = std::max(y1, y);
          ++area;
        }
      }
    if (boxes) {
      int32_t* b = boxes + 4 * k;
      if (area == 0) {
        b[0] = b[1] = b[2] = b[3] = 0;
      } else {
        b[0] = static_cast<int32_t>(x0);
        b[1] = static_cast<int32_t>(y0);
        b[2] = static_cast<int32_t>(x1 + 1);
        b[3] = static_cast<int32_t>(y1 + 1);
      }
    }
    if (areas) areas[k] = static_cast<int32_t>(area);
  }
}

#define WSVIS_INSTANTIATE_WARP(T)                                                            \
  template void warp_forward<T>(const T*, const T*, int64_t, int64_t, int64_t, int64_t,       \
                                WarpPadding, T*);                                             \
  template void warp_backward_input<T>(const T*, const T*, int64_t, int64_t, int64_t, int64_t, \
                                       WarpPadding, bool, void*, size_t, T*);                 \
  template void warp_backward_flow<T>(const T*, const T*, const T*, int64_t, int64_t, int64_t, \
                                      int64_t, WarpPadding, T*);
WSVIS_INSTANTIATE_WARP(float)
WSVIS_INSTANTIATE_WARP(double)

template void warp_masks<float>(const float*, const float*, int64_t, int64_t, int64_t, uint8_t*,
                                int32_t*, int32_t*);
template void warp_masks<uint8_t>(const uint8_t*, const float*, int64_t, int64_t, int64_t,
                                  uint8_t*, int32_t*, int32_t*);

}  // namespace wsvis::kernels::cpu
