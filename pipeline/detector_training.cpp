#include "pipeline/detector_training.h"

#include "engine/error.h"
#include "models/cam_net.h"

namespace wsvis::pipeline {

DetectorBackbone detector_backbone(int depth, int freeze_at, const std::string& pretrained) {
  DetectorBackbone b;
  b.resnet = models::detectron2_resnet_options(depth);
  if (pretrained.empty()) {
    b.resnet.norm = models::NormKind::BN;  // random statistics cannot be frozen
    b.resnet.freeze_at = freeze_at < 0 ? 0 : freeze_at;
    return b;
  }
  b.resnet.norm = models::NormKind::FrozenBN;
  b.resnet.stride_in_1x1 = false;
  b.resnet.freeze_at = freeze_at < 0 ? 2 : freeze_at;
  b.norm = models::PixelNormalization::torchvision();
  b.loader_norm = data::PixelNorm::torchvision_rgb;
  return b;
}

void load_detector_backbone(models::ResNet& resnet, const std::string& pretrained) {
  if (!pretrained.empty()) models::load_torchvision_backbone(resnet, pretrained);
}

data::LoaderConfig detector_loader_config(const DatasetPaths& data, const DetectorTrain& train,
                                          int delta, int pairs_per_batch, bool with_flow, int seed,
                                          data::PixelNorm norm, const dist::Communicator* comm) {
  data::LoaderConfig lc;
  if (comm && comm->active()) {
    if (pairs_per_batch % comm->world_size() != 0)
      throw InputError("train.batch: " + std::to_string(pairs_per_batch) + " samples a step do not split over " +
                       std::to_string(comm->world_size()) + " ranks");
    lc.rank = comm->rank();
    lc.world_size = comm->world_size();
  }
  lc.image_root = data.image_root();
  lc.flow_root = with_flow ? data.flow_root() : "";
  lc.delta = delta;
  lc.batch_size = pairs_per_batch;
  lc.workers = train.workers;
  lc.seed = static_cast<uint64_t>(seed);
  lc.drop_last = true;
  lc.augment.short_sizes = train.short_sizes;
  lc.augment.max_long = train.max_long;
  lc.augment.flip_prob = train.flip;
  lc.norm = norm;
  return lc;
}

std::unique_ptr<optim::SGD> detector_optimizer(const layers::Module& model, const DetectorTrain& train) {
  optim::SgdOptions so;
  so.lr = train.lr;
  so.momentum = train.momentum;
  so.weight_decay = train.weight_decay;
  return std::make_unique<optim::SGD>(detectron2_param_groups(model), so);
}

TrainLoopOptions detector_loop_options(const std::string& stage, const DetectorTrain& train,
                                       dist::Communicator* comm) {
  TrainLoopOptions lo;
  lo.comm = comm;
  lo.stage = stage;
  lo.steps_per_epoch = train.steps;
  lo.epochs = 1;
  lo.checkpoint_every = train.checkpoint_every;
  lo.base_lr = train.lr;
  lo.lr_at = detectron2_lr(train.lr, train.steps, train.decay_at, train.warmup_iters, train.warmup_factor);
  return lo;
}

void on_rank_zero(dist::Communicator* comm, const std::function<void()>& work) {
  const bool parallel = comm && comm->active();
  if (!parallel || comm->is_root()) work();
  if (parallel) comm->barrier();  // what rank 0 wrote is there for the next step
}

nlohmann::json detector_train_summary(const TrainSummary& s, int images_per_step) {
  const double run_steps = double(s.steps - s.resumed_from);
  return {{"steps", s.steps},
          {"resumed_from", s.resumed_from},
          {"seconds", s.seconds},
          {"first_loss", s.first_loss},
          {"last_loss", s.last_loss},
          {"seconds_per_step", run_steps > 0 ? s.seconds / run_steps : 0},
          {"images_per_second", s.seconds > 0 ? run_steps * images_per_step / s.seconds : 0}};
}

}  // namespace wsvis::pipeline
