// `wsvis run CONFIG.json [--run DIR] [--set key=value ...] [--force]`: every stage of the
// config's method(s) in one run folder (pipeline/run_pipeline.h), then the metric tables on
// stdout and <run>/report.html. DIR defaults to runs/<config file's stem>. Running the same
// command again skips what is finished and resumes what was interrupted; Ctrl-C / SIGTERM
// saves the training checkpoint and exits with status 130. A run folder made with another
// config is refused unless --force.
#pragma once

#include <string>
#include <vector>

namespace wsvis::apps {

int run_run_command(const std::vector<std::string>& args);

}  // namespace wsvis::apps
