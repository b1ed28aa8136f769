// Stage 1 end to end on a tiny synthetic set (2 videos x 4 frames, 64x64, ResNet-18): every
// step writes what the next one reads, the outputs are well formed, and a run interrupted in
// the middle of training and run again ends with the same weights and metrics as a run that
// was not interrupted. Also the IR-label rule and f-CAM on hand-made maps.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "data/file_util.h"
#include "data/image_io.h"
#include "data/synth.h"
#include "data/ytvis.h"
#include "engine/error.h"
#include "engine/safetensors.h"
#include "pipeline/fcam.h"
#include "pipeline/ir_label_stage.h"
#include "pipeline/run_dir.h"
#include "pipeline/stage1.h"
#include "tests/pipeline/stage_testing.h"

namespace wsvis::pipeline {
namespace {

namespace fs = std::filesystem;

fs::path scratch(const std::string& name) { return testing::scratch_folder("stage1", name); }

std::string tiny_config(const fs::path& dir) {
  data::SynthConfig sc;
  sc.videos = 2;
  sc.frames = 4;
  sc.width = sc.height = 64;
  sc.seed = 5;
  sc.max_instances = 2;
  data::write_synth_dataset(sc, (dir / "data").string());
  const std::string text = R"({
    "data": {"root": ")" + (dir / "data").string() + R"("},
    "cam": {"depth": 18, "norm": "batch", "frozen_stages": 0, "batch": 4, "epochs": 2,
            "lr": 0.05, "momentum": 0.9, "resize_long": [56, 72], "crop": 64,
            "scales": [1.0, 0.5], "checkpoint_every": 1},
    "irn": {"batch": 4, "epochs": 1, "crop": 80, "momentum": 0.9, "checkpoint_every": 1},
    "flowirn": {"fcam": true, "flow_boundary": true},
    "device": "cpu", "seed": 3})";
  const std::string path = (dir / "config.json").string();
  data::write_file_atomic(path, text);
  return path;
}

std::vector<uint8_t> file_bytes(const fs::path& p) {
  const std::string s = data::read_file_bytes(p.string());
  return std::vector<uint8_t>(s.begin(), s.end());
}

TEST(Stage1Pipeline, RunsEndToEndAndResumesExactly) {
  const fs::path dir = scratch("e2e");
  const std::string config_path = tiny_config(dir);
  const Stage1Config config = read_stage1_config(config_path, {});
  const ContextPtr ctx = context_for("cpu");

  const RunDir a((dir / "a").string());
  run_stage1(config, a, stage1_steps(), ctx);
  for (const char* stage : {"cam", "cams", "ir_labels", "irn", "pseudo"})
    EXPECT_TRUE(a.stage_done(stage)) << stage;
  EXPECT_TRUE(fs::exists(dir / "a/cam/model.safetensors"));
  EXPECT_FALSE(fs::exists(dir / "a/cam/last.safetensors"));  // removed once training finished
  // Every frame has CAMs and an IR label with values in {0, 1..6, 255}.
  const data::YtvisDataset gt = data::read_ytvis((dir / "data/train.json").string());
  int labelled = 0;
  for (const auto& video : gt.videos)
    for (const std::string& name : video.file_names) {
      const std::string key = name.substr(0, name.find_last_of('.'));
      EXPECT_TRUE(fs::exists(dir / "a/cams" / (key + ".safetensors"))) << key;
      const data::Image label = data::read_image((dir / "a/ir_labels" / (key + ".png")).string(), 1);
      ASSERT_EQ(label.width, 64);
      for (uint8_t v : label.data) {
        EXPECT_TRUE(v <= data::kSynthClasses || v == 255) << int(v);
        labelled += v > 0 && v < 255;
      }
    }
  EXPECT_GT(labelled, 0) << "no foreground in any IR label";
  // Pseudo-labels read back as YTVIS; metrics are AP values.
  const data::YtvisDataset pseudo = data::read_ytvis((dir / "a/pseudo_labels.json").string());
  EXPECT_EQ(pseudo.videos.size(), gt.videos.size());
  const nlohmann::json m = nlohmann::json::parse(data::read_file_bytes((dir / "a/metrics.json").string()));
  const double ap50 = m["pseudo_labels"]["frame_segm"]["AP50"].get<double>();
  EXPECT_TRUE(ap50 >= -1 && ap50 <= 1);
  const nlohmann::json irn = a.done_summary("irn");
  EXPECT_TRUE(irn["flow_boundary"].get<bool>());
  EXPECT_EQ(irn["mean_shift"].size(), 2u);
  EXPECT_GT(irn["first_loss"].get<double>(), 0.0) << "IRN had no labelled pair to learn from";

  // Interrupted before CAM step 3, then again before IRN step 1, then finished.
  const RunDir b((dir / "b").string());
  ::setenv("WSVIS_INTERRUPT_AT_STEP", "3", 1);
  EXPECT_THROW(run_stage1(config, b, stage1_steps(), ctx), Interrupted);
  EXPECT_TRUE(fs::exists(dir / "b/cam/last.safetensors"));
  EXPECT_FALSE(b.stage_done("cam"));
  ::setenv("WSVIS_INTERRUPT_AT_STEP", "1", 1);
  EXPECT_THROW(run_stage1(config, b, stage1_steps(), ctx), Interrupted);
  EXPECT_TRUE(b.stage_done("cam"));
  EXPECT_TRUE(fs::exists(dir / "b/irn/last.safetensors"));
  ::unsetenv("WSVIS_INTERRUPT_AT_STEP");
  run_stage1(config, b, stage1_steps(), ctx);
  EXPECT_EQ(file_bytes(dir / "a/cam/model.safetensors"), file_bytes(dir / "b/cam/model.safetensors"));
  EXPECT_EQ(file_bytes(dir / "a/irn/model.safetensors"), file_bytes(dir / "b/irn/model.safetensors"));
  EXPECT_EQ(file_bytes(dir / "a/pseudo_results.json"), file_bytes(dir / "b/pseudo_results.json"));
  EXPECT_EQ(file_bytes(dir / "a/metrics.json"), file_bytes(dir / "b/metrics.json"));

  // A finished run is not redone: its outputs stay as they are.
  const auto stamp = fs::last_write_time(dir / "a/irn/model.safetensors");
  run_stage1(config, a, stage1_steps(), ctx);
  EXPECT_EQ(stamp, fs::last_write_time(dir / "a/irn/model.safetensors"));
  fs::remove_all(dir);
}

