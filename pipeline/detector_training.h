// The training set-up BoxInst and Mask R-CNN runs share (pipeline/detector_config.h's
// settings): the pair loader, SGD with detectron2's parameter groups, the train-loop options
// with warm-up + step decay, and the DONE summary.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "data/loader.h"
#include "engine/distributed.h"
#include "engine/optim/sgd.h"
#include "layers/module.h"
#include "models/motion_encoder.h"
#include "models/resnet.h"
#include "pipeline/dataset_paths.h"
#include "pipeline/detector_config.h"
#include "pipeline/train_loop.h"

namespace wsvis::pipeline {

// The ResNet of a detector run and how its input is normalised.
//   pretrained "" (from scratch): BatchNorm, detectron2's MSRA layout (stride in the first 1x1)
//     and normalisation (BGR, mean only); freeze_at -1 means 0.
//   pretrained = torchvision ImageNet weights (scripts/export_torchvision.py): detectron2's
//     recipe for them - frozen BN, the stride in the 3x3 conv as torchvision has it, RGB input
//     with torchvision's mean and std; freeze_at -1 means 2 (stem and res2, as AdelaiDet).
// The weights themselves are loaded by load_detector_backbone.
struct DetectorBackbone {
  models::ResNetOptions resnet;
  models::PixelNormalization norm;
  data::PixelNorm loader_norm = data::PixelNorm::detectron2_bgr;
};
DetectorBackbone detector_backbone(int depth, int freeze_at, const std::string& pretrained);
// Loads `pretrained` (when not "") into the detector's ResNet (InputError naming the file and
// every tensor that does not fit).
void load_detector_backbone(models::ResNet& resnet, const std::string& pretrained);

// Pairs (t, t + delta) of `data`'s videos, pairs_per_batch of them a batch, resized and
// flipped per train.*, normalised as `norm`; flow read when with_flow.
// With an active `comm` each rank loads its slice of every batch (InputError when
// pairs_per_batch does not split evenly over the ranks).
data::LoaderConfig detector_loader_config(const DatasetPaths& data, const DetectorTrain& train,
                                          int delta, int pairs_per_batch, bool with_flow, int seed,
                                          data::PixelNorm norm, const dist::Communicator* comm = nullptr);

std::unique_ptr<optim::SGD> detector_optimizer(const layers::Module& model, const DetectorTrain& train);

// train.steps steps in one "epoch" of the loop (the loader's epochs: pipeline/pair_batches.h).
TrainLoopOptions detector_loop_options(const std::string& stage, const DetectorTrain& train,
                                       dist::Communicator* comm = nullptr);

// A step that is not data-parallel (self-labelling, prediction, evaluation) in a run of
// several ranks: rank 0 does it while the others wait for it; alone, it is just done.
void on_rank_zero(dist::Communicator* comm, const std::function<void()>& work);

// The stage's DONE summary: steps, losses, seconds per step, images per second.
nlohmann::json detector_train_summary(const TrainSummary& s, int images_per_step);

}  // namespace wsvis::pipeline
