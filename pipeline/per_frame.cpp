#include "pipeline/per_frame.h"

#include <filesystem>

#include "pipeline/run_dir.h"

namespace wsvis::pipeline {

nlohmann::json PerFrameStats::summary() const {
  return {{"frames", frames},
          {"computed", computed},
          {"seconds_per_frame", computed > 0 ? seconds / static_cast<double>(computed) : 0.0}};
}

PerFrameStats for_each_missing_output(
    const std::vector<FrameRef>& frames, const std::string& what,
    const std::function<std::string(const FrameRef&)>& output_path,
    const std::function<void(const FrameRef&, const std::string&)>& body) {
  std::vector<const FrameRef*> pending;
  for (const FrameRef& f : frames)
    if (!std::filesystem::exists(output_path(f))) pending.push_back(&f);
  PerFrameStats stats;
  stats.frames = static_cast<int64_t>(frames.size());
  Progress progress(what, stats.frames, stats.frames - static_cast<int64_t>(pending.size()));
  for (const FrameRef* f : pending) {
    if (interrupt_requested())
      throw Interrupted(what + ": interrupted; run the same command again to continue");
    body(*f, output_path(*f));
    ++stats.computed;
    progress.advance();
  }
  progress.finish();
  stats.seconds = progress.elapsed_seconds();
  return stats;
}

}  // namespace wsvis::pipeline
