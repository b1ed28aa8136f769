#include "pipeline/cam_stage.h"

#include <cmath>

#include "data/augment.h"
#include "data/loader.h"
#include "engine/log.h"
#include "engine/ops.h"
#include "engine/optim/sgd.h"
#include "engine/safetensors.h"
#include "layers/checkpoint.h"
#include "pipeline/crop.h"
#include "pipeline/per_frame.h"
#include "pipeline/tensor_util.h"
#include "pipeline/train_loop.h"

namespace wsvis::pipeline {

namespace {

models::NormKind norm_kind(const std::string& name) {
  return name == "batch" ? models::NormKind::BN : models::NormKind::FixedBN;
}

std::string join(const std::vector<int>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s;
}

std::vector<int> split_ints(const std::string& s, const std::string& source) {
  std::vector<int> out;
  size_t start = 0;
  while (start < s.size()) {
    size_t comma = s.find(',', start);
    if (comma == std::string::npos) comma = s.size();
    try {
      out.push_back(std::stoi(s.substr(start, comma - start)));
    } catch (const std::exception&) {
      throw InputError(source + ": metadata \"classes\" is not a list of integers: " + s);
    }
    start = comma + 1;
  }
  return out;
}

// One CAM training sample: resized, flipped, normalised and cropped into (3, crop, crop).
void cam_sample(const data::Image& image, const Stage1Config::Cam& c, Generator& gen, float* out) {
  const int long_side = static_cast<int>(gen.randint(c.resize_long[0], c.resize_long[1] + 1));
  const double s = static_cast<double>(long_side) / std::max(image.width, image.height);
  const int w = std::max(1, static_cast<int>(std::lround(image.width * s)));
  const int h = std::max(1, static_cast<int>(std::lround(image.height * s)));
  data::Image resized = data::resize_image(image, w, h);
  if (gen.uniform(0, 1) < 0.5) resized = data::flip_image(resized);
  // out is zero-filled: padding 0 after normalisation.
  normalised_crop_into(resized, random_crop_box(w, h, c.crop, gen), c.crop, out);
}

}  // namespace

std::unique_ptr<models::CamNet> make_cam_net(const Stage1Config& config, int num_classes,
                                             Generator& gen, const ContextPtr& ctx) {
  models::CamNetOptions o;
  o.depth = config.cam.depth;
  o.num_classes = num_classes;
  o.norm = norm_kind(config.cam.norm);
  o.frozen_stages = config.cam.frozen_stages;
  auto net = std::make_unique<models::CamNet>(o, gen, ctx);
  if (!config.cam.pretrained.empty()) {
    net->load_backbone_file(config.cam.pretrained);
    log::info("cam: backbone weights from ", config.cam.pretrained);
  }
  return net;
}

void train_cam(const Stage1Config& config, const Stage1Data& data, const RunDir& run,
               const ContextPtr& ctx) {
  if (run.stage_done("cam")) {
    log::info("cam: done already (", run.root(), "/cam/DONE)");
    return;
  }
  const Stage1Config::Cam& c = config.cam;
  Generator init_gen(data::sample_seed(static_cast<uint64_t>(config.seed), -2, 0));
  auto net = make_cam_net(config, data.num_classes, init_gen, ctx);
  net->pack_parameters();
  net->train(true);
  std::vector<optim::ParamGroup> groups = net->param_groups();
  for (optim::ParamGroup& g : groups)
    if (g.name == "classifier") g.lr_mult = c.classifier_lr_mult;
  optim::SgdOptions so;
  so.lr = c.lr;
  so.weight_decay = c.weight_decay;
  so.momentum = c.momentum_quirk ? c.weight_decay : c.momentum;
  optim::SGD optimizer(groups, so);

  const int64_t n = static_cast<int64_t>(data.frames.size());
  TrainLoopOptions lo;
  lo.stage = "cam";
  lo.steps_per_epoch = std::max<int64_t>(1, n / c.batch);  // drop_last
  lo.epochs = c.epochs;
  lo.checkpoint_every = c.checkpoint_every;
  lo.base_lr = c.lr;
  const int64_t batch = std::min<int64_t>(c.batch, n);
  const uint64_t seed = static_cast<uint64_t>(config.seed);
  const size_t image_floats = static_cast<size_t>(3) * c.crop * c.crop;

  const TrainSummary s = run_train_loop(run, lo, *net, optimizer, [&](int64_t, int64_t epoch, int64_t b) {
    const std::vector<int64_t> order = epoch_order(n, seed, epoch);
    std::vector<float> images(image_floats * static_cast<size_t>(batch), 0.f);
    std::vector<float> labels;
    for (int64_t i = 0; i < batch; ++i) {
      const int64_t sample = b * batch + i;
      const FrameRef& f = data.frames[static_cast<size_t>(order[static_cast<size_t>(sample)])];
      Generator gen(data::sample_seed(seed, epoch, sample));
      cam_sample(data.read_image(f), c, gen, images.data() + image_floats * static_cast<size_t>(i));
      const std::vector<float> hot = data.multi_hot(f);
      labels.insert(labels.end(), hot.begin(), hot.end());
    }
    const Tensor x = Tensor::from_vector(images, {batch, 3, c.crop, c.crop}, ctx);
    const Tensor y = Tensor::from_vector(labels, {batch, data.num_classes}, ctx);
    return StepOutput{ops::multilabel_soft_margin(net->forward(x), y)};
  });
  run.mark_done("cam", {{"steps", s.steps},
                        {"resumed_from", s.resumed_from},
                        {"seconds", s.seconds},
                        {"first_loss", s.first_loss},
                        {"last_loss", s.last_loss},
                        {"images_per_second", s.seconds > 0 ? (s.steps - s.resumed_from) * batch / s.seconds : 0}});
  log::info("cam: trained ", s.steps, " steps, loss ", s.first_loss, " -> ", s.last_loss);
}

Tensor cam_at_scale(models::CamNet& net, const data::Image& image, double scale,
                    const ContextPtr& ctx) {
  const int w = std::max(1, static_cast<int>(std::lround(image.width * scale)));
  const int h = std::max(1, static_cast<int>(std::lround(image.height * scale)));
  const data::Image resized = scale == 1.0 ? image : data::resize_image(image, w, h);
  const data::Image flipped = data::flip_image(resized);
  const Tensor x = ops::concat({image_tensor(resized, ctx), image_tensor(flipped, ctx)}, 0);
  const Tensor maps = net.cam(x);  // (2, C, h', w')
  return ops::slice(maps, 0, 0, 1).view({maps.size(1), maps.size(2), maps.size(3)}) +
         flip_width(ops::slice(maps, 0, 1, 2)).view({maps.size(1), maps.size(2), maps.size(3)});
}

std::string cam_path(const RunDir& run, const FrameRef& frame) {
  return run.path("cams/" + frame.key + ".safetensors");
}

FrameCams read_cams(const std::string& path, const ContextPtr& ctx) {
  FrameCams out;
  const auto meta = load_safetensors_metadata(path);
  const auto it = meta.find("classes");
  if (it == meta.end()) throw InputError(path + ": not a CAM file (no \"classes\" metadata)");
  out.classes = split_ints(it->second, path);
  if (out.classes.empty()) return out;
  for (auto& [name, t] : load_safetensors(path, ctx)) {
    if (name == "strided") out.strided = t;
    if (name == "highres") out.highres = t;
  }
  if (!out.strided.defined() || !out.highres.defined() ||
      out.strided.size(0) != static_cast<int64_t>(out.classes.size()) ||
      out.highres.size(0) != static_cast<int64_t>(out.classes.size()))
    throw InputError(path + ": CAM file lacks \"strided\"/\"highres\" maps for its " +
                     std::to_string(out.classes.size()) + " classes");
  return out;
}

void make_cams(const Stage1Config& config, const Stage1Data& data, const RunDir& run,
               const ContextPtr& ctx) {
  if (run.stage_done("cams")) {
    log::info("cams: done already");
    return;
  }
  Generator gen(0);
  auto net = make_cam_net(config, data.num_classes, gen, ctx);
  load_state_dict_file(*net, run.path("cam/model.safetensors"));
  net->train(false);
  NoGradGuard no_grad;

  const PerFrameStats stats = for_each_missing_output(
      data.frames, "cams", [&](const FrameRef& f) { return cam_path(run, f); },
      [&](const FrameRef& f, const std::string& out) {
        if (f.classes.empty()) {
          save_safetensors(out, {}, {{"classes", ""}});
          return;
        }
        const data::Image image = data.read_image(f);
        const int64_t H = image.height, W = image.width;
        const int64_t h4 = ceil_div(H, 4), w4 = ceil_div(W, 4);
        const int64_t H16 = ceil_div(H, 16) * 16, W16 = ceil_div(W, 16) * 16;
        const std::vector<int64_t> keep(f.classes.begin(), f.classes.end());
        const int64_t C = static_cast<int64_t>(keep.size());
        const Tensor keep_index = Tensor::from_vector(keep, {C}, ctx);
        Tensor strided, highres;
        for (double scale : config.cam.scales) {
          // (1, C', h', w'): the present classes only.
          const Tensor selected = ops::index_select(cam_at_scale(*net, image, scale, ctx), 0, keep_index);
          const Tensor maps = selected.view({1, C, selected.size(1), selected.size(2)});
          const Tensor s4 = ops::upsample_bilinear2d(maps, static_cast<int>(h4), static_cast<int>(w4));
          const Tensor hr = crop_hw(
              ops::upsample_bilinear2d(maps, static_cast<int>(H16), static_cast<int>(W16)), H, W);
          strided = strided.defined() ? strided + s4 : s4;
          highres = highres.defined() ? highres + hr : hr;
        }
        strided = normalise_planes_by_max(strided.view({C, h4, w4}));
        highres = normalise_planes_by_max(highres.view({C, H, W}));
        save_safetensors(out, {{"strided", strided}, {"highres", highres}},
                         {{"classes", join(f.classes)}});
      });
  run.mark_done("cams", stats.summary());
}

}  // namespace wsvis::pipeline
