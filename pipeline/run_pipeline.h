// `wsvis run` (apps/run_cmd.h): a method's stages in order in one run folder (DESIGN.md, last
// section). Each stage is a run folder of its own inside the run, made by the same code as
// `wsvis stage1` / `wsvis maskrcnn` / `wsvis boxinst`, so it can be inspected or rerun alone:
//
//   stage              what                                            folder
//   data               the synthetic sets (synth.enabled)              <run>/data/{train,val}
//   stage1             flowIRN: CAMs, IR labels, IRN, pseudo-labels     <run>/stage1/
//   baseline_irn       IRN (shares stage1's CAM network and CAMs)       <run>/baseline_irn/
//   stage2             Mask R-CNN + MaskConsist (+ self-training),      <run>/stage2/
//                      tracker, frame and video eval
//   baseline_maskrcnn  Mask R-CNN on stage1's pseudo-labels             <run>/baseline_maskrcnn/
//   boxinst            motion-aided BoxInst                             <run>/boxinst/
//   baseline_boxinst   BoxInst                                          <run>/baseline_boxinst/
//   metrics            every stage's metrics.json under its name        <run>/metrics.json
//   report             tables, loss curves, overlays, flow, tracks      <run>/report.html
//
// (flowIRN stages for method flowirn_maskconsist, BoxInst stages for motion_boxinst, both
// for "both"; baselines when `baselines`.) The whole run logs to <run>/log.jsonl, each line
// tagged with its stage's folder ("run"). A finished stage is skipped (its DONE markers); an
// interrupted one resumes from its last checkpoint; Ctrl-C / SIGTERM saves and throws
// Interrupted, as in the stage commands.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/context.h"
#include "pipeline/run_config.h"
#include "pipeline/run_dir.h"

namespace wsvis::pipeline {

// The stages `config` runs, in order (names above).
std::vector<std::string> run_stages(const RunConfig& config);

// Runs every stage of `config` in `run` (the config as run is recorded by the caller).
void run_pipeline(RunConfig config, const RunDir& run, const ContextPtr& ctx);

// {"<stage>": <run>/<stage>/metrics.json, ...} for the stages that have one.
nlohmann::json collect_metrics(const RunDir& run);

}  // namespace wsvis::pipeline
