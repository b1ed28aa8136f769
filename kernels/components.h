// Connected-component labelling of binary images, 4- or 8-connectivity.
// CPU twin in kernels/cpu/components.cpp (two-pass union-find), CUDA twin in
// kernels/cuda/components.cu (union-find with atomicMin, then a raster-order renumbering),
// shared neighbour logic in kernels/components_math.h.
//
// mask: (N, H, W) uint8, nonzero = foreground. labels: (N, H, W) int32, 0 = background, the
// components of each image numbered 1..K in raster order of their first (top-most, then
// left-most) pixel. The numbering is canonical, so both twins return identical labels, not
// merely equivalent partitions. counts: (N,) int32, K per image. Needs H * W < 2^31 - 1.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/common.h"

#if WSVIS_WITH_CUDA
#include <cuda_runtime.h>
#endif

namespace wsvis::kernels {

namespace cpu {
// The CPU twin works in place in `labels` and needs no scratch: returns 0 (kept so both twins
// are called the same way).
size_t components_workspace_bytes(int64_t N, int64_t H, int64_t W);
// connectivity: 4 or 8. One image per OpenMP thread.
void label_components(const uint8_t* mask, int64_t N, int64_t H, int64_t W, int connectivity,
                      int32_t* labels, int32_t* counts, void* workspace);
}  // namespace cpu

#if WSVIS_WITH_CUDA
namespace cuda {
// Scratch for the per-tile root counts of the renumbering (N * ceil(H*W / 1024) int32).
size_t components_workspace_bytes(int64_t N, int64_t H, int64_t W);
// All pointers on the device; no host synchronisation.
void label_components(cudaStream_t stream, const uint8_t* mask, int64_t N, int64_t H, int64_t W,
                      int connectivity, int32_t* labels, int32_t* counts, void* workspace);
}  // namespace cuda
#endif

}  // namespace wsvis::kernels
