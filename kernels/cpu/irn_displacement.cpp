// CPU twin of kernels/irn_displacement.h: the reference the CUDA kernels and the tests check
// against. Plain loops; the per-pixel maths is in kernels/irn_displacement_math.h.
#include "kernels/irn_displacement.h"

#include <algorithm>

#include "engine/error.h"
#include "kernels/components.h"

namespace wsvis::kernels::cpu {

namespace {

namespace im = irn_displacement_math;

// Carves typed arrays out of one workspace buffer, each aligned to 16 bytes.
struct Carver {
  char* base;
  size_t offset = 0;
  template <typename U>
  U* take(int64_t count) {
    offset = (offset + 15) & ~size_t(15);
    U* p = reinterpret_cast<U*>(base + offset);
    offset += sizeof(U) * static_cast<size_t>(count);
    return p;
  }
};

size_t aligned(size_t bytes) { return (bytes + 15) & ~size_t(15); }

}  // namespace

template <typename T>
void find_centroids(const T* disp, int64_t H, int64_t W, int iterations, int32_t* centroids) {
  WSVIS_CHECK(H >= 0 && W >= 0, "find_centroids: negative size ", H, "x", W);
  WSVIS_CHECK(iterations >= 0, "find_centroids: negative iteration count ", iterations);
  const int64_t P = H * W;
#pragma omp parallel for schedule(dynamic, 4) if (P * iterations > (1 << 16))
  for (int64_t y = 0; y < H; ++y)
    for (int64_t x = 0; x < W; ++x)
      im::find_centroid(disp, H, W, iterations, y, x, centroids[y * W + x],
                        centroids[P + y * W + x]);
}

size_t cluster_centroids_workspace_bytes(int64_t H, int64_t W) {
  const int64_t P = H * W;
  return aligned(static_cast<size_t>(P)) + aligned(sizeof(int32_t) * static_cast<size_t>(P)) +
         aligned(sizeof(int32_t) * static_cast<size_t>(P + 1)) + 16;
}

template <typename T>
void cluster_centroids(const T* disp, const int32_t* centroids, int64_t H, int64_t W,
                       double threshold, int32_t* instance_map, int32_t* count, void* workspace) {
  WSVIS_CHECK(H >= 0 && W >= 0, "cluster_centroids: negative size ", H, "x", W);
  const int64_t P = H * W;
  *count = 0;
  if (P == 0) return;
  WSVIS_CHECK(P < (int64_t(1) << 31) - 1, "cluster_centroids: ", H, "x", W, " too large");
  WSVIS_CHECK(workspace != nullptr, "cluster_centroids: no workspace");
  Carver c{static_cast<char*>(workspace)};
  uint8_t* weak = c.take<uint8_t>(P);
  int32_t* labels = c.take<int32_t>(P);
  int32_t* used = c.take<int32_t>(P + 1);
  const T thr = static_cast<T>(threshold);
  for (int64_t p = 0; p < P; ++p)
    weak[p] = im::weak_displacement(disp[p], disp[P + p], thr) ? 1 : 0;
  int32_t components = 0;
  label_components(weak, 1, H, W, 4, labels, &components, nullptr);
  std::fill(used, used + P + 1, 0);
  // The component at each pixel's centroid (0 = the centroid is outside the weak region).
  for (int64_t p = 0; p < P; ++p) {
    const int64_t cy = centroids[p], cx = centroids[P + p];
    WSVIS_CHECK(cy >= 0 && cy < H && cx >= 0 && cx < W, "cluster_centroids: centroid (", cy, ", ",
                cx, ") of pixel ", p, " is outside the ", H, "x", W, " grid");
    const int32_t v = labels[cy * W + cx];
    instance_map[p] = v;
    used[v] = 1;
  }
  // compress_range: the used values, in increasing order, become 0..n-1.
  int32_t next = 0;
  for (int64_t v = 0; v <= components; ++v) {
    const int32_t u = used[v];
    used[v] = next;
    next += u;
  }
  for (int64_t p = 0; p < P; ++p) instance_map[p] = used[instance_map[p]];
  *count = next;
}

template <typename T>
void instance_seeds(const T* cams, int64_t C, const int32_t* instance_map, int64_t K, int64_t H,
                    int64_t W, T* seeds) {
  WSVIS_CHECK(C >= 0 && K >= 0 && H >= 0 && W >= 0, "instance_seeds: negative size C=", C, " K=", K,
              " H=", H, " W=", W);
  const int64_t P = H * W;
#pragma omp parallel for if (C * K * P > (1 << 16))
  for (int64_t ck = 0; ck < C * K; ++ck) {
    const int64_t c = ck / K, k = ck % K;
    const T* cam = cams + c * P;
    T* out = seeds + ck * P;
    for (int64_t p = 0; p < P; ++p) out[p] = instance_map[p] == k ? cam[p] : T(0);
  }
}

#define WSVIS_INSTANTIATE(T)                                                                       \
  template void find_centroids<T>(const T*, int64_t, int64_t, int, int32_t*);                      \
  template void cluster_centroids<T>(const T*, const int32_t*, int64_t, int64_t, double, int32_t*, \
                                     int32_t*, void*);                                             \
  template void instance_seeds<T>(const T*, int64_t, const int32_t*, int64_t, int64_t, int64_t, T*);
WSVIS_INSTANTIATE(float)
WSVIS_INSTANTIATE(double)
#undef WSVIS_INSTANTIATE

}  // namespace wsvis::kernels::cpu
