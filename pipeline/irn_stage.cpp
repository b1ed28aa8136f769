#include "pipeline/irn_stage.h"

#include <cmath>

#include "data/augment.h"
#include "data/loader.h"
#include "engine/log.h"
#include "engine/ops.h"
#include "engine/ops/irn.h"
#include "engine/ops/irn_inference.h"
#include "engine/optim/sgd.h"
#include "layers/checkpoint.h"
#include "pipeline/cam_stage.h"
#include "pipeline/crop.h"
#include "pipeline/ir_label_stage.h"
#include "pipeline/train_loop.h"

namespace wsvis::pipeline {

namespace {

// One augmented IRN sample: image planes (3, S, S), stride-4 labels (S/4, S/4) and, with
// flow, the stride-4 flow (2, S/4, S/4) in image pixels.
struct IrnSample {
  std::vector<float> image;
  std::vector<uint8_t> label4;
  std::vector<float> flow4;
};

IrnSample irn_sample(const Stage1Data& data, const RunDir& run, const FrameRef& f, bool with_flow,
                     const Stage1Config::Irn& c, Generator& gen) {
  data::Image image = data.read_image(f);
  const data::Image label_png = data::read_image(ir_label_path(run, f), 1);
  if (label_png.width != image.width || label_png.height != image.height)
    throw InputError(ir_label_path(run, f) + ": IR label size differs from its frame");
  std::vector<uint8_t> label = label_png.data;
  data::Flow flow;
  if (with_flow) flow = data.read_motion_flow(f);

  const double s = gen.uniform(c.scale_range[0], c.scale_range[1]);
  const int w = std::max(1, static_cast<int>(std::lround(image.width * s)));
  const int h = std::max(1, static_cast<int>(std::lround(image.height * s)));
  label = data::resize_mask(label, image.width, image.height, w, h);
  image = data::resize_image(image, w, h);
  if (with_flow) flow = data::resize_flow(flow, w, h);
  if (gen.uniform(0, 1) < 0.5) {
    image = data::flip_image(image);
    label = data::flip_mask(label, w, h);
    if (with_flow) flow = data::flip_flow(flow);
  }
  const int S = c.crop;
  const CropBox box = random_crop_box(w, h, S, gen);
  IrnSample out;
  out.image.assign(static_cast<size_t>(3) * S * S, 0.f);
  normalised_crop_into(image, box, S, out.image.data());
  std::vector<uint8_t> label_crop(static_cast<size_t>(S) * S, 255);
  copy_crop(label.data(), 1, w, h, box, S, label_crop.data());
  out.label4 = sample_stride4(label_crop, 1, S);
  if (with_flow) {
    std::vector<float> flow_planes(static_cast<size_t>(2) * h * w), flow_crop(static_cast<size_t>(2) * S * S, 0.f);
    data::flow_planes_into(flow, flow_planes.data(), h, w);
    copy_crop(flow_planes.data(), 2, w, h, box, S, flow_crop.data());
    out.flow4 = sample_stride4(flow_crop, 2, S);
  }
  return out;
}

// IRN's mean shift: per batch the mean of D over batch and space, averaged over batches.
std::array<float, 2> displacement_mean(models::IrnNet& net, const Stage1Data& data,
                                       const Stage1Config::Irn& c, const ContextPtr& ctx) {
  net.train(false);
  NoGradGuard no_grad;
  const int64_t n = static_cast<int64_t>(data.frames.size());
  const int64_t batch = std::min<int64_t>(c.batch, n);
  const int64_t batches = n / batch;  // drop_last
  const int S = c.crop;
  double sum_y = 0, sum_x = 0;
  Progress progress("irn mean shift", batches);
  for (int64_t b = 0; b < batches; ++b) {
    std::vector<float> images(static_cast<size_t>(batch) * 3 * S * S, 0.f);
    for (int64_t i = 0; i < batch; ++i) {
      const data::Image image = data.read_image(data.frames[static_cast<size_t>(b * batch + i)]);
      normalised_crop_into(image, top_left_crop_box(image.width, image.height, S), S,
                           images.data() + static_cast<size_t>(i) * 3 * S * S);
    }
    const Tensor x = Tensor::from_vector(images, {batch, 3, S, S}, ctx);
    // (B, 2, h, w); the mean-shift buffer is still 0 here, as in IRN's pass.
    const Tensor d = net.forward(x).displacement;
    const std::vector<double> mean = ops::mean(d, {0, 2, 3}).to_vector<double>();
    sum_y += mean[0];
    sum_x += mean[1];
    progress.advance();
  }
  progress.finish();
  return {static_cast<float>(sum_y / batches), static_cast<float>(sum_x / batches)};
}

}  // namespace

std::unique_ptr<models::IrnNet> make_irn_net(const Stage1Config& config, const ContextPtr& ctx) {
  models::IrnNetOptions o;
  o.depth = config.cam.depth;
  Generator gen(data::sample_seed(static_cast<uint64_t>(config.seed), -3, 0));
  return std::make_unique<models::IrnNet>(o, gen, ctx);
}

namespace {

// The backbone IRN trains on: ImageNet weights, or the trained CAM network's backbone.
void init_irn_backbone(models::IrnNet& net, const Stage1Config& config, const Stage1Data& data,
                       const RunDir& run, const ContextPtr& ctx) {
  if (!config.irn.pretrained.empty()) {
    net.load_backbone_file(config.irn.pretrained);
    return;
  }
  // No ImageNet weights (see stage1_config.h).
  Generator cam_gen(0);
  auto cam = make_cam_net(config, data.num_classes, cam_gen, ctx);
  load_state_dict_file(*cam, run.path("cam/model.safetensors"));
  net.copy_backbone_from(cam->backbone());
}

}  // namespace

void train_irn(const Stage1Config& config, const Stage1Data& data, const RunDir& run,
               const ContextPtr& ctx) {
  if (run.stage_done("irn")) {
    log::info("irn: done already");
    return;
  }
  const Stage1Config::Irn& c = config.irn;
  auto net = make_irn_net(config, ctx);
  init_irn_backbone(*net, config, data, run, ctx);
  net->pack_parameters();
  optim::SgdOptions so;
  so.lr = c.lr;
  so.weight_decay = c.weight_decay;
  so.momentum = c.momentum_quirk ? c.weight_decay : c.momentum;
  std::vector<optim::ParamGroup> groups = net->param_groups();
  for (optim::ParamGroup& g : groups)
    if (g.name == "displacement") g.lr_mult = c.displacement_lr_mult;
  optim::SGD optimizer(groups, so);
  net->train(true);

  const int64_t n = static_cast<int64_t>(data.frames.size());
  const int64_t batch = std::min<int64_t>(c.batch, n);
  TrainLoopOptions lo;
  lo.stage = "irn";
  lo.steps_per_epoch = std::max<int64_t>(1, n / batch);
  lo.epochs = c.epochs;
  lo.checkpoint_every = c.checkpoint_every;
  lo.base_lr = c.lr;
  const uint64_t seed = static_cast<uint64_t>(config.seed);
  const bool fb = config.flowirn.flow_boundary;
  const kernels::IrnPairSet pairs = kernels::irn_pair_set(kernels::kIrnTrainRadius);
  const int S = c.crop, S4 = S / 4;

  const TrainSummary s = run_train_loop(run, lo, *net, optimizer, [&](int64_t, int64_t epoch, int64_t b) {
    const std::vector<int64_t> order = epoch_order(n, seed, epoch);
    std::vector<float> images, flows;
    std::vector<uint8_t> labels;
    for (int64_t i = 0; i < batch; ++i) {
      const int64_t sample = b * batch + i;
      Generator gen(data::sample_seed(seed, epoch, sample));
      IrnSample x = irn_sample(data, run, data.frames[static_cast<size_t>(order[static_cast<size_t>(sample)])], fb, c, gen);
      images.insert(images.end(), x.image.begin(), x.image.end());
      labels.insert(labels.end(), x.label4.begin(), x.label4.end());
      flows.insert(flows.end(), x.flow4.begin(), x.flow4.end());
    }
    const Tensor x = Tensor::from_vector(images, {batch, 3, S, S}, ctx);
    const Tensor y = Tensor::from_vector(labels, {batch, S4, S4}, ctx);
    const models::IrnOutput out = net->forward(x);
    WSVIS_CHECK(out.edge_logit.size(2) == S4 && out.edge_logit.size(3) == S4,
                "irn: the network's stride-4 grid (", out.edge_logit.shape_str(), ") is not ", S4, "x", S4);
    const Tensor alpha = ops::irn_path_affinity(ops::sigmoid(out.edge_logit), pairs);
    const ops::IrnLossTerms terms = ops::irn_loss(alpha, out.displacement, y, pairs, /*irn_source_crop=*/true);
    Tensor total = terms.total;
    nlohmann::json record;
    if (fb) {
      const Tensor flow4 = Tensor::from_vector(flows, {batch, 2, S4, S4}, ctx);
      const Tensor flow_grad = ops::flow_gradient(flow4, config.flowirn.flow_scale);
      const Tensor lfb = ops::flow_boundary_loss(flow_grad, alpha, pairs, true, config.flowirn.lambda);
      record["flow_boundary"] = lfb.item<double>();
      total = total + lfb * config.flowirn.weight;
    }
    const std::vector<double> st = terms.stats.to_vector<double>();
    record["pos_bg"] = st[kernels::kIrnLossBgPos];
    record["pos_fg"] = st[kernels::kIrnLossFgPos];
    record["neg"] = st[kernels::kIrnLossNeg];
    record["dp_fg"] = st[kernels::kIrnLossDpFg];
    record["dp_bg"] = st[kernels::kIrnLossDpBg];
    return StepOutput{total, record};
  });
  const std::array<float, 2> shift = displacement_mean(*net, data, c, ctx);
  net->set_mean_shift(shift[0], shift[1]);
  save_model(*net, run.path("irn/model.safetensors"));
  run.mark_done("irn", {{"steps", s.steps},
                        {"resumed_from", s.resumed_from},
                        {"seconds", s.seconds},
                        {"first_loss", s.first_loss},
                        {"last_loss", s.last_loss},
                        {"flow_boundary", fb},
                        {"mean_shift", {shift[0], shift[1]}},
                        {"images_per_second", s.seconds > 0 ? (s.steps - s.resumed_from) * batch / s.seconds : 0}});
  log::info("irn: trained ", s.steps, " steps, loss ", s.first_loss, " -> ", s.last_loss,
            "; mean shift (", shift[0], ", ", shift[1], ")");
}

}  // namespace wsvis::pipeline
