// The training set-up BoxInst and Mask R-CNN runs share (pipeline/detector_config.h's
// settings): the pair loader, SGD with detectron2's parameter groups, the train-loop options
// with warm-up + step decay, and the DONE summary.
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "data/loader.h"
#include "engine/optim/sgd.h"
#include "layers/module.h"
#include "pipeline/dataset_paths.h"
#include "pipeline/detector_config.h"
#include "pipeline/train_loop.h"

namespace wsvis::pipeline {

// Pairs (t, t + delta) of `data`'s videos, pairs_per_batch of them a batch, resized and
// flipped per train.*, normalised for detectron2 (BGR, mean only); flow read when with_flow.
data::LoaderConfig detector_loader_config(const DatasetPaths& data, const DetectorTrain& train,
                                          int delta, int pairs_per_batch, bool with_flow, int seed);

std::unique_ptr<optim::SGD> detector_optimizer(const layers::Module& model, const DetectorTrain& train);

// train.steps steps in one "epoch" of the loop (the loader's epochs: pipeline/pair_batches.h).
TrainLoopOptions detector_loop_options(const std::string& stage, const DetectorTrain& train);

// The stage's DONE summary: steps, losses, seconds per step, images per second.
nlohmann::json detector_train_summary(const TrainSummary& s, int images_per_step);

}  // namespace wsvis::pipeline
