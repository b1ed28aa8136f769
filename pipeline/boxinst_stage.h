// Motion-aided BoxInst (Ikeda & Mori), BoxInst and CondInst as one run: train, predict, eval.
//
//   train    frames (t, flow t -> t+1) of the training videos, detectron2's resize-shortest-
//            edge + flip, batches from data::PairLoader (delta 1: every frame but a video's
//            last, which has no forward flow); boxes (and, for CondInst, the GT masks) as
//            targets; SGD with warm-up and step decay; resumable (pipeline/train_loop.h).
//            Weights: <run>/boxinst/model.safetensors.
//   predict  every frame of the val videos at the test size, with its flow (t -> t+1; the
//            last frame's t -> t-1, the only one it has [UNPINNED]); masks and boxes at the
//            frame's size. <run>/predictions.json: COCO results on <run>/val_frames.json, the
//            val videos as a COCO dataset of frames (data/ytvis_eval.h ytvis_frames_as_coco),
//            so `wsvis eval --gt <run>/val_frames.json --results <run>/predictions.json
//            --type segm|bbox` reproduces the numbers.
//   eval     <run>/metrics.json: COCO mask AP and box AP (the 12 numbers each), and per
//            attribute of config.val_attributes (e.g. "camouflaged") the same with every
//            other instance marked crowd: ignored, so a detection on one is neither a true
//            nor a false positive (pycocotools' crowd rule, IoU = |d ∩ g| / |d|).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/context.h"
#include "engine/distributed.h"
#include "engine/random.h"
#include "models/condinst.h"
#include "pipeline/boxinst_config.h"
#include "pipeline/run_dir.h"

namespace wsvis::pipeline {

const std::vector<std::string>& boxinst_steps();  // train, predict, eval

// The model the config describes (weights from model.pretrained when given).
std::unique_ptr<models::CondInst> make_boxinst_model(const BoxInstConfig& config, int num_classes,
                                                     Generator& gen, const ContextPtr& ctx);

// With an active `comm`, data-parallel over its ranks (train.batch is the global batch).
void train_boxinst(const BoxInstConfig& config, const RunDir& run, const ContextPtr& ctx,
                   dist::Communicator* comm = nullptr);
void predict_boxinst(const BoxInstConfig& config, const RunDir& run, const ContextPtr& ctx);
nlohmann::json evaluate_boxinst(const BoxInstConfig& config, const RunDir& run);

// Runs `steps` in pipeline order; a finished step (DONE marker) is skipped.
void run_boxinst(const BoxInstConfig& config, const RunDir& run, const std::vector<std::string>& steps,
                 const ContextPtr& ctx, dist::Communicator* comm = nullptr);

}  // namespace wsvis::pipeline
