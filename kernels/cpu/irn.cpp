// CPU twin of kernels/irn.h: the reference. Plain loops over the maths of kernels/irn_math.h,
// OpenMP over images / directions / pixel rows where it pays; every result deterministic.
#include "kernels/irn.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "engine/error.h"

namespace wsvis::kernels {

IrnPairSet irn_pair_set(int radius) {
  WSVIS_CHECK(radius >= 1 && radius <= kIrnMaxRadius, "irn_pair_set: radius ", radius,
              " outside 1..", kIrnMaxRadius);
  struct Dir {
    int dy, dx;
    std::vector<std::pair<int, int>> path;
  };
  std::vector<Dir> dirs;
  for (int x = 1; x < radius; ++x) dirs.push_back({0, x, {}});
  for (int y = 1; y < radius; ++y)
    for (int x = -radius + 1; x < radius; ++x)
      if (x * x + y * y < radius * radius) dirs.push_back({y, x, {}});
  for (Dir& d : dirs) {
    const int len_sq = d.dy * d.dy + d.dx * d.dx;
    const int y0 = std::min(0, d.dy), y1 = std::max(0, d.dy);
    const int x0 = std::min(0, d.dx), x1 = std::max(0, d.dx);
    for (int y = y0; y <= y1; ++y)
      for (int x = x0; x <= x1; ++x) {
        const int cross = d.dy * x - d.dx * y;
        if (cross * cross < len_sq) d.path.push_back({y, x});  // squared distance < 1
      }
    // IRN: decreasing |y| + |x|, stable over the row-major scan (destination first).
    std::stable_sort(d.path.begin(), d.path.end(), [](const auto& a, const auto& b) {
      return std::abs(a.first) + std::abs(a.second) > std::abs(b.first) + std::abs(b.second);
    });
  }
  // Grouped by path length, increasing, scan order kept inside a group.
  std::stable_sort(dirs.begin(), dirs.end(),
                   [](const Dir& a, const Dir& b) { return a.path.size() < b.path.size(); });
  IrnPairSet s;
  s.radius = radius;
  s.num_directions = static_cast<int>(dirs.size());
  int p = 0;
  for (size_t d = 0; d < dirs.size(); ++d) {
    s.dy[d] = static_cast<int8_t>(dirs[d].dy);
    s.dx[d] = static_cast<int8_t>(dirs[d].dx);
    s.path_begin[d] = static_cast<int16_t>(p);
    for (const auto& pt : dirs[d].path) {
      WSVIS_CHECK(p < kIrnMaxPathPoints, "irn_pair_set: path table overflow");
      s.py[p] = static_cast<int8_t>(pt.first);
      s.px[p] = static_cast<int8_t>(pt.second);
      ++p;
    }
  }
  s.path_begin[dirs.size()] = static_cast<int16_t>(p);
  s.num_points = p;
  return s;
}

namespace cpu {

template <typename T>
void irn_affinity_forward(const T* boundary, int64_t N, int64_t H, int64_t W, const IrnPairSet& set,
                          T* affinity) {
  const int64_t D = set.num_directions, plane = H * W;
#pragma omp parallel for if (N * D * plane > (1 << 16))
  for (int64_t nd = 0; nd < N * D; ++nd) {
    const int64_t n = nd / D;
    const int d = static_cast<int>(nd % D);
    const T* b = boundary + n * plane;
    T* a = affinity + nd * plane;
    for (int64_t y = 0; y < H; ++y)
      for (int64_t x = 0; x < W; ++x) {
        int64_t arg;
        a[y * W + x] = irn_inside(y + set.dy[d], x + set.dx[d], H, W)
                           ? T(1) - irn_path_max(b, W, y, x, set, d, &arg)
                           : T(0);
      }
  }
}

template <typename T>
void irn_affinity_backward(const T* grad_affinity, const T* boundary, int64_t N, int64_t H,
                           int64_t W, const IrnPairSet& set, T* grad_boundary) {
  const int64_t D = set.num_directions, plane = H * W;
  std::fill(grad_boundary, grad_boundary + N * plane, T(0));
#pragma omp parallel for if (N > 1 && N * D * plane > (1 << 16))
  for (int64_t n = 0; n < N; ++n) {
    const T* b = boundary + n * plane;
    T* g = grad_boundary + n * plane;
    for (int d = 0; d < D; ++d) {
      const T* ga = grad_affinity + (n * D + d) * plane;
      for (int64_t y = 0; y < H; ++y)
        for (int64_t x = 0; x < W; ++x) {
          if (!irn_inside(y + set.dy[d], x + set.dx[d], H, W)) continue;
          int64_t arg;
          irn_path_max(b, W, y, x, set, d, &arg);
          g[arg] -= ga[y * W + x];
        }
    }
  }
}

size_t irn_loss_workspace_bytes(int64_t, int64_t, int64_t) { return 0; }

template <typename T>
void irn_loss_forward(const T* affinity, const T* displacement, const uint8_t* labels, int64_t N,
                      int64_t H, int64_t W, const IrnPairSet& set, bool irn_source_crop, T* stats,
                      void*, size_t) {
  const int64_t D = set.num_directions, plane = H * W;
  // sums: bg, fg, neg, dp_fg, dp_bg, counts bg, fg, neg (double, any order within an image,
  // images combined in order).
  std::vector<double> part(static_cast<size_t>(N) * 8, 0.0);
#pragma omp parallel for if (N > 1)
  for (int64_t n = 0; n < N; ++n) {
    double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    const uint8_t* lab = labels + n * plane;
    const T* dyp = displacement + n * 2 * plane;
    const T* dxp = dyp + plane;
    for (int d = 0; d < D; ++d)
      for (int64_t y = 0; y < H; ++y)
        for (int64_t x = 0; x < W; ++x) {
          const int kind = irn_loss_pair_kind(lab, H, W, y, x, set, d, irn_source_crop);
          if (kind == kIrnPairNone) continue;
          const int64_t i = y * W + x, j = i + set.dy[d] * W + set.dx[d];
          const double alpha = affinity[(n * D + d) * plane + i];
          const double ey = double(dyp[i]) - double(dyp[j]), ex = double(dxp[i]) - double(dxp[j]);
          if (kind == kIrnPairBgPos) {
            acc[0] += -std::log(alpha + kIrnLogEps);
            acc[4] += std::fabs(ey) + std::fabs(ex);
            acc[5] += 1;
          } else if (kind == kIrnPairFgPos) {
            acc[1] += -std::log(alpha + kIrnLogEps);
            acc[3] += std::fabs(ey - set.dy[d]) + std::fabs(ex - set.dx[d]);
            acc[6] += 1;
          } else {
            acc[2] += -std::log(1.0 + kIrnLogEps - alpha);
            acc[7] += 1;
          }
        }
    for (int k = 0; k < 8; ++k) part[static_cast<size_t>(n) * 8 + k] = acc[k];
  }
  double s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (int64_t n = 0; n < N; ++n)
    for (int k = 0; k < 8; ++k) s[k] += part[static_cast<size_t>(n) * 8 + k];
  double out[kIrnLossStats];
  irn_loss_finish(s, out);
  for (int k = 0; k < kIrnLossStats; ++k) stats[k] = static_cast<T>(out[k]);
}

template <typename T>
void irn_loss_backward(const T* grad_stats, const T* stats, const T* affinity,
                       const T* displacement, const uint8_t* labels, int64_t N, int64_t H,
                       int64_t W, const IrnPairSet& set, bool irn_source_crop, T* grad_affinity,
                       T* grad_displacement) {
  const int64_t D = set.num_directions, plane = H * W;
  const IrnLossCoeffs<T> co = irn_loss_coeffs(grad_stats, stats);
#pragma omp parallel for if (N * H > 16)
  for (int64_t ny = 0; ny < N * H; ++ny) {
    const int64_t n = ny / H, y = ny % H;
    const uint8_t* lab = labels + n * plane;
    const T* disp = displacement + n * 2 * plane;
    for (int64_t x = 0; x < W; ++x) {
      T gy = 0, gx = 0;
      for (int d = 0; d < D; ++d) {
        const int64_t i = y * W + x;
        // As the source of pair (i, i + d): affinity gradient and +sign on D(i).
        T ga = 0, py = 0, px = 0;
        const int kind = irn_loss_pair_kind(lab, H, W, y, x, set, d, irn_source_crop);
        if (kind != kIrnPairNone) {
          irn_loss_pair_grad(co, kind, affinity[(n * D + d) * plane + i], disp, plane, i,
                             i + set.dy[d] * W + set.dx[d], set.dy[d], set.dx[d], &ga, &py, &px);
          gy += py;
          gx += px;
        }
        grad_affinity[(n * D + d) * plane + i] = ga;
        // As the destination of pair (i - d, i): -sign on D(i).
        const int64_t sy = y - set.dy[d], sx = x - set.dx[d];
        if (!irn_inside(sy, sx, H, W)) continue;
        const int kind2 = irn_loss_pair_kind(lab, H, W, sy, sx, set, d, irn_source_crop);
        if (kind2 == kIrnPairNone) continue;
        const int64_t s = sy * W + sx;
        T ga2, py2, px2;
        irn_loss_pair_grad(co, kind2, affinity[(n * D + d) * plane + s], disp, plane, s, i,
                           set.dy[d], set.dx[d], &ga2, &py2, &px2);
        gy -= py2;
        gx -= px2;
      }
      grad_displacement[n * 2 * plane + y * W + x] = gy;
      grad_displacement[n * 2 * plane + plane + y * W + x] = gx;
    }
  }
}

template <typename T>
void irn_walk_weights(const T* boundary, int64_t H, int64_t W, const IrnPairSet& set, T beta,
                      T* weights) {
  const int K = 2 * set.num_directions + 1;
  const int64_t plane = H * W;
#pragma omp parallel for if (plane * K > (1 << 15))
  for (int64_t j = 0; j < plane; ++j) {
    const int64_t y = j / W, x = j % W;
    T sum = 0;
    for (int k = 0; k < K; ++k) {
      const T w = irn_walk_weight(irn_walk_alpha(boundary, H, W, y, x, set, k), beta);
      weights[k * plane + j] = w;
      sum += w;
    }
    for (int k = 0; k < K; ++k) weights[k * plane + j] /= sum;  // sum >= 1 (self weight)
  }
}

template <typename T>
size_t irn_random_walk_workspace_bytes(int64_t C, int64_t H, int64_t W, const IrnPairSet& set) {
  return sizeof(T) * static_cast<size_t>(H * W) *
         static_cast<size_t>(2 * set.num_directions + 1 + C);
}

template <typename T>
void irn_random_walk(const T* boundary, const T* seeds, int64_t C, int64_t H, int64_t W,
                     const IrnPairSet& set, T beta, int steps, bool mask_seeds, T* out,
                     void* workspace, size_t workspace_bytes) {
  WSVIS_CHECK(steps >= 0, "irn_random_walk: steps ", steps, " < 0");
  const int64_t plane = H * W;
  if (C * plane == 0) return;
  WSVIS_CHECK(workspace_bytes >= irn_random_walk_workspace_bytes<T>(C, H, W, set),
              "irn_random_walk: workspace of ", workspace_bytes, " bytes, needs ",
              irn_random_walk_workspace_bytes<T>(C, H, W, set));
  const int K = 2 * set.num_directions + 1;
  T* weights = static_cast<T*>(workspace);
  T* scratch = weights + static_cast<size_t>(K) * plane;
  irn_walk_weights(boundary, H, W, set, beta, weights);
  // Ping-pong so that the last step writes `out`.
  T* cur = (steps % 2 == 0) ? out : scratch;
  T* nxt = (steps % 2 == 0) ? scratch : out;
  for (int64_t c = 0; c < C; ++c)
    for (int64_t j = 0; j < plane; ++j)
      cur[c * plane + j] =
          mask_seeds ? seeds[c * plane + j] * (T(1) - boundary[j]) : seeds[c * plane + j];
  std::vector<int64_t> offset(static_cast<size_t>(K));
  std::vector<int> oys(static_cast<size_t>(K)), oxs(static_cast<size_t>(K));
  for (int k = 0; k < K; ++k) {
    irn_walk_offset(set, k, &oys[k], &oxs[k]);
    offset[k] = oys[k] * W + oxs[k];
  }
  for (int s = 0; s < steps; ++s) {
#pragma omp parallel for if (plane * C * K > (1 << 16))
    for (int64_t y = 0; y < H; ++y)
      for (int64_t x = 0; x < W; ++x) {
        // Per channel: 0 + w_0 x_0 + w_1 x_1 + ... in stencil order k (as the CUDA twin).
        const int64_t j = y * W + x;
        T* dst = nxt + j;
        for (int64_t c = 0; c < C; ++c) dst[c * plane] = T(0);
        for (int k = 0; k < K; ++k) {
          if (!irn_inside(y + oys[k], x + oxs[k], H, W)) continue;
          const T w = weights[k * plane + j];
          const T* src = cur + j + offset[k];
          for (int64_t c = 0; c < C; ++c) dst[c * plane] += w * src[c * plane];
        }
      }
    std::swap(cur, nxt);
  }
}

size_t irn_walk_labels_workspace_bytes() { return 0; }

template <typename T>
void irn_walk_labels(const T* rw, int64_t C, int64_t Hs, int64_t Ws, int64_t H, int64_t W,
                     T bg_threshold, int32_t* labels, T* normalised, void*) {
  WSVIS_CHECK(H <= Hs && W <= Ws, "irn_walk_labels: window ", H, "x", W, " larger than the map ",
              Hs, "x", Ws);
  if (H * W == 0) return;
  T m = -INFINITY;
  for (int64_t c = 0; c < C; ++c)
    for (int64_t y = 0; y < H; ++y)
      for (int64_t x = 0; x < W; ++x) m = std::max(m, rw[(c * Hs + y) * Ws + x]);
  for (int64_t y = 0; y < H; ++y)
    for (int64_t x = 0; x < W; ++x) {
      T best = bg_threshold;
      int32_t label = 0;
      for (int64_t c = 0; c < C; ++c) {
        const T v = rw[(c * Hs + y) * Ws + x] / m;
        if (normalised) normalised[(c * H + y) * W + x] = v;
        if (v > best) {
          best = v;
          label = static_cast<int32_t>(c + 1);
        }
      }
      labels[y * W + x] = label;
    }
}

void irn_channel_masks(const int32_t* labels, int64_t C, int64_t H, int64_t W, uint8_t* masks) {
  const int64_t plane = H * W;
  for (int64_t c = 0; c < C; ++c)
    for (int64_t j = 0; j < plane; ++j) masks[c * plane + j] = labels[j] == c + 1 ? 1 : 0;
}

template <typename T>
void irn_instance_scores(const T* normalised, const int32_t* components, const int32_t* counts,
                         int64_t C, int64_t H, int64_t W, int64_t max_components,
                         double min_area_fraction, T* scores, int32_t* areas) {
  const int64_t plane = H * W;
  std::fill(scores, scores + C * max_components, T(0));
  std::fill(areas, areas + C * max_components, 0);
  std::vector<T> best(static_cast<size_t>(C * max_components), T(0));
  for (int64_t c = 0; c < C; ++c)
    for (int64_t j = 0; j < plane; ++j) {
      const int32_t k = components[c * plane + j];
      if (k < 1 || k > counts[c] || k > max_components) continue;
      const int64_t e = c * max_components + k - 1;
      best[e] =
          areas[e] == 0 ? normalised[c * plane + j] : std::max(best[e], normalised[c * plane + j]);
      ++areas[e];
    }
  // IRN: np.max(score * segment_mask) over the whole image, so the zeros outside a segment
  // that does not cover the image take part in the max.
  for (int64_t e = 0; e < C * max_components; ++e) {
    const T m = areas[e] < plane ? std::max(best[e], T(0)) : best[e];
    scores[e] = double(areas[e]) < min_area_fraction * double(plane) ? T(0) : m;
  }
}

#define WSVIS_IRN_INSTANTIATE(T)                                                                   \
  template void irn_affinity_forward<T>(const T*, int64_t, int64_t, int64_t, const IrnPairSet&,    \
                                        T*);                                                       \
  template void irn_affinity_backward<T>(const T*, const T*, int64_t, int64_t, int64_t,            \
                                         const IrnPairSet&, T*);                                   \
  template void irn_loss_forward<T>(const T*, const T*, const uint8_t*, int64_t, int64_t, int64_t, \
                                    const IrnPairSet&, bool, T*, void*, size_t);                   \
  template void irn_loss_backward<T>(const T*, const T*, const T*, const T*, const uint8_t*,       \
                                     int64_t, int64_t, int64_t, const IrnPairSet&, bool, T*, T*);  \
  template void irn_walk_weights<T>(const T*, int64_t, int64_t, const IrnPairSet&, T, T*);         \
  template size_t irn_random_walk_workspace_bytes<T>(int64_t, int64_t, int64_t,                    \
                                                     const IrnPairSet&);                           \
  template void irn_random_walk<T>(const T*, const T*, int64_t, int64_t, int64_t,                  \
                                   const IrnPairSet&, T, int, bool, T*, void*, size_t);            \
  template void irn_walk_labels<T>(const T*, int64_t, int64_t, int64_t, int64_t, int64_t, T,       \
                                   int32_t*, T*, void*);                                           \
  template void irn_instance_scores<T>(const T*, const int32_t*, const int32_t*, int64_t, int64_t, \
                                       int64_t, int64_t, double, T*, int32_t*);

WSVIS_IRN_INSTANTIATE(float)
WSVIS_IRN_INSTANTIATE(double)
#undef WSVIS_IRN_INSTANTIATE

}  // namespace cpu
}  // namespace wsvis::kernels
