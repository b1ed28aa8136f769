#include "pipeline/stage1.h"

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "data/file_util.h"
#include "engine/device.h"
#include "engine/log.h"
#include "pipeline/cam_stage.h"
#include "pipeline/ir_label_stage.h"
#include "pipeline/irn_stage.h"
#include "pipeline/pseudo_label_stage.h"
#include "pipeline/stage1_data.h"

namespace wsvis::pipeline {

const std::vector<std::string>& stage1_steps() {
  static const std::vector<std::string> steps = {"train-cam", "make-cams", "make-ir-labels",
                                                 "train-irn", "make-pseudo-labels", "eval"};
  return steps;
}

void run_stage1(const Stage1Config& config, const RunDir& run, const std::vector<std::string>& steps,
                const ContextPtr& ctx) {
  const Stage1Data data = load_stage1_data(config);
  log::info("stage1: ", data.frames.size(), " frames, ", data.num_classes, " classes, on ",
            ctx->device().str());
  run_steps_in_order(run, "stage1", stage1_steps(), steps, [&](const std::string& step) {
    if (step == "train-cam") train_cam(config, data, run, ctx);
    if (step == "make-cams") make_cams(config, data, run, ctx);
    if (step == "make-ir-labels") make_ir_labels(config, data, run, ctx);
    if (step == "train-irn") train_irn(config, data, run, ctx);
    if (step == "make-pseudo-labels") make_pseudo_labels(config, data, run, ctx);
    if (step != "eval") return;
    if (data.dataset.annotations.empty()) {
      log::info("eval: the dataset has no annotations; nothing to score against");
      return;
    }
    const nlohmann::json m = evaluate_pseudo_labels(data, run);
    log::info("eval: pseudo-label frame AP50 ", m["pseudo_labels"]["frame_segm"]["AP50"].get<double>(),
              ", AP ", m["pseudo_labels"]["frame_segm"]["AP"].get<double>());
  });
}

void record_config(const RunDir& run, const std::string& dumped, const std::string& source, bool force) {
  const std::string path = run.path("config.json");
  if (std::filesystem::exists(path) && !force) {
    if (data::read_file_bytes(path) != dumped)
      throw InputError(path + ": this run folder was made with a different config than " + source +
                       " (with its --set overrides); use another --run folder, or --force to "
                       "continue with the new one");
    return;
  }
  if (run.writes()) data::write_file_atomic(path, dumped);
}

ContextPtr context_for(const std::string& device, int cuda_index) {
  if (device == "cpu") return Context::create(Device::cpu());
  if (device == "cuda") {
    if (!cuda_available()) throw InputError("device \"cuda\" asked for, but no CUDA device is visible");
    return Context::create(Device::cuda(cuda_index));
  }
  return Context::create(cuda_available() ? Device::cuda(cuda_index) : Device::cpu());
}

}  // namespace wsvis::pipeline
