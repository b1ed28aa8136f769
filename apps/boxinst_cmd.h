// `wsvis boxinst`: (motion-aided) BoxInst or CondInst (pipeline/boxinst_stage.h) in a run folder.
//
//   wsvis boxinst --config FILE --run DIR [STEP ...] [--set key=value ...] [--force]
//
// STEP: train, predict, eval, or all (the default); the rest as `wsvis stage1`
// (apps/step_args.h). Prints metrics.json after eval.
#pragma once

#include <string>
#include <vector>

namespace wsvis::apps {

int run_boxinst_command(const std::vector<std::string>& args);

}  // namespace wsvis::apps
