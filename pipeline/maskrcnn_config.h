// The configuration of stage 2 of flowIRN + MaskConsist: Mask R-CNN (R50-FPN, detectron2's
// defaults, spec boxinst_maskrcnn_ytvis.md part B) trained on instance labels of the training
// videos (stage 1's pseudo-labels, or the ground truth to prove the detector), with or without
// MaskConsist (seed paper section 3.3, spec irn_flowirn_maskconsist.md section 7), per-frame
// inference on the evaluation videos and the UnOVOST-style tracker (section 7b) that links
// frames into YouTube-VIS video instances. Keys "model.depth", "maskconsist.delta", ...
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pipeline/config_schema.h"
#include "pipeline/dataset_paths.h"
#include "pipeline/detector_config.h"

namespace wsvis::pipeline {

// The seed paper's MaskConsist solver: base lr 0.002, x0.1 at 75% and 88% of 90k steps.
inline DetectorTrain maskconsist_train() {
  DetectorTrain t;
  t.batch = 8;
  t.lr = 0.002;
  t.decay_at = {0.75, 0.88};
  return t;
}

struct MaskRcnnConfig {
  DatasetPaths data;  // training frames and flow; data.annotations names the videos
  // The instance labels to train on: a YouTube-VIS JSON over data's videos (stage 1 writes
  // <run>/pseudo_labels.json). "" = data.annotations itself (ground-truth masks).
  std::string labels;
  DatasetPaths val;   // evaluation videos (val.root "" = no predict / eval)

  struct Model {
    // "" trains the ResNet from scratch with BatchNorm; a torchvision ImageNet file
    // (scripts/export_torchvision.py) loads it with frozen BN and torchvision's input
    // normalisation (pipeline/detector_training.h detector_backbone).
    std::string pretrained;
    int depth = 50;
    int freeze_at = -1;            // stages frozen; -1: 2 with pretrained weights, else 0
    int fpn_channels = 256;
    int box_fc_dim = 1024;
    int mask_conv_dim = 256;
    int roi_batch_per_image = 512;
    int rpn_batch_per_image = 256;
    int rpn_post_nms_train = 1000;
    int rpn_post_nms_test = 1000;  // also MaskConsist's prediction pass in training
    std::vector<double> anchor_sizes{32, 64, 128, 256, 512};
  } model;

  struct MaskConsist {
    bool enabled = true;        // false: plain Mask R-CNN on the labels
    int delta = 5;              // frame gap of a training pair (YTVIS 5, Cityscapes 3)
    bool intra_frame = true;    // Table 5 switches
    bool inter_frame = true;
    bool iom_nms = true;
    int top_k = 100;
    double match_box_iou = 0.5;
    double iom_threshold = 0.5;
  } maskconsist;

  int self_training_rounds = 0;  // 1: a second model trained on the first one's masks

  DetectorTrain train = maskconsist_train();  // batch = images, i.e. 2 x frame pairs
  DetectorTest test;                          // detectron2: score 0.05, NMS 0.5, 100

  struct Tracker {
    double overlap_iou = 0.2;
    double link_iou = 0.05;
    double min_score = 0.05;  // proposals below are not tracked [UNPINNED]
  } tracker;

  int seed = 0;
  std::string device = "auto";

  // The method's own keys: every field but the data paths, seed and device (what a section
  // of a `wsvis run` config holds, pipeline/run_config.h).
  void bind_settings(ConfigSchema& schema);
  // The first cross-field problem ("" when none): checked after binding.
  std::string problem() const;
  // Every field: the data paths, bind_settings, seed and device, and problem() as a check.
  void bind(ConfigSchema& schema);
};

MaskRcnnConfig read_maskrcnn_config(const std::string& path, const std::vector<std::string>& overrides,
                                    std::string* dumped = nullptr);

}  // namespace wsvis::pipeline
