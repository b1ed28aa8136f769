// The strict config reader: every mistake a user makes in a config is an InputError naming the
// file and the key; --set overrides go through the same checks; the dump reads back.
#include <gtest/gtest.h>

#include <filesystem>

#include "engine/error.h"
#include "pipeline/config_schema.h"
#include "pipeline/stage1_config.h"

namespace wsvis::pipeline {
namespace {

struct Small {
  int batch = 16;
  double lr = 0.1;
  bool flag = false;
  std::string norm = "fixed";
  std::string root;
  std::vector<int> sizes{1, 2};
};

ConfigSchema schema_for(Small& s) {
  ConfigSchema c;
  c.integer("train.batch", &s.batch, 1);
  c.number("train.lr", &s.lr, 0.0);
  c.boolean("flag", &s.flag);
  c.choice("model.norm", &s.norm, {"fixed", "batch"});
  c.path("data.root", &s.root, PathKind::directory);
  c.integers("train.sizes", &s.sizes, 2, 2);
  return c;
}

std::string error_of(const std::string& text, const std::vector<std::string>& overrides = {}) {
  Small s;
  ConfigSchema c = schema_for(s);
  try {
    c.read(text, "cfg.json", overrides);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(ConfigSchema, BindsNestedKeysAndKeepsDefaults) {
  Small s;
  ConfigSchema c = schema_for(s);
  c.read(R"({"train": {"batch": 8}, "flag": true})", "cfg.json");
  EXPECT_EQ(s.batch, 8);
  EXPECT_TRUE(s.flag);
  EXPECT_DOUBLE_EQ(s.lr, 0.1);
  EXPECT_EQ(s.norm, "fixed");
}

TEST(ConfigSchema, RejectsUnknownKeysWrongTypesAndRanges) {
  EXPECT_NE(error_of(R"({"train": {"bach": 8}})").find("cfg.json: train.bach is not a config key"), std::string::npos);
  EXPECT_NE(error_of(R"({"train": {"batch": "8"}})").find("train.batch must be an integer, got string"), std::string::npos);
  EXPECT_NE(error_of(R"({"train": {"batch": 0}})").find("train.batch must be in [1,"), std::string::npos);
  EXPECT_NE(error_of(R"({"train": {"batch": 2.5}})").find("must be an integer"), std::string::npos);
  EXPECT_NE(error_of(R"({"train": 3})").find("train must be an object"), std::string::npos);
  EXPECT_NE(error_of(R"({"model": {"norm": "group"}})").find("must be one of fixed, batch"), std::string::npos);
  EXPECT_NE(error_of(R"({"flag": 1})").find("flag must be true or false"), std::string::npos);
  EXPECT_NE(error_of(R"({"train": {"sizes": [1]}})").find("must have 2..2 entries"), std::string::npos);
  EXPECT_NE(error_of(R"({"data": {"root": "/no/such/folder"}})").find("names a folder that does not exist"), std::string::npos);
  EXPECT_NE(error_of(R"({"train": )").find("cfg.json: malformed JSON"), std::string::npos);
  EXPECT_NE(error_of(R"([1, 2])").find("must hold a JSON object"), std::string::npos);
}

TEST(ConfigSchema, OverridesAreCheckedLikeTheFile) {
  Small s;
  ConfigSchema c = schema_for(s);
  c.read(R"({"train": {"batch": 8}})", "cfg.json", {"train.batch=4", "train.lr=0.5", "model.norm=batch"});
  EXPECT_EQ(s.batch, 4);
  EXPECT_DOUBLE_EQ(s.lr, 0.5);
  EXPECT_EQ(s.norm, "batch");  // a bare word is taken as a string
  EXPECT_NE(error_of("{}", {"train.bach=4"}).find("--set train.bach: not a config key"), std::string::npos);
  EXPECT_NE(error_of("{}", {"train.batch=x"}).find("train.batch must be an integer"), std::string::npos);
  EXPECT_NE(error_of("{}", {"train.batch"}).find("expected key=value"), std::string::npos);
}

TEST(ConfigSchema, RequiredKeysAndCrossChecks) {
  Small s;
  ConfigSchema c = schema_for(s);
  c.require("data.root");
  c.check([&] { return s.batch > 100 ? std::string("batch too large") : std::string(); });
  try {
    c.read("{}", "cfg.json");
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("data.root is required and missing"), std::string::npos);
  }
  const std::string tmp = std::filesystem::temp_directory_path().string();
  Small s2;
  ConfigSchema c2 = schema_for(s2);
  c2.check([&] { return s2.batch > 100 ? std::string("batch too large") : std::string(); });
  EXPECT_THROW(c2.read(R"({"train": {"batch": 200}})", "cfg.json"), InputError);
}

TEST(ConfigSchema, RelativePathsResolveAgainstTheConfigFolder) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / "wsvis_cfg_test/sub";
  std::filesystem::create_directories(dir);
  Small s;
  ConfigSchema c = schema_for(s);
  c.read(R"({"data": {"root": "sub"}})", (dir.parent_path() / "cfg.json").string());
  EXPECT_EQ(s.root, dir.string());
}

TEST(ConfigSchema, DumpReadsBackToTheSameValues) {
  Small s;
  ConfigSchema c = schema_for(s);
  c.read(R"({"train": {"batch": 8, "sizes": [3, 4]}, "flag": true})", "cfg.json");
  Small t;
  ConfigSchema d = schema_for(t);
  d.read(c.dump(), "dump.json");
  EXPECT_EQ(t.batch, 8);
  EXPECT_EQ(t.sizes, (std::vector<int>{3, 4}));
  EXPECT_TRUE(t.flag);
  EXPECT_EQ(d.dump(), c.dump());
}

// Every config in configs/ is read by tests/pipeline/test_run_pipeline.cpp (Configs.*).

}  // namespace
}  // namespace wsvis::pipeline
