// Shared by the libFuzzer targets: the readers under test take file paths, so each input is
// written to a per-process scratch file first (cheap at the sizes fuzzed here; the data layer
// has no parse-from-memory entry point). A target calls the reader and catches wsvis::Error
// (InputError included): that is the correct answer to bad input. Anything else escapes to
// libFuzzer and is a finding: a sanitizer report, an uncaught exception of another type
// (std::bad_alloc from absurd sizes, nlohmann::json::type_error, ...), a timeout.
// FUZZ_CHECK is for invariants on inputs the reader accepted (round trips).
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/error.h"

namespace wsvis::fuzz {

// A path in $TMPDIR (default /dev/shm when present, else /tmp) unique to this process, so
// parallel fuzzing jobs (-jobs, -fork) do not overwrite each other's inputs.
inline std::string scratch_path(const char* tag) {
  const char* dir = std::getenv("TMPDIR");
  std::string base = dir && *dir ? dir : (access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
  return base + "/wsvis_fuzz_" + std::to_string(getpid()) + "_" + tag;
}

// Writes exactly these bytes to `path`; aborts when it cannot (a broken harness, not a finding
// in the code under test, but it must not pass silently).
inline void write_bytes(const std::string& path, const uint8_t* data, size_t size) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f || (size && std::fwrite(data, 1, size, f) != size) || std::fclose(f) != 0) {
    std::fprintf(stderr, "fuzz harness: cannot write %s\n", path.c_str());
    std::abort();
  }
}

inline void write_bytes(const std::string& path, const std::string& bytes) {
  write_bytes(path, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

// The scratch files are removed when the process exits normally.
class ScratchFile {
 public:
  explicit ScratchFile(const char* tag) : path_(scratch_path(tag)) {}
  ~ScratchFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Runs one reader: returning or throwing wsvis::Error is correct; anything else propagates
// (libFuzzer reports an uncaught exception as a finding).
template <typename Reader>
void run_reader(const uint8_t* /*data*/, size_t /*size*/, Reader&& reader) {
  try {
    reader();
  } catch (const wsvis::Error&) {
  }
}

}  // namespace wsvis::fuzz

#define FUZZ_CHECK(cond, what)                                                          \
  do {                                                                                  \
    if (!(cond)) {                                                                      \
      std::fprintf(stderr, "fuzz invariant failed at %s:%d: %s (%s)\n", __FILE__, __LINE__, \
                   #cond, what);                                                        \
      std::abort();                                                                     \
    }                                                                                   \
  } while (0)
