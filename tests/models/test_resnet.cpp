// Tests of models::ResNet: parameter counts and state_dict names equal torchvision's, stage
// shapes for plain, irn-style (2,2,2,1) and dilated strides, frozen stages (detectron2
// FREEZE_AT), the three norms, train/eval, packing, and a directional-derivative check of the
// whole network in double precision.
#include <cmath>
#include <string>
#include <vector>

#include "engine/ops/reduce.h"
#include "layers/conv.h"
#include "layers/norm.h"
#include "models/resnet.h"
#include "tests/support/testing.h"

namespace wsvis {
namespace {

using models::NormKind;
using models::ResNet;
using models::ResNetOptions;
using testing::cpu_context;
using testing::tensors_close;

ResNetOptions opts(int depth, int num_classes = 1000) {
  ResNetOptions o;
  o.depth = depth;
  o.num_classes = num_classes;
  return o;
}

using testing::names_of;

using testing::find;

// The counts torchvision prints for sum(p.numel() for p in resnetXX().parameters()).
TEST(ResNet, ParameterCountsEqualTorchvision) {
  auto ctx = cpu_context();
  const std::vector<std::pair<int, int64_t>> expected{
      {18, 11689512}, {34, 21797672}, {50, 25557032}, {101, 44549160}};
  for (const auto& [depth, count] : expected) {
    Generator gen(1);
    ResNet net(opts(depth), gen, ctx);
    EXPECT_EQ(models::count_parameters(net), count) << "resnet" << depth;
  }
}

// torchvision.models.resnet18().state_dict().keys(), in order.
TEST(ResNet, Resnet18StateDictNamesAreTorchvisions) {
  // clang-format off
  const std::vector<std::string> expected{
      "conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var",
      "bn1.num_batches_tracked", "layer1.0.conv1.weight", "layer1.0.bn1.weight",
      "layer1.0.bn1.bias", "layer1.0.bn1.running_mean", "layer1.0.bn1.running_var",
      "layer1.0.bn1.num_batches_tracked", "layer1.0.conv2.weight", "layer1.0.bn2.weight",
      "layer1.0.bn2.bias", "layer1.0.bn2.running_mean", "layer1.0.bn2.running_var",
      "layer1.0.bn2.num_batches_tracked", "layer1.1.conv1.weight", "layer1.1.bn1.weight",
      "layer1.1.bn1.bias", "layer1.1.bn1.running_mean", "layer1.1.bn1.running_var",
      "layer1.1.bn1.num_batches_tracked", "layer1.1.conv2.weight", "layer1.1.bn2.weight",
      "layer1.1.bn2.bias", "layer1.1.bn2.running_mean", "layer1.1.bn2.running_var",
      "layer1.1.bn2.num_batches_tracked", "layer2.0.conv1.weight", "layer2.0.bn1.weight",
      "layer2.0.bn1.bias", "layer2.0.bn1.running_mean", "layer2.0.bn1.running_var",
      "layer2.0.bn1.num_batches_tracked", "layer2.0.conv2.weight", "layer2.0.bn2.weight",
      "layer2.0.bn2.bias", "layer2.0.bn2.running_mean", "layer2.0.bn2.running_var",
      "layer2.0.bn2.num_batches_tracked", "layer2.0.downsample.0.weight",
      "layer2.0.downsample.1.weight", "layer2.0.downsample.1.bias",
      "layer2.0.downsample.1.running_mean", "layer2.0.downsample.1.running_var",
      "layer2.0.downsample.1.num_batches_tracked", "layer2.1.conv1.weight", "layer2.1.bn1.weight",
      "layer2.1.bn1.bias", "layer2.1.bn1.running_mean", "layer2.1.bn1.running_var",
      "layer2.1.bn1.num_batches_tracked", "layer2.1.conv2.weight", "layer2.1.bn2.weight",
      "layer2.1.bn2.bias", "layer2.1.bn2.running_mean", "layer2.1.bn2.running_var",
      "layer2.1.bn2.num_batches_tracked", "layer3.0.conv1.weight", "layer3.0.bn1.weight",
      "layer3.0.bn1.bias", "layer3.0.bn1.running_mean", "layer3.0.bn1.running_var",
      "layer3.0.bn1.num_batches_tracked", "layer3.0.conv2.weight", "layer3.0.bn2.weight",
      "layer3.0.bn2.bias", "layer3.0.bn2.running_mean", "layer3.0.bn2.running_var",
      "layer3.0.bn2.num_batches_tracked", "layer3.0.downsample.0.weight",
      "layer3.0.downsample.1.weight", "layer3.0.downsample.1.bias",
      "layer3.0.downsample.1.running_mean", "layer3.0.downsample.1.running_var",
      "layer3.0.downsample.1.num_batches_tracked", "layer3.1.conv1.weight", "layer3.1.bn1.weight",
      "layer3.1.bn1.bias", "layer3.1.bn1.running_mean", "layer3.1.bn1.running_var",
      "layer3.1.bn1.num_batches_tracked", "layer3.1.conv2.weight", "layer3.1.bn2.weight",
      "layer3.1.bn2.bias", "layer3.1.bn2.running_mean", "layer3.1.bn2.running_var",
      "layer3.1.bn2.num_batches_tracked", "layer4.0.conv1.weight", "layer4.0.bn1.weight",
      "layer4.0.bn1.bias", "layer4.0.bn1.running_mean", "layer4.0.bn1.running_var",
      "layer4.0.bn1.num_batches_tracked", "layer4.0.conv2.weight", "layer4.0.bn2.weight",
      "layer4.0.bn2.bias", "layer4.0.bn2.running_mean", "layer4.0.bn2.running_var",
      "layer4.0.bn2.num_batches_tracked", "layer4.0.downsample.0.weight",
      "layer4.0.downsample.1.weight", "layer4.0.downsample.1.bias",
      "layer4.0.downsample.1.running_mean", "layer4.0.downsample.1.running_var",
      "layer4.0.downsample.1.num_batches_tracked", "layer4.1.conv1.weight", "layer4.1.bn1.weight",
      "layer4.1.bn1.bias", "layer4.1.bn1.running_mean", "layer4.1.bn1.running_var",
      "layer4.1.bn1.num_batches_tracked", "layer4.1.conv2.weight", "layer4.1.bn2.weight",
      "layer4.1.bn2.bias", "layer4.1.bn2.running_mean", "layer4.1.bn2.running_var",
      "layer4.1.bn2.num_batches_tracked", "fc.weight", "fc.bias"};
  // clang-format on
  ASSERT_EQ(expected.size(), 122u);
  Generator gen(2);
  ResNet net(opts(18), gen, cpu_context());
  EXPECT_EQ(names_of(net.state_dict()), expected);
  const auto sd = net.state_dict();
  EXPECT_EQ(find(sd, "conv1.weight").shape(), (Shape{64, 3, 7, 7}));
  EXPECT_EQ(find(sd, "layer2.0.downsample.0.weight").shape(), (Shape{128, 64, 1, 1}));
  EXPECT_EQ(find(sd, "layer4.1.conv2.weight").shape(), (Shape{512, 512, 3, 3}));
  EXPECT_EQ(find(sd, "fc.weight").shape(), (Shape{1000, 512}));
  EXPECT_EQ(find(sd, "bn1.num_batches_tracked").dtype(), DType::i64);
}

std::shared_ptr<models::Bottleneck> bottleneck(const ResNet& net, int stage, size_t block) {
  auto b = std::dynamic_pointer_cast<models::Bottleneck>((*net.stage(stage))[block]);
  EXPECT_TRUE(b) << "layer" << stage << "." << block << " is not a Bottleneck";
  return b;
}

TEST(ResNet, Resnet50LayoutIsTorchvisionV15) {
  Generator gen(3);
  ResNet net(opts(50), gen, cpu_context());
  const auto sd = net.state_dict();
  EXPECT_EQ(sd.size(), 320u);  // len(torchvision.models.resnet50().state_dict())
  EXPECT_EQ(find(sd, "layer1.0.downsample.0.weight").shape(), (Shape{256, 64, 1, 1}));
  EXPECT_EQ(find(sd, "layer1.0.conv3.weight").shape(), (Shape{256, 64, 1, 1}));
  EXPECT_EQ(find(sd, "layer3.5.bn3.running_var").shape(), (Shape{1024}));
  EXPECT_FALSE(find(sd, "layer3.6.conv1.weight").defined());
  EXPECT_EQ(find(sd, "fc.weight").shape(), (Shape{1000, 2048}));
  // v1.5: the stride is on the 3x3 conv; the 1x1 keeps stride 1.
  auto b = bottleneck(net, 2, 0);
  EXPECT_EQ(b->conv1()->options().stride.h, 1);
  EXPECT_EQ(b->conv2()->options().stride.h, 2);
  auto d = std::dynamic_pointer_cast<layers::Conv2d>((*b->downsample())[0]);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->options().stride.h, 2);

