// The one logging facility: nothing below apps/ writes to the terminal except through it.
// Level from WSVIS_LOG_LEVEL (debug, info, warn, error; default info). Lines go to stderr so
// that stdout stays free for results (tables, JSON) a caller may pipe.
#pragma once

#include <string>

#include "engine/error.h"

namespace wsvis::log {

enum class Level { debug = 0, info = 1, warn = 2, error = 3 };

Level threshold();
// Replaces the level for the rest of the process (a data-parallel rank other than 0 drops to
// warn, so the terminal shows each info line once).
void set_threshold(Level level);
bool level_set_by_environment();  // WSVIS_LOG_LEVEL is set
void write(Level level, const std::string& message);

// A status line (a progress bar): on a terminal it is redrawn in place until `final`; otherwise
// each call is one plain info line (callers throttle them). Shown at level info and below.
void status(const std::string& line, bool final);
bool stderr_is_terminal();

template <typename... Parts>
void debug(const Parts&... parts) {
  if (threshold() <= Level::debug) write(Level::debug, detail::concat(parts...));
}
template <typename... Parts>
void info(const Parts&... parts) {
  if (threshold() <= Level::info) write(Level::info, detail::concat(parts...));
}
template <typename... Parts>
void warn(const Parts&... parts) {
  if (threshold() <= Level::warn) write(Level::warn, detail::concat(parts...));
}
template <typename... Parts>
void error(const Parts&... parts) {
  write(Level::error, detail::concat(parts...));
}

}  // namespace wsvis::log
