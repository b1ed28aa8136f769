// libFuzzer target: COCO compressed RLE strings (data/rle.h).
//
// Input layout: byte 0 -> h (0..31), byte 1 -> w (0..31), the rest is the counts string.
// rle_counts_from_string and rle_from_string must return or throw wsvis::Error; counts that
// parse must survive rle_to_string -> rle_counts_from_string unchanged; rle_decode of the
// parsed counts (at h x w, and at 1 x sum / sum x 1 when the counts sum to at most 4096
// pixels, so that decoding also succeeds) must throw wsvis::Error or give a mask whose
// foreground count is rle_area, which re-encodes to the same mask.
#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

#include "data/rle.h"
#include "engine/error.h"
#include "fuzz/fuzz_common.h"

namespace {

using namespace wsvis::data;

void check_decode(const Rle& rle) {
  std::vector<uint8_t> mask;
  try {
    mask = rle_decode(rle);
  } catch (const wsvis::Error&) {
    return;  // counts that do not cover h*w
  }
  FUZZ_CHECK(mask.size() == static_cast<size_t>(rle.h) * static_cast<size_t>(rle.w), "mask size");
  int64_t ones = 0;
  for (uint8_t m : mask) {
    FUZZ_CHECK(m == 0 || m == 1, "decoded values are 0/1");
    ones += m;
  }
  FUZZ_CHECK(ones == rle_area(rle), "rle_area equals the decoded foreground");
  const Rle canonical = rle_encode(mask, rle.h, rle.w);
  FUZZ_CHECK(rle_decode(canonical) == mask, "encode(decode(rle)) decodes to the same mask");
  FUZZ_CHECK(rle_counts_from_string(rle_to_string(canonical)) == canonical.counts,
             "canonical counts survive the string form");
  const BoxXywh box = rle_to_bbox(rle);
  if (ones > 0)
    FUZZ_CHECK(box[0] >= 0 && box[1] >= 0 && box[0] + box[2] <= rle.w && box[1] + box[3] <= rle.h,
               "bbox inside the mask");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const int h = data[0] % 32;
  const int w = data[1] % 32;
  const std::string s(reinterpret_cast<const char*>(data + 2), size - 2);

  std::vector<uint32_t> counts;
  try {
    counts = rle_counts_from_string(s);
  } catch (const wsvis::Error&) {
    return 0;
  }
  FUZZ_CHECK(rle_counts_from_string(rle_to_string(counts)) == counts,
             "counts survive rle_to_string -> rle_counts_from_string");

  Rle rle;
  try {
    rle = rle_from_string(s, h, w);
  } catch (const wsvis::Error&) {
    FUZZ_CHECK(false, "rle_from_string rejects counts that rle_counts_from_string accepted");
  }
  FUZZ_CHECK(rle.h == h && rle.w == w && rle.counts == counts, "rle_from_string fields");
  check_decode(rle);

  const uint64_t sum = std::accumulate(counts.begin(), counts.end(), uint64_t{0});
  if (sum > 0 && sum <= 4096) {
    const int n = static_cast<int>(sum);
    check_decode(Rle{1, n, counts});
    check_decode(Rle{n, 1, counts});
  }
  return 0;
}
