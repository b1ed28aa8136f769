#include "apps/stage1_cmd.h"

#include "apps/step_args.h"
#include "pipeline/stage1.h"

namespace wsvis::apps {

int run_stage1_command(const std::vector<std::string>& args) {
  const StepArgs a = parse_step_args("stage1", args, pipeline::stage1_steps());
  require_one_rank("stage1");
  std::string dumped;
  const pipeline::Stage1Config config = pipeline::read_stage1_config(a.config_path, a.overrides, &dumped);
  return run_steps("stage1", a, dumped, [&](const pipeline::RunDir& run) {
    pipeline::run_stage1(config, run, a.steps, pipeline::context_for(config.device));
  });
}

}  // namespace wsvis::apps
