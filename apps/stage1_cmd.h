// `wsvis stage1`: stage 1 of flowIRN + MaskConsist (pipeline/stage1.h) in a run folder.
//
//   wsvis stage1 --config FILE --run DIR [STEP ...] [--set key=value ...] [--force]
//
// STEP: train-cam, make-cams, make-ir-labels, train-irn, make-pseudo-labels, eval, or all (the
// default). Steps already done in DIR are skipped; an interrupted one resumes (Ctrl-C or
// SIGTERM saves a checkpoint and exits with status 130). --set overrides a config key
// ("--set cam.batch=8"); the config as run is kept in DIR/config.json and a later run of the
// same folder must bring the same config unless --force. Prints metrics.json after eval.
#pragma once

#include <string>
#include <vector>

namespace wsvis::apps {

int run_stage1_command(const std::vector<std::string>& args);

}  // namespace wsvis::apps
