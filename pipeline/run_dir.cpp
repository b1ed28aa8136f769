#include "pipeline/run_dir.h"

#include <algorithm>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>

#include "data/file_util.h"
#include "engine/error.h"
#include "engine/log.h"

namespace wsvis::pipeline {

namespace fs = std::filesystem;

RunDir::RunDir(std::string root) : root_(std::move(root)) {
  log_file_ = (fs::path(root_) / "log.jsonl").string();
  std::error_code ec;
  fs::create_directories(root_, ec);
  if (ec || !fs::is_directory(root_))
    throw InputError(root_ + ": cannot create the run folder: " + ec.message());
}

std::string RunDir::path(const std::string& relative) const {
  const fs::path p = fs::path(root_) / relative;
  std::error_code ec;
  fs::create_directories(p.parent_path(), ec);
  if (ec) throw InputError(p.parent_path().string() + ": cannot create the folder: " + ec.message());
  return p.string();
}

bool RunDir::stage_done(const std::string& stage) const {
  return fs::is_regular_file(fs::path(root_) / stage / "DONE");
}

void RunDir::mark_done(const std::string& stage, const nlohmann::json& summary) const {
  if (!writes_) return;
  data::write_file_atomic(path(stage + "/DONE"), summary.dump(2) + "\n");
}

RunDir RunDir::nested(const std::string& name) const {
  RunDir inner((fs::path(root_) / name).string());
  inner.log_file_ = log_file_;
  inner.run_tag_ = run_tag_.empty() ? name : run_tag_ + "/" + name;
  inner.writes_ = writes_;
  return inner;
}

RunDir RunDir::reader() const {
  RunDir copy = *this;
  copy.writes_ = false;
  return copy;
}

nlohmann::json RunDir::done_summary(const std::string& stage) const {
  if (!stage_done(stage)) return nlohmann::json::object();
  const std::string file = (fs::path(root_) / stage / "DONE").string();
  try {
    return nlohmann::json::parse(data::read_file_bytes(file));
  } catch (const nlohmann::json::parse_error& e) {
    throw InputError(file + ": malformed stage marker: " + e.what());
  }
}

void RunDir::log(nlohmann::json record) const {
  if (!writes_) return;
  const std::time_t now = std::time(nullptr);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  record["time"] = stamp;
  if (!run_tag_.empty() && !record.contains("run")) record["run"] = run_tag_;
  // One write per line, appended: a crash leaves whole lines (the log is not a result file).
  std::ofstream out(log_file_, std::ios::app);
  out << record.dump() << "\n";
}

namespace {

std::string format_duration(double seconds) {
  if (!(seconds >= 0) || seconds > 1e7) return "?";
  const int64_t s = static_cast<int64_t>(seconds + 0.5);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", static_cast<long long>(s / 3600),
                  static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60));
  else
    std::snprintf(buf, sizeof buf, "%lld:%02lld", static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  return buf;
}

}  // namespace

Progress::Progress(std::string what, int64_t total, int64_t done)
    : what_(std::move(what)), total_(total), done_(done), start_done_(done),
      start_(std::chrono::steady_clock::now()), last_shown_(start_), last_shown_done_(done) {}

double Progress::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void Progress::advance(int64_t n, const std::string& detail) {
  done_ += n;
  const auto now = std::chrono::steady_clock::now();
  const double since = std::chrono::duration<double>(now - last_shown_).count();
  const bool tty = log::stderr_is_terminal();
  const bool tenth = total_ > 0 && (done_ - last_shown_done_) * 10 >= total_;
  if ((tty && since >= 0.2) || (!tty && (tenth || since >= 30))) show(false, detail);
}

void Progress::finish(const std::string& detail) {
  // Off a terminal, advance() has printed the last count already unless nothing moved.
  if (!log::stderr_is_terminal() && last_shown_done_ == done_ && done_ != start_done_) return;
  show(true, detail);
}

void Progress::show(bool final, const std::string& detail) {
  last_shown_ = std::chrono::steady_clock::now();
  last_shown_done_ = done_;
  const double elapsed = elapsed_seconds();
  const double rate = elapsed > 0 ? static_cast<double>(done_ - start_done_) / elapsed : 0;
  const double left = rate > 0 ? static_cast<double>(total_ - done_) / rate : -1;
  const int width = 24;
  const int filled = total_ > 0 ? static_cast<int>(width * std::min<int64_t>(done_, total_) / total_) : 0;
  std::string bar = "[" + std::string(static_cast<size_t>(filled), '#') +
                    std::string(static_cast<size_t>(width - filled), '.') + "]";
  char buf[256];
  std::snprintf(buf, sizeof buf, "%s %s %lld/%lld  %.2f/s  elapsed %s  left %s", what_.c_str(),
                bar.c_str(), static_cast<long long>(done_), static_cast<long long>(total_), rate,
                format_duration(elapsed).c_str(), final ? "0:00" : format_duration(left).c_str());
  log::status(detail.empty() ? std::string(buf) : std::string(buf) + "  " + detail, final);
}

namespace {
std::atomic<bool> g_interrupt{false};  // set from a signal handler: must be lock-free
extern "C" void on_signal(int) { g_interrupt.store(true); }
}  // namespace

void install_interrupt_handler() {
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
}
bool interrupt_requested() { return g_interrupt.load(); }
void request_interrupt() { g_interrupt.store(true); }
void clear_interrupt() { g_interrupt.store(false); }

void run_steps_in_order(const RunDir& run, const std::string& method,
                        const std::vector<std::string>& order, const std::vector<std::string>& wanted,
                        const std::function<void(const std::string& name)>& step) {
  for (const std::string& s : wanted)
    if (std::find(order.begin(), order.end(), s) == order.end()) {
      std::string valid;
      for (const std::string& o : order) valid += (valid.empty() ? "" : ", ") + o;
      throw InputError(method + ": unknown step '" + s + "' (steps: " + valid + ")");
    }
  for (const std::string& name : order) {
    if (std::find(wanted.begin(), wanted.end(), name) == wanted.end()) continue;
    const auto t0 = std::chrono::steady_clock::now();
    step(name);
    run.log({{"stage", name},
             {"event", "finished"},
             {"seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()}});
  }
}

}  // namespace wsvis::pipeline
