#include "data/flow_io.h"

#include <cmath>
#include <cstring>
#include <sstream>

#include "data/file_util.h"
#include "engine/error.h"

namespace wsvis::data {

namespace {

static_assert(sizeof(float) == 4 && sizeof(int32_t) == 4, ".flo needs 32-bit float and int");

bool host_is_little_endian() {
  const uint32_t one = 1;
  uint8_t first;
  std::memcpy(&first, &one, 1);
  return first == 1;
}

[[noreturn]] void bad(const std::string& path, const std::string& what) {
  throw InputError(path + ": " + what);
}

}  // namespace

Flow read_flo(const std::string& path) {
  WSVIS_CHECK(host_is_little_endian(), "read_flo: big-endian hosts are not supported");
  const std::string bytes = read_file_bytes(path);
  if (bytes.size() < 12)
    bad(path, "not a .flo file: " + std::to_string(bytes.size()) +
                  " bytes, shorter than the 12-byte header");
  float magic;
  int32_t w, h;
  std::memcpy(&magic, bytes.data(), 4);
  std::memcpy(&w, bytes.data() + 4, 4);
  std::memcpy(&h, bytes.data() + 8, 4);
  if (magic != kFloMagic) {
    std::ostringstream os;
    os << "not a .flo file: magic is " << magic << " (bytes \"";
    for (int i = 0; i < 4; ++i) {
      const unsigned char c = static_cast<unsigned char>(bytes[i]);
      if (c >= 32 && c < 127)
        os << static_cast<char>(c);
      else
        os << "\\x" << std::hex << static_cast<int>(c) << std::dec;
    }
    os << "\"), expected 202021.25 (\"PIEH\")";
    bad(path, os.str());
  }
  if (w < 1 || h < 1 || w > kMaxFlowDim || h > kMaxFlowDim)
    bad(path, "absurd flow dimensions " + std::to_string(w) + "x" + std::to_string(h) +
                  " (each must be in 1.." + std::to_string(kMaxFlowDim) + ")");
  const uint64_t expected = 12 + 8ull * static_cast<uint64_t>(w) * static_cast<uint64_t>(h);
  if (bytes.size() < expected)
    bad(path, "truncated: a " + std::to_string(w) + "x" + std::to_string(h) + " flow needs " +
                  std::to_string(expected) + " bytes, the file has " + std::to_string(bytes.size()));
  if (bytes.size() > expected)
    bad(path, std::to_string(bytes.size() - expected) + " unexpected trailing bytes after the " +
                  std::to_string(w) + "x" + std::to_string(h) + " flow (" +
                  std::to_string(expected) + " bytes expected)");
  Flow flow(w, h);
  std::memcpy(flow.uv.data(), bytes.data() + 12, flow.uv.size() * sizeof(float));
  for (size_t i = 0; i < flow.uv.size(); ++i) {
    if (std::isfinite(flow.uv[i])) continue;
    const size_t pixel = i / 2;
    std::ostringstream os;
    os << (std::isnan(flow.uv[i]) ? "NaN" : "infinite") << " flow value at pixel (x="
       << pixel % static_cast<size_t>(w) << ", y=" << pixel / static_cast<size_t>(w) << "), "
       << (i % 2 == 0 ? "u" : "v") << " component (the first non-finite value)";
    bad(path, os.str());
  }
  return flow;
}

void write_flo(const std::string& path, const Flow& flow) {
  WSVIS_CHECK(host_is_little_endian(), "write_flo: big-endian hosts are not supported");
  WSVIS_CHECK(flow.width >= 1 && flow.height >= 1 && flow.width <= kMaxFlowDim &&
                  flow.height <= kMaxFlowDim,
              "write_flo: ", path, ": flow size ", flow.width, "x", flow.height, " is not writable");
  WSVIS_CHECK(flow.uv.size() == static_cast<size_t>(flow.width) * flow.height * 2, "write_flo: ",
              path, ": uv has ", flow.uv.size(), " values, expected ", flow.width, "x",
              flow.height, "x2");
  std::string bytes(12 + flow.uv.size() * sizeof(float), '\0');
  const float magic = kFloMagic;
  const int32_t w = flow.width, h = flow.height;
  std::memcpy(&bytes[0], &magic, 4);
  std::memcpy(&bytes[4], &w, 4);
  std::memcpy(&bytes[8], &h, 4);
  std::memcpy(&bytes[12], flow.uv.data(), flow.uv.size() * sizeof(float));
  write_file_atomic(path, bytes);
}

void check_flow_size(const Flow& flow, int expected_w, int expected_h, const std::string& path) {
  if (flow.width != expected_w || flow.height != expected_h)
    throw InputError(path + ": flow is " + std::to_string(flow.width) + "x" +
                     std::to_string(flow.height) + " (width x height) but the frame is " +
                     std::to_string(expected_w) + "x" + std::to_string(expected_h));
}

}  // namespace wsvis::data
