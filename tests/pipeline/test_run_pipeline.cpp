// `wsvis run` end to end on a tiny synthetic run of both methods with their baselines: every
// stage writes its outputs, metrics.json and report.html with its pictures; a run killed in
// the middle of a training stage (SIGKILL: no checkpoint, no cleanup) or stopped by SIGTERM
// (exit 130), then run again with the same command, ends with the same metrics, byte for
// byte, as one that was never interrupted. And every config in configs/ is validated on
// load: unknown keys, wrong types and missing paths are errors naming the key.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <map>

#include "data/file_util.h"
#include "data/image_io.h"
#include "data/synth.h"
#include "data/ytvis.h"
#include "engine/error.h"
#include "pipeline/boxinst_config.h"
#include "pipeline/maskrcnn_config.h"
#include "pipeline/report.h"
#include "pipeline/run_config.h"
#include "pipeline/stage1_config.h"
#include "tests/pipeline/stage_testing.h"

namespace wsvis::pipeline {
namespace {

namespace fs = std::filesystem;

fs::path scratch(const std::string& name) { return testing::scratch_folder("run", name); }

// Both methods with their baselines, small enough for seconds per stage: 3 training and 2
// evaluation videos of 3 frames at 96x96 (IRN's radius-10 pairs need a 24-cell grid).
std::string tiny_run_config(const fs::path& dir) {
  const std::string text = R"({
    "method": "both",
    "synth": {"enabled": true, "videos": 3, "frames": 3, "width": 96, "height": 96, "seed": 5,
              "classes": 2, "max_instances": 2, "camouflage": 0.5, "min_radius": 0.2,
              "max_radius": 0.3, "val_videos": 2, "val_seed": 6},
    "stage1": {
      "cam": {"depth": 18, "norm": "batch", "frozen_stages": 0, "batch": 3, "epochs": 1,
              "lr": 0.05, "momentum": 0.9, "resize_long": [96, 96], "crop": 96,
              "scales": [1.0], "checkpoint_every": 1},
      "irn": {"batch": 3, "epochs": 1, "crop": 96, "momentum": 0.9, "checkpoint_every": 1},
      "flowirn": {"fcam": true, "flow_boundary": true},
      "workers": 1
    },
    "stage2": {
      "model": {"depth": 18, "fpn_channels": 16, "box_fc_dim": 32, "mask_conv_dim": 8,
                "roi_batch_per_image": 32, "rpn_batch_per_image": 32, "rpn_post_nms_train": 100,
                "rpn_post_nms_test": 100, "anchor_sizes": [8, 16, 32, 64, 128]},
      "maskconsist": {"delta": 1},
      "self_training_rounds": 1,
      "train": {"batch": 2, "steps": 4, "lr": 0.01, "warmup_iters": 1, "short_sizes": [64],
                "max_long": 0, "checkpoint_every": 2, "workers": 1},
      "test": {"short_size": 64, "max_long": 0, "score_threshold": 0.0}
    },
    "boxinst": {
      "model": {"depth": 18, "fpn_channels": 16, "head_convs": 1, "head_norm_groups": 4,
                "mask_branch_channels": 8, "mask_branch_convs": 1, "mask_channels": 4,
                "pairwise_warmup": 2, "bottom_pixels_removed": 0},
      "train": {"batch": 2, "steps": 4, "lr": 0.01, "warmup_iters": 1, "short_sizes": [64],
                "max_long": 0, "checkpoint_every": 2, "workers": 1},
      "test": {"short_size": 64, "max_long": 0, "score_threshold": 0.0}
    },
    "report": {"videos": 1, "frames": 3},
    "device": "cpu", "seed": 2})";
  const std::string path = (dir / "tiny.json").string();
  data::write_file_atomic(path, text);
  return path;
}

