#include "pipeline/run_config.h"

#include "engine/error.h"

namespace wsvis::pipeline {

namespace {

// The synthetic set's size and content; the motion model's finer knobs keep data/synth.h's
// defaults (`wsvis synth --config` sets them all).
void bind_synth(ConfigSchema& s, RunConfig::Synth* synth) {
  data::SynthConfig& t = synth->train;
  s.boolean("synth.enabled", &synth->enabled);
  s.integer("synth.videos", &t.videos, 1, 100000);
  s.integer("synth.frames", &t.frames, 2, 10000);
  s.integer("synth.width", &t.width, 16, 4096);
  s.integer("synth.height", &t.height, 16, 4096);
  s.integer("synth.seed", &synth->seed, 0);
  s.integer("synth.classes", &t.classes, 1, data::kSynthClasses);
  s.integer("synth.min_instances", &t.min_instances, 1, 64);
  s.integer("synth.max_instances", &t.max_instances, 1, 64);
  s.number("synth.camouflage", &t.camouflage, 0.0, 1.0);
  s.number("synth.touching", &t.touching, 0.0, 1.0);
  s.number("synth.min_radius", &t.min_radius, 0.01, 0.5);
  s.number("synth.max_radius", &t.max_radius, 0.01, 0.5);
  s.number("synth.max_speed", &t.max_speed, 0.0);
  s.number("synth.bg_speed", &t.bg_speed, 0.0);
  s.integer("synth.val_videos", &synth->val_videos, 1, 100000);
  s.integer("synth.val_seed", &synth->val_seed, 0);
  s.derive([synth] { synth->train.seed = static_cast<uint64_t>(synth->seed); });
  s.check([synth]() -> std::string {
    if (!synth->enabled) return "";
    try {
      data::validate_synth_config(synth->train, "synth");
    } catch (const InputError& e) {
      return e.what();
    }
    return "";
  });
}

}  // namespace

DatasetPaths RunConfig::train_paths(const std::string& run_root) const {
  if (!synth.enabled) return data;
  DatasetPaths synthetic;
  synthetic.root = run_root + "/data/train";
  return synthetic;
}

DatasetPaths RunConfig::val_paths(const std::string& run_root) const {
  if (!synth.enabled) return val;
  DatasetPaths synthetic;
  synthetic.root = run_root + "/data/val";
  return synthetic;
}

void RunConfig::place(const std::string& run_root, const std::string& pseudo_labels) {
  stage1.data = stage2.data = boxinst.data = train_paths(run_root);
  stage2.val = boxinst.val = val_paths(run_root);
  stage2.labels = pseudo_labels;
  boxinst.val_attributes = val_attributes;
  stage1.seed = stage2.seed = boxinst.seed = seed;
  stage1.device = stage2.device = boxinst.device = device;
}

void RunConfig::bind(ConfigSchema& s) {
  s.choice("method", &method, {"flowirn_maskconsist", "motion_boxinst", "both"});
  bind_dataset_paths(s, "data", &data, /*required=*/false);
  bind_dataset_paths(s, "val", &val, /*required=*/false);
  s.string("val.attributes", &val_attributes);
  bind_synth(s, &synth);
  s.boolean("baselines", &baselines);
  s.section("stage1", [&] { stage1.bind_settings(s); });
  s.section("stage2", [&] { stage2.bind_settings(s); });
  s.section("boxinst", [&] { boxinst.bind_settings(s); });
  s.integer("report.videos", &report.videos, 0, 100);
  s.integer("report.frames", &report.frames, 1, 64);
  s.integer("seed", &seed, 0);
  s.choice("device", &device, {"auto", "cpu", "cuda"});

  // Each stage sees the shared data before its own checks run (the run folder is not known
  // yet: synthetic sets, which have flow, are placed at a stand-in root for the checks).
  s.derive([this] { place("<run>", ""); });
  s.check([this]() -> std::string {
    if (!synth.enabled && data.root.empty()) return "data.root is required (or synth.enabled true)";
    if (synth.enabled && !data.root.empty()) return "data.root and synth.enabled exclude each other";
    return "";
  });
  // A stage's problems name its keys: prefixed with the section they are in.
  s.check([this] { return stage1.problem().empty() ? "" : "stage1." + stage1.problem(); });
  s.check([this] { return stage2.problem().empty() ? "" : "stage2." + stage2.problem(); });
  s.check([this] { return boxinst.problem().empty() ? "" : "boxinst." + boxinst.problem(); });
}

RunConfig read_run_config_file(const std::string& path, const std::vector<std::string>& overrides,
                               std::string* dumped) {
  return read_run_config<RunConfig>(path, overrides, dumped);
}

}  // namespace wsvis::pipeline
