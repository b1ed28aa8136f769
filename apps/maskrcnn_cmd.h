// `wsvis maskrcnn`: stage 2 of flowIRN + MaskConsist (pipeline/maskrcnn_stage.h) in a run folder.
//
//   wsvis maskrcnn --config FILE --run DIR [STEP ...] [--set key=value ...] [--force]
//
// STEP: train, self-label, train-2, predict, eval, or all (the default); the rest as `wsvis
// stage1` (apps/step_args.h). Prints metrics.json after eval.
#pragma once

#include <string>
#include <vector>

namespace wsvis::apps {

int run_maskrcnn_command(const std::vector<std::string>& args);

}  // namespace wsvis::apps
