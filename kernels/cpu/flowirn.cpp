// CPU twin of kernels/flowirn.h: the reference the CUDA kernels and the tests check against.
#include "kernels/flowirn.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "engine/error.h"

namespace wsvis::kernels {

namespace fm = flowirn_math;

int64_t flow_boundary_pair_count(int64_t H, int64_t W, const IrnPairSet& set,
                                 bool irn_source_crop) {
  int64_t count = 0;
  for (int d = 0; d < set.num_directions; ++d)
    count += fm::pair_range(H, W, set.dy[d], set.dx[d], set.radius, irn_source_crop).count();
  return count;
}

namespace cpu {

template <typename T>
void flow_magnitude(const T* flow, int64_t N, int64_t H, int64_t W, T* magnitude) {
  WSVIS_CHECK(N >= 0 && H >= 0 && W >= 0, "flow_magnitude: negative size N=", N, " H=", H,
              " W=", W);
  const int64_t P = H * W;
#pragma omp parallel for if (N * P > (1 << 16))
  for (int64_t i = 0; i < N * P; ++i) {
    const int64_t n = i / P, p = i % P;
    const T* f = flow + n * 2 * P;
    magnitude[i] = fm::flow_magnitude(f[p], f[P + p]);
  }
}

size_t select_kth_workspace_bytes(int64_t n, size_t elem_bytes) {
  return static_cast<size_t>(n < 0 ? 0 : n) * elem_bytes;
}

template <typename T>
void select_kth(const T* values, int64_t n, int64_t k, T* out, void* workspace) {
  WSVIS_CHECK(n >= 1, "select_kth: no values (n = ", n, ")");
  WSVIS_CHECK(k >= 0 && k < n, "select_kth: rank ", k, " outside [0, ", n, ")");
  WSVIS_CHECK(workspace != nullptr, "select_kth: no workspace");
  T* copy = static_cast<T*>(workspace);
  std::memcpy(copy, values, sizeof(T) * static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    WSVIS_CHECK(!std::isnan(copy[i]), "select_kth: value ", i, " is NaN");
  std::nth_element(copy, copy + k, copy + n);
  *out = copy[k];
}

template <typename T>
void fcam_amplify(const T* cams, const T* magnitude, int64_t N, int64_t C, int64_t H, int64_t W,
                  const T* threshold, T amplification, T* out) {
  WSVIS_CHECK(N >= 0 && C >= 0 && H >= 0 && W >= 0, "fcam_amplify: negative size N=", N, " C=", C,
              " H=", H, " W=", W);
  const int64_t P = H * W, total = N * C * P;
  if (total == 0) return;
  const T thr = *threshold;
#pragma omp parallel for if (total > (1 << 16))
  for (int64_t nc = 0; nc < N * C; ++nc) {
    const T* m = magnitude + (nc / C) * P;
    const T* cam = cams + nc * P;
    T* o = out + nc * P;
    for (int64_t p = 0; p < P; ++p) o[p] = fm::fcam_value(cam[p], m[p], thr, amplification);
  }
}

template <typename T>
void flow_gradient(const T* flow, int64_t N, int64_t H, int64_t W, T scale, T* flow_grad) {
  WSVIS_CHECK(N >= 0 && H >= 0 && W >= 0, "flow_gradient: negative size N=", N, " H=", H, " W=", W);
  const int64_t P = H * W;
#pragma omp parallel for if (N * P > (1 << 16))
  for (int64_t i = 0; i < N * P; ++i) {
    const int64_t n = i / P, p = i % P;
    const T* f = flow + n * 2 * P;
    T g[4];
    fm::flow_gradient_at(f, f + P, H, W, p / W, p % W, scale, g);
    T* o = flow_grad + n * 4 * P;
    for (int c = 0; c < 4; ++c) o[c * P + p] = g[c];
  }
}

namespace {

void check_pair_args(const char* what, int64_t N, int64_t H, int64_t W, const IrnPairSet& set) {
  WSVIS_CHECK(N >= 0 && H >= 0 && W >= 0, what, ": negative size N=", N, " H=", H, " W=", W);
  WSVIS_CHECK(set.num_directions >= 0 && set.num_directions <= kIrnMaxDirections, what,
              ": pair set with ", set.num_directions, " directions");
}

}  // namespace

size_t flow_boundary_loss_workspace_bytes(int64_t N, int64_t H, int64_t W, const IrnPairSet& set) {
  (void)H;
  (void)W;
  return sizeof(double) * static_cast<size_t>(N < 0 ? 0 : N) *
         static_cast<size_t>(set.num_directions);
}

template <typename T>
void flow_boundary_loss_forward(const T* flow_grad, const T* alpha, int64_t N, int64_t H, int64_t W,
                                const IrnPairSet& set, bool irn_source_crop, T lambda, T* loss,
                                void* workspace) {
  check_pair_args("flow_boundary_loss_forward", N, H, W, set);
  const int64_t P = H * W, D = set.num_directions, rows = N * D;
  const int64_t pairs = N * flow_boundary_pair_count(H, W, set, irn_source_crop);
  if (pairs == 0) {
    *loss = T(0);
    return;
  }
  WSVIS_CHECK(workspace != nullptr, "flow_boundary_loss_forward: no workspace");
  // One sum per (image, direction) plane of alpha, in double; the plane totals are then added
  // in order, so the result does not depend on the thread count.
  double* row_sum = static_cast<double*>(workspace);
#pragma omp parallel for if (pairs > (1 << 16)) schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t n = r / D;
    const int d = static_cast<int>(r % D);
    const T* fg = flow_grad + n * 4 * P;
    const T* a = alpha + r * P;
    const int64_t off = set.dy[d] * W + set.dx[d];
    const fm::PairRange range =
        fm::pair_range(H, W, set.dy[d], set.dx[d], set.radius, irn_source_crop);
    double sum = 0;
    for (int64_t y = 0; y < range.y_end; ++y)
      for (int64_t x = range.x_begin; x < range.x_end; ++x) {
        const int64_t i = y * W + x;
        sum += static_cast<double>(
            fm::flow_boundary_term(fm::gradient_distance(fg, P, i, i + off), a[i], lambda));
      }
    row_sum[r] = sum;
  }
  double total = 0;
  for (int64_t r = 0; r < rows; ++r) total += row_sum[r];
  *loss = static_cast<T>(total * (1.0 / static_cast<double>(pairs)));
}

template <typename T>
void flow_boundary_loss_backward(const T* flow_grad, const T* alpha, int64_t N, int64_t H,
                                 int64_t W, const IrnPairSet& set, bool irn_source_crop, T lambda,
                                 const T* grad_loss, T* grad_alpha) {
  check_pair_args("flow_boundary_loss_backward", N, H, W, set);
  const int64_t P = H * W, D = set.num_directions, rows = N * D;
  const int64_t pairs = N * flow_boundary_pair_count(H, W, set, irn_source_crop);
  std::fill(grad_alpha, grad_alpha + rows * P, T(0));
  if (pairs == 0) return;
  // The same expression as the CUDA twin: grad_loss * (1 / P) in double, then to T.
  const T scale =
      static_cast<T>(static_cast<double>(*grad_loss) * (1.0 / static_cast<double>(pairs)));
#pragma omp parallel for if (pairs > (1 << 16))
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t n = r / D;
    const int d = static_cast<int>(r % D);
    const T* fg = flow_grad + n * 4 * P;
    const T* a = alpha + r * P;
    T* ga = grad_alpha + r * P;
    const int64_t off = set.dy[d] * W + set.dx[d];
    const fm::PairRange range =
        fm::pair_range(H, W, set.dy[d], set.dx[d], set.radius, irn_source_crop);
    for (int64_t y = 0; y < range.y_end; ++y)
      for (int64_t x = range.x_begin; x < range.x_end; ++x) {
        const int64_t i = y * W + x;
        ga[i] =
            scale * fm::flow_boundary_dterm(fm::gradient_distance(fg, P, i, i + off), a[i], lambda);
      }
  }
}

#define WSVIS_INSTANTIATE(T)                                                                      \
  template void flow_magnitude<T>(const T*, int64_t, int64_t, int64_t, T*);                       \
  template void select_kth<T>(const T*, int64_t, int64_t, T*, void*);                             \
  template void fcam_amplify<T>(const T*, const T*, int64_t, int64_t, int64_t, int64_t, const T*, \
                                T, T*);                                                           \
  template void flow_gradient<T>(const T*, int64_t, int64_t, int64_t, T, T*);                     \
  template void flow_boundary_loss_forward<T>(const T*, const T*, int64_t, int64_t, int64_t,      \
                                              const IrnPairSet&, bool, T, T*, void*);             \
  template void flow_boundary_loss_backward<T>(const T*, const T*, int64_t, int64_t, int64_t,     \
                                               const IrnPairSet&, bool, T, const T*, T*);
WSVIS_INSTANTIATE(float)
WSVIS_INSTANTIATE(double)
#undef WSVIS_INSTANTIATE

}  // namespace cpu
}  // namespace wsvis::kernels
