// The configuration of stage 1 of flowIRN + MaskConsist: CAM network -> CAMs -> IR labels ->
// IRN (or flowIRN) -> instance pseudo-labels. Every default is IRN's run_sample.py value
// (spec irn_flowirn_maskconsist.md section 6) or the seed paper's (section 7); the JSON keys
// are the field paths below ("cam.batch", "flowirn.fcam", ...), read strictly
// (pipeline/config_schema.h). configs/stage1_synth.json and configs/ytvis_flowirn_maskconsist.json
// are examples.
//
// Where our defaults differ from IRN's or the seed paper's, and why:
//   - cam.pretrained / irn.pretrained: IRN starts both backbones from ImageNet weights. wsvis
//     loads them when given (scripts/export_torchvision.py writes resnet50.safetensors); with
//     none, the CAM network trains from scratch (then set cam.frozen_stages 0 and cam.norm
//     "batch": freezing random layers or fixing random BN statistics makes no sense), and
//     the IRN backbone, which IRN keeps frozen, is copied from the trained CAM network (IRN
//     uses a fresh ImageNet ResNet there; with no ImageNet weights the trained CAM backbone
//     is the only backbone whose features mean anything).
//   - Image resizing is bilinear (IRN: PIL bicubic for images).
//   - inference pads each image to the crop size when it fits, else to the next multiple of
//     16 (IRN pads to 512 and breaks on larger images; spec section 5 [UNPINNED]).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pipeline/config_schema.h"
#include "pipeline/dataset_paths.h"

namespace wsvis::pipeline {

struct Stage1Config {
  DatasetPaths data;
  struct Cam {
    int depth = 50;
    std::string norm = "fixed";      // "fixed" (IRN's FixedBatchNorm) or "batch"
    int frozen_stages = 2;           // 2: stem..layer2 frozen (IRN); 0: all trained
    std::string pretrained;          // torchvision ResNet safetensors, "" = from scratch
    int batch = 16;
    int epochs = 5;
    double lr = 0.1;
    double weight_decay = 1e-4;
    double classifier_lr_mult = 10;
    // IRN's PolyOptimizer passes weight_decay into SGD's momentum slot (momentum 1e-4,
    // spec section 1). Off: momentum below is used; on: momentum = weight_decay.
    bool momentum_quirk = false;
    double momentum = 0.0;
    std::vector<int> resize_long{320, 640};  // random long side, inclusive
    int crop = 512;
    std::vector<double> scales{1.0, 0.5, 1.5, 2.0};  // CAM inference
    int checkpoint_every = 200;  // steps
  } cam;
  struct IrLabel {
    double fg_threshold = 0.30;  // conf_fg_thres
    double bg_threshold = 0.05;  // conf_bg_thres
    double gt_prob = 0.7;
    double gaussian_sxy = 3, gaussian_compat = 3;
    double bilateral_sxy = 50, bilateral_srgb = 5, bilateral_compat = 10;
    int crf_iterations = 10;
  } ir_label;
  struct Irn {
    std::string pretrained;  // "" = copy the CAM network's backbone (see above)
    int batch = 32;
    int epochs = 3;
    double lr = 0.1;
    double weight_decay = 1e-4;
    double displacement_lr_mult = 10;
    bool momentum_quirk = false;
    double momentum = 0.0;
    std::vector<double> scale_range{0.5, 1.5};
    int crop = 512;
    int checkpoint_every = 200;
  } irn;
  struct FlowIrn {
    bool fcam = false;            // flow-amplified CAMs for IR labels and seeds
    double amplification = 2.0;   // A (YTVIS 2, Cityscapes 5)
    double percentile = 0.8;      // T as a fraction (YTVIS 0.8, Cityscapes 0.5)
    bool flow_boundary = false;   // the flow-boundary loss in IRN training
    double lambda = 2.0;
    double weight = 1.0;          // relative to IRN's total [UNPINNED]
    // Units of F' [UNPINNED]: the flow (image pixels) is multiplied by this before its forward
    // differences on the stride-4 grid. 0.25 (the spec's choice) = stride-4 pixels; 1 = image
    // pixels, so that lambda = 2 separates regions whose motion differs by 2 px per frame.
    double flow_scale = 0.25;
  } flowirn;
  struct Inference {
    double beta = 10;
    int exp_times = 8;            // 2^8 = 256 walk steps
    double bg_threshold = 0.25;   // ins_seg_bg_thres
    double min_area = 0.01;       // fragment threshold, fraction of the image
    double min_score = 1e-5;      // make_cocoann drops instances below
  } inference;
  int seed = 0;
  std::string device = "auto";    // auto (CUDA when present), cpu, cuda
  int workers = 2;                // data loading threads

  // The method's own keys: every field but the data paths, seed and device (what a section
  // of a `wsvis run` config holds, pipeline/run_config.h).
  void bind_settings(ConfigSchema& schema);
  // The first cross-field problem ("" when none): checked after binding.
  std::string problem() const;
  // Every field: the data paths, bind_settings, seed and device, and problem() as a check.
  void bind(ConfigSchema& schema);
};

// Reads and validates a config file (+ --set overrides); the schema is returned too, for
// writing the config as run.
Stage1Config read_stage1_config(const std::string& path, const std::vector<std::string>& overrides,
                                std::string* dumped = nullptr);

}  // namespace wsvis::pipeline
