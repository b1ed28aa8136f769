// What the commands that run a method's steps in a run folder (`wsvis stage1`, `wsvis boxinst`)
// share: their arguments
//
//   --config FILE --run DIR [STEP ...|all] [--set key=value ...] [--force]
//
// (no STEP: all of them), the run folder with the config as run recorded in it, the clean
// stop on Ctrl-C / SIGTERM (exit status 130, the checkpoint saved) and metrics.json printed
// after an eval step.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/context.h"
#include "engine/distributed.h"
#include "pipeline/run_dir.h"

namespace wsvis::apps {

struct StepArgs {
  std::string config_path, run_path;
  std::vector<std::string> overrides, steps;
  bool force = false;
};

// InputError (prefixed with `command`) for unknown options or missing --config / --run.
StepArgs parse_step_args(const std::string& command, const std::vector<std::string>& args,
                         const std::vector<std::string>& all_steps);

// This process's place in a data-parallel run (scripts/launch.sh N or mpirun -np N; one rank
// otherwise): the context on its device (CUDA device local_rank when the config's device
// allows CUDA) and, with several ranks, the communicator joining them.
struct Ranks {
  dist::DistEnv env;
  ContextPtr ctx;
  std::unique_ptr<dist::Communicator> comm;  // null for a single rank
  bool writer() const { return env.rank == 0; }
};
Ranks join_ranks(const std::string& device);
// InputError unless this process is the only rank: for commands whose steps do not run
// data-parallel.
void require_one_rank(const std::string& command);

// Records the dumped config in the run folder (pipeline::record_config), runs `steps` with
// the interrupt handler installed and prints <run>/metrics.json when "eval" ran. Returns the
// exit status: 0, or 130 when interrupted. A rank other than 0 (writer false) gets the
// folder as a RunDir::reader() and prints nothing.
int run_steps(const std::string& command, const StepArgs& args, const std::string& dumped_config,
              const std::function<void(const pipeline::RunDir&)>& steps, bool writer = true);

}  // namespace wsvis::apps
