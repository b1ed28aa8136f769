// The config of `wsvis run` (apps/run_cmd.h): which method(s) to run, on which data, with the
// settings of each stage, all in one file read strictly (pipeline/config_schema.h):
//
//   {
//     "method": "flowirn_maskconsist" | "motion_boxinst" | "both",
//     "data": {...}, "val": {...},          shared by every stage (pipeline/dataset_paths.h);
//                                           "val.attributes" as in BoxInstConfig
//     "synth": {"enabled": true, ...},      or generate both sets into the run folder
//     "baselines": true,                    also run IRN, Mask R-CNN and BoxInst to compare
//     "stage1":  {...},                     Stage1Config's keys (pipeline/stage1_config.h)
//     "stage2":  {...},                     MaskRcnnConfig's keys (pipeline/maskrcnn_config.h)
//     "boxinst": {...},                     BoxInstConfig's keys (pipeline/boxinst_config.h)
//     "report":  {"videos": 3, "frames": 6},
//     "seed": 0, "device": "auto"
//   }
//
// The stage sections hold only their method's own keys (their bind_settings): data, val,
// seed and device are given once at the top and copied into each. Stage 2 trains on stage 1's
// pseudo-labels of the same run. Every section is read and checked whatever the method, so a
// config is valid or not as a whole.
#pragma once

#include <string>

#include "data/synth.h"
#include "pipeline/boxinst_config.h"
#include "pipeline/config_schema.h"
#include "pipeline/dataset_paths.h"
#include "pipeline/maskrcnn_config.h"
#include "pipeline/stage1_config.h"

namespace wsvis::pipeline {

struct RunConfig {
  std::string method = "flowirn_maskconsist";

  DatasetPaths data;  // training videos (root "" with synth.enabled)
  DatasetPaths val;   // evaluation videos (root "" = none, unless synth.enabled)
  std::string val_attributes = "attributes.json";

  // The synthetic sets (data/synth.h) written to <run>/data/train and <run>/data/val.
  struct Synth {
    bool enabled = false;
    data::SynthConfig train;  // its seed is `seed` below (SynthConfig's is 64-bit)
    int seed = 11;
    int val_videos = 24;
    int val_seed = 22;
  } synth;

  // The baselines the methods are measured against, run on the same data with the same
  // settings but the method's own parts switched off: IRN (no f-CAM, no flow-boundary loss;
  // it shares the CAM network and CAMs with flowIRN), Mask R-CNN on flowIRN's pseudo-labels
  // without MaskConsist, and image-only BoxInst.
  bool baselines = true;

  Stage1Config stage1;
  MaskRcnnConfig stage2;
  BoxInstConfig boxinst;

  struct Report {
    int videos = 3;  // validation videos drawn (overlays, flow, track strips)
    int frames = 6;  // frames per strip
  } report;

  int seed = 0;
  std::string device = "auto";

  bool runs_flowirn() const { return method == "flowirn_maskconsist" || method == "both"; }
  bool runs_boxinst() const { return method == "motion_boxinst" || method == "both"; }
  bool has_val() const { return synth.enabled || !val.root.empty(); }

  // The training and evaluation sets of a run in `run_root`: data and val as given, or the
  // synthetic sets in <run_root>/data/{train,val} (synth.enabled).
  DatasetPaths train_paths(const std::string& run_root) const;
  DatasetPaths val_paths(const std::string& run_root) const;
  // Copies those, the seed and the device into the stage configs; stage 2 trains on
  // `pseudo_labels` (stage 1's output).
  void place(const std::string& run_root, const std::string& pseudo_labels);

  void bind(ConfigSchema& schema);
};

RunConfig read_run_config_file(const std::string& path, const std::vector<std::string>& overrides,
                               std::string* dumped = nullptr);

// The config of one stage as it runs (every key, defaults included): what <run>/<stage>/
// config.json holds, so that `wsvis stage1 --config` can rerun a stage alone.
template <typename Config>
std::string dump_config(Config config) {
  ConfigSchema schema;
  config.bind(schema);
  return schema.dump();
}

}  // namespace wsvis::pipeline