  ResNetOptions o = opts(50);
  o.stride_in_1x1 = true;  // detectron2 MSRA weights
  ResNet msra(o, gen, cpu_context());
  EXPECT_EQ(bottleneck(msra, 2, 0)->conv1()->options().stride.h, 2);
  EXPECT_EQ(bottleneck(msra, 2, 0)->conv2()->options().stride.h, 1);
}

TEST(ResNet, BackboneWithoutFcAndBadOptions) {
  auto ctx = cpu_context();
  Generator gen(4);
  ResNet net(opts(18, 0), gen, ctx);
  EXPECT_FALSE(find(net.state_dict(), "fc.weight").defined());
  EXPECT_EQ(models::count_parameters(net), 11689512 - 513000);  // minus fc (512*1000 + 1000)
  net.train(false);
  const auto out = net.forward(Tensor::zeros({1, 3, 32, 32}, DType::f32, ctx));
  EXPECT_FALSE(out.logits.defined());
  EXPECT_THROW(ResNet(opts(20), gen, ctx), Error);
  ResNetOptions dil = opts(18);
  dil.replace_stride_with_dilation = {false, false, true};
  EXPECT_THROW(ResNet(dil, gen, ctx), Error);  // BasicBlock refuses dilation, as torchvision
  ResNetOptions frz = opts(18);
  frz.freeze_at = 6;
  EXPECT_THROW(ResNet(frz, gen, ctx), Error);
}

void expect_shapes(const models::ResNetOutput& out, const std::vector<Shape>& shapes) {
  EXPECT_EQ(out.stem.shape(), shapes[0]);
  EXPECT_EQ(out.res2.shape(), shapes[1]);
  EXPECT_EQ(out.res3.shape(), shapes[2]);
  EXPECT_EQ(out.res4.shape(), shapes[3]);
  EXPECT_EQ(out.res5.shape(), shapes[4]);
}

TEST(ResNet, StageShapesPlainAndIrnStrides) {
  auto ctx = cpu_context();
  Generator gen(5);
  Tensor x = Tensor::uniform({1, 3, 64, 64}, -1, 1, gen, ctx);

  ResNet plain(opts(18, 10), gen, ctx);
  auto out = plain.forward(x);
  expect_shapes(out,
                {{1, 64, 16, 16}, {1, 64, 16, 16}, {1, 128, 8, 8}, {1, 256, 4, 4}, {1, 512, 2, 2}});
  EXPECT_EQ(out.logits.shape(), (Shape{1, 10}));
  EXPECT_EQ(plain.out_strides(), (std::array<int, 5>{4, 4, 8, 16, 32}));
  EXPECT_EQ(plain.out_channels(), (std::array<int, 5>{64, 64, 128, 256, 512}));
  const auto features = out.features();
  EXPECT_EQ(features.size(), 5u);
  EXPECT_TRUE(features.at("res4").same_storage(out.res4));

  // irn's CAM / IRN backbone: strides (conv1, layer2, layer3, layer4) = (2, 2, 2, 1), no
  // dilation; layer4's first block keeps its 1x1 projection shortcut at stride 1.
  ResNetOptions irn = opts(50, 0);
  irn.strides = {2, 2, 2, 1};
  ResNet irn_net(irn, gen, ctx);
  out = irn_net.forward(x);
  expect_shapes(
      out, {{1, 64, 16, 16}, {1, 256, 16, 16}, {1, 512, 8, 8}, {1, 1024, 4, 4}, {1, 2048, 4, 4}});
  EXPECT_EQ(irn_net.out_strides(), (std::array<int, 5>{4, 4, 8, 16, 16}));
  auto b = bottleneck(irn_net, 4, 0);
  ASSERT_TRUE(b->downsample());
  EXPECT_EQ(std::dynamic_pointer_cast<layers::Conv2d>((*b->downsample())[0])->options().stride.h,
            1);
  EXPECT_EQ(b->conv2()->options().dilation.h, 1);
  EXPECT_EQ(bottleneck(irn_net, 4, 1)->conv2()->options().dilation.h, 1);
}

TEST(ResNet, StageShapesWithDilation) {
  auto ctx = cpu_context();
  Generator gen(6);
  Tensor x = Tensor::uniform({1, 3, 64, 64}, -1, 1, gen, ctx);
  // torchvision replace_stride_with_dilation=[False, False, True]: layer4 at stride 16.
  ResNetOptions o = opts(50, 0);
  o.replace_stride_with_dilation = {false, false, true};
  ResNet net(o, gen, ctx);
  auto out = net.forward(x);
  expect_shapes(
      out, {{1, 64, 16, 16}, {1, 256, 16, 16}, {1, 512, 8, 8}, {1, 1024, 4, 4}, {1, 2048, 4, 4}});
  // The first block keeps the previous dilation, the rest use 2 (padding = dilation).
  EXPECT_EQ(bottleneck(net, 4, 0)->conv2()->options().dilation.h, 1);
  EXPECT_EQ(bottleneck(net, 4, 0)->conv2()->options().stride.h, 1);
  EXPECT_EQ(bottleneck(net, 4, 1)->conv2()->options().dilation.h, 2);
  EXPECT_EQ(bottleneck(net, 4, 2)->conv2()->options().padding.h, 2);

  // [False, True, True] (DeepLab output stride 8): layer3 dilation 2, layer4 dilation 4; and
  // with the irn strides (2,2,2,1) on top, layer4's stride 1 leaves its dilation at 2.
  o.replace_stride_with_dilation = {false, true, true};
  ResNet os8(o, gen, ctx);
  out = os8.forward(x);
  expect_shapes(
      out, {{1, 64, 16, 16}, {1, 256, 16, 16}, {1, 512, 8, 8}, {1, 1024, 8, 8}, {1, 2048, 8, 8}});
  EXPECT_EQ(bottleneck(os8, 3, 1)->conv2()->options().dilation.h, 2);
  EXPECT_EQ(bottleneck(os8, 4, 0)->conv2()->options().dilation.h, 2);
  EXPECT_EQ(bottleneck(os8, 4, 1)->conv2()->options().dilation.h, 4);
  o.strides = {2, 2, 2, 1};
  ResNet mixed(o, gen, ctx);
  EXPECT_EQ(bottleneck(mixed, 4, 1)->conv2()->options().dilation.h, 2);
  EXPECT_EQ(mixed.forward(x).res5.shape(), (Shape{1, 2048, 8, 8}));
}

TEST(ResNet, FrozenStagesGetNoGradientsAndFrozenBatchNorm) {
  auto ctx = cpu_context();
  Generator gen(7);
  ResNetOptions o = opts(18, 5);
  o.freeze_at = 2;  // stem + res2 (layer1)
  ResNet net(o, gen, ctx);
  const auto sd = net.state_dict();
  // Frozen stages' BN became FrozenBatchNorm2d (as detectron2's freeze()): no counter there.
  EXPECT_FALSE(find(sd, "bn1.num_batches_tracked").defined());
  EXPECT_FALSE(find(sd, "layer1.1.bn2.num_batches_tracked").defined());
  EXPECT_TRUE(find(sd, "layer1.1.bn2.running_var").defined());
  EXPECT_TRUE(find(sd, "layer2.0.bn1.num_batches_tracked").defined());
  EXPECT_EQ(sd.size(), 122u - 5u);  // five BNs in the stem and layer1

  const auto is_frozen = [](const std::string& name) {
    return name.rfind("conv1.", 0) == 0 || name.rfind("bn1.", 0) == 0 ||
           name.rfind("layer1.", 0) == 0;
  };
  int64_t trainable = 0;
  for (const auto& p : net.named_parameters()) {
    EXPECT_EQ(p.second.requires_grad(), !is_frozen(p.first)) << p.first;
    if (!is_frozen(p.first)) trainable += p.second.numel();
  }
  const Tensor stats_before = find(sd, "layer1.0.bn1.running_mean").clone();
  Tensor x = Tensor::uniform({2, 3, 32, 32}, -1, 1, gen, ctx);
  ops::sum(net.forward(x).logits).backward();
  for (const auto& p : net.named_parameters()) {
    if (is_frozen(p.first)) {
      EXPECT_FALSE(p.second.grad().defined()) << p.first;
    } else {
      ASSERT_TRUE(p.second.grad().defined()) << p.first;
    }
  }
  EXPECT_TRUE(
      tensors_close(find(net.state_dict(), "layer1.0.bn1.running_mean"), stats_before, 0, 0));

  net.pack_parameters();
  EXPECT_EQ(net.flat_parameters().numel(), trainable);

  o.freeze_at = 5;  // everything but fc
  ResNet all(o, gen, ctx);
  for (const auto& p : all.named_parameters())
    EXPECT_EQ(p.second.requires_grad(), p.first.rfind("fc.", 0) == 0) << p.first;
}

TEST(ResNet, NormKinds) {
  auto ctx = cpu_context();
  Generator gen(8);
  ResNetOptions o = opts(18, 0);
  o.norm = NormKind::FrozenBN;
  ResNet frozen(o, gen, ctx);
  // Only convs are parameters; every BN tensor is a buffer and there are no counters.
  EXPECT_EQ(frozen.named_parameters().size(), 20u);  // 17 convs + 3 downsample convs
  for (const auto& b : frozen.named_buffers())
    EXPECT_EQ(b.first.find("num_batches_tracked"), std::string::npos) << b.first;
  EXPECT_EQ(frozen.state_dict().size(), 122u - 2u - 20u);

  // FixedBN (irn): statistics never move, even in training; weight and bias are trained.
  o.norm = NormKind::FixedBN;
  ResNet fixed(o, gen, ctx);
  ASSERT_TRUE(fixed.is_training());
  const Tensor rm = find(fixed.state_dict(), "layer3.0.bn2.running_mean").clone();
  Tensor x = Tensor::uniform({2, 3, 32, 32}, -1, 1, gen, ctx);
  ops::sum(fixed.forward(x).res5).backward();
  EXPECT_TRUE(tensors_close(find(fixed.state_dict(), "layer3.0.bn2.running_mean"), rm, 0, 0));
  EXPECT_TRUE(find(fixed.named_parameters(), "layer3.0.bn2.weight").grad().defined());
  EXPECT_EQ(find(fixed.state_dict(), "layer3.0.bn2.num_batches_tracked").item<int64_t>(), 0);
}

TEST(ResNet, TrainAndEvalModes) {
  auto ctx = cpu_context();
  Generator gen(9);
  ResNet net(opts(18, 4), gen, ctx);
  Tensor x = Tensor::uniform({3, 3, 32, 32}, -1, 1, gen, ctx);
  const Tensor rm0 = find(net.state_dict(), "layer2.1.bn1.running_mean").clone();
  net.forward(x);
  const Tensor rm1 = find(net.state_dict(), "layer2.1.bn1.running_mean").clone();
  EXPECT_FALSE(tensors_close(rm1, rm0, 1e-7, 0));  // training moved the statistics
  EXPECT_EQ(find(net.state_dict(), "layer2.1.bn1.num_batches_tracked").item<int64_t>(), 1);

  net.train(false);
  const Tensor y = net.forward(x).logits;
  EXPECT_TRUE(tensors_close(find(net.state_dict(), "layer2.1.bn1.running_mean"), rm1, 0, 0));
  EXPECT_EQ(find(net.state_dict(), "layer2.1.bn1.num_batches_tracked").item<int64_t>(), 1);
  // Eval mode treats samples independently: the first sample alone gives the first row.
  Tensor first = net.forward(x.narrow0(0, 1)).logits;
  EXPECT_TRUE(tensors_close(first, y.narrow0(0, 1), 1e-5, 1e-4));
}

// Whole-network gradient in double: the derivative along a random direction of every parameter
// and the input at once, (L(+eps) - L(-eps)) / 2eps, against <grad, direction>, training-mode BN
// included. The network is only piecewise smooth (ReLU, max-pool), and with 11M parameters moving
// at once a large step crosses kinks; so does a small batch: layer4's BN normalises N*H*W values
// per channel, and with 2 (32x32) or 8 (64x64) of them the map is so steep that finite steps
// from 1e-5 to 1e-8 scatter around the slope. At 96x96 (18 values) measured: eps 1e-6 0.5% off
// (kinks), 1e-7 1e-9 relative, 1e-8 3e-9 relative (rounding ~1e-16 |L| / eps). Eval mode agrees
// to 1e-9 at 1e-7 as well.
TEST(ResNet, DirectionalDerivativeMatchesBackward) {
  auto ctx = cpu_context();
  Generator gen(10);
  ResNetOptions o = opts(18, 3);
  o.dtype = DType::f64;
  ResNet net(o, gen, ctx);
  Tensor x = testing::random_input({2, 3, 96, 96}, gen, ctx);
  std::vector<Tensor> tensors = net.parameters();
  tensors.push_back(x);
  std::vector<Tensor> directions;
  for (const Tensor& t : tensors)
    directions.push_back(Tensor::uniform(t.shape(), -1, 1, gen, ctx, DType::f64));
  const Tensor projection = Tensor::uniform({2, 3}, -1, 1, gen, ctx, DType::f64);

  net.forward(x).logits.backward(projection);
  double analytic = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    ASSERT_TRUE(tensors[i].grad().defined()) << i;
    const auto g = tensors[i].grad().to_vector<double>();
    const auto d = directions[i].to_vector<double>();
    for (size_t k = 0; k < g.size(); ++k) analytic += g[k] * d[k];
  }
  auto shifted_loss = [&](double eps) {
    NoGradGuard no_grad;
    for (size_t i = 0; i < tensors.size(); ++i) {
      double* v = tensors[i].data<double>();
      const double* d = directions[i].data<double>();
      for (int64_t k = 0; k < tensors[i].numel(); ++k) v[k] += eps * d[k];
    }
    const auto y = net.forward(x).logits.to_vector<double>();
    const auto r = projection.to_vector<double>();
    double loss = 0;
    for (size_t k = 0; k < y.size(); ++k) loss += y[k] * r[k];
    for (size_t i = 0; i < tensors.size(); ++i) {
      double* v = tensors[i].data<double>();
      const double* d = directions[i].data<double>();
      for (int64_t k = 0; k < tensors[i].numel(); ++k) v[k] -= eps * d[k];
    }
    return loss;
  };
  const double eps = 1e-7;
  const double numeric = (shifted_loss(eps) - shifted_loss(-eps)) / (2 * eps);
  EXPECT_NEAR(analytic, numeric, 1e-6 + 1e-6 * std::fabs(numeric))
      << "analytic " << analytic << " numeric " << numeric;
  EXPECT_GT(std::fabs(analytic), 1e-3);
}