TEST(Stage1Pipeline, RunFolderRefusesAnotherConfig) {
  const fs::path dir = scratch("cfg");
  const RunDir run(dir.string());
  record_config(run, "{\"a\": 1}\n", "x.json", false);
  EXPECT_NO_THROW(record_config(run, "{\"a\": 1}\n", "x.json", false));
  EXPECT_THROW(record_config(run, "{\"a\": 2}\n", "y.json", false), InputError);
  EXPECT_NO_THROW(record_config(run, "{\"a\": 2}\n", "y.json", true));
  fs::remove_all(dir);
}

// IRN's combination rule with the CRF reduced to its unary (0 iterations): confident
// foreground (CAM > 0.30) -> class + 1; below 0.05 -> background; in between -> 255.
TEST(IrLabels, CombineConfidentForegroundAndBackground) {
  const ContextPtr ctx = Context::create(Device::cpu());
  // Two classes (category indices 2 and 4) over a 1 x 4 image.
  const Tensor cams = Tensor::from_vector(std::vector<float>{0.9f, 0.2f, 0.01f, 0.0f,    //
                                                             0.1f, 0.0f, 0.02f, 0.5f},  //
                                          {2, 1, 4}, ctx);
  data::Image image(4, 1, 3);
  Stage1Config::IrLabel o;
  o.crf_iterations = 0;
  const std::vector<uint8_t> label = ir_label_from_cams(cams, {2, 4}, image, o);
  EXPECT_EQ(label, (std::vector<uint8_t>{3, 255, 0, 5}));
  EXPECT_EQ(argmax_with_background(cams, 0.3).to_vector<int32_t>(), (std::vector<int32_t>{1, 0, 0, 2}));
}

TEST(Fcam, AmplifiesWhereFlowIsLargeThenRenormalises) {
  const ContextPtr ctx = Context::create(Device::cpu());
  const Tensor cams = Tensor::from_vector(std::vector<float>{0.5f, 1.0f, 0.4f, 0.2f}, {1, 2, 2}, ctx);
  const Tensor magnitude = Tensor::from_vector(std::vector<float>{3.f, 0.f, 2.f, 5.f}, {2, 2}, ctx);
  // Threshold 2 (strict): pixels 0 and 3 are amplified x2 -> 1.0, 1.0, 0.4, 0.4; max 1.
  const std::vector<float> out = flow_amplified_cams(cams, magnitude, 2.0, 2.0).to_vector<float>();
  const float s = 1.f / (1.f + 1e-5f);
  EXPECT_NEAR(out[0], 1.0f * s, 1e-6);
  EXPECT_NEAR(out[1], 1.0f * s, 1e-6);
  EXPECT_NEAR(out[2], 0.4f * s, 1e-6);
  EXPECT_NEAR(out[3], 0.4f * s, 1e-6);
}

}  // namespace
}  // namespace wsvis::pipeline
