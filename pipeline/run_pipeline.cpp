#include "pipeline/run_pipeline.h"

#include <filesystem>

#include "data/file_util.h"
#include "data/synth.h"
#include "engine/error.h"
#include "engine/log.h"
#include "pipeline/boxinst_stage.h"
#include "pipeline/maskrcnn_stage.h"
#include "pipeline/report.h"
#include "pipeline/stage1.h"

namespace wsvis::pipeline {

namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kMetricStages = {"stage1",  "baseline_irn", "stage2", "baseline_maskrcnn",
                                                "boxinst", "baseline_boxinst"};

void make_synthetic_sets(const RunConfig& config, const RunDir& run) {
  if (run.stage_done("data")) return;
  data::SynthConfig val = config.synth.train;
  val.videos = config.synth.val_videos;
  val.seed = static_cast<uint64_t>(config.synth.val_seed);
  const data::SynthWriteStats train_stats = data::write_synth_dataset(config.synth.train, run.path("data/train"));
  const data::SynthWriteStats val_stats = data::write_synth_dataset(val, run.path("data/val"));
  log::info("data: ", train_stats.videos, " training and ", val_stats.videos, " evaluation videos of ",
            config.synth.train.frames, " frames, ", config.synth.train.width, "x", config.synth.train.height);
  run.mark_done("data", {{"train_videos", train_stats.videos},
                         {"train_instances", train_stats.instances},
                         {"val_videos", val_stats.videos},
                         {"val_instances", val_stats.instances},
                         {"val_camouflaged", val_stats.camouflaged}});
}

// Hard-links (or copies, across file systems) a finished stage folder of one run into another
// that would compute the same thing: the baseline IRN's CAM network and CAMs are flowIRN's.
void share_stage(const RunDir& from, const RunDir& to, const std::string& stage) {
  const fs::path src = fs::path(from.root()) / stage, dst = fs::path(to.root()) / stage;
  if (fs::exists(dst) || !from.stage_done(stage)) return;
  const fs::path partial = dst.string() + ".partial";
  fs::remove_all(partial);
  std::error_code ec;
  fs::copy(src, partial, fs::copy_options::recursive | fs::copy_options::create_hard_links, ec);
  if (ec) {
    fs::remove_all(partial);
    fs::copy(src, partial, fs::copy_options::recursive);
  }
  fs::rename(partial, dst);  // whole or absent, like every other stage output
}

// The stage's own config.json, so `wsvis stage1 --config <run>/stage1/config.json` reruns it.
template <typename Config>
RunDir stage_folder(const RunDir& run, const std::string& name, const Config& config) {
  RunDir folder = run.nested(name);
  data::write_file_atomic(folder.path("config.json"), dump_config(config));
  return folder;
}

}  // namespace

std::vector<std::string> run_stages(const RunConfig& config) {
  std::vector<std::string> stages;
  if (config.synth.enabled) stages.push_back("data");
  if (config.runs_flowirn()) {
    stages.push_back("stage1");
    if (config.baselines) stages.push_back("baseline_irn");
    stages.push_back("stage2");
    if (config.baselines) stages.push_back("baseline_maskrcnn");
  }
  if (config.runs_boxinst()) {
    stages.push_back("boxinst");
    if (config.baselines) stages.push_back("baseline_boxinst");
  }
  stages.push_back("metrics");
  stages.push_back("report");
  return stages;
}

void run_pipeline(RunConfig config, const RunDir& run, const ContextPtr& ctx) {
  const fs::path root = fs::absolute(run.root()).lexically_normal();
  config.place(root.string(), (root / "stage1" / "pseudo_labels.json").string());
  // Stage 2 and BoxInst evaluate on val; without it they could only train.
  const bool evaluate = config.has_val();
  const std::vector<std::string> stage2_steps =
      evaluate ? maskrcnn_steps() : std::vector<std::string>{"train", "self-label", "train-2"};
  const std::vector<std::string> boxinst_train_steps =
      evaluate ? boxinst_steps() : std::vector<std::string>{"train"};

  const std::vector<std::string> stages = run_stages(config);
  run_steps_in_order(run, "run", stages, stages, [&](const std::string& stage) {
    if (stage == "data") make_synthetic_sets(config, run);
    if (stage == "stage1")
      run_stage1(config.stage1, stage_folder(run, stage, config.stage1), stage1_steps(), ctx);
    if (stage == "baseline_irn") {
      Stage1Config irn = config.stage1;
      irn.flowirn.fcam = false;
      irn.flowirn.flow_boundary = false;
      const RunDir folder = stage_folder(run, stage, irn);
      for (const char* shared : {"cam", "cams"}) share_stage(run.nested("stage1"), folder, shared);
      run_stage1(irn, folder, stage1_steps(), ctx);
    }
    if (stage == "stage2")
      run_maskrcnn(config.stage2, stage_folder(run, stage, config.stage2), stage2_steps, ctx);
    if (stage == "baseline_maskrcnn") {
      MaskRcnnConfig plain = config.stage2;
      plain.maskconsist.enabled = false;
      plain.self_training_rounds = 0;
      run_maskrcnn(plain, stage_folder(run, stage, plain), stage2_steps, ctx);
    }
    if (stage == "boxinst")
      run_boxinst(config.boxinst, stage_folder(run, stage, config.boxinst), boxinst_train_steps, ctx);
    if (stage == "baseline_boxinst") {
      BoxInstConfig plain = config.boxinst;
      plain.model.variant = "boxinst";
      run_boxinst(plain, stage_folder(run, stage, plain), boxinst_train_steps, ctx);
    }
    if (stage == "metrics")
      data::write_file_atomic(run.path("metrics.json"), collect_metrics(run).dump(2) + "\n");
    if (stage == "report") write_report(config, run);
  });
}

nlohmann::json collect_metrics(const RunDir& run) {
  nlohmann::json all = nlohmann::json::object();
  for (const std::string& stage : kMetricStages) {
    const fs::path file = fs::path(run.root()) / stage / "metrics.json";
    if (!fs::is_regular_file(file)) continue;
    try {
      all[stage] = nlohmann::json::parse(data::read_file_bytes(file.string()));
    } catch (const nlohmann::json::parse_error& e) {
      throw InputError(file.string() + ": malformed metrics: " + e.what());
    }
  }
  return all;
}

}  // namespace wsvis::pipeline
