// A run folder (DESIGN.md, last section): one folder per run holding the config as run, each
// stage's checkpoints and outputs in a sub-folder named after the stage, a JSON-lines log,
// and a DONE marker per finished stage (a finished stage is not redone; an unfinished one
// resumes from what it left: its last training checkpoint, or the per-frame outputs already
// written, each of which was written atomically and is therefore complete).
//
// Progress: a status line with count, rate and time left (redrawn on a terminal, a plain line
// every ~10% or 30 s otherwise). Interrupts: install_interrupt_handler() turns SIGINT and
// SIGTERM into a flag that the loops poll (interrupt_requested()): a training loop then saves
// its checkpoint and throws Interrupted, which the CLI turns into exit status 130.
#pragma once

#include <chrono>
#include <functional>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace wsvis::pipeline {

class RunDir {
 public:
  explicit RunDir(std::string root);  // creates the folder
  const std::string& root() const { return root_; }
  // <root>/<relative>, creating its parent folders.
  std::string path(const std::string& relative) const;
  bool stage_done(const std::string& stage) const;
  // Writes <root>/<stage>/DONE (atomically) holding `summary`.
  void mark_done(const std::string& stage, const nlohmann::json& summary) const;
  nlohmann::json done_summary(const std::string& stage) const;  // {} when not done
  // Appends one line to <root>/log.jsonl with "time" (UTC, ISO 8601) added.
  void log(nlohmann::json record) const;
  // A run folder inside this one, <root>/<name> (a stage of `wsvis run`), whose log lines go
  // to this folder's log with "run": name added: one log for the whole run.
  RunDir nested(const std::string& name) const;
  // The same folder as seen by a data-parallel rank other than 0: it reads what rank 0
  // writes, and mark_done / log do nothing (rank 0 writes them once).
  RunDir reader() const;
  bool writes() const { return writes_; }

 private:
  std::string root_;
  bool writes_ = true;
  std::string log_file_;  // <root>/log.jsonl, or the enclosing run's
  std::string run_tag_;   // "" or the nested run's name
};

class Progress {
 public:
  // total: units of work; done: units already done before this run (a resume).
  Progress(std::string what, int64_t total, int64_t done = 0);
  // Adds n units; `detail` (e.g. the loss) is shown after the counters.
  void advance(int64_t n = 1, const std::string& detail = "");
  void finish(const std::string& detail = "");
  double elapsed_seconds() const;

 private:
  void show(bool final, const std::string& detail);
  std::string what_;
  int64_t total_, done_, start_done_;
  std::chrono::steady_clock::time_point start_, last_shown_;
  int64_t last_shown_done_ = 0;
};

// Runs the steps of `order` that are in `wanted`, in `order`'s order (an InputError, naming
// `method` and the valid steps, for a wanted step not in `order`); each finished step logs
// {"stage", "event": "finished", "seconds"} to the run's log. `step(name)` does the work.
void run_steps_in_order(const RunDir& run, const std::string& method,
                        const std::vector<std::string>& order, const std::vector<std::string>& wanted,
                        const std::function<void(const std::string& name)>& step);

struct Interrupted : std::runtime_error {
  using std::runtime_error::runtime_error;
};
void install_interrupt_handler();
bool interrupt_requested();
void request_interrupt();  // as if a signal had come (tests)
void clear_interrupt();

}  // namespace wsvis::pipeline
