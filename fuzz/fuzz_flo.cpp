// libFuzzer target: Middlebury .flo files (data/flow_io.h).
//
// read_flo must return or throw wsvis::Error. A flow that reads has the declared size, only
// finite values, and writes back (write_flo) to exactly the input bytes.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>

#include "data/file_util.h"
#include "data/flow_io.h"
#include "engine/error.h"
#include "fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace wsvis::data;
  wsvis::fuzz::ScratchFile in("in.flo");
  wsvis::fuzz::write_bytes(in.path(), data, size);
  Flow flow;
  try {
    flow = read_flo(in.path());
  } catch (const wsvis::Error&) {
    return 0;
  }
  FUZZ_CHECK(flow.width >= 1 && flow.height >= 1, "positive size");
  FUZZ_CHECK(flow.uv.size() == static_cast<size_t>(flow.width) * flow.height * 2, "uv size");
  FUZZ_CHECK(size == 12 + flow.uv.size() * sizeof(float), "file size matches the header");
  for (float x : flow.uv) FUZZ_CHECK(std::isfinite(x), "finite values only");

  wsvis::fuzz::ScratchFile out("out.flo");
  write_flo(out.path(), flow);
  const std::string back = read_file_bytes(out.path());
  FUZZ_CHECK(back.size() == size && std::memcmp(back.data(), data, size) == 0,
             "write_flo reproduces the bytes read");
  return 0;
}
