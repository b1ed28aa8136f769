// Tests of models::FPN: detectron2 names, registration order and parameter counts (worked out by
// hand below) for the Mask R-CNN (P2-P6, max-pooled P6) and FCOS (P3-P7 from P5) pyramids,
// output names/shapes/strides, the top-down sum against the ops written out here, c2_xavier
// init, gradients reaching every parameter, and misuse.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "engine/ops/conv.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/pool.h"
#include "engine/ops/reduce.h"
#include "engine/ops/upsample.h"
#include "models/fpn.h"
#include "tests/support/testing.h"

namespace wsvis {
namespace {

using models::FeatureMap;
using models::FPN;
using models::FPNOptions;
using models::FPNTopBlock;
using testing::cpu_context;
using testing::tensors_close;

using testing::names_of;

using testing::find;

// ResNet-50 channels and strides for res2..res5.
FPNOptions resnet50_options(int first_stage, FPNTopBlock top) {
  const int channels[] = {256, 512, 1024, 2048};
  FPNOptions o;
  for (int s = first_stage; s <= 5; ++s) {
    o.in_features.push_back("res" + std::to_string(s));
    o.in_channels.push_back(channels[s - 2]);
    o.in_strides.push_back(1 << s);
  }
  o.top_block = top;
  return o;
}

// Random bottom-up maps for an (H, W) image: res_s is (N, C_s, H / 2^s, W / 2^s).
FeatureMap random_features(const FPNOptions& o, int n, int h, int w, Generator& gen,
                           const ContextPtr& ctx, DType dtype = DType::f32) {
  FeatureMap f;
  for (size_t i = 0; i < o.in_features.size(); ++i)
    f[o.in_features[i]] = Tensor::uniform(
        {n, o.in_channels[i], h / o.in_strides[i], w / o.in_strides[i]}, -1, 1, gen, ctx, dtype);
  return f;
}

std::vector<std::string> conv_names(const std::vector<std::string>& modules) {
  std::vector<std::string> out;
  for (const auto& m : modules) {
    out.push_back(m + ".weight");
    out.push_back(m + ".bias");
  }
  return out;
}

TEST(FPN, MaskRcnnPyramidNamesCountAndShapes) {
  auto ctx = cpu_context();
  Generator gen(1);
  FPN fpn(resnet50_options(2, FPNTopBlock::max_pool), gen, ctx);
  EXPECT_EQ(names_of(fpn.state_dict()),
            conv_names({"fpn_lateral2", "fpn_output2", "fpn_lateral3", "fpn_output3",
                        "fpn_lateral4", "fpn_output4", "fpn_lateral5", "fpn_output5"}));
  // Laterals: 256 * (256 + 512 + 1024 + 2048) + 4 * 256 = 984,064.
  // Outputs: 4 * (256 * 256 * 9 + 256) = 2,360,320. Total 3,344,384 (detectron2's FPN on R50).
  EXPECT_EQ(models::count_parameters(fpn), 3344384);
  EXPECT_EQ(fpn.out_features(), (std::vector<std::string>{"p2", "p3", "p4", "p5", "p6"}));
  EXPECT_EQ(fpn.out_strides(), (std::vector<int>{4, 8, 16, 32, 64}));
  EXPECT_EQ(find(fpn.state_dict(), "fpn_lateral4.weight").shape(), (Shape{256, 1024, 1, 1}));
  EXPECT_EQ(find(fpn.state_dict(), "fpn_output2.weight").shape(), (Shape{256, 256, 3, 3}));

  const FeatureMap out = fpn.forward(random_features(fpn.options(), 1, 64, 64, gen, ctx));
  ASSERT_EQ(out.size(), 5u);
  EXPECT_EQ(out.at("p2").shape(), (Shape{1, 256, 16, 16}));
  EXPECT_EQ(out.at("p3").shape(), (Shape{1, 256, 8, 8}));
  EXPECT_EQ(out.at("p4").shape(), (Shape{1, 256, 4, 4}));
  EXPECT_EQ(out.at("p5").shape(), (Shape{1, 256, 2, 2}));
  EXPECT_EQ(out.at("p6").shape(), (Shape{1, 256, 1, 1}));
  // P6 = max_pool2d(P5, kernel 1, stride 2): P5 subsampled at even positions.
  EXPECT_TRUE(tensors_close(out.at("p6"), ops::max_pool2d(out.at("p5"), 1, 2, 0), 0, 0));
}

TEST(FPN, FcosPyramidNamesCountAndShapes) {
  auto ctx = cpu_context();
  Generator gen(2);
  FPN fpn(resnet50_options(3, FPNTopBlock::p6p7_from_p5), gen, ctx);
  EXPECT_EQ(names_of(fpn.state_dict()),
            conv_names({"fpn_lateral3", "fpn_output3", "fpn_lateral4", "fpn_output4",
                        "fpn_lateral5", "fpn_output5", "top_block.p6", "top_block.p7"}));
  // Laterals: 256 * (512 + 1024 + 2048) + 3 * 256 = 918,272; outputs 3 * 590,080 = 1,770,240;
  // P6 and P7 (256 -> 256, 3x3): 2 * 590,080 = 1,180,160. Total 3,868,672.
  EXPECT_EQ(models::count_parameters(fpn), 3868672);
  EXPECT_EQ(fpn.out_features(), (std::vector<std::string>{"p3", "p4", "p5", "p6", "p7"}));
  EXPECT_EQ(fpn.out_strides(), (std::vector<int>{8, 16, 32, 64, 128}));

  const FeatureMap out = fpn.forward(random_features(fpn.options(), 2, 128, 96, gen, ctx));
  ASSERT_EQ(out.size(), 5u);
  EXPECT_EQ(out.at("p3").shape(), (Shape{2, 256, 16, 12}));
  EXPECT_EQ(out.at("p4").shape(), (Shape{2, 256, 8, 6}));
  EXPECT_EQ(out.at("p5").shape(), (Shape{2, 256, 4, 3}));
  EXPECT_EQ(out.at("p6").shape(), (Shape{2, 256, 2, 2}));
  EXPECT_EQ(out.at("p7").shape(), (Shape{2, 256, 1, 1}));

  // RetinaNet's variant takes P6 from C5 (2048 channels): 2048*256*9 + 256 more weights in P6.
  FPN c5(resnet50_options(3, FPNTopBlock::p6p7_from_c5), gen, ctx);
  EXPECT_EQ(models::count_parameters(c5), 3868672 + (2048 - 256) * 256 * 9);
  EXPECT_EQ(find(c5.state_dict(), "top_block.p6.weight").shape(), (Shape{256, 2048, 3, 3}));
}

TEST(FPN, OptionsFromResNet) {
  auto ctx = cpu_context();
  Generator gen(3);
  models::ResNetOptions ro;
  ro.depth = 50;
  ro.num_classes = 0;
  ro.norm = models::NormKind::FrozenBN;
  ro.freeze_at = 2;
  models::ResNet r50(ro, gen, ctx);
  const FPNOptions m = models::maskrcnn_fpn_options(r50);
  EXPECT_EQ(m.in_features, (std::vector<std::string>{"res2", "res3", "res4", "res5"}));
  EXPECT_EQ(m.in_channels, (std::vector<int>{256, 512, 1024, 2048}));
  EXPECT_EQ(m.in_strides, (std::vector<int>{4, 8, 16, 32}));
  EXPECT_EQ(m.top_block, FPNTopBlock::max_pool);
  const FPNOptions f = models::fcos_fpn_options(r50);
  EXPECT_EQ(f.in_features, (std::vector<std::string>{"res3", "res4", "res5"}));
  EXPECT_EQ(f.in_channels, (std::vector<int>{512, 1024, 2048}));
  EXPECT_EQ(f.top_block, FPNTopBlock::p6p7_from_p5);

  // Backbone and pyramid composed end to end on a small image.
  FPN fpn(f, gen, ctx);
  const FeatureMap out =
      fpn.forward(r50.forward(Tensor::uniform({1, 3, 64, 64}, -1, 1, gen, ctx)).features());
  EXPECT_EQ(out.at("p3").shape(), (Shape{1, 256, 8, 8}));
  EXPECT_EQ(out.at("p7").shape(), (Shape{1, 256, 1, 1}));
}

// The pyramid written out with the ops, on a small FPN in double precision.
TEST(FPN, TopDownValuesMatchTheOps) {
  auto ctx = cpu_context();
  Generator gen(4);
  for (FPNTopBlock top :
       {FPNTopBlock::max_pool, FPNTopBlock::p6p7_from_p5, FPNTopBlock::p6p7_from_c5}) {
    FPNOptions o;
    o.in_features = {"a", "b", "c"};
    o.in_channels = {3, 5, 7};
    o.in_strides = {4, 8, 16};
    o.out_channels = 4;
    o.top_block = top;
    o.dtype = DType::f64;
    FPN fpn(o, gen, ctx);
    FeatureMap in = random_features(o, 2, 64, 32, gen, ctx, DType::f64);
    const FeatureMap out = fpn.forward(in);
    const auto sd = fpn.state_dict();
    auto conv = [&](const Tensor& x, const std::string& m, int stride, int pad) {
      ops::Conv2dOptions co;
      co.stride = stride;
      co.padding = pad;
      return ops::conv2d(x, find(sd, m + ".weight"), find(sd, m + ".bias"), co);
    };
    const Tensor l4 = conv(in.at("c"), "fpn_lateral4", 1, 0);  // (2, 4, 4, 2)
    const Tensor l3 =
        ops::add(conv(in.at("b"), "fpn_lateral3", 1, 0), ops::upsample_nearest2d(l4, 8, 4));
    const Tensor l2 =
        ops::add(conv(in.at("a"), "fpn_lateral2", 1, 0), ops::upsample_nearest2d(l3, 16, 8));
    const Tensor p4 = conv(l4, "fpn_output4", 1, 1);
    EXPECT_TRUE(tensors_close(out.at("p2"), conv(l2, "fpn_output2", 1, 1), 1e-14, 1e-12));
    EXPECT_TRUE(tensors_close(out.at("p3"), conv(l3, "fpn_output3", 1, 1), 1e-14, 1e-12));
    EXPECT_TRUE(tensors_close(out.at("p4"), p4, 1e-14, 1e-12));
    if (top == FPNTopBlock::max_pool) {
      ASSERT_EQ(out.size(), 4u);
      EXPECT_TRUE(tensors_close(out.at("p5"), ops::max_pool2d(p4, 1, 2, 0), 0, 0));
    } else {
      ASSERT_EQ(out.size(), 5u);
      const Tensor p5 =
          conv(top == FPNTopBlock::p6p7_from_p5 ? p4 : in.at("c"), "top_block.p6", 2, 1);
      EXPECT_TRUE(tensors_close(out.at("p5"), p5, 1e-14, 1e-12));
      EXPECT_TRUE(
          tensors_close(out.at("p6"), conv(ops::relu(p5), "top_block.p7", 2, 1), 1e-14, 1e-12));
    }
  }
}

// Sizes that are not exact multiples (no padding to 32): the top-down map is resized to the
// lateral's size, torchvision's rule, which is detectron2's x2 whenever the sizes do double.
TEST(FPN, OddSizesFollowTheLateral) {
  auto ctx = cpu_context();
  Generator gen(5);
  FPNOptions o;
  o.in_features = {"res3", "res4", "res5"};
  o.in_channels = {2, 3, 4};
  o.in_strides = {8, 16, 32};
  o.out_channels = 3;
  FPN fpn(o, gen, ctx);
  FeatureMap in{{"res3", Tensor::uniform({1, 2, 13, 9}, -1, 1, gen, ctx)},
                {"res4", Tensor::uniform({1, 3, 7, 5}, -1, 1, gen, ctx)},
                {"res5", Tensor::uniform({1, 4, 4, 3}, -1, 1, gen, ctx)}};
  const FeatureMap out = fpn.forward(in);
  EXPECT_EQ(out.at("p3").shape(), (Shape{1, 3, 13, 9}));
  EXPECT_EQ(out.at("p4").shape(), (Shape{1, 3, 7, 5}));
  EXPECT_EQ(out.at("p5").shape(), (Shape{1, 3, 4, 3}));
  EXPECT_EQ(out.at("p6").shape(), (Shape{1, 3, 2, 2}));
}

TEST(FPN, C2XavierInit) {
  auto ctx = cpu_context();
  Generator gen(6);
  FPN fpn(resnet50_options(3, FPNTopBlock::p6p7_from_p5), gen, ctx);
  for (const auto& p : fpn.named_parameters()) {
    const std::vector<float> v = p.second.to_vector<float>();
    if (p.second.dim() == 1) {
      for (float b : v) EXPECT_EQ(b, 0.0f) << p.first;
      continue;
    }
    const int64_t fan_in = p.second.size(1) * p.second.size(2) * p.second.size(3);
    const double bound = std::sqrt(3.0 / static_cast<double>(fan_in));  // kaiming_uniform(a=1)
    double max_abs = 0;
    for (float w : v) max_abs = std::max(max_abs, static_cast<double>(std::fabs(w)));
    EXPECT_LE(max_abs, bound * (1 + 1e-6)) << p.first;
    EXPECT_GT(max_abs, 0.95 * bound) << p.first;
  }
}

TEST(FPN, GradientsReachEveryParameterAndInput) {
  auto ctx = cpu_context();
  Generator gen(7);
  FPNOptions o = resnet50_options(2, FPNTopBlock::max_pool);
  o.in_channels = {8, 8, 8, 8};
  o.out_channels = 8;
  FPN fpn(o, gen, ctx);
  fpn.pack_parameters();
  FeatureMap in = random_features(o, 1, 64, 64, gen, ctx);
  for (auto& f : in) f.second.set_requires_grad(true);
  const FeatureMap out = fpn.forward(in);
  Tensor loss = ops::sum(out.at("p2"));
  for (const char* level : {"p3", "p4", "p5", "p6"}) loss = ops::add(loss, ops::sum(out.at(level)));
  loss.backward();
  for (const auto& p : fpn.named_parameters()) {
    double s = 0;
    for (float g : p.second.grad().to_vector<float>()) s += std::fabs(g);
    EXPECT_GT(s, 0.0) << p.first;
  }
  for (const auto& f : in) EXPECT_TRUE(f.second.grad().defined()) << f.first;
}

TEST(FPN, Misuse) {
  auto ctx = cpu_context();
  Generator gen(8);
  FPNOptions o = resnet50_options(3, FPNTopBlock::none);
  o.in_strides = {8, 16, 64};
  EXPECT_THROW(FPN(o, gen, ctx), Error);  // strides must double
  o.in_strides = {8, 12, 24};
  EXPECT_THROW(FPN(o, gen, ctx), Error);  // powers of two
  o = resnet50_options(3, FPNTopBlock::none);
  o.in_channels.pop_back();
  EXPECT_THROW(FPN(o, gen, ctx), Error);
  o = resnet50_options(4, FPNTopBlock::none);
  o.in_channels = {4, 4};
  o.out_channels = 4;
  FPN fpn(o, gen, ctx);
  EXPECT_EQ(fpn.out_features(), (std::vector<std::string>{"p4", "p5"}));
  FeatureMap only_res4{{"res4", Tensor::zeros({1, 4, 4, 4}, DType::f32, ctx)}};
  EXPECT_THROW(fpn.forward(only_res4), Error);
}

}  // namespace
}  // namespace wsvis
