// Locating the shared test data (/work/shared/data, see its README) and scratch files for the
// data-layer tests. The data folder is found through, in order: $WSVIS_TEST_DATA, a
// `shared/data` folder beside or above the repository (derived from this file's path, or
// the working directory), and /work/shared/data. Tests that need it GTEST_SKIP with the
// reason when it is absent (e.g. on a machine that has only the repository).
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace wsvis::testing {

inline bool dir_exists(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

inline std::string shared_data_dir() {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("WSVIS_TEST_DATA")) candidates.push_back(env);
  std::string here = __FILE__;  // <repo>/tests/data/data_paths.h when compiled by absolute path
  for (int up = 0; up < 3; ++up) {
    const size_t slash = here.find_last_of('/');
    here = slash == std::string::npos ? "." : here.substr(0, slash);
  }
  for (const std::string& base : {here, std::string("."), std::string(".."), std::string("../..")}) {
    candidates.push_back(base + "/shared/data");
    candidates.push_back(base + "/../shared/data");
  }
  candidates.push_back("/work/shared/data");
  for (const std::string& c : candidates)
    if (dir_exists(c + "/flow_sample") || dir_exists(c + "/coco_dummy")) return c;
  return "";
}

#define WSVIS_REQUIRE_SHARED_DATA(var)                                                      \
  const std::string var = ::wsvis::testing::shared_data_dir();                             \
  if (var.empty())                                                                          \
  GTEST_SKIP() << "shared test data not found (set WSVIS_TEST_DATA to the folder that "    \
                  "holds coco_dummy/, davis_car_shadow/, flow_sample/)"

// A fresh scratch directory for one test, removed with its files at destruction.
class ScratchDir {
 public:
  ScratchDir() {
    char tmpl[] = "/tmp/wsvis_data_test_XXXXXX";
    const char* p = ::mkdtemp(tmpl);
    path_ = p ? p : "";
  }
  ~ScratchDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  // Writes text/bytes to <dir>/<name> and returns the path.
  std::string write(const std::string& name, const std::string& bytes) const {
    std::ofstream out(file(name), std::ios::binary);
    out << bytes;
    return file(name);
  }
  // Names of the files in the directory (to check that no temporary file is left).
  std::vector<std::string> list() const {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(path_))
      names.push_back(entry.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }

 private:
  std::string path_;
};

inline std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

// EXPECT that `statement` throws InputError whose message contains every one of `parts`.
#define EXPECT_INPUT_ERROR(statement, ...)                                                 \
  do {                                                                                     \
    try {                                                                                  \
      statement;                                                                           \
      ADD_FAILURE() << "expected wsvis::InputError from " #statement;                      \
    } catch (const ::wsvis::InputError& e) {                                               \
      const std::string msg = e.what();                                                    \
      for (const std::string& part : std::vector<std::string>{__VA_ARGS__})                \
        EXPECT_NE(msg.find(part), std::string::npos)                                       \
            << "message \"" << msg << "\" lacks \"" << part << "\"";                       \
    }                                                                                      \
  } while (0)

}  // namespace wsvis::testing