TEST(ResNet, PackedForwardMatchesUnpacked) {
  auto ctx = cpu_context();
  Generator g1(11), g2(11);
  ResNet a(opts(18, 4), g1, ctx), b(opts(18, 4), g2, ctx);
  b.pack_parameters();
  EXPECT_EQ(b.flat_parameters().numel(), models::count_parameters(b));
  Generator gen(12);
  Tensor x = Tensor::uniform({2, 3, 32, 32}, -1, 1, gen, ctx);
  const Tensor ya = a.forward(x).logits, yb = b.forward(x).logits;
  EXPECT_TRUE(tensors_close(yb, ya, 0, 0));
  ops::sum(ya).backward();
  ops::sum(yb).backward();
  std::vector<float> expected;
  for (const Tensor& p : a.parameters())
    for (float v : p.grad().to_vector<float>()) expected.push_back(v);
  EXPECT_TRUE(tensors_close(
      b.flat_gradients(),
      Tensor::from_vector(expected, {static_cast<int64_t>(expected.size())}, ctx), 0, 0));
}

TEST(ResNet, CudaForwardMatchesCpu) {
  WSVIS_REQUIRE_CUDA();
  auto cpu = cpu_context();
  auto gpu = Context::create(Device::cuda(0));
  Generator g1(13), g2(13);
  ResNet a(opts(50, 10), g1, cpu), b(opts(50, 10), g2, cpu);
  b.pack_parameters();
  b.to(gpu);
  Generator gen(14);
  Tensor x = Tensor::uniform({2, 3, 64, 64}, -1, 1, gen, cpu);
  // TF32 convolutions (10-bit mantissa) through 50 layers, BN renormalising each: logits agree
  // to a few 1e-2 relative; this guards layout and device placement, not rounding.
  EXPECT_TRUE(tensors_close(b.forward(x.to(gpu)).logits.to(cpu), a.forward(x).logits, 5e-2, 5e-2));
}

}  // namespace
}  // namespace wsvis
