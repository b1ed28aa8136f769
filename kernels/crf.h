// Fully connected CRF (Krähenbühl & Koltun 2011) with Gaussian and bilateral kernels, mean-field
// inference over permutohedral lattices (Adams et al. 2010): what IRN's crf_inference_label does
// through pydensecrf (spec irn_flowirn_maskconsist.md section 2). CPU twin in
// kernels/cpu/crf.cpp, CUDA twin in kernels/cuda/permutohedral.cu (lattice) and
// kernels/cuda/crf.cu (mean field); shared maths in kernels/crf_math.h.
//
// Semantics, as densecrf (pydensecrf's C++ core) computes them:
//   features   Gaussian: (x / sxy, y / sxy); bilateral: (x / sxy, y / sxy, r / srgb, g / srgb,
//              b / srgb) with x the column, y the row, r g b the uint8 values.
//   lattice    K~ v = alpha * S^T B S v: splat with barycentric weights, blur along the D+1
//              lattice axes with [1/2 1 1/2] (a missing neighbour counts 0), slice, alpha =
//              1 / (1 + 2^-D). It approximates sum_j exp(-|f_i - f_j|^2 / 2) v_j up to a constant
//              and includes j = i (the pixel itself).
//   filter     NORMALIZE_SYMMETRIC: filter(Q)_i = n_i (K~ (n * Q))_i, n_i = 1 / sqrt((K~ 1)_i + 1e-20).
//   Potts      pydensecrf's PottsCompatibility(w) maps the filtered Q to -w * filter(Q): a reward
//              for agreeing labels, which equals the penalty w * sum_{l' != l} (the same
//              softmax: the difference is constant over labels at each pixel).
//   inference  Q0 = softmax(-U); each of `iterations` steps:
//              Q = softmax(-U + w_g filter_g(Q) + w_b filter_b(Q)).
//              No self-term is removed: the lattice response contains the pixel itself, as in
//              pydensecrf (the paper's message sums over j != i).
//   labels     argmax over l of the final Q, the first maximum on ties (numpy's argmax).
// The CPU twin reproduces pydensecrf (pydensecrf2 1.1 on x86-64): max |dQ| 1e-6 and identical
// labels on a 500x375 scene with 21 labels and a 1280x720 one with 3 (tests keep a 6x7 golden
// case). Float only, no double instantiation: the CRF is not differentiated, pydensecrf is float.
//
// Shapes: image (H, W, 3) uint8 RGB interleaved (as pydensecrf's rgbim); unary, Q: (L, H, W)
// float energies / marginals; labels (H, W) int32 in [0, L). Lattice filter: features (N, D)
// float, D = 2 or 5; in, out: (C, N) float (channel planes).
//
// Memory: a lattice of N points has at most P = N (D+1) vertices and the workspace is sized for
// that bound: per lattice 4 N D (features) + 12 capacity (hash, capacity = the power of two >=
// 2P) + P (16 + 8 (D+1) + 8 C) (keys, simplices, neighbours, two value buffers) + 4 N bytes,
// plus Q. About 1.0 GB for 1280x720 with 3 labels, 0.48 GB for 500x375 with 21. Both twins leave
// each lattice's vertex count (int32) in the workspace at crf_math::crf_layout(N, L).{gaussian,
// bilateral}.count, for benchmarks and diagnostics.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/common.h"
#include "kernels/crf_math.h"

#if WSVIS_WITH_CUDA
#include <cuda_runtime.h>
#endif

namespace wsvis::kernels {

namespace cpu {
// unary (L, H, W) from labels (H, W) in [0, L): pydensecrf's unary_from_labels(labels, L,
// gt_prob, zero_unsure=False) (label 0 is a real label; L = 1 is allowed and gives zeros).
void crf_unary_from_labels(const int32_t* labels, int64_t H, int64_t W, int L, double gt_prob,
                           float* unary);

size_t permutohedral_workspace_bytes(int64_t N, int D, int64_t C);
// out = K~ in (no normalisation), deterministic: vertices numbered in insertion order, splat in
// point order.
void permutohedral_filter(const float* features, int64_t N, int D, const float* in, int64_t C,
                          float* out, void* workspace);

size_t dense_crf_workspace_bytes(int64_t H, int64_t W, int L);
// Mean-field inference; Q and labels may each be null. Float throughout, as pydensecrf.
void dense_crf(const uint8_t* image, const float* unary, int64_t H, int64_t W, int L,
               const DenseCrfParams& params, float* Q, int32_t* labels, void* workspace);
}  // namespace cpu

#if WSVIS_WITH_CUDA
namespace cuda {
// All pointers on the device; no host synchronisation unless stated.
void crf_unary_from_labels(cudaStream_t stream, const int32_t* labels, int64_t H, int64_t W,
                           int L, double gt_prob, float* unary);

size_t permutohedral_workspace_bytes(int64_t N, int D, int64_t C);
// GPU lattice: open-addressing hash of 64-bit packed keys built with atomicCAS, vertex ids
// handed out by an atomic counter (their order varies run to run), splat with atomicAdd (float
// sums vary in the last bits from run to run), blur over neighbour ids found once in the table,
// slice. Copies the features to the host once to check that the keys fit (synchronises): a
// test and bench entry point; dense_crf bounds its features analytically instead.
void permutohedral_filter(cudaStream_t stream, const float* features, int64_t N, int D,
                          const float* in, int64_t C, float* out, void* workspace);

size_t dense_crf_workspace_bytes(int64_t H, int64_t W, int L);
// Both lattices built once, reused by every iteration and label; per iteration 14 launches
// (zero, splat, D+1 blurs per lattice, one fused slice + softmax). No host synchronisation.
void dense_crf(cudaStream_t stream, const uint8_t* image, const float* unary, int64_t H,
               int64_t W, int L, const DenseCrfParams& params, float* Q, int32_t* labels,
               void* workspace);
}  // namespace cuda
#endif

}  // namespace wsvis::kernels
