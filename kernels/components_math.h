// Neighbour logic shared by the connected-component twins. Both link each foreground pixel to
// its foreground neighbours that come earlier in raster order (left and up for 4-connectivity;
// also up-left and up-right for 8): every edge of the pixel graph is seen exactly once, and a
// union that always hangs the larger root under the smaller leaves each component rooted at
// its first pixel in raster order, which gives the canonical numbering directly.
#pragma once

#include <cstdint>

#include "kernels/common.h"

namespace wsvis::kernels::components_math {

// Number of earlier-in-raster-order neighbours to visit.
WSVIS_HD inline int backward_neighbour_count(int connectivity) { return connectivity == 8 ? 4 : 2; }

// The k-th earlier neighbour, in increasing raster order of the neighbour (up-left, up,
// up-right, left for 8; up, left for 4), so the first foreground one is the smallest index.
WSVIS_HD inline void backward_neighbour(int connectivity, int k, int& dy, int& dx) {
  if (connectivity == 8) {
    dy = k < 3 ? -1 : 0;
    dx = k < 3 ? k - 1 : -1;
  } else {
    dy = k == 0 ? -1 : 0;
    dx = k == 0 ? 0 : -1;
  }
}

// Pixel index of neighbour (y + dy, x + dx) in an H x W image, or -1 when outside.
WSVIS_HD inline int64_t neighbour_index(int64_t y, int64_t x, int dy, int dx, int64_t H, int64_t W) {
  const int64_t ny = y + dy, nx = x + dx;
  if (ny < 0 || nx < 0 || nx >= W || ny >= H) return -1;
  return ny * W + nx;
}

}  // namespace wsvis::kernels::components_math
