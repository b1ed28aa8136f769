// flowIRN's flow-amplified CAMs (seed paper section 3.1; spec irn_flowirn_maskconsist.md
// section 7): f-CAM_c(x) = CAM_c(x) * A where ||F(x)|| > T, else CAM_c(x), T the
// flowirn.percentile-th percentile of the flow magnitude over the whole dataset.
// [UNPINNED, our choices, as the spec suggests]: F is the flow from frame t to t+1 (t to t-1
// for a video's last frame); it is applied to the high-resolution CAMs at image resolution
// (for the IR labels) and to the stride-4 CAMs with the magnitude resized bilinearly to the
// stride-4 grid (for the random-walk seeds); each class is re-normalised to max 1 afterwards,
// so the background thresholds (0.30 / 0.05 / 0.25) keep their meaning.
#pragma once

#include "engine/tensor.h"
#include "pipeline/run_dir.h"
#include "pipeline/stage1_config.h"
#include "pipeline/stage1_data.h"

namespace wsvis::pipeline {

// Above this many magnitudes the dataset percentile samples every k-th pixel (k the smallest
// stride that fits), so that the exact selection stays within 256 MB.
constexpr int64_t kMaxPercentileSamples = int64_t(1) << 26;

// T for the dataset, computed once and kept in <run>/flow_threshold.json.
double flow_threshold(const Stage1Config& config, const Stage1Data& data, const RunDir& run);

// ||F|| of the frame's motion flow, (h, w) on ctx: at image resolution, or resized
// (bilinear, align_corners false) to (h, w).
Tensor motion_magnitude(const Stage1Data& data, const FrameRef& frame, int64_t h, int64_t w,
                        const ContextPtr& ctx);

// cams (C, h, w) amplified where magnitude (h, w) > threshold, then each class / (max + 1e-5).
Tensor flow_amplified_cams(const Tensor& cams, const Tensor& magnitude, double threshold,
                           double amplification);

}  // namespace wsvis::pipeline
