// The configuration of a (motion-aided) BoxInst / CondInst run: model, training and test
// settings, read strictly (pipeline/config_schema.h) from keys "model.depth", "train.lr", ...
// Defaults are AdelaiDet's (spec boxinst_maskrcnn_ytvis.md A.1-A.6) and Ikeda & Mori's, so a
// config for YouTube-VIS names little beyond its paths; configs/boxinst_synth.json shows what
// a from-scratch run on the synthetic set changes, and why.
//
// model.variant picks the method:
//   "boxinst"         boxes only; image stream alone (plain BoxInst)
//   "motion_boxinst"  boxes only; the two-stream encoder and the motion-aware pairwise loss
//                     (the paper); model.motion_detection / motion_segmentation /
//                     flow_pairwise switch its parts off for Table 2, model.detection_fusion
//                     and model.mask_fusion choose Table 4's fusion
//   "condinst"        ground-truth masks (dice loss): proves the detector and mask head
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pipeline/config_schema.h"
#include "pipeline/dataset_paths.h"
#include "pipeline/detector_config.h"

namespace wsvis::pipeline {

inline DetectorTest fcos_test() {
  DetectorTest t;
  t.nms = 0.6;
  return t;
}

struct BoxInstConfig {
  DatasetPaths data;       // training videos
  DatasetPaths val;        // evaluation videos (val.root "" = none: no predict / eval)
  // File with {"<attribute>": [annotation ids], ...} beside the val annotations (`wsvis
  // synth` writes attributes.json); each attribute gets its own AP with the other instances
  // ignored. "" = none.
  std::string val_attributes = "attributes.json";

  struct Model {
    std::string variant = "motion_boxinst";  // boxinst | motion_boxinst | condinst
    // "" trains the ResNet from scratch with BatchNorm; a torchvision ImageNet file
    // (scripts/export_torchvision.py) loads it with frozen BN and torchvision's input
    // normalisation (pipeline/detector_training.h detector_backbone).
    std::string pretrained;
    int depth = 50;
    int freeze_at = -1;            // stages frozen; -1: 2 with pretrained weights, else 0
    int fpn_channels = 256;
    int head_convs = 4;            // per FCOS tower
    int head_norm_groups = 32;
    int mask_branch_channels = 128;
    int mask_branch_convs = 4;
    int mask_channels = -1;        // C_mask; -1: 16 for BoxInst variants, 8 for CondInst
    bool motion_detection = true;     // motion_boxinst: flow stream feeds the FCOS head
    bool motion_segmentation = true;  // motion_boxinst: flow stream feeds the mask branch
    bool flow_pairwise = true;        // motion_boxinst: S_flow in the pairwise labels
    std::string detection_fusion = "sum";  // sum | max | concat
    std::string mask_fusion = "concat";    // concat | sum | max
    double color_threshold = 0.3;     // tau of the colour similarity
    double flow_threshold = 0.6;      // tau_flow
    int pairwise_warmup = 10000;      // iterations
    int bottom_pixels_removed = 10;   // COCO's hack; 0 for data without the bottom artefact
    int topk_per_image = 64;          // BoxInst's mask-loss instances per image
  } model;

  DetectorTrain train;                 // AdelaiDet's Base-BoxInst solver (detectron2 defaults)
  DetectorTest test = fcos_test();     // FCOS: NMS 0.6 (INFERENCE: NMS_TH)

  int seed = 0;
  std::string device = "auto";  // auto (CUDA when present), cpu, cuda

  bool boxes_only() const { return model.variant != "condinst"; }
  bool motion() const { return model.variant == "motion_boxinst"; }
  // The method's own keys: every field but the data paths, seed and device (what a section
  // of a `wsvis run` config holds, pipeline/run_config.h).
  void bind_settings(ConfigSchema& schema);
  // The first cross-field problem ("" when none): checked after binding.
  std::string problem() const;
  // Every field: the data paths, bind_settings, seed and device, and problem() as a check.
  void bind(ConfigSchema& schema);
};

BoxInstConfig read_boxinst_config(const std::string& path, const std::vector<std::string>& overrides,
                                  std::string* dumped = nullptr);

}  // namespace wsvis::pipeline
