#include "pipeline/boxinst_stage.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>

#include "data/augment.h"
#include "data/coco.h"
#include "data/coco_eval.h"
#include "data/file_util.h"
#include "data/loader.h"
#include "data/ytvis_eval.h"
#include "engine/log.h"
#include "engine/ops.h"
#include "engine/optim/sgd.h"
#include "pipeline/boxinst_targets.h"
#include "pipeline/detector_training.h"
#include "pipeline/metrics.h"
#include "pipeline/pair_batches.h"
#include "pipeline/stage1_data.h"
#include "pipeline/train_loop.h"

namespace wsvis::pipeline {

namespace {

constexpr const char* kStage = "boxinst";

models::DetectionFusion detection_fusion(const std::string& name) {
  if (name == "max") return models::DetectionFusion::max;
  if (name == "concat") return models::DetectionFusion::concat;
  return models::DetectionFusion::sum;
}

models::MaskFusion mask_fusion(const std::string& name) {
  if (name == "sum") return models::MaskFusion::sum;
  if (name == "max") return models::MaskFusion::max;
  return models::MaskFusion::concat;
}


}  // namespace

const std::vector<std::string>& boxinst_steps() {
  static const std::vector<std::string> steps = {"train", "predict", "eval"};
  return steps;
}

std::unique_ptr<models::CondInst> make_boxinst_model(const BoxInstConfig& config, int num_classes,
                                                     Generator& gen, const ContextPtr& ctx) {
  const BoxInstConfig::Model& m = config.model;
  models::CondInstOptions o =
      config.boxes_only() ? models::boxinst_options(config.motion()) : models::condinst_options();
  o.encoder.backbone = detector_backbone(m.depth, m.freeze_at, m.pretrained).resnet;
  o.encoder.fpn_channels = m.fpn_channels;
  o.encoder.mask_branch.channels = m.mask_branch_channels;
  o.encoder.mask_branch.num_convs = m.mask_branch_convs;
  if (m.mask_channels > 0) o.encoder.mask_branch.out_channels = m.mask_channels;
  if (config.motion()) {
    o.encoder.motion_for_detection = m.motion_detection;
    o.encoder.motion_for_segmentation = m.motion_segmentation;
    o.encoder.detection_fusion = detection_fusion(m.detection_fusion);
    o.encoder.mask_fusion = mask_fusion(m.mask_fusion);
    o.boxinst_loss.motion_aware = m.flow_pairwise;
  }
  o.head.num_classes = num_classes;
  o.head.num_convs = m.head_convs;
  o.head.norm_groups = m.head_norm_groups;
  o.boxinst_loss.pairwise.color_thresh = m.color_threshold;
  o.boxinst_loss.pairwise.flow_thresh = m.flow_threshold;
  o.boxinst_loss.warmup_iters = m.pairwise_warmup;
  o.boxinst_loss.bottom_pixels_removed = m.bottom_pixels_removed;
  if (config.boxes_only()) o.topk_proposals_per_image = m.topk_per_image;
  o.inference.score_threshold = config.test.score_threshold;
  o.inference.nms_threshold = config.test.nms;
  o.inference.post_nms_topk = config.test.max_detections;
  auto model = std::make_unique<models::CondInst>(o, gen, ctx);
  load_detector_backbone(*model->backbone()->bottom_up(), m.pretrained);
  return model;
}

void train_boxinst(const BoxInstConfig& config, const RunDir& run, const ContextPtr& ctx,
                   dist::Communicator* comm) {
  if (run.stage_done(kStage)) {
    log::info(kStage, ": trained already (", run.root(), "/", kStage, "/DONE)");
    return;
  }
  const DetectorTrain& tc = config.train;
  const data::YtvisDataset dataset = data::read_ytvis(config.data.annotations_path());
  if (dataset.categories.empty()) throw InputError(config.data.annotations_path() + ": has no categories");
  const bool needs_flow = config.motion();
  // Pairs (t, t + 1): frame t with its forward flow; the second frame is not used.
  const DetectorBackbone backbone = detector_backbone(config.model.depth, config.model.freeze_at,
                                                     config.model.pretrained);
  data::PairLoader loader(dataset,
                          detector_loader_config(config.data, tc, 1, tc.batch, needs_flow, config.seed,
                                                 backbone.loader_norm, comm),
                          ctx);
  if (loader.batches_per_epoch() == 0)
    throw InputError(config.data.annotations_path() + ": " + std::to_string(loader.num_pairs()) +
                     " training frames with a next frame, fewer than train.batch " +
                     std::to_string(tc.batch));

  Generator init_gen(data::sample_seed(static_cast<uint64_t>(config.seed), -2, 0));
  auto model = make_boxinst_model(config, static_cast<int>(dataset.categories.size()), init_gen, ctx);
  model->pack_parameters();
  model->train(true);
  const std::unique_ptr<optim::SGD> optimizer = detector_optimizer(*model, tc);

  const BoxInstTargetBuilder targets(dataset, !config.boxes_only());
  PairBatches batches(loader);
  data::PairBatch batch;
  const TrainSummary s = run_train_loop(run, detector_loop_options(kStage, tc, comm), *model, *optimizer, [&](int64_t step, int64_t, int64_t) {
    batches.at(step, &batch);
    models::CondInstInputs inputs{batch.images_a, Tensor()};
    models::FlowColorInputs flow;
    if (needs_flow) {
      flow = models::flow_color_inputs(batch.flow_fw, batch.valid, kernels::FlowWheelVariant::flow_vis,
                                       backbone.norm);
      if (model->uses_flow()) inputs.flow_images = flow.input;
    }
    models::CondInstTargets t = targets.build(batch);
    t.iter = step + 1;
    // CondInst's random proposal subset: a generator of (seed, step), so a resume is exact.
    Generator proposal_gen(data::sample_seed(static_cast<uint64_t>(config.seed), -3, step));
    t.gen = &proposal_gen;
    if (config.boxes_only()) {
      const models::CondInstOptions& mo = model->model_options();
      const Tensor valid4 = models::boxinst_image_valid(
          image_sizes(batch), original_heights(batch), batch.images_a.size(2),
          batch.images_a.size(3), mo.boxinst_loss, ctx);
      t.similarity = models::boxinst_similarity(models::unnormalised_bgr(batch.images_a, backbone.norm), valid4,
                                                mo.boxinst_loss.motion_aware ? flow.colors : Tensor(),
                                                mo.boxinst_loss);
    }
    const models::CondInstLosses losses = model->forward_train(inputs, t);
    nlohmann::json record{{"loss_fcos_cls", losses.fcos.cls.item<double>()},
                          {"loss_fcos_loc", losses.fcos.loc.item<double>()},
                          {"loss_fcos_ctr", losses.fcos.ctr.item<double>()},
                          {"mask_instances", losses.num_mask_instances}};
    if (losses.mask.defined()) record["loss_mask"] = losses.mask.item<double>();
    if (losses.prj.defined()) record["loss_prj"] = losses.prj.item<double>();
    if (losses.pairwise.defined()) record["loss_pairwise"] = losses.pairwise.item<double>();
    return StepOutput{losses.total(), record};
  });
  run.mark_done(kStage, detector_train_summary(s, tc.batch));
  log::info(kStage, ": trained ", s.steps, " steps, loss ", s.first_loss, " -> ", s.last_loss);
}

}  // namespace wsvis::pipeline
