#include "apps/boxinst_cmd.h"

#include "apps/step_args.h"
#include "pipeline/boxinst_stage.h"
#include "pipeline/stage1.h"

namespace wsvis::apps {

int run_boxinst_command(const std::vector<std::string>& args) {
  const StepArgs a = parse_step_args("boxinst", args, pipeline::boxinst_steps());
  std::string dumped;
  const pipeline::BoxInstConfig config = pipeline::read_boxinst_config(a.config_path, a.overrides, &dumped);
  // One rank, or one of several started by scripts/launch.sh / mpirun: then the training
  // steps are data-parallel and rank 0 does the rest.
  const Ranks ranks = join_ranks(config.device);
  return run_steps("boxinst", a, dumped, [&](const pipeline::RunDir& run) {
    pipeline::run_boxinst(config, run, a.steps, ranks.ctx, ranks.comm.get());
  }, ranks.writer());
}

}  // namespace wsvis::apps
