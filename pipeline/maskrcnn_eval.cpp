// Stage 2's inference steps (pipeline/maskrcnn_stage.h): per-frame predictions, self-labels,
// tracking into video instances, evaluation, and the step runner.
#include <algorithm>
#include <filesystem>

#include "data/coco.h"
#include "data/coco_eval.h"
#include "data/file_util.h"
#include "data/loader.h"
#include "data/rle.h"
#include "data/temporal_consistency.h"
#include "data/ytvis_eval.h"
#include "engine/log.h"
#include "layers/checkpoint.h"
#include "models/mask_paste.h"
#include "pipeline/detector_training.h"
#include "pipeline/maskrcnn_stage.h"
#include "pipeline/metrics.h"
#include "pipeline/test_inputs.h"
#include "video/instance_set.h"
#include "video/unovost_tracker.h"

namespace wsvis::pipeline {

namespace {

// Self-labels keep confident masks only: the seed paper does not say which of the first
// model's predictions become the second round's labels [UNPINNED].
constexpr float kSelfLabelScore = 0.5f;

std::string labels_path(const MaskRcnnConfig& config) {
  return config.labels.empty() ? config.data.annotations_path() : config.labels;
}

// The stage whose model predicts: the self-trained one when there is a second round.
std::string final_stage(const MaskRcnnConfig& config) {
  return config.self_training_rounds > 0 ? "maskrcnn2" : "maskrcnn";
}

}  // namespace

std::vector<std::vector<FramePrediction>> predict_frames(const MaskRcnnConfig& config,
                                                         const data::YtvisDataset& videos,
                                                         const std::string& image_root,
                                                         const std::string& weights,
                                                         const ContextPtr& ctx) {
  Generator gen(0);
  auto model = make_maskrcnn_model(config, int(videos.categories.size()), gen, ctx);
  load_state_dict_file(*model, weights);
  model->train(false);
  NoGradGuard no_grad;
  const data::PixelNorm loader_norm =
      detector_backbone(config.model.depth, config.model.freeze_at, config.model.pretrained).loader_norm;
  int64_t total = 0;
  for (const data::YtvisVideo& v : videos.videos) total += v.length;
  Progress progress("predict", total);
  std::vector<std::vector<FramePrediction>> out(videos.videos.size());
  for (size_t vi = 0; vi < videos.videos.size(); ++vi) {
    const data::YtvisVideo& video = videos.videos[vi];
    for (int t = 0; t < video.length; ++t) {
      const data::Image image =
          data::read_frame(image_root + "/" + video.file_names[size_t(t)], video);
      const TestImage in = test_image(image, config.test.short_size, config.test.max_long, loader_norm, ctx);
      const models::RcnnDetections d =
          model->forward(in.image, {{int(in.resized[0]), int(in.resized[1])}}).detections[0];
      // Boxes from the resized input back to the frame (detectron2 detector_postprocess).
      const float sx = float(image.width) / float(in.resized[1]);
      const float sy = float(image.height) / float(in.resized[0]);
      FramePrediction p;
      std::vector<models::RcnnBox> boxes;
      for (int64_t k = 0; k < d.size(); ++k) {
        const auto& b = d.boxes[size_t(k)];
        boxes.push_back({b[0] * sx, b[1] * sy, b[2] * sx, b[3] * sy});
        p.category_ids.push_back(videos.categories[size_t(d.classes[size_t(k)])].id);
      }
      p.boxes = boxes;
      p.scores = d.scores;
      p.masks = models::paste_masks(d.mask_probs, d.mask_size, boxes, image.height, image.width);
      video::InstanceSet set(image.height, image.width);
      set.masks = p.masks;
      set.category_ids = p.category_ids;
      set.scores = p.scores;
      p.reid = video::appearance_reid(set, image.data.data());
      out[vi].push_back(std::move(p));
      progress.advance(1);
    }
  }
  progress.finish();
  return out;
}

namespace {

// The self-training labels: every confident prediction on a training frame as a one-frame
// YouTube-VIS annotation.
void write_self_labels(const MaskRcnnConfig& config, const RunDir& run, const ContextPtr& ctx) {
  if (run.stage_done("self_label")) return;
  const data::YtvisDataset train = data::read_ytvis(labels_path(config));
  const auto preds = predict_frames(config, train, config.data.image_root(),
                                    run.path("maskrcnn/model.safetensors"), ctx);
  data::YtvisDataset labels;
  labels.videos = train.videos;
  labels.categories = train.categories;
  int64_t next_id = 1;
  for (size_t vi = 0; vi < train.videos.size(); ++vi) {
    const data::YtvisVideo& video = train.videos[vi];
    for (int t = 0; t < video.length; ++t) {
      const FramePrediction& p = preds[vi][size_t(t)];
      const int64_t plane = int64_t(video.height) * video.width;
      for (size_t k = 0; k < p.scores.size(); ++k) {
        if (p.scores[k] < kSelfLabelScore) continue;
        const data::Rle rle = data::rle_encode(p.masks.data() + int64_t(k) * plane, video.height, video.width);
        if (data::rle_area(rle) == 0) continue;
        data::YtvisAnnotation a;
        a.id = next_id++;
        a.video_id = video.id;
        a.category_id = p.category_ids[k];
        a.segmentations.assign(size_t(video.length), std::nullopt);
        a.bboxes.assign(size_t(video.length), std::nullopt);
        a.areas.assign(size_t(video.length), std::nullopt);
        a.segmentations[size_t(t)] = data::Segmentation::from_rle(rle);
        a.bboxes[size_t(t)] = data::rle_to_bbox(rle);
        a.areas[size_t(t)] = double(data::rle_area(rle));
        labels.annotations.push_back(std::move(a));
      }
    }
  }
  labels.reindex();
  data::write_ytvis(labels, run.path("self_labels.json"));
  run.mark_done("self_label", {{"labels", labels.annotations.size()}, {"min_score", kSelfLabelScore}});
}

void predict_and_track(const MaskRcnnConfig& config, const RunDir& run, const ContextPtr& ctx) {
  if (run.stage_done("predict")) return;
  if (config.val.root.empty()) throw InputError("maskrcnn: predict and eval need val.root");
  if (config.val.flow.empty()) throw InputError("maskrcnn: the tracker needs val.flow");
  const data::YtvisDataset val = data::read_ytvis(config.val.annotations_path());
  const auto preds = predict_frames(config, val, config.val.image_root(),
                                    run.path(final_stage(config) + "/model.safetensors"), ctx);
  std::vector<data::CocoResult> frame_results;
  std::vector<data::YtvisResult> video_results;
  int64_t image_id = 1;  // ytvis_frames_as_coco's numbering: videos in order, frames in order
  video::TrackerOptions to;
  to.overlap_iou = config.tracker.overlap_iou;
  to.link_iou = config.tracker.link_iou;
  for (size_t vi = 0; vi < val.videos.size(); ++vi) {
    const data::YtvisVideo& video = val.videos[vi];
    const int64_t plane = int64_t(video.height) * video.width;
    std::vector<video::InstanceSet> frames;
    std::vector<std::vector<std::vector<float>>> reid;
    std::vector<data::Flow> backward(size_t(video.length));
    for (int t = 0; t < video.length; ++t, ++image_id) {
      const FramePrediction& p = preds[vi][size_t(t)];
      video::InstanceSet set(video.height, video.width);
      reid.emplace_back();
      for (size_t k = 0; k < p.scores.size(); ++k) {
        const uint8_t* mask = p.masks.data() + int64_t(k) * plane;
        data::CocoResult r;
        r.image_id = image_id;
        r.category_id = p.category_ids[k];
        r.score = p.scores[k];
        r.bbox = data::BoxXywh{p.boxes[k][0], p.boxes[k][1], p.boxes[k][2] - p.boxes[k][0],
                               p.boxes[k][3] - p.boxes[k][1]};
        r.segmentation = data::rle_encode(mask, video.height, video.width);
        frame_results.push_back(std::move(r));
        if (p.scores[k] < config.tracker.min_score) continue;
        set.add(mask, p.category_ids[k], p.scores[k]);
        reid.back().push_back(p.reid[k]);
      }
      frames.push_back(std::move(set));
      if (t > 0)
        backward[size_t(t)] = data::read_flow(config.val.flow_root() + "/" +
                                                  data::strip_extension(video.file_names[size_t(t)]) + "_bw.flo",
                                              video);
    }
    const video::TrackerResult tracks = video::track_video(frames, backward, reid, to);
    const std::vector<data::YtvisResult> r = video::tracks_to_results(tracks, video.id);
    video_results.insert(video_results.end(), r.begin(), r.end());
  }
  data::write_coco(data::ytvis_frames_as_coco(val), run.path("val_frames.json"));
  data::write_coco_results(frame_results, run.path("frame_predictions.json"));
  data::write_ytvis_results(video_results, run.path("predictions.json"));
  run.mark_done("predict", {{"frame_detections", frame_results.size()}, {"tracks", video_results.size()}});
}

nlohmann::json evaluate_maskrcnn(const MaskRcnnConfig& config, const RunDir& run) {
  const data::YtvisDataset val = data::read_ytvis(config.val.annotations_path());
  const data::CocoDataset frames = data::ytvis_frames_as_coco(val);
  const std::string frame_path = run.path("frame_predictions.json"), video_path = run.path("predictions.json");
  data::CocoEvalOptions co;
  co.results_name = frame_path;
  nlohmann::json metrics;
  metrics["frame_segm"] = stats_json(data::evaluate_coco(frames, data::read_coco_results(frame_path, &frames), co));
  const std::vector<data::YtvisResult> results = data::read_ytvis_results(video_path, &val);
  data::YtvisEvalOptions yo;
  yo.results_name = video_path;
  metrics["video_segm"] = stats_json(data::evaluate_ytvis(val, results, yo));
  data::TemporalConsistency tc;
  for (const data::YtvisVideo& v : val.videos) {
    std::vector<data::Flow> forward;
    for (int t = 0; t + 1 < v.length; ++t)
      forward.push_back(data::read_flow(config.val.flow_root() + "/" +
                                            data::strip_extension(v.file_names[size_t(t)]) + "_fw.flo",
                                        v));
    tc.add_video(data::frame_instances(results, v.id, v.length), forward, v.height, v.width);
  }
  const auto tc_value = tc.value();
  metrics["temporal_consistency"] = tc_value ? nlohmann::json(*tc_value) : nlohmann::json(nullptr);
  metrics["tracks"] = results.size();
  data::write_file_atomic(run.path("metrics.json"), metrics.dump(2) + "\n");
  return metrics;
}

}  // namespace

void run_maskrcnn(const MaskRcnnConfig& config, const RunDir& run, const std::vector<std::string>& steps,
                  const ContextPtr& ctx, dist::Communicator* comm) {
  log::info("maskrcnn: ", config.maskconsist.enabled ? "MaskConsist" : "Mask R-CNN", " on ",
            ctx->device().str());
  run_steps_in_order(run, "maskrcnn", maskrcnn_steps(), steps, [&](const std::string& step) {
    const bool self_training = config.self_training_rounds > 0;
    if (step == "train") train_maskrcnn(config, labels_path(config), "maskrcnn", run, ctx, comm);
    if (step == "self-label" && self_training) on_rank_zero(comm, [&] { write_self_labels(config, run, ctx); });
    if (step == "train-2" && self_training)
      train_maskrcnn(config, run.path("self_labels.json"), "maskrcnn2", run, ctx, comm);
    if (step == "predict") on_rank_zero(comm, [&] { predict_and_track(config, run, ctx); });
    if (step != "eval") return;
    on_rank_zero(comm, [&] {
      const nlohmann::json m = evaluate_maskrcnn(config, run);
      log::info("eval: frame AP50 ", m["frame_segm"]["AP50"].get<double>(), "; video mAP ",
                m["video_segm"]["AP"].get<double>(), ", AP50 ", m["video_segm"]["AP50"].get<double>());
    });
  });
}

}  // namespace wsvis::pipeline
