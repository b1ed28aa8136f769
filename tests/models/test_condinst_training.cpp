// Tiny training runs of the mask branch + dynamic mask head alone, on FIXED FPN features (the
// image colours pooled to each level plus random channels; no backbone, no FCOS). A miniature
// controller (1x1 conv on P3, read at each positive's cell) is trained with the mask branch.
// Two images of 96 x 96 with rectangular objects of distinct colours on a grey background (so
// the boxes are the true masks and the colour similarity separates object from background):
//   BoxInst: projection + pairwise loss from the boxes alone, the pairwise warm-up spread over
//     the run as BoxInst spreads it over its first 10k iterations (without it the pairwise term
//     pulls the fresh masks to all-foreground at once and the projection loss cannot recover);
//   CondInst: the dice loss against elliptical masks inside the same boxes.
// SGD momentum 0.9, lr 0.05 after detectron2's linear warm-up over 100 steps, 400 steps; the
// controller starts at normal(0, 0.03) (AdelaiDet: 0.01, slower in a short run).
// Each run's loss must fall to under half its start, and the predicted masks (logit > 0 at
// stride 4) must reach a mean IoU above 0.8 with the target shapes. Seed sensitivity of the
// BoxInst run, measured when this test was written: seeds 11, 13, 14 reach IoU > 0.99, seed 12
// 0.66 (one GT settles in a degenerate projection minimum: row maxima outside its box).
#include <array>
#include <cmath>
#include <cstdio>
#include <vector>

#include "engine/ops/elementwise.h"
#include "engine/ops/pool.h"
#include "engine/ops/shape.h"
#include "engine/optim/schedule.h"
#include "engine/optim/sgd.h"
#include "layers/conv.h"
#include "layers/init.h"
#include "models/boxinst_loss.h"
#include "models/condinst_dynamic_head.h"
#include "models/condinst_mask_branch.h"
#include "tests/support/testing.h"

