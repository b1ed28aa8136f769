#include "apps/maskrcnn_cmd.h"

#include "apps/step_args.h"
#include "pipeline/maskrcnn_stage.h"
#include "pipeline/stage1.h"

namespace wsvis::apps {

int run_maskrcnn_command(const std::vector<std::string>& args) {
  const StepArgs a = parse_step_args("maskrcnn", args, pipeline::maskrcnn_steps());
  std::string dumped;
  const pipeline::MaskRcnnConfig config = pipeline::read_maskrcnn_config(a.config_path, a.overrides, &dumped);
  // One rank, or one of several started by scripts/launch.sh / mpirun: then the training
  // steps are data-parallel and rank 0 does the rest.
  const Ranks ranks = join_ranks(config.device);
  return run_steps("maskrcnn", a, dumped, [&](const pipeline::RunDir& run) {
    pipeline::run_maskrcnn(config, run, a.steps, ranks.ctx, ranks.comm.get());
  }, ranks.writer());
}

}  // namespace wsvis::apps
