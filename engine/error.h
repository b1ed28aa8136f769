// wsvis::Error and the checking macros every layer uses.
//
// WSVIS_CHECK(cond, parts...) throws wsvis::Error("file:line: parts...") when cond is false;
// the parts are streamed, so messages name the offending values:
//   WSVIS_CHECK(a.dim() == 4, "conv2d: input must be (N, C, H, W), got ", a.shape_str());
// Bad user input uses wsvis::InputError (a subclass) so the CLI can exit with status 2.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace wsvis {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Bad input from the user's side: config, dataset JSON, image, flow file, checkpoint.
// The message names the file and the problem; the CLI prints it and exits with status 2.
class InputError : public Error {
 public:
  explicit InputError(const std::string& message) : Error(message) {}
};

namespace detail {
inline void stream_parts(std::ostringstream&) {}
template <typename T, typename... Rest>
void stream_parts(std::ostringstream& os, const T& first, const Rest&... rest) {
  os << first;
  stream_parts(os, rest...);
}
template <typename... Parts>
std::string concat(const Parts&... parts) {
  std::ostringstream os;
  stream_parts(os, parts...);
  return os.str();
}
template <typename... Parts>
[[noreturn]] void throw_error(const char* file, int line, const Parts&... parts) {
  throw Error(concat(file, ":", line, ": ", parts...));
}
}  // namespace detail

}  // namespace wsvis

#define WSVIS_CHECK(cond, ...)                                        \
  do {                                                                \
    if (!(cond)) ::wsvis::detail::throw_error(__FILE__, __LINE__, __VA_ARGS__); \
  } while (0)

#define WSVIS_FAIL(...) ::wsvis::detail::throw_error(__FILE__, __LINE__, __VA_ARGS__)
