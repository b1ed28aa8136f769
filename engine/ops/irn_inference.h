// Inference wrappers for IRN / flowIRN pseudo-label making (spec irn_flowirn_maskconsist.md
// sections 2, 5 and 7): tensors in, tensors out, on either device. Each checks shapes, dtypes
// and contexts and runs the CPU or CUDA twin of kernels/flowirn.h, kernels/irn.h,
// kernels/irn_displacement.h, kernels/components.h or kernels/crf.h; none records autograd
// (the outputs never require grad). Floating inputs are f32 (f64 also accepted on the CPU);
// scratch comes from the context's allocator.
//
// Results that size later work (the instance count, the instance list) are read back to the
// host, which synchronises a CUDA stream; the others stay on the device.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/tensor.h"
#include "kernels/crf.h"
#include "kernels/irn.h"
#include "kernels/irn_displacement.h"

namespace wsvis::ops {

// ---- flowIRN: f-CAM and flow gradient ----------------------------------------------------------

// flow (N, 2, H, W) (u, v) -> (N, H, W) = ||F||_2 per pixel.
Tensor flow_magnitude(const Tensor& flow);

// (1) = the k-th smallest (0-based) of all elements of values (any shape, n >= 1, no NaN),
// on values' device (no host synchronisation on CUDA).
Tensor select_kth(const Tensor& values, int64_t k);

// (1) = numpy.percentile(values, 100 q, method="lower"): the element of rank
// floor(q (n - 1)) (flowirn_math::percentile_rank). q in [0, 1].
Tensor percentile(const Tensor& values, double q);

// f-CAM: cams (N, C, H, W), magnitude (N, H, W), threshold (1) (e.g. percentile's output) on
// the same device -> (N, C, H, W), cams * amplification where magnitude > threshold, else cams.
Tensor fcam_amplify(const Tensor& cams, const Tensor& magnitude, const Tensor& threshold,
                    double amplification);

// flow (N, 2, H, W) -> F' (N, 4, H, W) = (du/dx, du/dy, dv/dx, dv/dy) * scale, forward
// differences, 0 across the last column / row (scale 1/4 on the stride-4 grid, spec section 7).
Tensor flow_gradient(const Tensor& flow, double scale);

// ---- IRN random walk and displacement grouping -------------------------------------------------

// IRN's random walk of one frame: boundary (1, 1, H, W) or (H, W) in [0, 1], seeds (C, H, W)
// -> (C, H, W) = x T^steps with x = seeds, times (1 - boundary) when mask_seeds (IRN: radius-5
// pair set, beta 10, 256 steps, mask_seeds true).
Tensor irn_random_walk(const Tensor& boundary, const Tensor& seeds, const kernels::IrnPairSet& set,
                       double beta, int steps, bool mask_seeds);

// disp (2, H, W) (dy, dx) in grid units, mean shift subtracted -> i32 (2, H, W) converged
// (row, column) of each pixel after `iterations` steps along disp (IRN: 300).
Tensor find_centroids(const Tensor& disp, int iterations = kernels::kIrnCentroidIterations);

struct CentroidClusters {
  Tensor instance_map;  // i32 (H, W), instance ids 0..count-1
  int64_t count = 0;    // read back to the host (it sizes the seeds)
};
// Groups pixels by the weak-displacement component ({||disp|| < threshold}, 4-connected) their
// centroid lands in, renumbered 0..count-1 (IRN's cluster_centroids + compress_range).
// centroids: find_centroids' output for disp.
CentroidClusters cluster_centroids(const Tensor& disp, const Tensor& centroids,
                                   double threshold = kernels::kIrnWeakDisplacementThreshold);

// cams (C, H, W), instance_map i32 (H, W) -> seeds (C*K, H, W), class-major:
// seeds[c*K + k] = cams[c] * [instance_map == k]. K >= 0 (cluster_centroids' count).
Tensor instance_seeds(const Tensor& cams, const Tensor& instance_map, int64_t K);

struct WalkLabels {
  Tensor labels;      // i32 (H, W): 0 background, c + 1 for channel c
  Tensor normalised;  // (C, H, W): the window divided by its global max
};
// IRN's labels after the walk: the top-left (H, W) window of rw (C, Hs, Ws) divided by its
// global max, a constant bg_threshold background channel in front, argmax (ties to the
// background, then the lower channel). IRN: bg_threshold 0.25.
WalkLabels irn_walk_labels(const Tensor& rw, int64_t H, int64_t W, double bg_threshold);

// One instance of IRN's detect_instance: a 4-connected component of one channel's label mask.
struct IrnInstance {
  int64_t channel = 0;         // c: the walk channel (class-major c_class * K + k for instances)
  int64_t component = 0;       // 1..K_c, raster order of its first pixel
  double score = 0;            // max of normalised[c] over the mask (0 when area is too small)
  int64_t area = 0;            // pixels
  std::vector<uint8_t> mask;   // (H, W) row-major 0/1 on the host (data/rle.h's rle_encode)
};
// IRN's detect_instance over every channel: irn_channel_masks, label_components (4-connected),
// irn_instance_scores. labels i32 (H, W) and normalised (C, H, W) from irn_walk_labels (on
// CUDA normalised must be >= 0, as walked CAMs are). Components smaller than
// min_area_fraction * H * W score 0 (IRN: 0.01); all components are returned, channel-major
// then component order; the caller drops low scores (IRN's export: score < 1e-5).
std::vector<IrnInstance> irn_instances(const Tensor& labels, const Tensor& normalised,
                                       double min_area_fraction = 0.01);

// ---- dense CRF ---------------------------------------------------------------------------------

// IRN's crf_inference_label: image u8 (H, W, 3) RGB, labels i32 (H, W) in [0, L), same context
// -> i32 (H, W), the argmax after params.iterations mean-field steps from pydensecrf's
// unary_from_labels(labels, L, params.gt_prob, zero_unsure=False).
Tensor dense_crf_labels(const Tensor& image, const Tensor& labels, int L,
                        const kernels::DenseCrfParams& params = {});

}  // namespace wsvis::ops
