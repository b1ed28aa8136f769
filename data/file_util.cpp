#include "data/file_util.h"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "engine/error.h"

namespace wsvis::data {

std::string read_file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    throw InputError(path + ": cannot open (" + std::strerror(err) + ")");
  }
  std::ostringstream os;
  os << in.rdbuf();
  if (in.bad()) throw InputError(path + ": read error");
  return os.str();
}

bool file_exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

void write_file_atomic(const std::string& path, const void* data, size_t size) {
  // A unique temporary name in the target's directory (rename is atomic only within one
  // file system): "<path>.tmp.<pid>.<counter>".
  static std::atomic<unsigned> counter{0};
  std::ostringstream tmp_name;
  tmp_name << path << ".tmp." << ::getpid() << "." << counter++;
  const std::string tmp = tmp_name.str();
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) {
    const int err = errno;
    throw InputError(path + ": cannot write (" + std::strerror(err) + ")");
  }
  const bool wrote = size == 0 || std::fwrite(data, 1, size, f) == size;
  const int write_err = errno;
  const bool flushed = std::fflush(f) == 0 && ::fsync(::fileno(f)) == 0;
  const bool closed = std::fclose(f) == 0;
  if (!wrote || !flushed || !closed) {
    std::remove(tmp.c_str());
    throw InputError(path + ": write failed (" + std::strerror(write_err ? write_err : errno) + ")");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    std::remove(tmp.c_str());
    throw InputError(path + ": cannot rename the temporary file into place (" +
                     std::strerror(err) + ")");
  }
}

void write_file_atomic(const std::string& path, const std::string& bytes) {
  write_file_atomic(path, bytes.data(), bytes.size());
}

}  // namespace wsvis::data
