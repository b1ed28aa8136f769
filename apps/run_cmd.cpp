#include "apps/run_cmd.h"

#include <cstdio>
#include <filesystem>

#include "apps/step_args.h"
#include "engine/distributed.h"
#include "engine/error.h"
#include "pipeline/run_pipeline.h"
#include "pipeline/run_tables.h"
#include "pipeline/stage1.h"

namespace wsvis::apps {

int run_run_command(const std::vector<std::string>& args) {
  StepArgs a;
  for (size_t i = 0; i < args.size(); ++i) {
    auto value = [&](const char* flag) {
      if (i + 1 >= args.size()) throw InputError(std::string("run: ") + flag + " needs a value");
      return args[++i];
    };
    if (args[i] == "--run") a.run_path = value("--run");
    else if (args[i] == "--set") a.overrides.push_back(value("--set"));
    else if (args[i] == "--force") a.force = true;
    else if (!args[i].empty() && args[i][0] != '-' && a.config_path.empty()) a.config_path = args[i];
    else throw InputError("run: unexpected argument '" + args[i] + "' (usage: wsvis run CONFIG.json [--run DIR] "
                          "[--set key=value ...] [--force])");
  }
  if (a.config_path.empty()) throw InputError("run: CONFIG.json is required");
  if (a.run_path.empty()) a.run_path = "runs/" + std::filesystem::path(a.config_path).stem().string();

  // The pipeline runs in one process: several ranks would each run every stage into the same
  // folder. Data-parallel training is in the stage commands `wsvis maskrcnn` / `wsvis boxinst`.
  require_one_rank("run");

  std::string dumped;
  const pipeline::RunConfig config = pipeline::read_run_config_file(a.config_path, a.overrides, &dumped);
  const int status = run_steps("run", a, dumped, [&](const pipeline::RunDir& run) {
    pipeline::run_pipeline(config, run, pipeline::context_for(config.device));
  });
  if (status != 0) return status;
  std::printf("\n%s", pipeline::tables_as_text(pipeline::metric_tables(
                          pipeline::collect_metrics(pipeline::RunDir(a.run_path)), config)).c_str());
  std::printf("report: %s/report.html\n", a.run_path.c_str());
  return 0;
}

}  // namespace wsvis::apps
