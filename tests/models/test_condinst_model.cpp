// Tests of models/condinst.h: AdelaiDet's state_dict names and the controller sizes of the three
// configurations (169 / 233 / 361), a short motion-aided BoxInst training run on synthetic
// frames with their flow (every loss finite, the total falling), CondInst's dice path with a
// random proposal cap, a batch without positives (zero losses that still reach the mask-side
// parameters), and inference: masks at the output size, 0/1, one per kept detection.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "data/synth.h"
#include "engine/ops/elementwise.h"
#include "engine/optim/schedule.h"
#include "engine/optim/sgd.h"
#include "models/condinst.h"
#include "tests/support/testing.h"

namespace wsvis {
namespace {

using models::CondInst;
using models::CondInstOptions;
using testing::cpu_context;

constexpr int kSize = 64;
constexpr int kImages = 2;
constexpr float kMeanBgr[3] = {103.530f, 116.280f, 123.675f};

Tensor find(const CondInst& model, const std::string& name) {
  for (const auto& [n, t] : model.state_dict())
    if (n == name) return t;
  ADD_FAILURE() << "no tensor named " << name;
  return Tensor();
}

TEST(CondInstModel, AdelaiDetNamesAndControllerSizes) {
  const auto ctx = cpu_context();
  const std::vector<std::pair<CondInstOptions, int64_t>> cases{
      {models::condinst_options(), 169},
      {models::boxinst_options(false), 233},
      {models::boxinst_options(true), 361}};
  for (const auto& [options, params] : cases) {
    Generator gen(1);
    CondInstOptions o = options;
    o.encoder.backbone = models::detectron2_resnet_options(18);  // names as R-50's, built faster
    o.head.num_classes = 40;
    const CondInst model(o, gen, ctx);
    EXPECT_EQ(model.mask_head().num_gen_params(), params);
    EXPECT_EQ(find(model, "controller.weight").shape(), Shape({params, 256, 3, 3}));
    EXPECT_EQ(find(model, "proposal_generator.fcos_head.cls_logits.weight").shape(),
              Shape({40, 256, 3, 3}));
    for (const std::string name :
         {"backbone.bottom_up.conv1.weight", "backbone.fpn_lateral3.weight",
          "backbone.top_block.p7.weight", "mask_branch.refine.2.0.weight",
          "mask_branch.tower.4.bias", "controller.bias"})
      EXPECT_TRUE(find(model, name).defined()) << name;
  }
}

struct ToyBatch {
  Tensor raw;    // (N, 3, H, W) BGR 0..255
  Tensor images;  // normalised
  models::FlowColorInputs flow;
  std::vector<models::FcosGtInstances> gts;
  std::vector<models::GtMasks> masks;
};

// Two synthetic frames (first frames of two videos) with their forward flow, boxes and masks.
// Images as the FCOS test normalises them for a from-scratch backbone: BGR minus the MSRA
// means, divided by 57; the flow colour images likewise.
ToyBatch toy_batch(const ContextPtr& ctx) {
  data::SynthConfig cfg;
  cfg.videos = kImages;
  cfg.frames = 2;
  cfg.width = cfg.height = kSize;
  cfg.classes = 3;
  cfg.max_instances = 2;
  cfg.touching = 0;
  cfg.min_radius = 0.2;
  cfg.max_radius = 0.3;
  cfg.seed = 3;
  ToyBatch b;
  const size_t plane = size_t(kSize) * kSize;
  std::vector<float> raw(kImages * 3 * plane), flow(kImages * 2 * plane);
  for (int i = 0; i < kImages; ++i) {
    const data::SynthScene scene = data::make_synth_scene(cfg, i);
    const data::SynthFrame frame = data::render_synth_frame(scene, 0, true);
    for (size_t p = 0; p < plane; ++p) {
      for (int c = 0; c < 3; ++c)  // BGR plane c holds RGB channel 2 - c
        raw[(size_t(i) * 3 + size_t(c)) * plane + p] = frame.image.data[p * 3 + size_t(2 - c)];
      flow[(size_t(i) * 2) * plane + p] = frame.forward.uv[2 * p];
      flow[(size_t(i) * 2 + 1) * plane + p] = frame.forward.uv[2 * p + 1];
    }
    models::FcosGtInstances gt;
    models::GtMasks m;
    m.height = m.width = kSize;
    for (size_t k = 0; k < scene.instances.size(); ++k) {
      const std::vector<uint8_t> mask = data::synth_instance_mask(frame, int(k));
      int x1 = kSize, y1 = kSize, x2 = -1, y2 = -1;
      for (int y = 0; y < kSize; ++y)
        for (int x = 0; x < kSize; ++x)
          if (mask[size_t(y) * kSize + size_t(x)])
            x1 = std::min(x1, x), x2 = std::max(x2, x), y1 = std::min(y1, y), y2 = std::max(y2, y);
      if (x2 < 0) continue;
      gt.boxes.push_back({float(x1), float(y1), float(x2 + 1), float(y2 + 1)});
      gt.classes.push_back(scene.instances[k].class_id);
      gt.centers.push_back(models::fcos_mask_centroid(mask.data(), kSize, kSize));
      m.data.insert(m.data.end(), mask.begin(), mask.end());
    }
    b.gts.push_back(gt);
    b.masks.push_back(m);
  }
  b.raw = Tensor::from_vector(raw, {kImages, 3, kSize, kSize}, ctx);
  const Tensor mean = Tensor::from_vector(std::vector<float>(kMeanBgr, kMeanBgr + 3), {1, 3, 1, 1},
                                          ctx);
  b.images = ops::mul_scalar(ops::sub(b.raw, mean), 1.0 / 57);
  b.flow = models::flow_color_inputs(Tensor::from_vector(flow, {kImages, 2, kSize, kSize}, ctx),
                                     Tensor(), kernels::FlowWheelVariant::flow_vis);
  b.flow.input = ops::mul_scalar(b.flow.input, 1.0 / 57);
  return b;
}

// A small configuration: ResNet-18 with trained BatchNorm (nothing frozen: random frozen
// layers would be meaningless without ImageNet weights), FPN and head 32 wide, GroupNorm 8.
CondInstOptions small(CondInstOptions o) {
  o.encoder.backbone = models::detectron2_resnet_options(18);
  o.encoder.backbone.norm = models::NormKind::BN;
  o.encoder.backbone.freeze_at = 0;
  o.encoder.fpn_channels = 32;
  o.encoder.mask_branch.channels = 16;
  o.encoder.mask_branch.num_convs = 2;
  o.encoder.mask_branch.out_channels = 4;
  o.head.num_classes = 3;
  o.head.num_convs = 2;
  o.head.norm_groups = 8;
  return o;
}

TEST(CondInstModel, MotionAidedBoxInstTrainsAndInfers) {
  const auto ctx = cpu_context();
  const ToyBatch b = toy_batch(ctx);
  CondInstOptions o = small(models::boxinst_options(true));
  constexpr int kSteps = 30;
  o.boxinst_loss.warmup_iters = kSteps;
  Generator gen(2);
  CondInst model(o, gen, ctx);
  ASSERT_EQ(model.mask_head().num_gen_params(), 8 * 10 + 64 + 8 + 17);  // C_in 2 * 4 + 2

  models::CondInstTargets t;
  t.gts = b.gts;
  t.similarity = models::boxinst_similarity(b.raw, Tensor(), b.flow.colors, o.boxinst_loss);
  const models::CondInstInputs inputs{b.images, b.flow.input};
  optim::SgdOptions so;
  so.lr = 0.01;
  so.momentum = 0.9;
  optim::SGD opt(model.parameters(), so);
  std::vector<double> totals;
  for (int step = 0; step < kSteps; ++step) {
    t.iter = step + 1;
    const models::CondInstLosses l = model.forward_train(inputs, t);
    ASSERT_GT(l.num_mask_instances, 0);
    ASSERT_TRUE(l.prj.defined() && l.pairwise.defined() && !l.mask.defined());
    const Tensor total = l.total();
    for (const Tensor& term : {l.fcos.cls, l.fcos.loc, l.fcos.ctr, l.prj, l.pairwise})
      ASSERT_TRUE(std::isfinite(term.item<double>())) << "step " << step;
    totals.push_back(total.item<double>());
    opt.zero_grad();
    total.backward();
    opt.set_lr(optim::warmup_factor_at(optim::WarmupMethod::linear, step, 10, 0.001) * so.lr);
    opt.step();
  }
  const double first = (totals[0] + totals[1] + totals[2]) / 3;
  const double last = (totals[kSteps - 1] + totals[kSteps - 2] + totals[kSteps - 3]) / 3;
  std::printf("motion-aided BoxInst r18 %dx%d: total loss %.3f (first 3) -> %.3f (last 3)\n",
              kSize, kSize, first, last);
  EXPECT_LT(last, 0.8 * first);

  model.train(false);
  const std::vector<models::CondInstDetections> dets =
      model.infer(inputs, {{kSize, kSize}, {kSize, 48}}, {{32, 32}, {80, 60}});
  ASSERT_EQ(dets.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    const models::CondInstDetections& d = dets[i];
    const int64_t D = d.detections.size();
    EXPECT_LE(D, 100);
    EXPECT_EQ(int64_t(d.masks.size()), D * d.height * d.width);
    EXPECT_TRUE(std::all_of(d.masks.begin(), d.masks.end(), [](uint8_t v) { return v <= 1; }));
    for (const auto& box : d.detections.boxes) {
      EXPECT_GE(box[0], 0.f);
      EXPECT_LE(box[2], float(d.width));
      EXPECT_LE(box[3], float(d.height));
    }
  }
  EXPECT_EQ(dets[0].height, 32);
  EXPECT_EQ(dets[1].width, 60);
}

TEST(CondInstModel, DiceLossWithProposalCap) {
  const auto ctx = cpu_context();
  const ToyBatch b = toy_batch(ctx);
  CondInstOptions o = small(models::condinst_options());
  o.max_proposals = 5;
  Generator gen(4);
  CondInst model(o, gen, ctx);
  models::CondInstTargets t;
  t.gts = b.gts;
  t.masks = b.masks;
  Generator sample(5);
  t.gen = &sample;
  const models::CondInstLosses l = model.forward_train({b.images, Tensor()}, t);
  EXPECT_EQ(l.num_mask_instances, 5);
  ASSERT_TRUE(l.mask.defined() && !l.prj.defined());
  EXPECT_GT(l.mask.item<double>(), 0.0);
  EXPECT_LE(l.mask.item<double>(), 1.0);
  l.total().backward();
  EXPECT_TRUE(find(model, "controller.weight").grad().defined());
  t.gen = nullptr;
  EXPECT_THROW(model.forward_train({b.images, Tensor()}, t), Error);
}

TEST(CondInstModel, NoPositivesGivesZeroMaskLossesWithGraph) {
  const auto ctx = cpu_context();
  const ToyBatch b = toy_batch(ctx);
  CondInstOptions o = small(models::boxinst_options(false));
  Generator gen(6);
  CondInst model(o, gen, ctx);
  models::CondInstTargets t;
  t.gts.resize(kImages);  // no ground truth: no positives
  t.similarity = models::boxinst_similarity(b.raw, Tensor(), Tensor(), o.boxinst_loss);
  const models::CondInstLosses l = model.forward_train({b.images, Tensor()}, t);
  EXPECT_EQ(l.num_mask_instances, 0);
  EXPECT_EQ(l.prj.item<double>(), 0.0);
  EXPECT_EQ(l.pairwise.item<double>(), 0.0);
  l.total().backward();
  // The dummy term keeps the mask branch and the controller in the graph (zero gradients).
  EXPECT_TRUE(find(model, "mask_branch.tower.2.weight").grad().defined());
  EXPECT_TRUE(find(model, "controller.weight").grad().defined());
}

}  // namespace
}  // namespace wsvis
