// Tests of models/condinst_dynamic_head.h: num_gen_params for CondInst, BoxInst and the
// two-stream concat (spec A.3), the [W0 | W1 | W2 | b0 | b1 | b2] layout, relative coordinates
// on a hand case, the head against a per-instance loop of plain 1x1 convolutions (grouped and
// ungrouped instance orders), and its gradient (f64 central differences).
#include <array>
#include <vector>

#include "engine/ops/conv.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/shape.h"
#include "models/condinst_dynamic_head.h"
#include "models/condinst_mask_branch.h"
#include "tests/support/testing.h"

namespace wsvis {
namespace {

using models::DynamicMaskHead;
using models::DynamicMaskHeadOptions;
using models::MaskHeadInstances;
using testing::cpu_context;

DynamicMaskHeadOptions head_options(int in_channels) {
  DynamicMaskHeadOptions o;
  o.in_channels = in_channels;
  return o;
}

TEST(DynamicMaskHead, NumGenParams) {
  // (C + 2) * 8 + 8 * 8 + 8 * 1 weights and 8 + 8 + 1 biases.
  const DynamicMaskHead condinst(head_options(8));
  EXPECT_EQ(condinst.num_gen_params(), 169);
  EXPECT_EQ(condinst.weight_nums(), (std::vector<int64_t>{80, 64, 8}));
  EXPECT_EQ(condinst.bias_nums(), (std::vector<int64_t>{8, 8, 1}));
  EXPECT_EQ(DynamicMaskHead(head_options(16)).num_gen_params(), 233);  // BoxInst
  EXPECT_EQ(DynamicMaskHead(head_options(32)).num_gen_params(), 361);  // 2 x 16 concat + 2
  DynamicMaskHeadOptions no_coords = head_options(8);
  no_coords.rel_coords = false;
  EXPECT_EQ(DynamicMaskHead(no_coords).num_gen_params(), 153);
  DynamicMaskHeadOptions two_layers = head_options(8);
  two_layers.num_layers = 2;
  EXPECT_EQ(DynamicMaskHead(two_layers).num_gen_params(), 80 + 8 + 8 + 1);
  two_layers.num_layers = 1;
  EXPECT_THROW(DynamicMaskHead{two_layers}, Error);
}

TEST(DynamicMaskHead, ParameterLayout) {
  const auto ctx = cpu_context();
  const DynamicMaskHead head(head_options(8));
  std::vector<double> values;
  for (int k = 0; k < 2; ++k)
    for (int j = 0; j < 169; ++j) values.push_back(1000.0 * k + j);
  const models::DynamicParams p =
      head.parse(Tensor::from_vector(values, {2, 169}, ctx, DType::f64));
  ASSERT_EQ(p.weights.size(), 3u);
  EXPECT_EQ(p.weights[0].shape(), Shape({2, 8, 10}));
  EXPECT_EQ(p.weights[1].shape(), Shape({2, 8, 8}));
  EXPECT_EQ(p.weights[2].shape(), Shape({2, 1, 8}));
  EXPECT_EQ(p.biases[0].shape(), Shape({2, 8, 1}));
  EXPECT_EQ(p.biases[2].shape(), Shape({2, 1, 1}));
  const auto w0 = p.weights[0].to_vector<double>(), w1 = p.weights[1].to_vector<double>();
  const auto w2 = p.weights[2].to_vector<double>(), b0 = p.biases[0].to_vector<double>();
  const auto b1 = p.biases[1].to_vector<double>(), b2 = p.biases[2].to_vector<double>();
  // W0 row-major (out, in) at 0, W1 at 80, W2 at 144, then b0 at 152, b1 at 160, b2 at 168.
  EXPECT_EQ(w0[(1 * 8 + 3) * 10 + 7], 1000 + 3 * 10 + 7);
  EXPECT_EQ(w1[(0 * 8 + 5) * 8 + 2], 80 + 5 * 8 + 2);
  EXPECT_EQ(w2[1 * 8 + 6], 1000 + 144 + 6);
  EXPECT_EQ(b0[1 * 8 + 4], 1000 + 152 + 4);
  EXPECT_EQ(b1[7], 160 + 7);
  EXPECT_EQ(b2[1], 1000 + 168);
}

TEST(DynamicMaskHead, RelativeCoordinatesHandCase) {
  const auto ctx = cpu_context();
  const DynamicMaskHead head(head_options(8));
  MaskHeadInstances inst;
  inst.image_index = {0, 0};
  inst.level = {1, 0};  // soi 128, 64
  inst.location = {{{100.f, 60.f}}, {{4.f, 4.f}}};
  // Pixel centres at stride 8: x in (4, 12, 20), y in (4, 12).
  const Tensor rel = head.relative_coords(inst, 2, 3, ctx, DType::f64);
  ASSERT_EQ(rel.shape(), Shape({2, 2, 6}));
  const std::vector<double> expected{
      // instance 0: x channel then y channel, pixels y * 3 + x
      96 / 128., 88 / 128., 80 / 128., 96 / 128., 88 / 128., 80 / 128.,  //
      56 / 128., 56 / 128., 56 / 128., 48 / 128., 48 / 128., 48 / 128.,  //
      0, -8 / 64., -16 / 64., 0, -8 / 64., -16 / 64.,                    //
      0, 0, 0, -8 / 64., -8 / 64., -8 / 64.};
  EXPECT_TRUE(testing::all_close(rel.to_vector<double>(), expected, 1e-12, 0));
  inst.level = {1, 5};  // one past P7
  EXPECT_THROW(head.relative_coords(inst, 2, 3, ctx, DType::f64), Error);
}

// The head by the definition: per instance, [rel coords, its image's features] through plain
// 1x1 convolutions, then aligned_bilinear x2.
Tensor loop_reference(const DynamicMaskHead& head, const Tensor& feats,
                      const MaskHeadInstances& inst) {
  const int64_t H = feats.size(2), W = feats.size(3);
  const models::DynamicParams p = head.parse(inst.params);
  std::vector<Tensor> out;
  for (int64_t k = 0; k < inst.size(); ++k) {
    MaskHeadInstances one;
    one.image_index = {0};
    one.level = {inst.level[size_t(k)]};
    one.location = {inst.location[size_t(k)]};
    const Tensor rel = ops::reshape(head.relative_coords(one, H, W, feats.context_ptr(),
                                                         feats.dtype()),
                                    {1, 2, H, W});
    const int64_t n = inst.image_index[size_t(k)];
    Tensor x = ops::concat({rel, ops::slice(feats, 0, n, n + 1)}, 1);
    for (size_t l = 0; l < p.weights.size(); ++l) {
      const Tensor w = ops::slice(p.weights[l], 0, k, k + 1);  // (1, out, in)
      const Tensor b = ops::slice(p.biases[l], 0, k, k + 1);
      x = ops::conv2d(x, ops::reshape(w, {w.size(1), w.size(2), 1, 1}),
                      ops::reshape(b, {b.size(1)}));
      if (l + 1 < p.weights.size()) x = ops::relu(x);
    }
    out.push_back(x);
  }
  return models::aligned_bilinear(ops::concat(out, 0), 2);
}

MaskHeadInstances random_instances(const std::vector<int64_t>& images, int64_t P, Generator& gen,
                                   const ContextPtr& ctx) {
  MaskHeadInstances inst;
  inst.image_index = images;
  for (size_t k = 0; k < images.size(); ++k) {
    inst.level.push_back(int64_t(k % 5));
    inst.location.push_back({{float(gen.uniform(0, 40)), float(gen.uniform(0, 24))}});
  }
  inst.params = testing::random_input({int64_t(images.size()), P}, gen, ctx, DType::f64, true,
                                      -0.7, 0.7);
  return inst;
}

TEST(DynamicMaskHead, EqualsPerInstanceLoopOfOneByOneConvs) {
  const auto ctx = cpu_context();
  Generator gen(5);
  const DynamicMaskHead head(head_options(4));
  const Tensor feats = Tensor::uniform({3, 4, 3, 5}, -1, 1, gen, ctx, DType::f64);
  for (const auto& images : std::vector<std::vector<int64_t>>{{0, 0, 1, 2, 2},  // grouped
                                                              {2, 0, 1, 0, 2, 1}}) {  // not
    const MaskHeadInstances inst = random_instances(images, head.num_gen_params(), gen, ctx);
    const Tensor logits = head.forward(feats, inst);
    ASSERT_EQ(logits.shape(), Shape({int64_t(images.size()), 1, 6, 10}));
    EXPECT_TRUE(testing::tensors_close(logits, loop_reference(head, feats, inst), 1e-12, 1e-12));
  }
}

TEST(DynamicMaskHead, WithoutRelativeCoordinates) {
  const auto ctx = cpu_context();
  Generator gen(6);
  DynamicMaskHeadOptions o = head_options(3);
  o.rel_coords = false;
  const DynamicMaskHead head(o);
  const Tensor feats = Tensor::uniform({1, 3, 2, 2}, -1, 1, gen, ctx, DType::f64);
  MaskHeadInstances inst = random_instances({0}, head.num_gen_params(), gen, ctx);
  inst.level.clear();  // not needed without coordinates
  inst.location.clear();
  const models::DynamicParams p = head.parse(inst.params);
  Tensor x = feats;
  for (size_t l = 0; l < 3; ++l) {
    const Tensor& w = p.weights[l];
    x = ops::conv2d(x, ops::reshape(w, {w.size(1), w.size(2), 1, 1}),
                    ops::reshape(p.biases[l], {p.biases[l].size(1)}));
    if (l < 2) x = ops::relu(x);
  }
  EXPECT_TRUE(testing::tensors_close(head.forward(feats, inst), models::aligned_bilinear(x, 2),
                                     1e-12, 1e-12));
}

TEST(DynamicMaskHead, Gradcheck) {
  const auto ctx = cpu_context();
  Generator gen(7);
  const DynamicMaskHead head(head_options(3));
  const MaskHeadInstances inst = random_instances({1, 0, 1}, head.num_gen_params(), gen, ctx);
  const Tensor feats = testing::random_input({2, 3, 2, 3}, gen, ctx);
  EXPECT_TRUE(testing::gradcheck(
      [&](const std::vector<Tensor>& in) {
        MaskHeadInstances i = inst;
        i.params = in[1];
        return head.forward(in[0], i);
      },
      {feats, inst.params}));
}

TEST(DynamicMaskHead, NoInstancesAndBadInput) {
  const auto ctx = cpu_context();
  Generator gen(8);
  const DynamicMaskHead head(head_options(4));
  const Tensor feats = Tensor::zeros({2, 4, 3, 5}, DType::f32, ctx);
  EXPECT_EQ(head.forward(feats, MaskHeadInstances{}).shape(), Shape({0, 1, 6, 10}));
  MaskHeadInstances inst = random_instances({0, 2}, head.num_gen_params(), gen, ctx);
  inst.params = inst.params.to_dtype(DType::f32);
  EXPECT_THROW(head.forward(feats, inst), Error);  // image 2 of a batch of 2
  EXPECT_THROW(head.forward(Tensor::zeros({2, 5, 3, 5}, DType::f32, ctx), inst), Error);
}

}  // namespace
}  // namespace wsvis