namespace wsvis {
namespace {

constexpr int kSize = 96, kStride4 = kSize / 4;
constexpr int kSteps = 400;
constexpr int kWarmup = 100;
constexpr double kLr = 0.05;
constexpr double kControllerStd = 0.03;

using Boxes = std::vector<std::vector<std::array<float, 4>>>;

const Boxes& boxes() {
  static const Boxes b{{{{8.f, 8.f, 40.f, 56.f}}, {{52.f, 20.f, 88.f, 60.f}}},
                       {{{20.f, 30.f, 76.f, 80.f}}}};
  return b;
}

// Un-normalised BGR images: grey background, each box filled with its own colour.
Tensor raw_images(const ContextPtr& ctx) {
  const float colours[3][3] = {{40, 180, 220}, {200, 60, 40}, {60, 200, 60}};
  std::vector<float> v(size_t(2 * 3 * kSize * kSize), 128.f);
  int next = 0;
  for (int n = 0; n < 2; ++n)
    for (const auto& b : boxes()[size_t(n)]) {
      for (int c = 0; c < 3; ++c)
        for (int y = int(b[1]); y <= int(b[3]); ++y)
          for (int x = int(b[0]); x <= int(b[2]); ++x)
            v[size_t(((n * 3 + c) * kSize + y) * kSize + x)] = colours[next][c];
      ++next;
    }
  return Tensor::from_vector(v, {2, 3, kSize, kSize}, ctx);
}

// Three positives per GT on P3: the cell of the box centre and its left and right neighbours.
models::MaskHeadInstances make_instances() {
  models::MaskHeadInstances inst;
  for (int n = 0; n < 2; ++n)
    for (size_t g = 0; g < boxes()[size_t(n)].size(); ++g) {
      const auto& b = boxes()[size_t(n)][g];
      const int cx = int((b[0] + b[2]) / 2) / 8, cy = int((b[1] + b[3]) / 2) / 8;
      for (const int dx : {0, -1, 1}) {
        inst.image_index.push_back(n);
        inst.gt_index.push_back(int64_t(g));
        inst.level.push_back(0);
        inst.location.push_back({{float((cx + dx) * 8 + 4), float(cy * 8 + 4)}});
      }
    }
  return inst;
}

// CondInst's controller in miniature: a 1x1 conv over P3 read at each instance's cell (the real
// one is a 3x3 conv on the FCOS box tower), so instances share what they learn.
Tensor controller_rows(layers::Conv2d& controller, const Tensor& p3,
                       const models::MaskHeadInstances& inst) {
  const Tensor maps = controller.forward(p3);  // (N, P, H, W)
  const int64_t N = maps.size(0), P = maps.size(1), H = maps.size(2), W = maps.size(3);
  std::vector<int64_t> rows;
  for (int64_t k = 0; k < inst.size(); ++k) {
    const int64_t y = int64_t(inst.location[size_t(k)][1]) / 8;
    const int64_t x = int64_t(inst.location[size_t(k)][0]) / 8;
    rows.push_back((inst.image_index[size_t(k)] * H + y) * W + x);
  }
  const Tensor flat = ops::reshape(ops::permute(maps, {0, 2, 3, 1}), {N * H * W, P});
  return ops::index_select(flat, 0,
                           Tensor::from_vector(rows, {inst.size()}, p3.context_ptr(), DType::i64));
}

// Target shape of each instance at stride 4 (samples 4q + 2): the box or the ellipse in it.
std::vector<std::vector<uint8_t>> target_shapes(const models::MaskHeadInstances& inst,
                                                bool ellipse) {
  std::vector<std::vector<uint8_t>> out;
  for (int64_t k = 0; k < inst.size(); ++k) {
    const auto& b = boxes()[size_t(inst.image_index[size_t(k)])][size_t(inst.gt_index[size_t(k)])];
    std::vector<uint8_t> m(size_t(kStride4 * kStride4), 0);
    for (int y = 0; y < kStride4; ++y)
      for (int x = 0; x < kStride4; ++x) {
        const double px = 4 * x + 2, py = 4 * y + 2;
        const double u = (px - (b[0] + b[2]) / 2) / ((b[2] - b[0]) / 2);
        const double v = (py - (b[1] + b[3]) / 2) / ((b[3] - b[1]) / 2);
        const bool in_box = px >= int(b[0]) && px < int(b[2] + 1) && py >= int(b[1]) &&
                            py < int(b[3] + 1);
        m[size_t(y * kStride4 + x)] = ellipse ? (u * u + v * v <= 1) : in_box;
      }
    out.push_back(m);
  }
  return out;
}

double mean_iou(const Tensor& logits, const std::vector<std::vector<uint8_t>>& targets) {
  const std::vector<float> z = logits.to_vector<float>();
  const size_t plane = size_t(kStride4 * kStride4);
  double sum = 0;
  for (size_t k = 0; k < targets.size(); ++k) {
    double inter = 0, uni = 0;
    for (size_t p = 0; p < plane; ++p) {
      const bool a = z[k * plane + p] > 0, b = targets[k][p] != 0;
      inter += a && b;
      uni += a || b;
    }
    sum += uni > 0 ? inter / uni : 1;
  }
  return sum / double(targets.size());
}

struct RunResult {
  double first_loss = 0, last_loss = 0, iou = 0;
};

RunResult train(bool boxinst) {
  const auto ctx = testing::cpu_context();
  Generator gen(11);
  // Fixed P3-P5 of the 96 x 96 input: the image's colours average-pooled to each stride
  // (scaled to about unit range) and 13 channels of noise, as a backbone would see them.
  const Tensor images = raw_images(ctx);
  models::FeatureMap features;
  for (const auto& [name, stride] :
       {std::pair<const char*, int>{"p3", 8}, {"p4", 16}, {"p5", 32}}) {
    const Tensor colour = ops::mul_scalar(
        ops::add_scalar(ops::avg_pool2d(images, stride, stride), -128.0), 1.0 / 64.0);
    const int64_t side = kSize / stride;
    features[name] = ops::concat({colour, Tensor::randn({2, 13, side, side}, gen, ctx)}, 1);
  }
  models::MaskBranchOptions mb;
  mb.in_channels = 16;
  mb.channels = 16;
  mb.num_convs = 2;
  mb.out_channels = 8;
  models::MaskBranch branch(mb, gen, ctx);
  models::DynamicMaskHeadOptions ho;
  ho.in_channels = 8;
  const models::DynamicMaskHead head(ho);
  models::MaskHeadInstances inst = make_instances();
  layers::Conv2dOptions co;
  co.in_channels = 16;
  co.out_channels = int(head.num_gen_params());
  layers::Conv2d controller(co, gen, ctx);
  layers::init::normal_(controller.weight(), 0.0, kControllerStd, gen);
  layers::init::constant_(controller.bias(), 0.0);

  models::BoxInstLossOptions lo;
  lo.warmup_iters = kSteps;
  const models::BoxInstSimilarity sim =
      models::boxinst_similarity(images, Tensor(), Tensor(), lo);
  const auto shapes = target_shapes(inst, /*ellipse=*/!boxinst);
  std::vector<float> flat;
  for (const auto& s : shapes) flat.insert(flat.end(), s.begin(), s.end());
  const Tensor dice_targets = Tensor::from_vector(flat, {inst.size(), kStride4, kStride4}, ctx);

  std::vector<Tensor> params = branch.parameters();
  for (const Tensor& p : controller.parameters()) params.push_back(p);
  optim::SgdOptions so;
  so.lr = kLr;
  so.momentum = 0.9;
  optim::SGD opt(params, so);
  RunResult r;
  Tensor logits;
  for (int step = 0; step < kSteps; ++step) {
    inst.params = controller_rows(controller, features.at("p3"), inst);
    logits = head.forward(branch.forward(features), inst);
    Tensor loss;
    if (boxinst) {
      const models::BoxInstLosses l =
          models::boxinst_mask_losses(logits, inst, boxes(), sim, step + 1, lo);
      loss = ops::add(l.prj, l.pairwise);
    } else {
      loss = models::condinst_mask_loss(logits, dice_targets);
    }
    if (step == 0) r.first_loss = loss.item<double>();
    r.last_loss = loss.item<double>();
    opt.zero_grad();
    loss.backward();
    opt.set_lr(optim::warmup_factor_at(optim::WarmupMethod::linear, step, kWarmup, 0.001) * kLr);
    opt.step();
  }
  r.iou = mean_iou(logits.detach(), shapes);
  std::printf("%s: loss %.4f -> %.4f, mean IoU %.3f\n", boxinst ? "BoxInst" : "CondInst",
              r.first_loss, r.last_loss, r.iou);
  return r;
}

TEST(CondInstTraining, BoxInstLossesFitBoxes) {
  const RunResult r = train(/*boxinst=*/true);
  EXPECT_LT(r.last_loss, 0.5 * r.first_loss) << "first " << r.first_loss << " last " << r.last_loss;
  EXPECT_GT(r.iou, 0.8) << "first " << r.first_loss << " last " << r.last_loss;
}

TEST(CondInstTraining, DiceLossFitsMasks) {
  const RunResult r = train(/*boxinst=*/false);
  EXPECT_LT(r.last_loss, 0.5 * r.first_loss) << "first " << r.first_loss << " last " << r.last_loss;
  EXPECT_GT(r.iou, 0.8) << "first " << r.first_loss << " last " << r.last_loss;
}

}  // namespace
}  // namespace wsvis
