// Tests of engine/ops/pairwise.h and models/boxinst_loss.h: the projection loss on hand values,
// the pairwise op against the fused kernel it wraps and against AdelaiDet's formula written as
// plain loops, gradchecks (f64) of both ops, the image validity mask and the similarities on
// hand cases, the composed BoxInst losses with warm-up and the motion-aware switch, and
// CondInst's stride-4 targets and dice loss. CUDA parity of the ops runs on the GPU machine.
#include <cmath>
#include <vector>

#include "engine/ops/elementwise.h"
#include "engine/ops/pairwise.h"
#include "models/boxinst_loss.h"
#include "tests/support/testing.h"

namespace wsvis {
namespace {

using testing::cpu_context;

Tensor i32(const std::vector<int32_t>& v, const Shape& shape, const ContextPtr& ctx) {
  return Tensor::from_vector(v, shape, ctx, DType::i32);
}

TEST(ProjectionLoss, HandValues) {
  const auto ctx = cpu_context();
  // Instance 0: probs (2, 3), box on row 0, columns 1..2. Instance 1: an empty box.
  const Tensor probs = Tensor::from_vector(
      std::vector<double>{0.2, 0.9, 0.1, 0.6, 0.3, 0.4, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5},
      {2, 1, 2, 3}, ctx);
  const Tensor rects = i32({1, 0, 2, 0, 0, 0, -1, -1}, {2, 4}, ctx);
  // Column maxima (0.6, 0.9, 0.4) vs (0, 1, 1): 1 - 2 * 1.3 / (1.33 + 2 + 1e-5).
  // Row maxima (0.9, 0.6) vs (1, 0): 1 - 2 * 0.9 / (1.17 + 1 + 1e-5).
  const double first = (1 - 2.6 / 3.33001) + (1 - 1.8 / 2.17001);
  const double second = 2.0;  // empty targets: both dice terms are 1 - 0
  const Tensor loss = ops::projection_loss(probs, rects);
  EXPECT_EQ(loss.dim(), 0);
  EXPECT_NEAR(loss.item<double>(), (first + second) / 2, 1e-12);
  EXPECT_EQ(ops::projection_loss(Tensor::zeros({0, 2, 3}, DType::f64, ctx),
                                 Tensor::zeros({0, 4}, DType::i32, ctx))
                .item<double>(),
            0.0);
}

TEST(ProjectionLoss, Gradcheck) {
  const auto ctx = cpu_context();
  Generator gen(2);
  const Tensor probs = testing::random_input({3, 5, 6}, gen, ctx, DType::f64, true, 0.05, 0.95);
  const Tensor rects = i32({1, 1, 3, 2, 0, 0, 5, 4, 4, 2, 4, 2}, {3, 4}, ctx);
  EXPECT_TRUE(testing::gradcheck(
      [&](const std::vector<Tensor>& in) { return ops::projection_loss(in[0], rects); }, {probs}));
}

struct PairwiseCase {
  Tensor logits, im_inds, rects, color_sim, flow_sim;
  std::vector<int32_t> im, box;
  int64_t K = 3, N = 2, H = 6, W = 7;
};

PairwiseCase pairwise_case(const ContextPtr& ctx, uint64_t seed) {
  Generator gen(seed);
  PairwiseCase c;
  c.logits = testing::random_input({c.K, 1, c.H, c.W}, gen, ctx, DType::f64, true, -3, 3);
  c.im = {0, 1, 0};
  c.box = {1, 1, 4, 3, 0, 2, 6, 5, 2, 0, 2, 0};
  c.im_inds = i32(c.im, {c.K}, ctx);
  c.rects = i32(c.box, {c.K, 4}, ctx);
  c.color_sim = Tensor::uniform({c.N, 8, c.H, c.W}, 0, 1, gen, ctx, DType::f64);
  c.flow_sim = Tensor::uniform({c.N, 8, c.H, c.W}, 0, 1, gen, ctx, DType::f64);
  return c;
}

// AdelaiDet's compute_pairwise_term and weighting as loops: -log(p_i p_j + (1-p_i)(1-p_j)) on
// edges inside the map (a neighbour off the map has zero log-probabilities: loss 0, weight
// kept), weight [S_color >= 0.3][S_flow >= 0.6] * box(i), normalised by max(sum w, 1).
double pairwise_reference(const PairwiseCase& c, bool motion) {
  const std::vector<double> z = c.logits.to_vector<double>(), cs = c.color_sim.to_vector<double>(),
                            fs = c.flow_sim.to_vector<double>();
  const int dy[8] = {-2, -2, -2, 0, 0, 2, 2, 2}, dx[8] = {-2, 0, 2, -2, 2, -2, 0, 2};
  double loss = 0, weight = 0;
  for (int64_t k = 0; k < c.K; ++k)
    for (int64_t y = 0; y < c.H; ++y)
      for (int64_t x = 0; x < c.W; ++x) {
        const int32_t* r = &c.box[size_t(4 * k)];
        if (x < r[0] || x > r[2] || y < r[1] || y > r[3]) continue;
        for (int e = 0; e < 8; ++e) {
          const size_t s = size_t(((c.im[size_t(k)] * 8 + e) * c.H + y) * c.W + x);
          if (cs[s] < 0.3 || (motion && fs[s] < 0.6)) continue;
          weight += 1;
          const int64_t ny = y + dy[e], nx = x + dx[e];
          if (ny < 0 || ny >= c.H || nx < 0 || nx >= c.W) continue;
          const double pi = 1 / (1 + std::exp(-z[size_t((k * c.H + y) * c.W + x)]));
          const double pj = 1 / (1 + std::exp(-z[size_t((k * c.H + ny) * c.W + nx)]));
          loss += -std::log(pi * pj + (1 - pi) * (1 - pj));
        }
      }
  return loss / std::max(weight, 1.0);
}

TEST(PairwiseLossOp, EqualsKernelAndAdelaiDetFormula) {
  const auto ctx = cpu_context();
  for (const bool motion : {false, true}) {
    PairwiseCase c = pairwise_case(ctx, 3);
    const Tensor flow = motion ? c.flow_sim : Tensor();
    const Tensor loss = ops::pairwise_loss(c.logits, c.im_inds, c.rects, c.color_sim, flow);
    EXPECT_NEAR(loss.item<double>(), pairwise_reference(c, motion), 1e-12);
    loss.backward();

    // The kernel called directly.
    const std::vector<double> z = c.logits.to_vector<double>();
    const std::vector<double> cs = c.color_sim.to_vector<double>();
    const std::vector<double> fs = c.flow_sim.to_vector<double>();
    double kernel_loss = 0, stats[2];
    kernels::cpu::pairwise_loss_forward(z.data(), c.im.data(), c.box.data(), c.K, c.N, c.H, c.W,
                                        cs.data(), motion ? fs.data() : nullptr, {}, nullptr, 0,
                                        &kernel_loss, stats);
    EXPECT_EQ(loss.item<double>(), kernel_loss);
    std::vector<double> grad(z.size());
    const double one = 1;
    kernels::cpu::pairwise_loss_backward(z.data(), c.im.data(), c.box.data(), c.K, c.N, c.H, c.W,
                                         cs.data(), motion ? fs.data() : nullptr, {}, stats, &one,
                                         grad.data());
    EXPECT_TRUE(testing::all_close(c.logits.grad().to_vector<double>(), grad, 0, 0));
  }
}

TEST(PairwiseLossOp, Gradcheck) {
  const auto ctx = cpu_context();
  const PairwiseCase c = pairwise_case(ctx, 4);
  for (const bool motion : {false, true})
    EXPECT_TRUE(testing::gradcheck(
        [&](const std::vector<Tensor>& in) {
          return ops::pairwise_loss(in[0], c.im_inds, c.rects, c.color_sim,
                                    motion ? c.flow_sim : Tensor());
        },
        {c.logits}));
}

TEST(PairwiseLossOp, RejectsBadInput) {
  const auto ctx = cpu_context();
  const PairwiseCase c = pairwise_case(ctx, 5);
  EXPECT_THROW(ops::pairwise_loss(c.logits, c.rects, c.rects, c.color_sim, Tensor()), Error);
  EXPECT_THROW(ops::pairwise_loss(c.logits, c.im_inds, c.rects,
                                  Tensor::zeros({2, 8, 6, 6}, DType::f64, ctx), Tensor()),
               Error);
  Tensor grad_sim = c.color_sim.clone();
  grad_sim.set_requires_grad(true);
  EXPECT_THROW(ops::pairwise_loss(c.logits, c.im_inds, c.rects, grad_sim, Tensor()), Error);
}

TEST(BoxInstImageValid, HandCase) {
  const auto ctx = cpu_context();
  models::BoxInstLossOptions o;
  // Padded 16 x 16, stride 4: samples at rows / columns 2, 6, 10, 14.
  // Image 0: 12 x 16 resized from height 24 -> int(10 * 12 / 24) = 5 rows removed: rows < 7.
  // Image 1: 16 x 8 from height 160 -> 1 row removed: rows < 15, columns < 8.
  const Tensor valid = models::boxinst_image_valid({{12, 16}, {16, 8}}, {24, 160}, 16, 16, o, ctx);
  ASSERT_EQ(valid.shape(), Shape({2, 4, 4}));
  const std::vector<int> expected{1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0,  //
                                  1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0};
  EXPECT_EQ(valid.to_vector<int>(), expected);
  EXPECT_THROW(models::boxinst_image_valid({{12, 16}}, {24}, 18, 16, o, ctx), Error);
}

TEST(BoxInstSimilarity, TwoColourImageAndFlowColours) {
  const auto ctx = cpu_context();
  models::BoxInstLossOptions o;
  // A 16 x 16 BGR image: left half colour A, right half colour B (4-pixel blocks are uniform,
  // so pooling keeps them). Stride-4 map 4 x 4; columns 0, 1 are A, 2, 3 are B. The flow
  // colour image is red on the left, blue on the right.
  const float a_bgr[3] = {30, 60, 200}, b_bgr[3] = {180, 40, 20};
  std::vector<float> image(3 * 16 * 16);
  std::vector<uint8_t> flow(3 * 16 * 16, 0);
  for (int y = 0; y < 16; ++y)
    for (int x = 0; x < 16; ++x) {
      for (int c = 0; c < 3; ++c)
        image[size_t((c * 16 + y) * 16 + x)] = x < 8 ? a_bgr[c] : b_bgr[c];
      flow[size_t(((x < 8 ? 0 : 2) * 16 + y) * 16 + x)] = 255;
    }
  const models::BoxInstSimilarity sim = models::boxinst_similarity(
      Tensor::from_vector(image, {1, 3, 16, 16}, ctx), Tensor(),
      Tensor::from_vector(flow, {1, 3, 16, 16}, ctx, DType::u8), o, DType::f64);
  ASSERT_EQ(sim.color.shape(), Shape({1, 8, 4, 4}));
  ASSERT_EQ(sim.flow.shape(), Shape({1, 8, 4, 4}));
  double lab_a[3], lab_b[3];  // rgb2lab of the RGB colours
  kernels::rgb_to_lab_pixel(a_bgr[2] / 255.0, a_bgr[1] / 255.0, a_bgr[0] / 255.0, lab_a);
  kernels::rgb_to_lab_pixel(b_bgr[2] / 255.0, b_bgr[1] / 255.0, b_bgr[0] / 255.0, lab_b);
  const double d = std::sqrt((lab_a[0] - lab_b[0]) * (lab_a[0] - lab_b[0]) +
                             (lab_a[1] - lab_b[1]) * (lab_a[1] - lab_b[1]) +
                             (lab_a[2] - lab_b[2]) * (lab_a[2] - lab_b[2]));
  const std::vector<double> color = sim.color.to_vector<double>();
  const std::vector<double> fl = sim.flow.to_vector<double>();
  auto at = [](const std::vector<double>& v, int e, int y, int x) {
    return v[size_t((e * 4 + y) * 4 + x)];
  };
  // Neighbour 4 is (0, +2), 3 is (0, -2), 6 is (+2, 0), 0 is (-2, -2).
  EXPECT_NEAR(at(color, 4, 0, 0), std::exp(-d / 2), 1e-5);  // A -> B
  EXPECT_NEAR(at(color, 3, 3, 3), std::exp(-d / 2), 1e-5);  // B -> A
  EXPECT_NEAR(at(color, 6, 0, 0), 1.0, 1e-12);              // A -> A
  EXPECT_EQ(at(color, 3, 0, 1), 0.0);                       // off the map
  EXPECT_NEAR(at(fl, 4, 0, 1), std::exp(-std::sqrt(2.0) / 0.5), 1e-12);  // red vs blue in [0, 1]
  EXPECT_NEAR(at(fl, 6, 1, 1), 1.0, 1e-12);
  EXPECT_EQ(at(fl, 0, 0, 0), 0.0);
}

TEST(BoxInstLosses, ComposeProjectionPairwiseAndWarmup) {
  const auto ctx = cpu_context();
  PairwiseCase c = pairwise_case(ctx, 6);
  // Instances 0, 2 of image 0 use its GT 1 and GT 0; instance 1 image 1's GT 0. Boxes in
  // padded-input pixels give c.box at stride 4: box (x1, y1, x2, y2) covers samples
  // 4q + 2 in [int(x1), int(x2 + 1)).
  models::MaskHeadInstances inst;
  inst.image_index = {0, 1, 0};
  inst.gt_index = {1, 0, 0};
  const std::vector<std::vector<std::array<float, 4>>> boxes{
      {{{8.f, 0.f, 10.f, 2.f}}, {{4.f, 4.f, 18.5f, 14.f}}}, {{{0.f, 8.f, 27.f, 23.f}}}};
  const Tensor rects = models::instance_box_rects(inst, boxes, c.H, c.W, 4, ctx);
  EXPECT_EQ(rects.to_vector<int32_t>(), c.box);

  models::BoxInstLossOptions o;
  const models::BoxInstSimilarity sim{c.color_sim, c.flow_sim};
  const models::BoxInstLosses l = models::boxinst_mask_losses(c.logits, inst, boxes, sim, 2500, o);
  EXPECT_DOUBLE_EQ(l.warmup_factor, 0.25);
  EXPECT_NEAR(l.prj.item<double>(),
              ops::projection_loss(ops::sigmoid(c.logits), c.rects).item<double>(), 1e-15);
  EXPECT_NEAR(l.pairwise.item<double>(), 0.25 * pairwise_reference(c, false), 1e-12);
  o.motion_aware = true;
  const models::BoxInstLosses m = models::boxinst_mask_losses(c.logits, inst, boxes, sim, 20000, o);
  EXPECT_DOUBLE_EQ(m.warmup_factor, 1.0);
  EXPECT_NEAR(m.pairwise.item<double>(), pairwise_reference(c, true), 1e-12);
  ops::add(m.prj, m.pairwise).backward();
  EXPECT_TRUE(c.logits.grad().defined());
  EXPECT_THROW(models::boxinst_mask_losses(c.logits, inst, boxes, {c.color_sim, Tensor()}, 1, o),
               Error);
  EXPECT_DOUBLE_EQ(models::pairwise_warmup_factor(1, 10000), 1e-4);
  // No instances: zero losses.
  const models::BoxInstLosses none = models::boxinst_mask_losses(
      Tensor::zeros({0, 1, c.H, c.W}, DType::f64, ctx), {}, boxes, sim, 1, o);
  EXPECT_EQ(none.prj.item<double>(), 0.0);
  EXPECT_EQ(none.pairwise.item<double>(), 0.0);
}

TEST(CondInstMaskLoss, TargetsAtStrideFourAndDice) {
  const auto ctx = cpu_context();
  // One image 6 x 7 in a padded 8 x 8 batch; its mask is 1 on (y, x) with x >= 2 and y == 2.
  models::GtMasks m;
  m.height = 6;
  m.width = 7;
  m.data.assign(2 * 6 * 7, 0);
  for (int x = 2; x < 7; ++x) m.data[size_t(6 * 7 + 2 * 7 + x)] = 1;  // GT 1
  models::MaskHeadInstances inst;
  inst.image_index = {0};
  inst.gt_index = {1};
  const Tensor t = models::condinst_mask_targets(inst, {m}, 8, 8, 4, ctx, DType::f64);
  // Samples (2, 2), (2, 6), (6, 2), (6, 6): row 2 is inside, row 6 is padding.
  EXPECT_EQ(t.to_vector<double>(), (std::vector<double>{1, 1, 0, 0}));
  const Tensor logits =
      Tensor::from_vector(std::vector<double>{0, 1, -1, 2}, {1, 1, 2, 2}, ctx);
  std::vector<double> p;
  for (double z : {0.0, 1.0, -1.0, 2.0}) p.push_back(1 / (1 + std::exp(-z)));
  const double dice = 1 - 2 * (p[0] + p[1]) /
                              (p[0] * p[0] + p[1] * p[1] + p[2] * p[2] + p[3] * p[3] + 2 + 1e-5);
  EXPECT_NEAR(models::condinst_mask_loss(logits, t).item<double>(), dice, 1e-12);
}

#if WSVIS_WITH_CUDA
TEST(BoxInstOpsCuda, PairwiseAndProjectionParity) {
  WSVIS_REQUIRE_CUDA();
  const auto ctx = cpu_context();
  Generator gen(9);
  const int64_t K = 5, N = 2, H = 40, W = 56;
  std::vector<int32_t> im{0, 1, 1, 0, 1}, box;
  for (int64_t k = 0; k < K; ++k) {
    const int32_t x0 = int32_t(gen.randint(0, W / 2)), y0 = int32_t(gen.randint(0, H / 2));
    box.insert(box.end(), {x0, y0, x0 + int32_t(gen.randint(0, W / 2)),
                           y0 + int32_t(gen.randint(0, H / 2))});
  }
  const Tensor color = Tensor::uniform({N, 8, H, W}, 0, 1, gen, ctx);
  const Tensor flow = Tensor::uniform({N, 8, H, W}, 0, 1, gen, ctx);
  const Tensor logits = testing::random_input({K, 1, H, W}, gen, ctx, DType::f32, true, -4, 4);
  // f32 reductions in a different order on each device: relative 1e-5 on the loss, and the
  // per-pixel gradients (each a sum of at most 16 terms) to 1e-6 absolute.
  EXPECT_TRUE(testing::cuda_parity(
      [&](const std::vector<Tensor>& in) {
        const ContextPtr& c = in[0].context_ptr();
        return ops::pairwise_loss(in[0], i32(im, {K}, c), i32(box, {K, 4}, c), color.to(c),
                                  flow.to(c));
      },
      {logits}, 1e-6, 1e-5));
  const Tensor probs = testing::random_input({K, 1, H, W}, gen, ctx, DType::f32, true, 0, 1);
  EXPECT_TRUE(testing::cuda_parity(
      [&](const std::vector<Tensor>& in) {
        return ops::projection_loss(in[0], i32(box, {K, 4}, in[0].context_ptr()));
      },
      {probs}, 1e-6, 1e-5));
}
#endif

}  // namespace
}  // namespace wsvis