class RunCli : public ::testing::Test {
 protected:
  void SetUp() override {
    const fs::path self = fs::read_symlink("/proc/self/exe");
    wsvis_ = (self.parent_path().parent_path() / "apps" / "wsvis").string();
    dir_ = scratch("cli");
    config_ = tiny_run_config(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // The shell's exit status of `wsvis run` (128 + n when killed by signal n).
  int run(const std::string& run_name, const std::string& env = "") {
    const std::string command = env + " OMP_NUM_THREADS=1 " + wsvis_ + " run " + config_ + " --run " +
                                (dir_ / run_name).string() + " > " + (dir_ / (run_name + ".out")).string() +
                                " 2>&1";
    const int status = std::system(command.c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  std::string output(const std::string& run_name) { return data::read_file_bytes((dir_ / (run_name + ".out")).string()); }
  std::string file(const std::string& run_name, const std::string& relative) {
    return data::read_file_bytes((dir_ / run_name / relative).string());
  }

  std::string wsvis_;
  fs::path dir_;
  std::string config_;
};

TEST_F(RunCli, RunsEveryStageAndResumesAfterAKillToTheSameMetrics) {
  // Uninterrupted.
  ASSERT_EQ(run("whole"), 0) << output("whole");
  for (const char* stage : {"stage1", "baseline_irn", "stage2", "baseline_maskrcnn", "boxinst", "baseline_boxinst"})
    EXPECT_TRUE(fs::is_regular_file(dir_ / "whole" / stage / "metrics.json")) << stage;
  const nlohmann::json metrics = nlohmann::json::parse(file("whole", "metrics.json"));
  EXPECT_TRUE(metrics["stage2"].contains("video_segm"));
  EXPECT_TRUE(metrics["boxinst"]["attributes"].contains("camouflaged"));
  EXPECT_NE(output("whole").find("Motion-aided BoxInst"), std::string::npos) << output("whole");
  EXPECT_TRUE(fs::is_regular_file(dir_ / "whole" / "stage2" / "self_labels.json"));
  // The baseline IRN shares flowIRN's CAM network and trains its own IRN.
  EXPECT_TRUE(file("whole", "baseline_irn/cam/model.safetensors") == file("whole", "stage1/cam/model.safetensors"));
  EXPECT_FALSE(file("whole", "baseline_irn/irn/model.safetensors") == file("whole", "stage1/irn/model.safetensors"));

  // The report and its pictures.
  const std::string html = file("whole", "report.html");
  for (const char* part : {"Metrics against the baselines", "<table>", "report/loss_stage2_maskrcnn.svg", "_flow.png",
                           "tracks: MaskConsist", "motion-aided BoxInst", "Config as run"})
    EXPECT_NE(html.find(part), std::string::npos) << part;
  const data::Image summary = data::read_image((dir_ / "whole" / "report" / "summary.png").string());
  EXPECT_GT(summary.width, 3 * 128);
  EXPECT_GE(summary.height, 6 * 128);  // gt, flow, 2 x tracks, 2 x BoxInst

  // Killed in stage 2's training after its step-2 checkpoint, run again: it resumes there.
  EXPECT_EQ(run("killed", "WSVIS_SIGNAL_AT=maskrcnn:3:KILL"), 128 + SIGKILL) << output("killed");
  EXPECT_FALSE(fs::exists(dir_ / "killed" / "stage2" / "maskrcnn" / "DONE"));
  ASSERT_EQ(run("killed"), 0) << output("killed");
  EXPECT_NE(output("killed").find("resuming from step 2"), std::string::npos) << output("killed");

  // SIGTERM in BoxInst's training: the checkpoint is saved and the run exits 130.
  EXPECT_EQ(run("stopped", "WSVIS_SIGNAL_AT=boxinst:3:TERM"), 130) << output("stopped");
  ASSERT_EQ(run("stopped"), 0) << output("stopped");
  EXPECT_NE(output("stopped").find("resuming from step 3"), std::string::npos) << output("stopped");

  for (const char* relative : {"metrics.json", "stage2/predictions.json", "boxinst/predictions.json",
                               "stage1/pseudo_labels.json"}) {
    EXPECT_TRUE(file("killed", relative) == file("whole", relative)) << relative;
    EXPECT_TRUE(file("stopped", relative) == file("whole", relative)) << relative;
  }

  // The same folder with another config is refused (exit 2).
  EXPECT_EQ(std::system((wsvis_ + " run " + config_ + " --run " + (dir_ / "whole").string() +
                         " --set seed=3 > /dev/null 2>&1").c_str()) >> 8, 2);
}

// `wsvis split` writes the two halves beside the annotations: one video per category held out.
TEST_F(RunCli, SplitWritesTrainTrainAndTrainVal) {
  data::SynthConfig sc;
  sc.videos = 6;
  sc.frames = 2;
  sc.width = sc.height = 32;
  sc.classes = 2;
  data::write_synth_dataset(sc, (dir_ / "set").string());
  const std::string gt = (dir_ / "set" / "train.json").string();
  ASSERT_EQ(std::system((wsvis_ + " split --gt " + gt + " --per-category 1 > /dev/null").c_str()), 0);
  const data::YtvisDataset all = data::read_ytvis(gt);
  const data::YtvisDataset train = data::read_ytvis((dir_ / "set" / "train_train.json").string());
  const data::YtvisDataset val = data::read_ytvis((dir_ / "set" / "train_val.json").string());
  EXPECT_EQ(val.videos.size(), 2u);
  EXPECT_EQ(train.videos.size() + val.videos.size(), all.videos.size());
  EXPECT_EQ(std::system((wsvis_ + " split --gt " + gt + " --per-category 0 2> /dev/null").c_str()) >> 8, 2);
}

TEST(LossCurves, ReadFromTheLogKeepingTheLastValueOfARepeatedStep) {
  const fs::path dir = scratch("curves");
  const std::string log = (dir / "log.jsonl").string();
  data::write_file_atomic(log,
                          "{\"run\":\"stage2\",\"stage\":\"maskrcnn\",\"step\":1,\"loss\":3.0}\n"
                          "{\"run\":\"stage2\",\"stage\":\"maskrcnn\",\"step\":2,\"loss\":2.0}\n"
                          "not json\n"
                          "{\"stage\":\"data\",\"event\":\"finished\"}\n"
                          "{\"run\":\"stage2\",\"stage\":\"maskrcnn\",\"step\":2,\"loss\":1.5}\n"
                          "{\"run\":\"boxinst\",\"stage\":\"boxinst\",\"step\":5,\"loss\":0.5}\n");
  const std::vector<LossCurve> curves = read_loss_curves(log);
  ASSERT_EQ(curves.size(), 2u);
  EXPECT_EQ(curves[0].run, "boxinst");
  EXPECT_EQ(curves[1].run, "stage2");
  ASSERT_EQ(curves[1].points.size(), 2u);
  EXPECT_EQ(curves[1].points[1].second, 1.5);
  const std::string svg = loss_curve_svg(curves[1]);
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("<polyline"), std::string::npos);
  EXPECT_NE(svg.find("stage2: maskrcnn loss"), std::string::npos);
  EXPECT_EQ(escape_markup("a<b & \"c\">"), "a&lt;b &amp; &quot;c&quot;&gt;");
  fs::remove_all(dir);
}

// ---- every config in configs/ --------------------------------------------------------------

// A tiny dataset standing in for a config's data (with flow and attributes) and a file
// standing in for its weights, so that configs naming data elsewhere load here.
struct StandIns {
  fs::path dir, data, weights;
};
StandIns make_stand_ins() {
  StandIns s;
  s.dir = scratch("configs");
  s.data = s.dir / "data";
  data::SynthConfig sc;
  sc.videos = 1;
  sc.frames = 2;
  sc.width = sc.height = 32;
  data::write_synth_dataset(sc, s.data.string());
  fs::copy_file(s.data / "train.json", s.data / "train_train.json");
  fs::copy_file(s.data / "train.json", s.data / "train_val.json");
  s.weights = s.dir / "weights.safetensors";
  data::write_file_atomic(s.weights.string(), "stand-in");
  return s;
}

// --set overrides pointing every path of `config` (dataset roots, weights, labels) at the
// stand-ins, found by walking the JSON: key names say what they hold.
std::vector<std::string> stand_in_overrides(const nlohmann::json& config, const StandIns& s,
                                            const std::string& prefix = "") {
  std::vector<std::string> out;
  for (auto it = config.begin(); it != config.end(); ++it) {
    const std::string key = prefix.empty() ? it.key() : prefix + "." + it.key();
    if (it->is_object()) {
      const std::vector<std::string> inner = stand_in_overrides(*it, s, key);
      out.insert(out.end(), inner.begin(), inner.end());
    } else if (it->is_string() && !it->get<std::string>().empty()) {
      if (it.key() == "root") out.push_back(key + "=" + s.data.string());
      if (it.key() == "pretrained") out.push_back(key + "=" + s.weights.string());
      if (it.key() == "labels") out.push_back(key + "=" + (s.data / "train.json").string());
    }
  }
  return out;
}

// Which reader each config file is for: a new config must be added here, so that it is
// validated too.
const std::map<std::string, std::string>& config_kinds() {
  static const std::map<std::string, std::string> kinds = {
      {"demo.json", "run"},
      {"demo_full.json", "run"},
      {"ytvis_flowirn_maskconsist.json", "run"},
      {"ytvis_motion_boxinst.json", "run"},
      {"cityscapes_flowirn_maskconsist.json", "run"},
      {"stage1_synth.json", "stage1"},
      {"stage1_davis_car_shadow.json", "stage1"},
      {"ytvis_flowirn_stage1.json", "stage1"},
      {"boxinst_synth.json", "boxinst"},
      {"maskrcnn_synth.json", "maskrcnn"},
      {"synth_default.json", "synth"},
      {"synth_stage1.json", "synth"},
      {"synth_boxinst.json", "synth"},
  };
  return kinds;
}

TEST(Configs, EveryConfigInConfigsLoads) {
  const StandIns s = make_stand_ins();
  const fs::path configs = fs::path(WSVIS_SOURCE_DIR) / "configs";
  int checked = 0;
  for (const fs::directory_entry& e : fs::directory_iterator(configs)) {
    if (e.path().extension() != ".json") continue;
    const std::string name = e.path().filename().string();
    const auto kind = config_kinds().find(name);
    ASSERT_NE(kind, config_kinds().end()) << "configs/" << name << ": add it to config_kinds()";
    const std::string path = e.path().string();
    const std::vector<std::string> sets =
        stand_in_overrides(nlohmann::json::parse(data::read_file_bytes(path)), s);
    SCOPED_TRACE(name);
    if (kind->second == "run") {
      EXPECT_NO_THROW(read_run_config_file(path, sets));
    }
    if (kind->second == "stage1") {
      EXPECT_NO_THROW(read_stage1_config(path, sets));
    }
    if (kind->second == "boxinst") {
      EXPECT_NO_THROW(read_boxinst_config(path, sets));
    }
    if (kind->second == "maskrcnn") {
      EXPECT_NO_THROW(read_maskrcnn_config(path, sets));
    }
    if (kind->second == "synth") {
      EXPECT_NO_THROW(data::read_synth_config(path));
    }
    ++checked;
  }
  EXPECT_EQ(checked, static_cast<int>(config_kinds().size())) << "a config listed in config_kinds() is gone";
  fs::remove_all(s.dir);
}

// The message of the InputError reading `text` throws ("" when it reads).
std::string read_error(const fs::path& dir, const std::string& text, const std::vector<std::string>& sets = {}) {
  const std::string path = (dir / "c.json").string();
  data::write_file_atomic(path, text);
  try {
    read_run_config_file(path, sets);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(Configs, RunConfigErrorsNameTheKey) {
  const StandIns s = make_stand_ins();
  const std::string data = "\"data\": {\"root\": \"" + s.data.string() + "\"}";
  EXPECT_EQ(read_error(s.dir, "{" + data + "}"), "");
  auto expect = [&](const std::string& text, const std::string& needle, const std::vector<std::string>& sets = {}) {
    const std::string message = read_error(s.dir, text, sets);
    EXPECT_NE(message.find(needle), std::string::npos) << "got: " << message;
  };
  expect("{" + data + ", \"stage2\": {\"trian\": {\"lr\": 0.1}}}", "stage2.trian");                 // unknown key
  expect("{" + data + ", \"stage1\": {\"cam\": {\"batch\": \"16\"}}}", "stage1.cam.batch must be an integer");
  expect("{" + data + ", \"boxinst\": {\"model\": {\"variant\": \"mask\"}}}", "boxinst.model.variant");
  expect("{\"data\": {\"root\": \"" + (s.dir / "nowhere").string() + "\"}}", "data.root names a folder");
  expect("{" + data + ", \"stage2\": {\"model\": {\"pretrained\": \"missing.safetensors\"}}}",
         "stage2.model.pretrained names a file that does not exist");
  expect("{\"data\": {\"root\": \"" + s.data.string() + "\", \"annotations\": \"t.json\"}}", "data.annotations");
  expect("{\"data\": {\"root\": \"" + s.data.string() + "\", \"flow\": \"\"}, \"stage1\": {\"flowirn\": {\"fcam\": true}}}",
         "stage1.flowirn.fcam needs data.flow");
  expect("{\"method\": \"both\"}", "data.root is required");
  expect("{" + data + ", \"synth\": {\"enabled\": true}}", "exclude each other");
  expect("{" + data + "}", "stage2.train.batch must be even", {"stage2.train.batch=3"});
  expect("{" + data + "}", "--set stage2.train.bacth", {"stage2.train.bacth=3"});
  // An IRN crop too small for any radius-10 pair would train on a loss of exactly 0.
  expect("{" + data + "}", "stage1.irn.crop must be at least 76", {"stage1.irn.crop=72"});
  EXPECT_EQ(read_error(s.dir, "{" + data + "}", {"stage1.irn.crop=76"}), "");
  // The synthetic set is checked only when it is made.
  EXPECT_EQ(read_error(s.dir, "{" + data + ", \"synth\": {\"min_instances\": 5, \"max_instances\": 2}}"), "");
  EXPECT_NE(read_error(s.dir, "{\"synth\": {\"enabled\": true, \"min_instances\": 5, \"max_instances\": 2}}")
                .find("synth"),
            std::string::npos);
  fs::remove_all(s.dir);
}

}  // namespace
}  // namespace wsvis::pipeline
