// The BoxInst run end to end on a tiny synthetic set (3 videos x 3 frames, 64x64, ResNet-18,
// 32-wide FPN): train -> predict -> eval writes well-formed predictions and metrics (mask and
// box AP, and AP on the camouflaged instances alone); a run interrupted in training and run
// again ends with the same weights and metrics; configs are checked on load; the camouflaged
// subset is scored with the other instances ignored.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "data/coco.h"
#include "data/file_util.h"
#include "data/synth.h"
#include "engine/error.h"
#include "engine/safetensors.h"
#include "models/resnet.h"
#include "pipeline/boxinst_stage.h"
#include "pipeline/stage1.h"
#include "tests/support/testing.h"
#include "tests/pipeline/stage_testing.h"

namespace wsvis::pipeline {
namespace {

namespace fs = std::filesystem;

fs::path scratch(const std::string& name) { return testing::scratch_folder("boxinst", name); }

void write_data(const fs::path& dir) { testing::write_tiny_boxinst_set(dir); }

std::string config_text(const fs::path& dir, const std::string& variant) {
  return R"({
    "data": {"root": ")" + (dir / "data").string() + R"("},
    "val": {"root": ")" + (dir / "data").string() + R"("},
    "model": {"variant": ")" + variant + R"(", "depth": 18, "fpn_channels": 16, "head_convs": 1,
              "head_norm_groups": 4, "mask_branch_channels": 8, "mask_branch_convs": 1,
              "mask_channels": 4, "pairwise_warmup": 4, "bottom_pixels_removed": 0},
    "train": {"batch": 2, "steps": 6, "lr": 0.01, "warmup_iters": 2, "short_sizes": [64],
              "max_long": 0, "checkpoint_every": 2, "workers": 1},
    "test": {"short_size": 64, "max_long": 0, "score_threshold": 0.0},
    "device": "cpu", "seed": 2})";
}

BoxInstConfig write_config(const fs::path& dir, const std::string& variant) {
  const std::string path = (dir / (variant + ".json")).string();
  data::write_file_atomic(path, config_text(dir, variant));
  return read_boxinst_config(path, {});
}

std::string bytes(const fs::path& p) { return data::read_file_bytes(p.string()); }

TEST(BoxInstStage, MotionAidedRunsEndToEndAndResumesExactly) {
  const fs::path dir = scratch("e2e");
  write_data(dir);
  const BoxInstConfig config = write_config(dir, "motion_boxinst");
  const ContextPtr ctx = context_for("cpu");

  const RunDir a((dir / "a").string());
  run_boxinst(config, a, boxinst_steps(), ctx);
  EXPECT_TRUE(a.stage_done("boxinst"));
  EXPECT_TRUE(fs::exists(dir / "a/boxinst/model.safetensors"));
  EXPECT_FALSE(fs::exists(dir / "a/boxinst/last.safetensors"));
  const nlohmann::json train = a.done_summary("boxinst");
  EXPECT_EQ(train["steps"].get<int64_t>(), 6);
  EXPECT_TRUE(std::isfinite(train["last_loss"].get<double>()));

  // Predictions are COCO results on the val frames (score threshold 0: there are some).
  const data::CocoDataset frames = data::read_coco((dir / "a/val_frames.json").string());
  EXPECT_EQ(frames.images.size(), 9u);
  const auto results = data::read_coco_results((dir / "a/predictions.json").string(), &frames);
  EXPECT_GT(results.size(), 0u);
  for (const auto& r : results) {
    ASSERT_TRUE(r.segmentation && r.bbox);
    EXPECT_EQ(r.segmentation->h, 64);
    EXPECT_GE(r.score, 0.0);
  }
  const nlohmann::json m = nlohmann::json::parse(bytes(dir / "a/metrics.json"));
  for (const char* type : {"segm", "bbox"}) {
    const double ap = m[type]["AP"].get<double>();
    EXPECT_TRUE(ap >= 0 && ap <= 1) << type << " " << ap;
  }
  ASSERT_TRUE(m.contains("attributes"));
  EXPECT_GT(m["attributes"]["camouflaged"]["instances"].get<int64_t>(), 0);
  EXPECT_TRUE(m["attributes"]["camouflaged"].contains("segm"));

  // Interrupted before step 3, then finished: the same weights, predictions and metrics.
  const RunDir b((dir / "b").string());
  ::setenv("WSVIS_INTERRUPT_AT_STEP", "3", 1);
  EXPECT_THROW(run_boxinst(config, b, boxinst_steps(), ctx), Interrupted);
  ::unsetenv("WSVIS_INTERRUPT_AT_STEP");
  EXPECT_TRUE(fs::exists(dir / "b/boxinst/last.safetensors"));
  run_boxinst(config, b, boxinst_steps(), ctx);
  EXPECT_TRUE(bytes(dir / "a/boxinst/model.safetensors") == bytes(dir / "b/boxinst/model.safetensors")) << dir / "b/boxinst/model.safetensors";
  EXPECT_TRUE(bytes(dir / "a/predictions.json") == bytes(dir / "b/predictions.json")) << dir / "b/predictions.json";
  EXPECT_TRUE(bytes(dir / "a/metrics.json") == bytes(dir / "b/metrics.json")) << dir / "b/metrics.json";
  fs::remove_all(dir);
}

