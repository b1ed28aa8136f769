// The predict and eval steps of the BoxInst run, and the step runner (pipeline/boxinst_stage.h).
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <set>

#include "data/augment.h"
#include "data/coco.h"
#include "data/coco_eval.h"
#include "data/file_util.h"
#include "data/loader.h"
#include "data/rle.h"
#include "data/ytvis_eval.h"
#include "engine/log.h"
#include "layers/checkpoint.h"
#include "pipeline/boxinst_stage.h"
#include "pipeline/detector_training.h"
#include "pipeline/metrics.h"
#include "pipeline/stage1_data.h"
#include "pipeline/test_inputs.h"

namespace wsvis::pipeline {

namespace {

DatasetPaths checked_val(const BoxInstConfig& config) {
  if (config.val.root.empty())
    throw InputError("boxinst: predict and eval need val.root (the videos to evaluate on)");
  return config.val;
}

// {"<attribute>": [annotation ids]} beside the val annotations, or empty.
std::map<std::string, std::set<int64_t>> read_attributes(const BoxInstConfig& config) {
  std::map<std::string, std::set<int64_t>> out;
  if (config.val_attributes.empty()) return out;
  const std::string path = config.val.root + "/" + config.val_attributes;
  if (!std::filesystem::exists(path)) return out;
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(data::read_file_bytes(path));
    for (const auto& [name, ids] : j.items()) out[name] = ids.get<std::set<int64_t>>();
  } catch (const nlohmann::json::exception& e) {
    throw InputError(path + ": not an attributes file ({\"name\": [annotation ids]}): " + e.what());
  }
  return out;
}

nlohmann::json evaluate_both(const data::CocoDataset& gt, const std::vector<data::CocoResult>& results,
                             const std::string& results_path) {
  nlohmann::json out;
  for (const auto& [name, type] : {std::pair<const char*, data::CocoIouType>{"segm", data::CocoIouType::segm},
                                   {"bbox", data::CocoIouType::bbox}}) {
    data::CocoEvalOptions o;
    o.iou_type = type;
    o.results_name = results_path;
    out[name] = stats_json(data::evaluate_coco(gt, results, o));
  }
  return out;
}

}  // namespace

void predict_boxinst(const BoxInstConfig& config, const RunDir& run, const ContextPtr& ctx) {
  if (run.stage_done("predict")) {
    log::info("predict: done already");
    return;
  }
  const Stage1Data val = load_stage1_data(checked_val(config));
  Generator gen(0);
  auto model = make_boxinst_model(config, val.num_classes, gen, ctx);
  load_state_dict_file(*model, run.path("boxinst/model.safetensors"));
  model->train(false);
  NoGradGuard no_grad;
  const bool flow_input = model->uses_flow();
  const DetectorBackbone backbone =
      detector_backbone(config.model.depth, config.model.freeze_at, config.model.pretrained);
  if (flow_input && val.flow_root.empty()) throw InputError("boxinst: the model reads flow but val.flow is empty");

  std::vector<data::CocoResult> results;
  Progress progress("predict", int64_t(val.frames.size()));
  const auto t0 = std::chrono::steady_clock::now();
  for (size_t i = 0; i < val.frames.size(); ++i) {
    const FrameRef& f = val.frames[i];
    const data::Image image = val.read_image(f);
    const data::Flow flow = flow_input ? val.read_motion_flow(f) : data::Flow();
    const TestImage in = test_image(image, config.test.short_size, config.test.max_long, backbone.loader_norm, ctx);
    const models::CondInstInputs inputs{in.image,
                                        flow_input ? test_flow_image(flow, in, backbone.norm, ctx) : Tensor()};
    const models::CondInstDetections d = model->infer(inputs, {in.resized}, {{image.height, image.width}})[0];
    const int64_t plane = d.height * d.width;
    for (int64_t k = 0; k < d.detections.size(); ++k) {
      const auto& b = d.detections.boxes[size_t(k)];
      data::CocoResult r;
      r.image_id = int64_t(i) + 1;  // ytvis_frames_as_coco numbers frames 1, 2, ... in this order
      r.category_id = val.dataset.categories[size_t(d.detections.classes[size_t(k)])].id;
      r.score = d.detections.scores[size_t(k)];
      r.bbox = data::BoxXywh{b[0], b[1], b[2] - b[0], b[3] - b[1]};
      r.segmentation = data::rle_encode(d.masks.data() + k * plane, int(d.height), int(d.width));
      results.push_back(std::move(r));
    }
    progress.advance(1);
  }
  progress.finish();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  data::write_coco(data::ytvis_frames_as_coco(val.dataset), run.path("val_frames.json"));
  data::write_coco_results(results, run.path("predictions.json"));
  run.mark_done("predict", {{"frames", val.frames.size()},
                            {"detections", results.size()},
                            {"seconds_per_frame", seconds / double(std::max<size_t>(1, val.frames.size()))}});
}

nlohmann::json evaluate_boxinst(const BoxInstConfig& config, const RunDir& run) {
  const DatasetPaths paths = checked_val(config);
  const data::YtvisDataset val = data::read_ytvis(paths.annotations_path());
  const data::CocoDataset gt = data::ytvis_frames_as_coco(val);
  const std::string results_path = run.path("predictions.json");
  const std::vector<data::CocoResult> results = data::read_coco_results(results_path, &gt);
  nlohmann::json metrics = evaluate_both(gt, results, results_path);
  metrics["frames"] = gt.images.size();
  metrics["instances"] = val.annotations.size();
  for (const auto& [attribute, ids] : read_attributes(config)) {
    // The subset alone: every other instance becomes a crowd region (ignored).
    data::YtvisDataset subset = val;
    int64_t kept = 0;
    for (data::YtvisAnnotation& a : subset.annotations) {
      const bool in = ids.count(a.id) > 0;
      kept += in;
      if (!in) a.iscrowd = 1;
    }
    nlohmann::json m = evaluate_both(data::ytvis_frames_as_coco(subset), results, results_path);
    m["instances"] = kept;
    metrics["attributes"][attribute] = m;
  }
  data::write_file_atomic(run.path("metrics.json"), metrics.dump(2) + "\n");
  return metrics;
}

void run_boxinst(const BoxInstConfig& config, const RunDir& run, const std::vector<std::string>& steps,
                 const ContextPtr& ctx, dist::Communicator* comm) {
  log::info("boxinst: ", config.model.variant, " on ", ctx->device().str());
  run_steps_in_order(run, "boxinst", boxinst_steps(), steps, [&](const std::string& step) {
    if (step == "train") train_boxinst(config, run, ctx, comm);
    if (step == "predict") on_rank_zero(comm, [&] { predict_boxinst(config, run, ctx); });
    if (step != "eval") return;
    on_rank_zero(comm, [&] {
      const nlohmann::json m = evaluate_boxinst(config, run);
      log::info("eval: mask AP ", m["segm"]["AP"].get<double>(), ", AP50 ", m["segm"]["AP50"].get<double>(),
                "; box AP ", m["bbox"]["AP"].get<double>());
    });
  });
}

}  // namespace wsvis::pipeline
