// The displacement-field half of IRN's instance inference (jiwoon-ahn/irn
// step/make_ins_seg_labels.py; spec irn_flowirn_maskconsist.md section 5):
//   1. find_centroids: every pixel of the stride-4 grid walks along the displacement field D
//      for 300 steps (bilinear sample of D at the current position, then clamp to the grid)
//      and is rounded to its converged centroid;
//   2. cluster_centroids: the weak-displacement region {||D||_2 < 2.5} is split into its
//      4-connected components (kernels/components.h); each pixel takes the component label
//      found at its centroid (0 when the centroid is outside the weak region), and the used
//      labels are renumbered 0..n-1 in increasing order (IRN's compress_range): the instance
//      map;
//   3. instance_seeds: the random-walk seeds CAM_c * [instance == k], (C*K) channels class-major
//      (IRN's separte_score_by_mask).
// The walk itself and the instance extraction and scoring after it (IRN's detect_instance)
// are kernels/irn.h's: irn_random_walk, irn_walk_labels, irn_channel_masks + label_components,
// irn_instance_scores.
// Per-pixel maths in kernels/irn_displacement_math.h (both twins do the same IEEE operations in
// the same order: centroids and labels agree exactly). CPU twin kernels/cpu/irn_displacement.cpp,
// CUDA twin kernels/cuda/irn_displacement.cu.
//
// Shapes (contiguous, row-major; one image per call):
//   disp:          (2, H, W)  channel 0 = dy (rows), 1 = dx (columns), stride-4 grid units,
//                             mean shift already subtracted; finite values
//   centroids:     (2, H, W)  int32 converged (row, column), each in the grid
//   instance_map:  (H, W)     int32 in 0..n-1;  count: (1) int32 = n (on the device for CUDA)
//   cams:          (C, H, W); seeds: (C*K, H, W), seeds[c*K + k] = cams[c] * [instance_map == k]
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/common.h"
#include "kernels/irn_displacement_math.h"

#if WSVIS_WITH_CUDA
#include <cuda_runtime.h>
#endif

namespace wsvis::kernels {

constexpr int kIrnCentroidIterations = 300;            // IRN's `iterations=300`
constexpr double kIrnWeakDisplacementThreshold = 2.5;  // IRN's cluster_centroids `thres`

namespace cpu {
// One OpenMP task per row of pixels; each pixel iterates independently.
template <typename T>
void find_centroids(const T* disp, int64_t H, int64_t W, int iterations, int32_t* centroids);

// Scratch: weak mask (H*W bytes), component labels and the renumbering table (int32).
size_t cluster_centroids_workspace_bytes(int64_t H, int64_t W);
template <typename T>
void cluster_centroids(const T* disp, const int32_t* centroids, int64_t H, int64_t W,
                       double threshold, int32_t* instance_map, int32_t* count, void* workspace);

// K = number of instances (count from cluster_centroids, read on the host by the caller since
// it sizes the seeds).
template <typename T>
void instance_seeds(const T* cams, int64_t C, const int32_t* instance_map, int64_t K, int64_t H,
                    int64_t W, T* seeds);
}  // namespace cpu

#if WSVIS_WITH_CUDA
namespace cuda {
// One thread per pixel running all `iterations` steps (no inter-thread traffic: every step
// reads four taps of D, which stays in L1/L2; 57,600 threads at 720p stride 4).
template <typename T>
void find_centroids(cudaStream_t stream, const T* disp, int64_t H, int64_t W, int iterations,
                    int32_t* centroids);

// Scratch: weak mask, labels, the used-label flags and their scan, the components' and cub's
// scratch.
size_t cluster_centroids_workspace_bytes(int64_t H, int64_t W);
// No host synchronisation: count stays on the device.
template <typename T>
void cluster_centroids(cudaStream_t stream, const T* disp, const int32_t* centroids, int64_t H,
                       int64_t W, double threshold, int32_t* instance_map, int32_t* count,
                       void* workspace);

template <typename T>
void instance_seeds(cudaStream_t stream, const T* cams, int64_t C, const int32_t* instance_map,
                    int64_t K, int64_t H, int64_t W, T* seeds);
}  // namespace cuda
#endif

}  // namespace wsvis::kernels
