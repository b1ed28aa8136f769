#include "apps/step_args.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "data/file_util.h"
#include "engine/error.h"
#include "engine/log.h"
#include "pipeline/stage1.h"

namespace wsvis::apps {

StepArgs parse_step_args(const std::string& command, const std::vector<std::string>& args,
                         const std::vector<std::string>& all_steps) {
  StepArgs out;
  for (size_t i = 0; i < args.size(); ++i) {
    auto value = [&](const char* flag) {
      if (i + 1 >= args.size()) throw InputError(command + ": " + flag + " needs a value");
      return args[++i];
    };
    if (args[i] == "--config") out.config_path = value("--config");
    else if (args[i] == "--run") out.run_path = value("--run");
    else if (args[i] == "--set") out.overrides.push_back(value("--set"));
    else if (args[i] == "--force") out.force = true;
    else if (args[i] == "all") out.steps = all_steps;
    else if (!args[i].empty() && args[i][0] != '-') out.steps.push_back(args[i]);
    else throw InputError(command + ": unknown option '" + args[i] + "'");
  }
  if (out.config_path.empty() || out.run_path.empty())
    throw InputError(command + ": --config FILE and --run DIR are required");
  if (out.steps.empty()) out.steps = all_steps;
  return out;
}

Ranks join_ranks(const std::string& device) {
  Ranks r;
  r.env = dist::dist_env_from_process();
  // Rank 0 reports; the others say only what goes wrong, unless WSVIS_LOG_LEVEL asks for more.
  if (r.env.rank > 0 && !log::level_set_by_environment()) log::set_threshold(log::Level::warn);
  r.ctx = pipeline::context_for(device, r.env.local_rank);
  if (r.env.world_size > 1) r.comm = std::make_unique<dist::Communicator>(r.env, r.ctx);
  return r;
}

void require_one_rank(const std::string& command) {
  const dist::DistEnv env = dist::dist_env_from_process();
  if (env.world_size > 1)
    throw InputError(command + ": started as rank " + std::to_string(env.rank) + " of " +
                     std::to_string(env.world_size) + "; its steps run in one process (data-parallel "
                     "training is in `wsvis maskrcnn` and `wsvis boxinst`): start it once, without "
                     "launch.sh / mpirun");
}

int run_steps(const std::string& command, const StepArgs& args, const std::string& dumped_config,
              const std::function<void(const pipeline::RunDir&)>& steps, bool writer) {
  const pipeline::RunDir run = writer ? pipeline::RunDir(args.run_path) : pipeline::RunDir(args.run_path).reader();
  pipeline::record_config(run, dumped_config, args.config_path, args.force);
  pipeline::install_interrupt_handler();
  try {
    steps(run);
  } catch (const pipeline::Interrupted& e) {
    std::fprintf(stderr, "wsvis %s: %s\n", command.c_str(), e.what());
    return 130;
  }
  const std::string metrics = run.root() + "/metrics.json";
  if (writer && std::find(args.steps.begin(), args.steps.end(), "eval") != args.steps.end() &&
      std::filesystem::exists(metrics))
    std::printf("%s", data::read_file_bytes(metrics).c_str());
  return 0;
}

}  // namespace wsvis::apps
