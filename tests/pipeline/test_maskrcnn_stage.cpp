// Stage 2 end to end on a tiny synthetic set (3 videos x 4 frames, 64x64, ResNet-18, narrow
// heads): Mask R-CNN with MaskConsist and one round of self-training trains, predicts every
// val frame, tracks and evaluates (frame AP, video AP, temporal consistency); the training log
// shows MaskConsist at work (predictions matched between the frames of a pair); a run
// interrupted in training and run again gives the same weights and metrics; configs are
// checked on load.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "data/coco.h"
#include "data/file_util.h"
#include "data/synth.h"
#include "data/ytvis.h"
#include "engine/error.h"
#include "engine/safetensors.h"
#include "models/resnet.h"
#include "pipeline/maskrcnn_stage.h"
#include "pipeline/stage1.h"
#include "tests/support/testing.h"
#include "tests/pipeline/stage_testing.h"

namespace wsvis::pipeline {
namespace {

namespace fs = std::filesystem;

fs::path scratch(const std::string& name) { return testing::scratch_folder("maskrcnn", name); }

std::string write_config(const fs::path& dir) {
  data::SynthConfig sc;
  sc.videos = 3;
  sc.frames = 4;
  sc.width = sc.height = 64;
  sc.seed = 7;
  sc.classes = 2;
  sc.max_instances = 2;
  sc.min_radius = 0.2;
  sc.max_radius = 0.3;
  data::write_synth_dataset(sc, (dir / "data").string());
  const std::string text = R"({
    "data": {"root": ")" + (dir / "data").string() + R"("},
    "val": {"root": ")" + (dir / "data").string() + R"("},
    "model": {"depth": 18, "fpn_channels": 16, "box_fc_dim": 32, "mask_conv_dim": 8,
              "roi_batch_per_image": 32, "rpn_batch_per_image": 32, "rpn_post_nms_train": 100,
              "anchor_sizes": [8, 16, 32, 64, 128]},
    "maskconsist": {"delta": 2},
    "self_training_rounds": 1,
    "train": {"batch": 4, "steps": 4, "lr": 0.01, "warmup_iters": 1, "short_sizes": [64],
              "max_long": 0, "checkpoint_every": 2, "workers": 1},
    "test": {"short_size": 64, "max_long": 0, "score_threshold": 0.0},
    "device": "cpu", "seed": 4})";
  const std::string path = (dir / "config.json").string();
  data::write_file_atomic(path, text);
  return path;
}

std::string bytes(const fs::path& p) { return data::read_file_bytes(p.string()); }

