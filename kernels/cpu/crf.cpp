// CPU twin of kernels/crf.h: the classic permutohedral lattice with a serial hash table (vertices
// numbered in insertion order), and mean-field inference. The reference the CUDA twin and the
// tests check against.
#include "kernels/crf.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/error.h"

namespace wsvis::kernels::cpu {

namespace {

namespace cm = crf_math;

// Views of one lattice's arrays inside the workspace (crf_math::LatticeLayout).
struct Lattice {
  cm::LatticeLayout lay;
  float* features;
  uint64_t* table;
  int32_t* slot_id;
  uint64_t* vertex_keys;
  int32_t* offsets;
  float* weights;
  int32_t* neighbours;  // (D+1, P, 2): for axis j and vertex v, the n1 and n2 ids or -1
  float* norm;
  float* values[2];
  int32_t* count;  // vertices in use, left in the workspace as the CUDA twin does
  int64_t M = 0;   // the same, as a size
};

Lattice carve(const cm::LatticeLayout& lay, void* workspace) {
  char* b = static_cast<char*>(workspace);
  Lattice l;
  l.lay = lay;
  l.features = reinterpret_cast<float*>(b + lay.features);
  l.table = reinterpret_cast<uint64_t*>(b + lay.table);
  l.slot_id = reinterpret_cast<int32_t*>(b + lay.slot_id);
  l.vertex_keys = reinterpret_cast<uint64_t*>(b + lay.vertex_keys);
  l.offsets = reinterpret_cast<int32_t*>(b + lay.offsets);
  l.weights = reinterpret_cast<float*>(b + lay.weights);
  l.neighbours = reinterpret_cast<int32_t*>(b + lay.neighbours);
  l.norm = reinterpret_cast<float*>(b + lay.norm);
  l.values[0] = reinterpret_cast<float*>(b + lay.values0);
  l.values[1] = reinterpret_cast<float*>(b + lay.values1);
  l.count = reinterpret_cast<int32_t*>(b + lay.count);
  return l;
}

// Slot of key in the table (linear probing), or of the empty slot where it would go.
int64_t probe(const uint64_t* table, int64_t capacity, uint64_t key) {
  const int64_t mask = capacity - 1;
  int64_t s = int64_t(cm::hash_key(key) & uint64_t(mask));
  while (table[s] != key && table[s] != cm::kEmptyKey) s = (s + 1) & mask;
  return s;
}

// Embeds every point (features already in l.features), fills the hash table, the per-point
// vertex ids and weights, and the blur neighbours. The table in use is a prefix of the
// workspace's (sized for the vertex bound N (D+1)), doubled and refilled from vertex_keys when
// half full, as densecrf's grows: real lattices have far fewer vertices than the bound, and a
// small table keeps the probes in cache.
template <int D>
void build(Lattice& l) {
  const int64_t N = l.lay.N;
  int64_t cap = std::min<int64_t>(l.lay.capacity, 1024);
  std::fill(l.table, l.table + cap, cm::kEmptyKey);
  const cm::LatticeScale<D> scale = cm::lattice_scale<D>();
  int64_t M = 0;
  for (int64_t i = 0; i < N; ++i) {
    uint64_t keys[D + 1];
    cm::lattice_embed<D>(l.features + i * D, scale, keys, l.weights + i * (D + 1));
    for (int r = 0; r <= D; ++r) {
      int64_t s = probe(l.table, cap, keys[r]);
      if (l.table[s] == cm::kEmptyKey) {
        l.vertex_keys[M] = keys[r];
        if (2 * (M + 1) > cap) {  // grow: every id's key goes back in, the new one included
          cap *= 2;
          std::fill(l.table, l.table + cap, cm::kEmptyKey);
          for (int64_t v = 0; v <= M; ++v) {
            const int64_t t = probe(l.table, cap, l.vertex_keys[v]);
            l.table[t] = l.vertex_keys[v];
            l.slot_id[t] = static_cast<int32_t>(v);
          }
          s = probe(l.table, cap, keys[r]);
        } else {
          l.table[s] = keys[r];
          l.slot_id[s] = static_cast<int32_t>(M);
        }
        ++M;
      }
      l.offsets[i * (D + 1) + r] = l.slot_id[s];
    }
  }
  l.M = M;
  *l.count = static_cast<int32_t>(M);
  // A missing neighbour points at row M of the value buffers, kept at zero: the blur then reads
  // without branches.
  const int64_t P = l.lay.P;
#pragma omp parallel for if (M > 4096)
  for (int64_t v = 0; v < M; ++v)
    for (int j = 0; j <= D; ++j)
      for (int side = 0; side < 2; ++side) {
        const uint64_t nk = cm::neighbour_key<D>(l.vertex_keys[v], j, side == 0);
        const int64_t s = probe(l.table, cap, nk);  // the final table size
        l.neighbours[(j * P + v) * 2 + side] = l.table[s] == nk ? l.slot_id[s] : int32_t(M);
      }
}

// Channels are processed in chunks of kChunk so that per-point channel values sit in a small
// stack array: the (C, N) planes are read once per point, the vertex rows contiguously.
constexpr int64_t kChunk = 32;

// Splat: values0 (M, C) = S (pre * in), pre = scale (null: 1), in (C, N) (null: all ones).
// Also zeroes row M of both buffers (the missing neighbour).
template <int D>
void splat(const Lattice& l, const float* in, const float* scale, int64_t C) {
  const int64_t N = l.lay.N;
  float* val = l.values[0];
  std::fill(val, val + (l.M + 1) * C, 0.f);
  std::fill(l.values[1] + l.M * C, l.values[1] + (l.M + 1) * C, 0.f);
  for (int64_t c0 = 0; c0 < C; c0 += kChunk) {
    const int64_t n = std::min(kChunk, C - c0);
    float x[kChunk];
    for (int64_t i = 0; i < N; ++i) {
      const float s = scale ? scale[i] : 1.f;
      for (int64_t k = 0; k < n; ++k) x[k] = in ? in[(c0 + k) * N + i] : 1.f;
      for (int r = 0; r <= D; ++r) {
        float* v = val + int64_t(l.offsets[i * (D + 1) + r]) * C + c0;
        const float w = l.weights[i * (D + 1) + r] * s;
        for (int64_t k = 0; k < n; ++k) v[k] += w * x[k];
      }
    }
  }
}

// Blur along axes 0..D, ping-ponging between the value buffers: new = old + (n1 + n2) / 2.
// Returns the buffer holding the result (values1 when D + 1 is odd).
template <int D>
const float* blur(const Lattice& l, int64_t C) {
  const int64_t M = l.M, P = l.lay.P;
  float* cur = l.values[0];
  float* nxt = l.values[1];
  for (int j = 0; j <= D; ++j) {
    const int32_t* nb = l.neighbours + j * P * 2;
#pragma omp parallel for if (M * C > (1 << 15))
    for (int64_t v = 0; v < M; ++v) {
      const float* a = cur + int64_t(nb[v * 2]) * C;
      const float* b = cur + int64_t(nb[v * 2 + 1]) * C;
      const float* o = cur + v * C;
      float* out = nxt + v * C;
      for (int64_t c = 0; c < C; ++c) out[c] = o[c] + 0.5f * (a[c] + b[c]);
    }
    std::swap(cur, nxt);
  }
  return cur;
}

// Slice of channels [c0, c0 + n) at point i, without alpha: acc[k] = sum_r w_r values[v_r, c0+k].
template <int D>
inline void slice(const Lattice& l, const float* val, int64_t C, int64_t i, int64_t c0, int64_t n,
                  float* acc) {
  for (int64_t k = 0; k < n; ++k) acc[k] = 0.f;
  for (int r = 0; r <= D; ++r) {
    const float w = l.weights[i * (D + 1) + r];
    const float* row = val + int64_t(l.offsets[i * (D + 1) + r]) * C + c0;
    for (int64_t k = 0; k < n; ++k) acc[k] += w * row[k];
  }
}

// out (C, N) = pre_i * alpha * (S^T B S (pre * in))_i.
template <int D>
void filter(const Lattice& l, const float* in, const float* scale, int64_t C, float* out) {
  const int64_t N = l.lay.N;
  splat<D>(l, in, scale, C);
  const float* val = blur<D>(l, C);
  const float alpha = cm::lattice_alpha<D>();
#pragma omp parallel for if (N * C > (1 << 15))
  for (int64_t i = 0; i < N; ++i) {
    const float s = scale ? scale[i] : 1.f;
    float acc[kChunk];
    for (int64_t c0 = 0; c0 < C; c0 += kChunk) {
      const int64_t n = std::min(kChunk, C - c0);
      slice<D>(l, val, C, i, c0, n, acc);
      for (int64_t k = 0; k < n; ++k) out[(c0 + k) * N + i] = s * alpha * acc[k];
    }
  }
}

void build_any(Lattice& l) {
  if (l.lay.D == 2)
    build<2>(l);
  else if (l.lay.D == 5)
    build<5>(l);
  else
    WSVIS_FAIL("permutohedral lattice: D = ", l.lay.D, " (2 or 5 supported)");
}
void filter_any(const Lattice& l, const float* in, const float* scale, int64_t C, float* out) {
  if (l.lay.D == 2)
    filter<2>(l, in, scale, C, out);
  else
    filter<5>(l, in, scale, C, out);
}

bool range_ok(int D, const double* max_abs) {
  return D == 2 ? cm::lattice_range_ok<2>(max_abs) : cm::lattice_range_ok<5>(max_abs);
}

// Symmetric normalisation of a built lattice: norm_i = 1 / sqrt((K~ 1)_i + 1e-20).
void normalise(Lattice& l) {
  filter_any(l, nullptr, nullptr, 1, l.norm);
  for (int64_t i = 0; i < l.lay.N; ++i) l.norm[i] = 1.0f / std::sqrt(l.norm[i] + 1e-20f);
}

// Features of the CRF's kernels as densecrf forms them (float divisions).
void crf_features(const uint8_t* image, int64_t H, int64_t W, const DenseCrfParams& p,
                  Lattice& g, Lattice& b) {
  const float gs = float(p.gaussian_sxy), bs = float(p.bilateral_sxy), cs = float(p.bilateral_srgb);
  for (int64_t y = 0; y < H; ++y)
    for (int64_t x = 0; x < W; ++x) {
      const int64_t i = y * W + x;
      g.features[i * 2 + 0] = float(x) / gs;
      g.features[i * 2 + 1] = float(y) / gs;
      float* f = b.features + i * 5;
      f[0] = float(x) / bs;
      f[1] = float(y) / bs;
      for (int c = 0; c < 3; ++c) f[2 + c] = float(image[i * 3 + c]) / cs;
    }
}

}  // namespace

void crf_unary_from_labels(const int32_t* labels, int64_t H, int64_t W, int L, double gt_prob,
                           float* unary) {
  WSVIS_CHECK(L >= 1 && H >= 0 && W >= 0, "crf_unary_from_labels: L=", L, " H=", H, " W=", W);
  WSVIS_CHECK(gt_prob > 0 && gt_prob < 1, "crf_unary_from_labels: gt_prob ", gt_prob, " not in (0, 1)");
  const cm::UnaryFromLabels e = cm::unary_from_labels_energies(L, gt_prob);
  const int64_t N = H * W;
  for (int64_t i = 0; i < N; ++i)
    WSVIS_CHECK(labels[i] >= 0 && labels[i] < L, "crf_unary_from_labels: label ", labels[i],
                " at pixel ", i, " outside [0, ", L, ")");
  for (int l = 0; l < L; ++l)
    for (int64_t i = 0; i < N; ++i) unary[l * N + i] = l == labels[i] ? e.positive : e.negative;
}

size_t permutohedral_workspace_bytes(int64_t N, int D, int64_t C) {
  return cm::lattice_layout(N, D, C, 0).end;
}

void permutohedral_filter(const float* features, int64_t N, int D, const float* in, int64_t C,
                          float* out, void* workspace) {
  WSVIS_CHECK(D == 2 || D == 5, "permutohedral_filter: D = ", D, " (2 or 5 supported)");
  WSVIS_CHECK(N >= 0 && C >= 0, "permutohedral_filter: negative size N=", N, " C=", C);
  // Hash slots (2 N (D+1), rounded up to a power of two) are indexed by int32.
  WSVIS_CHECK(N * (D + 1) * 2 <= (int64_t(1) << 30), "permutohedral_filter: too many points ", N);
  if (N == 0 || C == 0) return;
  double max_abs[5] = {0, 0, 0, 0, 0};
  for (int64_t i = 0; i < N; ++i)
    for (int k = 0; k < D; ++k) {
      WSVIS_CHECK(std::isfinite(features[i * D + k]), "permutohedral_filter: feature ", k,
                  " of point ", i, " is not finite");
      max_abs[k] = std::max(max_abs[k], double(std::fabs(features[i * D + k])));
    }
  WSVIS_CHECK(range_ok(D, max_abs), "permutohedral_filter: features too large for the lattice keys");
  Lattice l = carve(cm::lattice_layout(N, D, C, 0), workspace);
  std::copy(features, features + N * D, l.features);
  build_any(l);
  filter_any(l, in, nullptr, C, out);
}

size_t dense_crf_workspace_bytes(int64_t H, int64_t W, int L) {
  return cm::crf_layout(H * W, L).end;
}

void dense_crf(const uint8_t* image, const float* unary, int64_t H, int64_t W, int L,
               const DenseCrfParams& p, float* Q, int32_t* labels, void* workspace) {
  WSVIS_CHECK(H >= 0 && W >= 0 && L >= 1, "dense_crf: H=", H, " W=", W, " L=", L);
  WSVIS_CHECK(p.iterations >= 0, "dense_crf: iterations ", p.iterations);
  WSVIS_CHECK(p.gaussian_sxy > 0 && p.bilateral_sxy > 0 && p.bilateral_srgb > 0,
              "dense_crf: kernel widths must be positive");
  const int64_t N = H * W;
  WSVIS_CHECK(N * 12 <= (int64_t(1) << 30), "dense_crf: image too large, ", H, "x", W);
  if (N == 0) return;
  const double gmax[2] = {double(W) / p.gaussian_sxy, double(H) / p.gaussian_sxy};
  const double bmax[5] = {double(W) / p.bilateral_sxy, double(H) / p.bilateral_sxy,
                          255.0 / p.bilateral_srgb, 255.0 / p.bilateral_srgb,
                          255.0 / p.bilateral_srgb};
  WSVIS_CHECK(range_ok(2, gmax) && range_ok(5, bmax), "dense_crf: ", H, "x", W,
              " is too large for the lattice keys at these kernel widths");
  const cm::CrfLayout lay = cm::crf_layout(N, L);
  Lattice g = carve(lay.gaussian, workspace), b = carve(lay.bilateral, workspace);
  float* q = Q ? Q : reinterpret_cast<float*>(static_cast<char*>(workspace) + lay.q);
  crf_features(image, H, W, p, g, b);
  build<2>(g);
  build<5>(b);
  normalise(g);
  normalise(b);
  const float wg = float(p.gaussian_compat), wb = float(p.bilateral_compat);

  const float ag = cm::lattice_alpha<2>(), ab = cm::lattice_alpha<5>();
  // Q (L, N) <- softmax over l of x[l * N + i], in place (densecrf's expAndNormalize).
  auto softmax = [&](int64_t i) {
    float mx = q[i];
    for (int l = 1; l < L; ++l) mx = std::max(mx, q[l * N + i]);
    float sum = 0.f;
    for (int l = 0; l < L; ++l) {
      const float e = std::exp(q[l * N + i] - mx);
      q[l * N + i] = e;
      sum += e;
    }
    for (int l = 0; l < L; ++l) q[l * N + i] /= sum;
  };
#pragma omp parallel for if (N * L > (1 << 15))
  for (int64_t i = 0; i < N; ++i) {
    for (int l = 0; l < L; ++l) q[l * N + i] = -unary[l * N + i];
    softmax(i);
  }
  for (int it = 0; it < p.iterations; ++it) {
    // Both kernels filter the same Q; once both are blurred, Q is overwritten pixel by pixel
    // with -U + w_g n^g K~_g(n^g Q) + w_b n^b K~_b(n^b Q), then normalised.
    splat<2>(g, q, g.norm, L);
    splat<5>(b, q, b.norm, L);
    const float* vg = blur<2>(g, L);
    const float* vb = blur<5>(b, L);
#pragma omp parallel for if (N * L > (1 << 13))
    for (int64_t i = 0; i < N; ++i) {
      const float sg = wg * ag * g.norm[i], sb = wb * ab * b.norm[i];
      float mg[kChunk], mb[kChunk];
      for (int64_t c0 = 0; c0 < L; c0 += kChunk) {
        const int64_t n = std::min<int64_t>(kChunk, L - c0);
        slice<2>(g, vg, L, i, c0, n, mg);
        slice<5>(b, vb, L, i, c0, n, mb);
        for (int64_t k = 0; k < n; ++k)
          q[(c0 + k) * N + i] = -unary[(c0 + k) * N + i] + sg * mg[k] + sb * mb[k];
      }
      softmax(i);
    }
  }
  if (labels) {
#pragma omp parallel for if (N * L > (1 << 15))
    for (int64_t i = 0; i < N; ++i) {
      int best = 0;
      for (int l = 1; l < L; ++l)
        if (q[l * N + i] > q[best * N + i]) best = l;
      labels[i] = best;
    }
  }
}

}  // namespace wsvis::kernels::cpu
