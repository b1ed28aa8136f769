// Stage 1 of flowIRN + MaskConsist end to end: the steps in order, each skipped when its
// DONE marker exists and resumed when it was interrupted (pipeline/run_dir.h).
//   train-cam -> make-cams -> make-ir-labels -> train-irn -> make-pseudo-labels -> eval
#pragma once

#include <string>
#include <vector>

#include "engine/context.h"
#include "pipeline/run_dir.h"
#include "pipeline/stage1_config.h"

namespace wsvis::pipeline {

const std::vector<std::string>& stage1_steps();  // the names above, in order

// Runs `steps` (names from stage1_steps(), in any order: they run in pipeline order).
void run_stage1(const Stage1Config& config, const RunDir& run, const std::vector<std::string>& steps,
                const ContextPtr& ctx);

// The config as run: <run>/config.json is written on the first run; a later run of the same
// folder must bring the same config (else InputError naming both files), unless `force`.
void record_config(const RunDir& run, const std::string& dumped, const std::string& source, bool force);

// Device from the config's "device": auto = CUDA device `cuda_index` when a CUDA device is
// present (a data-parallel rank passes its local rank), else the CPU.
ContextPtr context_for(const std::string& device, int cuda_index = 0);

}  // namespace wsvis::pipeline
