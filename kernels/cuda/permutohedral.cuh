// GPU permutohedral lattice shared by kernels/cuda/permutohedral.cu (which defines it) and
// kernels/cuda/crf.cu (mean field). Device pointers into a workspace carved by
// crf_math::LatticeLayout; the vertex count lives on the device (`count`), and every kernel over
// vertices runs a grid-stride loop bounded by it, so nothing waits for the host.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/crf_math.h"

namespace wsvis::kernels::cuda::lattice {

struct DeviceLattice {
  crf_math::LatticeLayout lay;
  float* features;        // (N, D), filled by the caller before build()
  uint64_t* table;        // (capacity) packed keys, kEmptyKey where free
  int32_t* slot_id;       // (capacity) vertex id of an occupied slot
  uint64_t* vertex_keys;  // (P) key of vertex v
  int32_t* offsets;       // (N, D+1) vertex ids of each point's simplex
  float* weights;         // (N, D+1) barycentric weights
  int32_t* neighbours;    // (D+1, P, 2) blur neighbours n1, n2 of vertex v along axis j, or -1
  float* norm;            // (N) symmetric normalisation (normalise())
  float* values[2];       // (P, C) vertex values, ping-pong
  int32_t* count;         // vertices in use (device)
};

DeviceLattice carve(const crf_math::LatticeLayout& lay, void* workspace);

// Grid for a grid-stride loop over up to n items (capped: loops cover the rest).
unsigned loop_blocks(int64_t n);

// Hash insertion of every point's simplex, vertex numbering, neighbour search.
void build(cudaStream_t stream, const DeviceLattice& l);
// values0 = S (pre * in): in (C, N) (null: ones), pre = scale (N) (null: 1). Zeroes first.
void splat(cudaStream_t stream, const DeviceLattice& l, const float* in, const float* scale,
           int64_t C);
// Blur along the D+1 axes; returns the buffer holding the result.
const float* blur(cudaStream_t stream, const DeviceLattice& l, int64_t C);
// out (C, N) = pre_i * alpha * (S^T values)_i.
void slice(cudaStream_t stream, const DeviceLattice& l, const float* values, const float* scale,
           int64_t C, float* out);
// norm = 1 / sqrt(K~ 1 + 1e-20).
void normalise(cudaStream_t stream, const DeviceLattice& l);

}  // namespace wsvis::kernels::cuda::lattice
