// Shared maths of the dense CRF (kernels/crf.h): the permutohedral-lattice embedding of a
// feature vector (Adams, Baek & Davis 2010, as philkr's densecrf / pydensecrf implement it),
// the packing of lattice keys into 64-bit words, the hash, pydensecrf's unary_from_labels, and
// the workspace layout both twins carve. Host and device run the same code so the CPU and CUDA
// twins build the same lattice (same vertices, same barycentric weights).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "kernels/common.h"

namespace wsvis::kernels {

// IRN's crf_inference_label (misc/imutils.py) with pydensecrf DenseCRF2D defaults: DIAG_KERNEL,
// NORMALIZE_SYMMETRIC, Potts compatibility given as a number.
struct DenseCrfParams {
  int iterations = 10;
  double gt_prob = 0.7;            // unary_from_labels(..., gt_prob=0.7, zero_unsure=False)
  double gaussian_sxy = 3;         // addPairwiseGaussian(sxy=3, compat=3)
  double gaussian_compat = 3;
  double bilateral_sxy = 50;       // addPairwiseBilateral(sxy=50, srgb=5, compat=10)
  double bilateral_srgb = 5;
  double bilateral_compat = 10;
};

namespace crf_math {

constexpr uint64_t kEmptyKey = ~uint64_t(0);  // never a packed key: its remainder field is 7 > D

// Signed bits per packed lattice coordinate: 3 bits of remainder + D fields in 64 bits.
template <int D>
constexpr int key_bits() {
  return 61 / D;
}

// Largest |q| a packed coordinate may hold (q = (key - remainder) / (D + 1)), with room for
// the +-1 of a blur neighbour.
template <int D>
constexpr int64_t key_limit() {
  return (int64_t(1) << (key_bits<D>() - 1)) - 2;
}

// Multiplies and adds go through mul_rn/add_rn/sub_rn (kernels/common.h): contracted into an
// FMA, the device could choose another simplex than the host for a point lying within
// rounding of a simplex face.

// Diagonal of the elevation matrix E scaled to the lattice's expected standard deviation
// (p.5-6 of Adams et al.): scale[i] = sqrt(2/3) (D+1) / sqrt((i+1)(i+2)), rounded to float as
// densecrf does (double maths, float storage).
template <int D>
struct LatticeScale {
  float s[D];
};
template <int D>
inline LatticeScale<D> lattice_scale() {
  LatticeScale<D> r{};
  const float inv_std_dev = static_cast<float>(std::sqrt(2.0 / 3.0) * (D + 1));
  for (int i = 0; i < D; ++i)
    r.s[i] = static_cast<float>(1.0 / std::sqrt(double((i + 2) * (i + 1))) * inv_std_dev);
  return r;
}

// Packs the first D coordinates of a lattice point of remainder r (every coordinate is
// congruent to r modulo D+1): r in the top 3 bits, then (k_i - r) / (D+1) as biased fields.
template <int D>
WSVIS_HD inline uint64_t pack_key(int r, const int* k) {
  constexpr int B = key_bits<D>();
  uint64_t key = uint64_t(r) << 61;
  for (int i = 0; i < D; ++i) {
    const int64_t q = (int64_t(k[i]) - r) / (D + 1) + (int64_t(1) << (B - 1));
    key |= uint64_t(q) << (B * i);
  }
  return key;
}
template <int D>
WSVIS_HD inline int unpack_key(uint64_t key, int* k) {
  constexpr int B = key_bits<D>();
  const int r = int(key >> 61);
  for (int i = 0; i < D; ++i) {
    const int64_t q = int64_t((key >> (B * i)) & ((uint64_t(1) << B) - 1)) - (int64_t(1) << (B - 1));
    k[i] = int(q * (D + 1) + r);
  }
  return r;
}

// splitmix64's finaliser: the probe start of a key in a power-of-two table.
WSVIS_HD inline uint64_t hash_key(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

// The D+1 vertices of the simplex enclosing feature f (D floats) and their barycentric weights.
// Follows densecrf's Permutohedral::init (SSE path, which x86 builds of pydensecrf run):
// elevate onto the hyperplane sum = 0, round to the nearest remainder-0 point (ties to even),
// rank the residuals, wrap ranks back into [0, D], barycentric weights from the sorted
// residuals; vertex r = rounded point + canonical simplex vertex r permuted by the ranks.
template <int D>
WSVIS_HD inline void lattice_embed(const float* f, const LatticeScale<D>& scale, uint64_t* keys,
                                   float* weights) {
  float elevated[D + 1], rem0[D + 1], bary[D + 2];
  int rank[D + 1];
  float sm = 0.f;
  for (int j = D; j > 0; --j) {
    const float cf = mul_rn(f[j - 1], scale.s[j - 1]);
    elevated[j] = sub_rn(sm, mul_rn(float(j), cf));
    sm = add_rn(sm, cf);
  }
  elevated[0] = sm;
  const float down = 1.0f / (D + 1), up = float(D + 1);
  int sum = 0;
  for (int i = 0; i <= D; ++i) {
    const float v = rintf(mul_rn(down, elevated[i]));
    rem0[i] = mul_rn(v, up);
    sum += int(v);
    rank[i] = 0;
  }
  for (int i = 0; i < D; ++i) {
    const float di = sub_rn(elevated[i], rem0[i]);
    for (int j = i + 1; j <= D; ++j) {
      if (di < sub_rn(elevated[j], rem0[j]))
        ++rank[i];
      else
        ++rank[j];
    }
  }
  for (int i = 0; i <= D; ++i) {
    rank[i] += sum;
    if (rank[i] < 0) {
      rank[i] += D + 1;
      rem0[i] = add_rn(rem0[i], up);
    } else if (rank[i] > D) {
      rank[i] -= D + 1;
      rem0[i] = sub_rn(rem0[i], up);
    }
  }
  for (int i = 0; i < D + 2; ++i) bary[i] = 0.f;
  for (int i = 0; i <= D; ++i) {
    const float v = mul_rn(sub_rn(elevated[i], rem0[i]), down);
    bary[D - rank[i]] = add_rn(bary[D - rank[i]], v);
    bary[D - rank[i] + 1] = sub_rn(bary[D - rank[i] + 1], v);
  }
  bary[0] = add_rn(bary[0], add_rn(1.0f, bary[D + 1]));
  for (int r = 0; r <= D; ++r) {
    int k[D];
    // Canonical simplex vertex r has coordinate r where rank <= D - r, r - (D+1) elsewhere.
    for (int i = 0; i < D; ++i) k[i] = int(rem0[i]) + (rank[i] <= D - r ? r : r - (D + 1));
    keys[r] = pack_key<D>(r, k);
    weights[r] = bary[r];
  }
}

// Neighbour of a vertex along lattice axis j (0..D) in direction +1 (n1: +D on coordinate j,
// -1 elsewhere) or -1 (n2: -D on coordinate j, +1 elsewhere), as densecrf's blur_neighbors.
template <int D>
WSVIS_HD inline uint64_t neighbour_key(uint64_t key, int axis, bool first) {
  int k[D];
  const int r = unpack_key<D>(key, k);
  for (int i = 0; i < D; ++i) k[i] += first ? -1 : 1;
  if (axis < D) k[axis] += first ? D + 1 : -(D + 1);
  const int rn = first ? (r + D) % (D + 1) : (r + 1) % (D + 1);
  return pack_key<D>(rn, k);
}

// The constant densecrf multiplies slices by ("alpha", 1 / (1 + 2^-D)).
template <int D>
inline float lattice_alpha() {
  return 1.0f / (1.0f + std::pow(2.0f, float(-D)));
}

// Rejects features whose keys would overflow the packed fields: max_abs[k] bounds |f_k|.
template <int D>
inline bool lattice_range_ok(const double* max_abs) {
  const LatticeScale<D> sc = lattice_scale<D>();
  double total = 0, biggest = 0;
  for (int k = 0; k < D; ++k) {
    const double c = max_abs[k] * sc.s[k];
    total += c;
    if (c > biggest) biggest = c;
  }
  return (total + D * biggest) / (D + 1) + 4 < double(key_limit<D>());
}

// pydensecrf's unary_from_labels with zero_unsure=False: -log(gt_prob) for the given label,
// -log((1 - gt_prob) / (L - 1)) for the others, in float as numpy computes them.
struct UnaryFromLabels {
  float positive, negative;
};
inline UnaryFromLabels unary_from_labels_energies(int L, double gt_prob) {
  UnaryFromLabels u;
  u.positive = static_cast<float>(-std::log(gt_prob));
  u.negative = L > 1 ? static_cast<float>(-std::log((1.0 - gt_prob) / (L - 1))) : 0.f;
  return u;
}

// Byte layout of one lattice inside a workspace, for N points of dimension D (<= 5) and C
// filter channels. P = N (D+1) bounds the vertex count (every point adds at most D+1).
struct LatticeLayout {
  int D = 0;
  int64_t N = 0, C = 0, P = 0, capacity = 0;  // capacity: power of two >= 2P hash slots
  size_t features = 0, table = 0, slot_id = 0, vertex_keys = 0, offsets = 0, weights = 0,
         neighbours = 0, norm = 0, values0 = 0, values1 = 0, count = 0, end = 0;
};

inline size_t align_up(size_t x) { return (x + 255) & ~size_t(255); }

inline LatticeLayout lattice_layout(int64_t N, int D, int64_t C, size_t base) {
  LatticeLayout l;
  l.D = D;
  l.N = N;
  l.C = C;
  l.P = N * (D + 1);
  l.capacity = 1;
  while (l.capacity < 2 * l.P) l.capacity *= 2;
  size_t at = align_up(base);
  auto take = [&at](size_t bytes) {
    const size_t start = at;
    at = align_up(at + bytes);
    return start;
  };
  l.features = take(sizeof(float) * size_t(N * D));
  l.table = take(sizeof(uint64_t) * size_t(l.capacity));
  l.slot_id = take(sizeof(int32_t) * size_t(l.capacity));
  l.vertex_keys = take(sizeof(uint64_t) * size_t(l.P));
  l.offsets = take(sizeof(int32_t) * size_t(l.P));
  l.weights = take(sizeof(float) * size_t(l.P));
  l.neighbours = take(sizeof(int32_t) * size_t(l.P * (D + 1) * 2));
  l.norm = take(sizeof(float) * size_t(N));
  // One spare row: the CPU twin points missing blur neighbours at a zero row after the last
  // vertex.
  l.values0 = take(sizeof(float) * size_t((l.P + 1) * C));
  l.values1 = take(sizeof(float) * size_t((l.P + 1) * C));
  l.count = take(sizeof(int32_t) * 4);
  l.end = at;
  return l;
}

// Both lattices of the CRF and the marginals Q (L, N) in one workspace.
struct CrfLayout {
  LatticeLayout gaussian, bilateral;
  size_t q = 0, end = 0;
};
inline CrfLayout crf_layout(int64_t N, int64_t L) {
  CrfLayout c;
  c.gaussian = lattice_layout(N, 2, L, 0);
  c.bilateral = lattice_layout(N, 5, L, c.gaussian.end);
  c.q = align_up(c.bilateral.end);
  c.end = align_up(c.q + sizeof(float) * size_t(N * L));
  return c;
}

}  // namespace crf_math
}  // namespace wsvis::kernels
