#include "engine/log.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace wsvis::log {

Level threshold() {
  static const Level level = [] {
    const char* v = std::getenv("WSVIS_LOG_LEVEL");
    if (!v) return Level::info;
    if (!std::strcmp(v, "debug")) return Level::debug;
    if (!std::strcmp(v, "warn")) return Level::warn;
    if (!std::strcmp(v, "error")) return Level::error;
    return Level::info;
  }();
  return level;
}

void write(Level level, const std::string& message) {
  static std::mutex mutex;  // keeps lines from concurrent threads whole
  static const char* const kTags[] = {"debug", "info", "warn", "error"};
  std::lock_guard<std::mutex> lock(mutex);
  std::fprintf(stderr, "[wsvis %s] %s\n", kTags[static_cast<int>(level)], message.c_str());
}

}  // namespace wsvis::log