TEST(MaskRcnnStage, MaskConsistWithSelfTrainingEndToEndAndResumesExactly) {
  const fs::path dir = scratch("e2e");
  const MaskRcnnConfig config = read_maskrcnn_config(write_config(dir), {});
  const ContextPtr ctx = context_for("cpu");

  const RunDir a((dir / "a").string());
  run_maskrcnn(config, a, maskrcnn_steps(), ctx);
  for (const char* stage : {"maskrcnn", "self_label", "maskrcnn2", "predict"})
    EXPECT_TRUE(a.stage_done(stage)) << stage;
  // MaskConsist ran on every step: the log records its counters.
  const std::string log = bytes(dir / "a/log.jsonl");
  EXPECT_NE(log.find("mc_matched"), std::string::npos);
  // Self-labels are a YouTube-VIS file over the training videos.
  const data::YtvisDataset self = data::read_ytvis((dir / "a/self_labels.json").string());
  EXPECT_EQ(self.videos.size(), 3u);
  // Frame predictions and tracks; the metrics are in range.
  const data::CocoDataset frames = data::read_coco((dir / "a/val_frames.json").string());
  EXPECT_EQ(frames.images.size(), 12u);
  EXPECT_GT(data::read_coco_results((dir / "a/frame_predictions.json").string(), &frames).size(), 0u);
  const data::YtvisDataset val = data::read_ytvis((dir / "data/train.json").string());
  const auto tracks = data::read_ytvis_results((dir / "a/predictions.json").string(), &val);
  EXPECT_GT(tracks.size(), 0u);
  const nlohmann::json m = nlohmann::json::parse(bytes(dir / "a/metrics.json"));
  for (const char* key : {"frame_segm", "video_segm"}) {
    const double ap50 = m[key]["AP50"].get<double>();
    EXPECT_TRUE(ap50 >= 0 && ap50 <= 1) << key << " " << ap50;
  }
  EXPECT_TRUE(m.contains("temporal_consistency"));

  // Interrupted in the first training, then in the second; finished: identical outputs.
  const RunDir b((dir / "b").string());
  ::setenv("WSVIS_INTERRUPT_AT_STEP", "3", 1);
  EXPECT_THROW(run_maskrcnn(config, b, maskrcnn_steps(), ctx), Interrupted);
  EXPECT_TRUE(fs::exists(dir / "b/maskrcnn/last.safetensors"));
  ::setenv("WSVIS_INTERRUPT_AT_STEP", "1", 1);
  EXPECT_THROW(run_maskrcnn(config, b, maskrcnn_steps(), ctx), Interrupted);
  EXPECT_TRUE(b.stage_done("maskrcnn"));
  ::unsetenv("WSVIS_INTERRUPT_AT_STEP");
  run_maskrcnn(config, b, maskrcnn_steps(), ctx);
  EXPECT_TRUE(bytes(dir / "a/maskrcnn2/model.safetensors") == bytes(dir / "b/maskrcnn2/model.safetensors")) << dir / "b/maskrcnn2/model.safetensors";
  EXPECT_TRUE(bytes(dir / "a/predictions.json") == bytes(dir / "b/predictions.json")) << dir / "b/predictions.json";
  EXPECT_TRUE(bytes(dir / "a/metrics.json") == bytes(dir / "b/metrics.json")) << dir / "b/metrics.json";
  fs::remove_all(dir);
}

TEST(MaskRcnnStage, ModelStartsFromTorchvisionWeights) {
  const fs::path dir = scratch("pretrained");
  const std::string path = write_config(dir);
  const ContextPtr ctx = context_for("cpu");
  const std::string weights = (dir / "resnet18.safetensors").string();
  testing::write_torchvision_resnet18(weights, 3, ctx);
  const MaskRcnnConfig config = read_maskrcnn_config(path, {"model.pretrained=" + weights});
  Generator gen(3);
  const auto model = make_maskrcnn_model(config, 2, gen, ctx);
  const models::ResNet& resnet = *model->backbone()->bottom_up();
  EXPECT_EQ(resnet.options().norm, models::NormKind::FrozenBN);
  EXPECT_EQ(resnet.options().freeze_at, 2);
  auto conv1 = [](const NamedTensors& named) {
    for (const auto& [name, t] : named)
      if (name == "conv1.weight") return t.to_vector<float>();
    return std::vector<float>();
  };
  EXPECT_FALSE(conv1(resnet.state_dict()).empty());
  EXPECT_EQ(conv1(resnet.state_dict()), conv1(load_safetensors(weights, ctx)));
  fs::remove_all(dir);
}

TEST(MaskRcnnConfig, RejectsWhatUsersGetWrong) {
  const fs::path dir = scratch("cfg");
  const std::string path = write_config(dir);
  testing::expect_error([&] { read_maskrcnn_config(path, {"maskconsist.delat=3"}); }, "maskconsist.delat");
  testing::expect_error([&] { read_maskrcnn_config(path, {"train.batch=3"}); }, "train.batch");
  testing::expect_error([&] { read_maskrcnn_config(path, {"data.flow="}); }, "data.flow");
  testing::expect_error([&] { read_maskrcnn_config(path, {"labels=/no/such/file.json"}); }, "labels");
  testing::expect_error([&] { read_maskrcnn_config(path, {"self_training_rounds=2"}); },
                        "self_training_rounds");
  EXPECT_NO_THROW(read_maskrcnn_config(path, {"maskconsist.enabled=false", "data.flow="}));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace wsvis::pipeline
