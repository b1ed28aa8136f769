// CPU twin of the pairwise family (kernels/pairwise.h): the reference the CUDA kernels and the
// tests check against. Plain loops over the same per-element maths (pairwise_math.h,
// flow_color_math.h); OpenMP over images or instances, with per-instance totals added in order
// so every reduction is deterministic whatever the thread count.
#include "kernels/pairwise.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/error.h"
#include "kernels/reduce.h"

namespace wsvis::kernels::cpu {

namespace {
void check_sizes(const char* what, int64_t a, int64_t b, int64_t H, int64_t W) {
  WSVIS_CHECK(a >= 0 && b >= 0 && H >= 0 && W >= 0, what, ": negative size (", a, ", ", b, ", ",
              H, ", ", W, ")");
}

bool in_rect(const int32_t* r, int64_t y, int64_t x) {
  return x >= r[0] && x <= r[2] && y >= r[1] && y <= r[3];
}
}  // namespace

template <typename T>
void box_mask_rects(const T* boxes, int64_t K, int64_t H, int64_t W, int stride, int32_t* rects) {
  check_sizes("box_mask_rects", K, 1, H, W);
  WSVIS_CHECK(stride >= 1, "box_mask_rects: stride must be >= 1, got ", stride);
  for (int64_t k = 0; k < K; ++k) {
    const T* b = boxes + 4 * k;
    box_mask_rect(b[0], b[1], b[2], b[3], H, W, stride, rects + 4 * k);
  }
}

// ---- colour ----------------------------------------------------------------------------------
template <typename V>
void downsample_image(const V* images, int64_t N, int64_t C, int64_t H_full, int64_t W_full,
                      int stride, bool reverse_channels, uint8_t* out) {
  check_sizes("downsample_image", N, C, H_full, W_full);
  WSVIS_CHECK(stride >= 1, "downsample_image: stride must be >= 1, got ", stride);
  const int64_t H = H_full / stride, W = W_full / stride;
  const double inv_area = 1.0 / (double(stride) * stride);
#pragma omp parallel for if (N * C * H_full * W_full > (1 << 18))
  for (int64_t nc = 0; nc < N * C; ++nc) {
    const int64_t n = nc / C, c = nc % C;
    const int64_t c_out = reverse_channels ? C - 1 - c : c;
    const V* src = images + nc * H_full * W_full;
    uint8_t* dst = out + (n * C + c_out) * H * W;
    for (int64_t y = 0; y < H; ++y)
      for (int64_t x = 0; x < W; ++x) {
        double sum = 0;
        for (int64_t dy = 0; dy < stride; ++dy)
          for (int64_t dx = 0; dx < stride; ++dx)
            sum += static_cast<double>(src[(y * stride + dy) * W_full + x * stride + dx]);
        dst[y * W + x] = truncate_to_byte(sum * inv_area);
      }
  }
}

template <typename V, typename T>
void rgb_to_lab(const V* rgb, int64_t N, int64_t H, int64_t W, T* lab) {
  check_sizes("rgb_to_lab", N, 3, H, W);
  const int64_t plane = H * W;
#pragma omp parallel for if (N * plane > (1 << 15))
  for (int64_t i = 0; i < N * plane; ++i) {
    const int64_t n = i / plane, p = i % plane;
    const V* src = rgb + n * 3 * plane + p;
    double out[3];
    rgb_to_lab_pixel(unit_colour(src[0]), unit_colour(src[plane]), unit_colour(src[2 * plane]),
                     out);
    for (int c = 0; c < 3; ++c) lab[n * 3 * plane + c * plane + p] = static_cast<T>(out[c]);
  }
}

size_t flow_to_color_workspace_bytes(int64_t) { return 0; }

template <typename T>
void flow_to_color(const T* flow, int64_t N, int64_t H, int64_t W, FlowWheelVariant variant,
                   double rad_max, bool bgr, void*, size_t, uint8_t* out) {
  check_sizes("flow_to_color", N, 2, H, W);
  const int64_t plane = H * W;
  for (int64_t n = 0; n < N; ++n) {
    const T* u = flow + n * 2 * plane;
    const T* v = u + plane;
    double rad = rad_max;
    if (rad <= 0) {  // this frame's largest known magnitude, as data::flow_to_color
      rad = 0;
      for (int64_t p = 0; p < plane; ++p)
        if (!flow_is_unknown_value(u[p], v[p]))
          rad = std::fmax(rad, flow_radius(double(u[p]), double(v[p])));
    }
    const double scale = rad + 1e-5;
    uint8_t* dst = out + n * 3 * plane;
#pragma omp parallel for if (plane > (1 << 15))
    for (int64_t p = 0; p < plane; ++p) {
      uint8_t rgb[3] = {0, 0, 0};
      if (!flow_is_unknown_value(u[p], v[p]))
        flow_uv_to_rgb(double(u[p]) / scale, double(v[p]) / scale, variant, rgb);
      for (int c = 0; c < 3; ++c) dst[(bgr ? 2 - c : c) * plane + p] = rgb[c];
    }
  }
}

template <typename V, typename T>
void neighbour_similarity(const V* feat, int64_t N, int64_t C, int64_t H, int64_t W,
                          const uint8_t* valid, int dilation, double value_scale, double theta,
                          T* sim) {
  check_sizes("neighbour_similarity", N, C, H, W);
  WSVIS_CHECK(theta > 0, "neighbour_similarity: theta must be > 0, got ", theta);
  const int64_t plane = H * W;
  const T inv_theta = static_cast<T>(value_scale / theta);
#pragma omp parallel for if (N * plane * C > (1 << 15))
  for (int64_t i = 0; i < N * plane; ++i) {
    const int64_t n = i / plane, p = i % plane, y = p / W, x = p % W;
    const V* f = feat + n * C * plane;
    for (int e = 0; e < kPairwiseNeighbours; ++e) {
      int dy, dx;
      pairwise_offset(e, dilation, &dy, &dx);
      const int64_t ny = y + dy, nx = x + dx;
      T s = T(0);
      if (ny >= 0 && ny < H && nx >= 0 && nx < W &&
          (valid == nullptr || valid[n * plane + ny * W + nx] != 0)) {
        T sq = T(0);
        for (int64_t c = 0; c < C; ++c) {
          const T d = static_cast<T>(f[c * plane + p]) - static_cast<T>(f[c * plane + ny * W + nx]);
          sq += d * d;
        }
        s = similarity_from_sqdist(sq, inv_theta);
      }
      sim[(n * kPairwiseNeighbours + e) * plane + p] = s;
    }
  }
}

// ---- pairwise loss ---------------------------------------------------------------------------
size_t pairwise_loss_workspace_bytes(int64_t K, int64_t, int64_t) {
  return static_cast<size_t>(K > 0 ? K : 0) * 2 * sizeof(double);
}

template <typename T>
void pairwise_loss_forward(const T* logits, const int32_t* im_inds, const int32_t* rects,
                           int64_t K, int64_t N, int64_t H, int64_t W, const T* color_sim,
                           const T* flow_sim, const PairwiseParams& params, void* workspace,
                           size_t workspace_bytes, T* loss, T* stats) {
  check_sizes("pairwise_loss_forward", K, N, H, W);
  WSVIS_CHECK(params.dilation >= 1, "pairwise_loss_forward: dilation must be >= 1, got ",
              params.dilation);
  std::vector<double> own;
  double* part = static_cast<double*>(workspace);
  if (part == nullptr || workspace_bytes < pairwise_loss_workspace_bytes(K, H, W)) {
    own.assign(static_cast<size_t>(2 * K), 0.0);
    part = own.data();
  }
  const int64_t plane = H * W;
  const T tc = static_cast<T>(params.color_thresh), tf = static_cast<T>(params.flow_thresh);
#pragma omp parallel for schedule(dynamic) if (K * plane > (1 << 14))
  for (int64_t k = 0; k < K; ++k) {
    double lsum = 0, wsum = 0;
    int64_t r[4];
    const int64_t n = im_inds[k];
    if (n >= 0 && n < N && clamp_rect(rects + 4 * k, H, W, r)) {
      const T* z = logits + k * plane;
      const T* cs = color_sim + n * kPairwiseNeighbours * plane;
      const T* fs = flow_sim ? flow_sim + n * kPairwiseNeighbours * plane : nullptr;
      for (int64_t y = r[1]; y <= r[3]; ++y)
        for (int64_t x = r[0]; x <= r[2]; ++x) {
          const int64_t p = y * W + x;
          const T a = z[p];
          const Softplus2<T> sa = softplus2(a);
          for (int e = 0; e < kPairwiseNeighbours; ++e) {
            if (!pairwise_edge_on(cs, fs, e, plane, p, tc, tf)) continue;
            wsum += 1;
            int dy, dx;
            pairwise_offset(e, params.dilation, &dy, &dx);
            const int64_t ny = y + dy, nx = x + dx;
            // A neighbour outside the map is unfold's zero padding: log-probabilities 0, so the
            // edge loss is -log(sigmoid(a) + sigmoid(-a)) = 0 (the edge still counts in the
            // normaliser, as in AdelaiDet).
            if (ny < 0 || ny >= H || nx < 0 || nx >= W) continue;
            const T b = z[ny * W + nx];
            lsum += static_cast<double>(pairwise_edge_loss(a, sa, b, softplus2(b)));
          }
        }
    }
    part[2 * k] = lsum;
    part[2 * k + 1] = wsum;
  }
  double lsum = 0, wsum = 0;
  for (int64_t k = 0; k < K; ++k) {
    lsum += part[2 * k];
    wsum += part[2 * k + 1];
  }
  stats[0] = static_cast<T>(lsum);
  stats[1] = static_cast<T>(wsum);
  loss[0] = static_cast<T>(lsum / std::max(wsum, 1.0));
}

template <typename T>
void pairwise_loss_backward(const T* logits, const int32_t* im_inds, const int32_t* rects,
                            int64_t K, int64_t N, int64_t H, int64_t W, const T* color_sim,
                            const T* flow_sim, const PairwiseParams& params, const T* stats,
                            const T* grad_loss, T* grad_logits) {
  check_sizes("pairwise_loss_backward", K, N, H, W);
  const int64_t plane = H * W;
  const int d = params.dilation;
  const T scale = grad_loss[0] / std::max(stats[1], T(1));
  const T tc = static_cast<T>(params.color_thresh), tf = static_cast<T>(params.flow_thresh);
#pragma omp parallel for schedule(dynamic) if (K * plane > (1 << 14))
  for (int64_t k = 0; k < K; ++k) {
    T* g = grad_logits + k * plane;
    std::fill(g, g + plane, T(0));
    const int32_t* r = rects + 4 * k;
    int64_t c[4];
    const int64_t n = im_inds[k];
    if (n < 0 || n >= N || !clamp_rect(r, H, W, c)) continue;
    const T* z = logits + k * plane;
    const T* cs = color_sim + n * kPairwiseNeighbours * plane;
    const T* fs = flow_sim ? flow_sim + n * kPairwiseNeighbours * plane : nullptr;
    // Pixels within `d` of the box: the box's own pixels (edge centres) and their neighbours.
    const int64_t y_lo = std::max<int64_t>(c[1] - d, 0), y_hi = std::min<int64_t>(c[3] + d, H - 1);
    const int64_t x_lo = std::max<int64_t>(c[0] - d, 0), x_hi = std::min<int64_t>(c[2] + d, W - 1);
    for (int64_t y = y_lo; y <= y_hi; ++y)
      for (int64_t x = x_lo; x <= x_hi; ++x) {
        const int64_t p = y * W + x;
        const T a = z[p];
        const T sig_a = pw_sigmoid(a);
        const bool centre_in = in_rect(r, y, x);
        T acc = T(0);
        for (int e = 0; e < kPairwiseNeighbours; ++e) {
          int dy, dx;
          pairwise_offset(e, d, &dy, &dx);
          const int64_t ny = y + dy, nx = x + dx;
          if (ny < 0 || ny >= H || nx < 0 || nx >= W) continue;
          const int64_t q = ny * W + nx;
          // Both edges between p and q have d(loss)/d(a_p) = sigmoid(a_p) - sigmoid(a_p + a_q).
          const bool as_centre = centre_in && pairwise_edge_on(cs, fs, e, plane, p, tc, tf);
          const bool as_neighbour =
              in_rect(r, ny, nx) && pairwise_edge_on(cs, fs, pairwise_opposite(e), plane, q, tc, tf);
          if (!as_centre && !as_neighbour) continue;
          const T dl = sig_a - pw_sigmoid(a + z[q]);
          acc += (as_centre ? dl : T(0)) + (as_neighbour ? dl : T(0));
        }
        g[p] = scale * acc;
      }
  }
}

// ---- projection loss -------------------------------------------------------------------------
template <typename T>
void projection_loss_forward(const T* probs, const int32_t* rects, int64_t K, int64_t H,
                             int64_t W, double eps, T* loss, T* stats, int32_t* argmax_x,
                             int32_t* argmax_y) {
  check_sizes("projection_loss_forward", K, 1, H, W);
  const int64_t plane = H * W;
#pragma omp parallel for if (K * plane > (1 << 15))
  for (int64_t k = 0; k < K; ++k) {
    const T* p = probs + k * plane;
    const int32_t* r = rects + 4 * k;
    int64_t clamped[4];  // a rect with no pixel on the map projects to zeros
    const bool empty = !clamp_rect(r, H, W, clamped);
    double ix = 0, ux = eps, iy = 0, uy = eps;
    for (int64_t x = 0; x < W; ++x) {  // max over rows: the profile along x
      int64_t best = 0;  // first maximum (NaN wins, like torch.max): max_replaces
      for (int64_t y = 1; y < H; ++y)
        if (max_replaces(p[best * W + x], best, p[y * W + x], y)) best = y;
      argmax_x[k * W + x] = static_cast<int32_t>(best);
      const double m = H > 0 ? double(p[best * W + x]) : 0.0;
      const double t = (!empty && x >= r[0] && x <= r[2]) ? 1.0 : 0.0;
      ix += m * t;
      ux += m * m + t * t;
    }
    for (int64_t y = 0; y < H; ++y) {  // max over columns: the profile along y
      int64_t best = 0;
      for (int64_t x = 1; x < W; ++x)
        if (max_replaces(p[y * W + best], best, p[y * W + x], x)) best = x;
      argmax_y[k * H + y] = static_cast<int32_t>(best);
      const double m = W > 0 ? double(p[y * W + best]) : 0.0;
      const double t = (!empty && y >= r[1] && y <= r[3]) ? 1.0 : 0.0;
      iy += m * t;
      uy += m * m + t * t;
    }
    T* s = stats + 4 * k;
    s[0] = static_cast<T>(ix);
    s[1] = static_cast<T>(ux);
    s[2] = static_cast<T>(iy);
    s[3] = static_cast<T>(uy);
  }
  double total = 0;
  for (int64_t k = 0; k < K; ++k) {
    const T* s = stats + 4 * k;
    total += (1.0 - 2.0 * double(s[0]) / double(s[1])) + (1.0 - 2.0 * double(s[2]) / double(s[3]));
  }
  loss[0] = static_cast<T>(K > 0 ? total / double(K) : 0.0);
}

template <typename T>
void projection_loss_backward(const T* probs, const int32_t* rects, int64_t K, int64_t H,
                              int64_t W, const T* stats, const int32_t* argmax_x,
                              const int32_t* argmax_y, const T* grad_loss, T* grad_probs) {
  check_sizes("projection_loss_backward", K, 1, H, W);
  if (K == 0) return;
  const int64_t plane = H * W;
  const T scale = grad_loss[0] / static_cast<T>(K);
#pragma omp parallel for if (K * plane > (1 << 15))
  for (int64_t k = 0; k < K; ++k) {
    const int32_t* r = rects + 4 * k;
    int64_t clamped[4];  // a rect with no pixel on the map projects to zeros
    const bool empty = !clamp_rect(r, H, W, clamped);
    const T* s = stats + 4 * k;
    for (int64_t y = 0; y < H; ++y)
      for (int64_t x = 0; x < W; ++x) {
        const int64_t i = k * plane + y * W + x;
        T g = T(0);
        if (argmax_x[k * W + x] == y) {
          const T t = (!empty && x >= r[0] && x <= r[2]) ? T(1) : T(0);
          g += dice_grad_elem(probs[i], t, s[0], s[1]);
        }
        if (argmax_y[k * H + y] == x) {
          const T t = (!empty && y >= r[1] && y <= r[3]) ? T(1) : T(0);
          g += dice_grad_elem(probs[i], t, s[2], s[3]);
        }
        grad_probs[i] = scale * g;
      }
  }
}

// ---- instantiations --------------------------------------------------------------------------
template void box_mask_rects<float>(const float*, int64_t, int64_t, int64_t, int, int32_t*);
template void box_mask_rects<double>(const double*, int64_t, int64_t, int64_t, int, int32_t*);
template void downsample_image<uint8_t>(const uint8_t*, int64_t, int64_t, int64_t, int64_t, int,
                                        bool, uint8_t*);
template void downsample_image<float>(const float*, int64_t, int64_t, int64_t, int64_t, int, bool,
                                      uint8_t*);
#define WSVIS_INSTANTIATE_PAIRWISE_VT(V, T)                                                     \
  template void rgb_to_lab<V, T>(const V*, int64_t, int64_t, int64_t, T*);                      \
  template void neighbour_similarity<V, T>(const V*, int64_t, int64_t, int64_t, int64_t,        \
                                           const uint8_t*, int, double, double, T*);
WSVIS_INSTANTIATE_PAIRWISE_VT(uint8_t, float)
WSVIS_INSTANTIATE_PAIRWISE_VT(uint8_t, double)
WSVIS_INSTANTIATE_PAIRWISE_VT(float, float)
WSVIS_INSTANTIATE_PAIRWISE_VT(double, double)
#define WSVIS_INSTANTIATE_PAIRWISE(T)                                                           \
  template void flow_to_color<T>(const T*, int64_t, int64_t, int64_t, FlowWheelVariant, double, \
                                 bool, void*, size_t, uint8_t*);                                \
  template void pairwise_loss_forward<T>(const T*, const int32_t*, const int32_t*, int64_t,     \
                                         int64_t, int64_t, int64_t, const T*, const T*,         \
                                         const PairwiseParams&, void*, size_t, T*, T*);         \
  template void pairwise_loss_backward<T>(const T*, const int32_t*, const int32_t*, int64_t,    \
                                          int64_t, int64_t, int64_t, const T*, const T*,        \
                                          const PairwiseParams&, const T*, const T*, T*);       \
  template void projection_loss_forward<T>(const T*, const int32_t*, int64_t, int64_t, int64_t, \
                                           double, T*, T*, int32_t*, int32_t*);                 \
  template void projection_loss_backward<T>(const T*, const int32_t*, int64_t, int64_t,         \
                                            int64_t, const T*, const int32_t*, const int32_t*,  \
                                            const T*, T*);
WSVIS_INSTANTIATE_PAIRWISE(float)
WSVIS_INSTANTIATE_PAIRWISE(double)

}  // namespace wsvis::kernels::cpu
