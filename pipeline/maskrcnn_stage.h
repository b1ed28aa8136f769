// Stage 2 of flowIRN + MaskConsist in a run folder (pipeline/maskrcnn_config.h):
//
//   train        Mask R-CNN on frame pairs (t, t + delta) of the training videos, labels from
//                config.labels; with MaskConsist each step's own predictions on both frames
//                (one backbone pass: models/mask_rcnn.h forward_self_labelled) are matched and
//                transferred by video/maskconsist.h into that step's targets.
//                <run>/maskrcnn/model.safetensors
//   self-label   (self_training_rounds 1) the trained model's masks on every training frame
//                (score >= 0.5 [UNPINNED]) as a YouTube-VIS label file, <run>/self_labels.json
//   train-2      a second MaskConsist model trained on them, <run>/maskrcnn2/
//   predict      every frame of the val videos with the last model: <run>/frame_predictions.json
//                (COCO results on <run>/val_frames.json, frame AP), then per video the
//                tracker (video/unovost_tracker.h) -> <run>/predictions.json (YouTube-VIS results)
//   eval         <run>/metrics.json: frame-level mask AP (the seed paper's Tables 1, 5),
//                YouTube-VIS video mAP / AP50 / AP75 / AR1 / AR10 (Table 3) and temporal
//                consistency (spec section 8, the class-map form, nearest warping).
// Each step is skipped when its DONE marker exists; training resumes from its checkpoint.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/ytvis.h"
#include "engine/context.h"
#include "engine/distributed.h"
#include "engine/random.h"
#include "models/mask_rcnn.h"
#include "pipeline/maskrcnn_config.h"
#include "pipeline/run_dir.h"

namespace wsvis::pipeline {

const std::vector<std::string>& maskrcnn_steps();  // train, self-label, train-2, predict, eval

std::unique_ptr<models::MaskRcnn> make_maskrcnn_model(const MaskRcnnConfig& config, int num_classes,
                                                      Generator& gen, const ContextPtr& ctx);

// Trains into <run>/<stage> from the labels file (a YouTube-VIS JSON over data's videos).
// With an active `comm`, data-parallel over its ranks (train.batch is the global batch).
void train_maskrcnn(const MaskRcnnConfig& config, const std::string& labels_path,
                    const std::string& stage, const RunDir& run, const ContextPtr& ctx,
                    dist::Communicator* comm = nullptr);

// The model of <run>/<stage> applied to every frame of `videos` (frames under image_root):
// per frame up to test.max_detections instances with masks at the frame's size.
struct FramePrediction {
  std::vector<std::array<float, 4>> boxes;  // x1, y1, x2, y2
  std::vector<float> scores;
  std::vector<int64_t> category_ids;
  std::vector<uint8_t> masks;  // (D, H, W)
  std::vector<std::vector<float>> reid;  // (D) appearance descriptors for the tracker
};
std::vector<std::vector<FramePrediction>> predict_frames(const MaskRcnnConfig& config,
                                                         const data::YtvisDataset& videos,
                                                         const std::string& image_root,
                                                         const std::string& weights,
                                                         const ContextPtr& ctx);

// With an active `comm` the two trainings are data-parallel and rank 0 alone self-labels,
// predicts and evaluates (the other ranks pass a RunDir::reader()).
void run_maskrcnn(const MaskRcnnConfig& config, const RunDir& run, const std::vector<std::string>& steps,
                  const ContextPtr& ctx, dist::Communicator* comm = nullptr);

}  // namespace wsvis::pipeline
