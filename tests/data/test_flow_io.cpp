// Middlebury .flo files: the two real samples (exact values from the data README), write/read
// round trips, and one test per kind of bad file.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "data/flow_io.h"
#include "engine/error.h"
#include "tests/data/data_paths.h"

namespace wsvis::data {
namespace {

using testing::ScratchDir;

// Header + payload bytes of a .flo file.
std::string flo_bytes(float magic, int32_t w, int32_t h, const std::vector<float>& uv) {
  std::string s(12 + uv.size() * 4, '\0');
  std::memcpy(&s[0], &magic, 4);
  std::memcpy(&s[4], &w, 4);
  std::memcpy(&s[8], &h, 4);
  if (!uv.empty()) std::memcpy(&s[12], uv.data(), uv.size() * 4);
  return s;
}

TEST(FlowIo, FlyingChairsCrop) {
  WSVIS_REQUIRE_SHARED_DATA(data);
  const Flow f = read_flo(data + "/flow_sample/flyingchairs_00001_crop/00001_flow.flo");
  ASSERT_EQ(f.width, 50);
  ASSERT_EQ(f.height, 50);
  ASSERT_EQ(f.uv.size(), 50u * 50u * 2u);
  EXPECT_FLOAT_EQ(f.u(0, 0), -8.693273544311523f);
  EXPECT_FLOAT_EQ(f.v(0, 0), -7.0224833488464355f);
  EXPECT_FLOAT_EQ(f.u(10, 20), 0.5866437554359436f);
  EXPECT_FLOAT_EQ(f.v(10, 20), -1.3817839622497559f);
  EXPECT_FLOAT_EQ(f.u(49, 49), 0.49027979373931885f);
  EXPECT_FLOAT_EQ(f.v(49, 49), -1.2153277397155762f);
  float umin = 1e9f, umax = -1e9f, vmin = 1e9f, vmax = -1e9f, mag = 0;
  for (int y = 0; y < 50; ++y)
    for (int x = 0; x < 50; ++x) {
      umin = std::min(umin, f.u(x, y));
      umax = std::max(umax, f.u(x, y));
      vmin = std::min(vmin, f.v(x, y));
      vmax = std::max(vmax, f.v(x, y));
      mag = std::max(mag, std::hypot(f.u(x, y), f.v(x, y)));
      EXPECT_FALSE(flow_is_unknown(f.u(x, y), f.v(x, y)));
    }
  EXPECT_NEAR(umin, -10.2704, 1e-4);
  EXPECT_NEAR(umax, 0.6829, 1e-4);
  EXPECT_NEAR(vmin, -7.7472, 1e-4);
  EXPECT_NEAR(vmax, -1.2153, 1e-4);
  EXPECT_NEAR(mag, 12.5148, 1e-4);
}

TEST(FlowIo, MiddleburyGrove3) {
  WSVIS_REQUIRE_SHARED_DATA(data);
  const Flow f = read_flo(data + "/flow_sample/middlebury_grove3/grove3.flo");
  ASSERT_EQ(f.width, 640);
  ASSERT_EQ(f.height, 480);
  EXPECT_FLOAT_EQ(f.u(0, 0), -2.220254898071289f);
  EXPECT_FLOAT_EQ(f.v(0, 0), -4.091193199157715f);
  EXPECT_FLOAT_EQ(f.u(320, 240), 1.9168013334274292f);
  EXPECT_FLOAT_EQ(f.v(320, 240), 0.11223204433917999f);
  EXPECT_FLOAT_EQ(f.u(639, 479), 6.669569969177246f);
  EXPECT_FLOAT_EQ(f.v(639, 479), 4.288275718688965f);
  double su = 0, sv = 0;
  for (int y = 0; y < f.height; ++y)
    for (int x = 0; x < f.width; ++x) {
      su += f.u(x, y);
      sv += f.v(x, y);
    }
  EXPECT_NEAR(su / (640 * 480), 2.275, 1e-3);
  EXPECT_NEAR(sv / (640 * 480), 0.511, 1e-3);
}

TEST(FlowIo, WriteReadRoundTripIsBitExactAndAtomic) {
  ScratchDir dir;
  Flow f(7, 3);
  for (size_t i = 0; i < f.uv.size(); ++i) f.uv[i] = static_cast<float>(std::sin(i * 0.7) * 40.0);
  f.u(6, 2) = 1e10f;  // Middlebury "unknown" survives the round trip
  const std::string path = dir.file("f.flo");
  write_flo(path, f);
  EXPECT_EQ(dir.list(), (std::vector<std::string>{"f.flo"}));
  EXPECT_EQ(testing::read_all(path).size(), 12u + 8u * 7u * 3u);
  EXPECT_EQ(testing::read_all(path).substr(0, 4), "PIEH");
  const Flow g = read_flo(path);
  EXPECT_EQ(g.width, 7);
  EXPECT_EQ(g.height, 3);
  EXPECT_EQ(std::memcmp(g.uv.data(), f.uv.data(), f.uv.size() * 4), 0);
  EXPECT_TRUE(flow_is_unknown(g.u(6, 2), g.v(6, 2)));
  EXPECT_FALSE(flow_is_unknown(g.u(0, 0), g.v(0, 0)));
}

TEST(FlowIo, RealFileRoundTrip) {
  WSVIS_REQUIRE_SHARED_DATA(data);
  const std::string src = data + "/flow_sample/flyingchairs_00001_crop/00001_flow.flo";
  ScratchDir dir;
  write_flo(dir.file("copy.flo"), read_flo(src));
  EXPECT_EQ(testing::read_all(dir.file("copy.flo")), testing::read_all(src));
}

TEST(FlowIoErrors, MissingFile) {
  EXPECT_INPUT_ERROR(read_flo("/no/such/flow.flo"), "/no/such/flow.flo", "cannot open");
}

TEST(FlowIoErrors, ShorterThanHeader) {
  ScratchDir dir;
  const std::string p = dir.write("short.flo", "PIEH");
  EXPECT_INPUT_ERROR(read_flo(p), p, "4 bytes, shorter than the 12-byte header");
}

TEST(FlowIoErrors, WrongMagic) {
  ScratchDir dir;
  const std::string p = dir.write("img.flo", "\x89PNG\r\n\x1a\n" + std::string(100, '\0'));
  EXPECT_INPUT_ERROR(read_flo(p), p, "not a .flo file: magic", "expected 202021.25");
  const std::string q = dir.write("m.flo", flo_bytes(202021.0f, 1, 1, {0, 0}));
  EXPECT_INPUT_ERROR(read_flo(q), q, "not a .flo file");
}

TEST(FlowIoErrors, AbsurdDimensions) {
  ScratchDir dir;
  EXPECT_INPUT_ERROR(read_flo(dir.write("a.flo", flo_bytes(kFloMagic, 0, 5, {}))),
                     "a.flo", "absurd flow dimensions 0x5");
  EXPECT_INPUT_ERROR(read_flo(dir.write("b.flo", flo_bytes(kFloMagic, 3, -2, {}))),
                     "b.flo", "absurd flow dimensions 3x-2");
  EXPECT_INPUT_ERROR(read_flo(dir.write("c.flo", flo_bytes(kFloMagic, 200000, 2, {}))),
                     "c.flo", "absurd flow dimensions 200000x2");
}

TEST(FlowIoErrors, Truncated) {
  ScratchDir dir;
  std::string bytes = flo_bytes(kFloMagic, 4, 3, std::vector<float>(24, 1.f));
  bytes.resize(bytes.size() - 5);
  const std::string p = dir.write("t.flo", bytes);
  EXPECT_INPUT_ERROR(read_flo(p), p, "truncated: a 4x3 flow needs 108 bytes, the file has 103");
}

TEST(FlowIoErrors, TrailingBytes) {
  ScratchDir dir;
  const std::string p = dir.write("x.flo", flo_bytes(kFloMagic, 2, 2, std::vector<float>(8, 1.f)) + "junk");
  EXPECT_INPUT_ERROR(read_flo(p), p, "4 unexpected trailing bytes");
}

TEST(FlowIoErrors, NaNNamesFirstPixel) {
  ScratchDir dir;
  std::vector<float> uv(4 * 3 * 2, 0.5f);
  uv[2 * (1 * 4 + 3) + 1] = std::numeric_limits<float>::quiet_NaN();  // (x=3, y=1), v
  uv[2 * (2 * 4 + 0)] = std::numeric_limits<float>::quiet_NaN();      // a later one
  const std::string p = dir.write("nan.flo", flo_bytes(kFloMagic, 4, 3, uv));
  EXPECT_INPUT_ERROR(read_flo(p), p, "NaN flow value at pixel (x=3, y=1), v component");
  std::vector<float> inf(2 * 2 * 2, 0.f);
  inf[0] = std::numeric_limits<float>::infinity();
  const std::string q = dir.write("inf.flo", flo_bytes(kFloMagic, 2, 2, inf));
  EXPECT_INPUT_ERROR(read_flo(q), q, "infinite flow value at pixel (x=0, y=0), u component");
}

TEST(FlowIoErrors, SizeMismatch) {
  Flow f(10, 6);
  EXPECT_NO_THROW(check_flow_size(f, 10, 6, "a.flo"));
  EXPECT_INPUT_ERROR(check_flow_size(f, 12, 6, "flows/a.flo"),
                     "flows/a.flo: flow is 10x6 (width x height) but the frame is 12x6");
}

TEST(FlowIoErrors, WriteFailures) {
  ScratchDir dir;
  Flow f(2, 2);
  EXPECT_INPUT_ERROR(write_flo(dir.file("none/f.flo"), f), dir.file("none/f.flo"), "cannot write");
  Flow broken(2, 2);
  broken.uv.pop_back();
  EXPECT_THROW(write_flo(dir.file("b.flo"), broken), Error);
  EXPECT_TRUE(dir.list().empty());
}

}  // namespace
}  // namespace wsvis::data
