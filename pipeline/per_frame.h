// The per-frame steps of stage 1 (CAMs, IR labels, pseudo-labels) write one file per frame,
// atomically; a frame whose file exists is done. This runs such a step over the frames that
// are not done yet, with progress, time left and a clean stop on an interrupt, and says what
// it cost (for the stage's DONE marker).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pipeline/stage1_data.h"

namespace wsvis::pipeline {

struct PerFrameStats {
  int64_t frames = 0;    // all frames
  int64_t computed = 0;  // frames done by this call (the others were done before)
  double seconds = 0;
  // {"frames", "seconds_per_frame"} for a DONE marker.
  nlohmann::json summary() const;
};

// body(frame, output_path) must write output_path (atomically) for the frame.
PerFrameStats for_each_missing_output(
    const std::vector<FrameRef>& frames, const std::string& what,
    const std::function<std::string(const FrameRef&)>& output_path,
    const std::function<void(const FrameRef&, const std::string&)>& body);

}  // namespace wsvis::pipeline
