#include "engine/log.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include <unistd.h>

namespace wsvis::log {

namespace {

Level level_from_env() {
  const char* v = std::getenv("WSVIS_LOG_LEVEL");
  if (!v) return Level::info;
  if (!std::strcmp(v, "debug")) return Level::debug;
  if (!std::strcmp(v, "warn")) return Level::warn;
  if (!std::strcmp(v, "error")) return Level::error;
  return Level::info;
}

std::atomic<int>& current_level() {
  static std::atomic<int> level{static_cast<int>(level_from_env())};
  return level;
}

}  // namespace

Level threshold() { return static_cast<Level>(current_level().load(std::memory_order_relaxed)); }

void set_threshold(Level level) { current_level().store(static_cast<int>(level), std::memory_order_relaxed); }

bool level_set_by_environment() { return std::getenv("WSVIS_LOG_LEVEL") != nullptr; }

namespace {

std::mutex& stderr_mutex() {  // keeps lines from concurrent threads whole
  static std::mutex mutex;
  return mutex;
}
bool status_line_open = false;  // a progress line is on the terminal, not yet ended

}  // namespace

void write(Level level, const std::string& message) {
  static const char* const kTags[] = {"debug", "info", "warn", "error"};
  std::lock_guard<std::mutex> lock(stderr_mutex());
  if (status_line_open) std::fputc('\n', stderr);
  status_line_open = false;
  std::fprintf(stderr, "[wsvis %s] %s\n", kTags[static_cast<int>(level)], message.c_str());
}

bool stderr_is_terminal() {
  static const bool tty = isatty(fileno(stderr)) != 0;
  return tty;
}

void status(const std::string& line, bool final) {
  if (threshold() > Level::info) return;
  std::lock_guard<std::mutex> lock(stderr_mutex());
  if (stderr_is_terminal()) {
    // Redraw in place; clear the rest of the previous line.
    std::fprintf(stderr, "\r%s\033[K%s", line.c_str(), final ? "\n" : "");
    status_line_open = !final;
  } else {
    std::fprintf(stderr, "[wsvis info] %s\n", line.c_str());
  }
  std::fflush(stderr);
}

}  // namespace wsvis::log
