// CPU twin of kernels/components.h: two-pass union-find, one image per OpenMP thread, working
// in place in the output.
//
// Pass 1 stores in labels[p] a parent pointer as a 1-based pixel id (0 stays background) and
// unites each foreground pixel with its earlier foreground neighbours, always hanging the
// larger root under the smaller; every pointer therefore points to an earlier pixel of the
// same component, and each component is rooted at its first pixel in raster order.
// Pass 2, in raster order: a root gets the next number; any other pixel copies the (already
// final) number of its parent, which comes earlier. Numbers are kept negative during the pass
// so they cannot be mistaken for parent ids, and flipped at the end.
#include "kernels/components.h"

#include <cstdint>

#include "engine/error.h"
#include "kernels/components_math.h"

namespace wsvis::kernels::cpu {

namespace {

namespace cm = components_math;

// Root id of pixel id `id` (1-based), halving the path on the way.
int32_t find_root(int32_t* lab, int32_t id) {
  while (lab[id - 1] != id) {
    const int32_t parent = lab[id - 1];
    lab[id - 1] = lab[parent - 1];
    id = parent;
  }
  return id;
}

void unite(int32_t* lab, int32_t a, int32_t b) {
  a = find_root(lab, a);
  b = find_root(lab, b);
  if (a < b)
    lab[b - 1] = a;
  else if (b < a)
    lab[a - 1] = b;
}

int32_t label_image(const uint8_t* img, int64_t H, int64_t W, int connectivity, int32_t* lab) {
  const int neighbours = cm::backward_neighbour_count(connectivity);
  for (int64_t y = 0; y < H; ++y) {
    for (int64_t x = 0; x < W; ++x) {
      const int64_t p = y * W + x;
      if (!img[p]) {
        lab[p] = 0;
        continue;
      }
      lab[p] = static_cast<int32_t>(p + 1);
      for (int k = 0; k < neighbours; ++k) {
        int dy, dx;
        cm::backward_neighbour(connectivity, k, dy, dx);
        const int64_t q = cm::neighbour_index(y, x, dy, dx, H, W);
        if (q >= 0 && img[q]) unite(lab, static_cast<int32_t>(p + 1), static_cast<int32_t>(q + 1));
      }
    }
  }
  int32_t count = 0;
  const int64_t n = H * W;
  for (int64_t p = 0; p < n; ++p) {
    if (!img[p]) continue;
    const int32_t parent = lab[p];
    lab[p] = parent == p + 1 ? -(++count) : lab[parent - 1];
  }
  for (int64_t p = 0; p < n; ++p) lab[p] = -lab[p];
  return count;
}

}  // namespace

size_t components_workspace_bytes(int64_t, int64_t, int64_t) { return 0; }

void label_components(const uint8_t* mask, int64_t N, int64_t H, int64_t W, int connectivity,
                      int32_t* labels, int32_t* counts, void*) {
  WSVIS_CHECK(connectivity == 4 || connectivity == 8, "label_components: connectivity ",
              connectivity, " (4 or 8)");
  WSVIS_CHECK(N >= 0 && H >= 0 && W >= 0, "label_components: negative size");
  WSVIS_CHECK(H == 0 || W < (int64_t(1) << 31) / H, "label_components: image ", H, "x", W,
              " has too many pixels for int32 ids");
  const int64_t HW = H * W;
#pragma omp parallel for schedule(dynamic, 1) if (N > 1 && HW * N > (1 << 16))
  for (int64_t n = 0; n < N; ++n)
    counts[n] = label_image(mask + n * HW, H, W, connectivity, labels + n * HW);
}

}  // namespace wsvis::kernels::cpu