TEST(BoxInstStage, CondInstTrainsOnMasksAndResumesExactly) {
  const fs::path dir = scratch("condinst");
  write_data(dir);
  const BoxInstConfig config = write_config(dir, "condinst");
  const RunDir run((dir / "run").string());
  run_boxinst(config, run, {"train"}, context_for("cpu"));
  // CondInst draws a random proposal subset each step: a resume must draw the same ones.
  const RunDir resumed((dir / "resumed").string());
  ::setenv("WSVIS_INTERRUPT_AT_STEP", "3", 1);
  EXPECT_THROW(run_boxinst(config, resumed, {"train"}, context_for("cpu")), Interrupted);
  ::unsetenv("WSVIS_INTERRUPT_AT_STEP");
  run_boxinst(config, resumed, {"train"}, context_for("cpu"));
  EXPECT_TRUE(bytes(dir / "run/boxinst/model.safetensors") == bytes(dir / "resumed/boxinst/model.safetensors"));
  const nlohmann::json train = run.done_summary("boxinst");
  EXPECT_TRUE(std::isfinite(train["last_loss"].get<double>()));
  // The log records the dice loss (CondInst) and no BoxInst terms.
  const std::string log = bytes(dir / "run/log.jsonl");
  EXPECT_NE(log.find("loss_mask"), std::string::npos);
  EXPECT_EQ(log.find("loss_prj"), std::string::npos);
  fs::remove_all(dir);
}

// ImageNet weights as torchvision names them (here a random torchvision ResNet-18 saved by
// name): loaded into the frozen stem and res2, which training leaves as loaded, with
// torchvision's input normalisation for training and prediction.
TEST(BoxInstStage, StartsFromTorchvisionWeights) {
  const fs::path dir = scratch("pretrained");
  write_data(dir);
  const ContextPtr ctx = context_for("cpu");
  const std::string weights = (dir / "resnet18.safetensors").string();
  testing::write_torchvision_resnet18(weights, 9, ctx);
  data::write_file_atomic((dir / "c.json").string(), config_text(dir, "motion_boxinst"));
  const BoxInstConfig config = read_boxinst_config((dir / "c.json").string(), {"model.pretrained=" + weights});
  const RunDir run((dir / "run").string());
  run_boxinst(config, run, {"train", "predict"}, ctx);
  const auto file = load_safetensors(weights, ctx);
  const auto trained = load_safetensors((dir / "run/boxinst/model.safetensors").string(), ctx);
  auto tensor = [](const NamedTensors& named, const std::string& name) {
    for (const auto& [n, t] : named)
      if (n == name) return t.to_vector<float>();
    ADD_FAILURE() << "no tensor " << name;
    return std::vector<float>();
  };
  for (const char* name : {"conv1.weight", "layer1.0.conv1.weight", "bn1.running_var"})
    EXPECT_EQ(tensor(trained, std::string("backbone.bottom_up.") + name), tensor(file, name)) << name;
  EXPECT_NE(tensor(trained, "backbone.bottom_up.layer3.0.conv1.weight"), tensor(file, "layer3.0.conv1.weight"));
  EXPECT_TRUE(run.stage_done("predict"));
  // A file that is not a ResNet of that depth is refused, naming the file.
  const BoxInstConfig wrong = read_boxinst_config((dir / "c.json").string(),
                                                  {"model.pretrained=" + weights, "model.depth=34"});
  testing::expect_error([&] { run_boxinst(wrong, RunDir((dir / "wrong").string()), {"train"}, ctx); },
                        "resnet18.safetensors");
  fs::remove_all(dir);
}

TEST(BoxInstConfig, RejectsWhatUsersGetWrong) {
  const fs::path dir = scratch("cfg");
  write_data(dir);
  const std::string path = (dir / "c.json").string();
  data::write_file_atomic(path, config_text(dir, "motion_boxinst"));
  testing::expect_error([&] { read_boxinst_config(path, {"model.varient=boxinst"}); },
                                    "model.varient");
  testing::expect_error([&] { read_boxinst_config(path, {"model.variant=solo"}); },
                                    "model.variant");
  testing::expect_error([&] { read_boxinst_config(path, {"data.flow="}); }, "data.flow");
  testing::expect_error([&] { read_boxinst_config(path, {"train.decay_at=[0.9, 0.5]"}); },
                                    "train.decay_at");
  testing::expect_error([&] { read_boxinst_config(path, {"train.batch=\"8\""}); },
                                    "train.batch");
  EXPECT_NO_THROW(read_boxinst_config(path, {"model.variant=boxinst", "data.flow="}));
  // predict without val.root names the key.
  const BoxInstConfig no_val = read_boxinst_config(path, {"val.root="});
  testing::expect_error([&] { evaluate_boxinst(no_val, RunDir((dir / "r").string())); },
                                    "val.root");
  fs::remove_all(dir);
}

}  // namespace
}  // namespace wsvis::pipeline
