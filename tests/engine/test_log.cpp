// The log level: read from WSVIS_LOG_LEVEL once, replaceable for the rest of the process
// (a data-parallel rank other than 0 drops to warn).
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "engine/log.h"

namespace wsvis {
namespace {

// What log::info writes to stderr while `level` is the threshold.
std::string info_output_at(log::Level level) {
  const log::Level before = log::threshold();
  log::set_threshold(level);
  ::testing::internal::CaptureStderr();
  log::info("a line of rank ", 1);
  const std::string out = ::testing::internal::GetCapturedStderr();
  log::set_threshold(before);
  return out;
}

TEST(Log, SetThresholdSilencesInfoAndCanBeUndone) {
  const log::Level before = log::threshold();
  EXPECT_NE(info_output_at(log::Level::info).find("a line of rank 1"), std::string::npos);
  EXPECT_EQ(info_output_at(log::Level::warn), "");
  EXPECT_EQ(log::threshold(), before);
}

}  // namespace
}  // namespace wsvis
