#include "apps/stage1_cmd.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "data/file_util.h"
#include "engine/error.h"
#include "pipeline/run_dir.h"
#include "pipeline/stage1.h"

namespace wsvis::apps {

int run_stage1_command(const std::vector<std::string>& args) {
  std::string config_path, run_path;
  std::vector<std::string> overrides, steps;
  bool force = false;
  for (size_t i = 0; i < args.size(); ++i) {
    auto value = [&](const char* flag) {
      if (i + 1 >= args.size()) throw InputError(std::string("stage1: ") + flag + " needs a value");
      return args[++i];
    };
    if (args[i] == "--config") config_path = value("--config");
    else if (args[i] == "--run") run_path = value("--run");
    else if (args[i] == "--set") overrides.push_back(value("--set"));
    else if (args[i] == "--force") force = true;
    else if (args[i] == "all") steps = pipeline::stage1_steps();
    else if (!args[i].empty() && args[i][0] != '-') steps.push_back(args[i]);
    else throw InputError("stage1: unknown option '" + args[i] + "'");
  }
  if (config_path.empty() || run_path.empty())
    throw InputError("stage1: --config FILE and --run DIR are required");
  if (steps.empty()) steps = pipeline::stage1_steps();

  std::string dumped;
  const pipeline::Stage1Config config = pipeline::read_stage1_config(config_path, overrides, &dumped);
  const pipeline::RunDir run(run_path);
  pipeline::record_config(run, dumped, config_path, force);
  pipeline::install_interrupt_handler();
  try {
    pipeline::run_stage1(config, run, steps, pipeline::context_for(config.device));
  } catch (const pipeline::Interrupted& e) {
    std::fprintf(stderr, "wsvis stage1: %s\n", e.what());
    return 130;
  }
  const std::string metrics = run.root() + "/metrics.json";
  if (std::find(steps.begin(), steps.end(), "eval") != steps.end() && std::filesystem::exists(metrics))
    std::printf("%s", data::read_file_bytes(metrics).c_str());
  return 0;
}

}  // namespace wsvis::apps
