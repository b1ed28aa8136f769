// Tests of models::CamNet (IRN's CAM network): parameter count and names against IRN's
// ResNet-50 CAM net, output grids at stride 16, logits = GAP then classifier and CAM = ReLU of
// the classifier map, frozen stages (no gradient, not packed, not in the optimizer groups),
// fixed vs batch BN statistics, loading torchvision-named backbone weights, a tiny learning run
// and CUDA parity. Depth 18 and small images wherever the property does not depend on depth.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops.h"
#include "engine/safetensors.h"
#include "models/cam_net.h"
#include "tests/support/testing.h"

namespace wsvis {
namespace {

using models::CamNet;
using models::CamNetOptions;
using models::NormKind;
using testing::cpu_context;
using testing::tensors_close;

CamNetOptions cam_options(int depth, int num_classes, NormKind norm, int frozen_stages) {
  CamNetOptions o;
  o.depth = depth;
  o.num_classes = num_classes;
  o.norm = norm;
  o.frozen_stages = frozen_stages;
  return o;
}

using testing::find;

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.rfind(prefix, 0) == 0;
}

// IRN's S1 + S2: the stem, layer1 and layer2.
bool in_first_two_stages(const std::string& name) {
  return starts_with(name, "backbone.conv1.") || starts_with(name, "backbone.bn1.") ||
         starts_with(name, "backbone.layer1.") || starts_with(name, "backbone.layer2.");
}

// IRN's net: sum(p.numel()) = torchvision ResNet-50 without fc (25,557,032 - 2048*1000 - 1000
// = 23,508,032) + the bias-free 1x1 classifier 2048*20 = 40,960.
TEST(CamNet, Resnet50CountNamesAndFrozenFlags) {
  auto ctx = cpu_context();
  Generator gen(1);
  CamNet net(cam_options(50, 20, NormKind::FixedBN, 2), gen, ctx);
  EXPECT_EQ(models::count_parameters(net), 23508032 + 2048 * 20);
  const auto sd = net.state_dict();
  ASSERT_TRUE(find(sd, "classifier.weight").defined());
  EXPECT_EQ(find(sd, "classifier.weight").shape(), (Shape{20, 2048, 1, 1}));
  EXPECT_FALSE(find(sd, "classifier.bias").defined());
  EXPECT_FALSE(find(sd, "backbone.fc.weight").defined());
  for (const char* name : {"backbone.conv1.weight", "backbone.bn1.running_var",
                           "backbone.layer1.0.downsample.0.weight",
                           "backbone.layer4.0.downsample.1.weight", "backbone.layer4.2.bn3.bias"})
    EXPECT_TRUE(find(sd, name).defined()) << name;
  // layer4 keeps stride 1 (irn strides (2, 2, 2, 1)) but still has a projection shortcut.
  EXPECT_EQ(net.backbone().out_strides()[4], 16);
  for (const auto& p : net.named_parameters())
    EXPECT_EQ(p.second.requires_grad(), !in_first_two_stages(p.first)) << p.first;
}

TEST(CamNet, OutputGridsAtStride16) {
  auto ctx = cpu_context();
  Generator gen(2);
  CamNet net(cam_options(18, 20, NormKind::FixedBN, 2), gen, ctx);
  net.train(false);
  NoGradGuard no_grad;
  struct Case {
    int h, w, gh, gw;
  };
  // (H-1)//16 + 1: 64 -> 4, 65 -> 5, 77 -> 5.
  for (const Case& c : {Case{64, 64, 4, 4}, Case{65, 77, 5, 5}}) {
    Tensor x = Tensor::uniform({1, 3, c.h, c.w}, -1, 1, gen, ctx);
    EXPECT_EQ(net.forward(x).shape(), (Shape{1, 20})) << c.h << "x" << c.w;
    EXPECT_EQ(net.features(x).shape(), (Shape{1, 512, c.gh, c.gw})) << c.h << "x" << c.w;
    EXPECT_EQ(net.cam(x).shape(), (Shape{1, 20, c.gh, c.gw})) << c.h << "x" << c.w;
  }
}

// logits = classifier(GAP(S4)) equals GAP(classifier(S4)) (both linear), and the CAM is the
// ReLU of classifier(S4): checked against a plain conv with the classifier's weight.
TEST(CamNet, LogitsArePooledClassifierMapAndCamIsItsRelu) {
  auto ctx = cpu_context();
  Generator gen(3);
  CamNetOptions o = cam_options(18, 5, NormKind::FixedBN, 2);
  o.dtype = DType::f64;
  CamNet net(o, gen, ctx);
  NoGradGuard no_grad;
  Tensor x = Tensor::uniform({2, 3, 48, 40}, -1, 1, gen, ctx, DType::f64);
  const Tensor map = ops::conv2d(net.features(x), net.classifier().weight(), Tensor());
  EXPECT_TRUE(tensors_close(net.forward(x), ops::mean(map, {2, 3}), 1e-12, 1e-10));
  EXPECT_TRUE(tensors_close(net.cam(x), ops::relu(map), 0, 0));
  // The map has both signs, so the ReLU is not the identity here.
  const auto v = map.to_vector<double>();
  EXPECT_TRUE(std::any_of(v.begin(), v.end(), [](double a) { return a < 0; }));
}

TEST(CamNet, FrozenStagesGetNoGradientAndStayOutOfTheOptimizer) {
  auto ctx = cpu_context();
  Generator gen(4);
  CamNet net(cam_options(18, 3, NormKind::FixedBN, 2), gen, ctx);
  Tensor x = testing::random_input({2, 3, 32, 32}, gen, ctx, DType::f32);
  ops::sum(net.forward(x)).backward();
  int64_t trainable_backbone = 0;
  for (const auto& p : net.named_parameters()) {
    if (in_first_two_stages(p.first)) {
      EXPECT_FALSE(p.second.requires_grad()) << p.first;
      EXPECT_FALSE(p.second.grad().defined()) << p.first;
    } else {
      ASSERT_TRUE(p.second.grad().defined()) << p.first;
      if (starts_with(p.first, "backbone.")) trainable_backbone += p.second.numel();
    }
  }
  // IRN detaches S2's output: nothing reaches the image either.
  EXPECT_FALSE(x.grad().defined());
  const Tensor g = find(net.named_parameters(), "backbone.layer3.0.conv1.weight").grad();
  EXPECT_GT(ops::sum(ops::abs(g)).item<double>(), 0.0);

  net.pack_parameters();
  EXPECT_EQ(net.flat_parameters().numel(), trainable_backbone + 512 * 3);
  const auto groups = net.param_groups();
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0].name, "backbone");
  EXPECT_EQ(groups[0].lr_mult, 1.0);
  int64_t in_group = 0;
  for (const Tensor& p : groups[0].params) in_group += p.numel();
  EXPECT_EQ(in_group, trainable_backbone);
  EXPECT_EQ(groups[1].name, "classifier");
  EXPECT_EQ(groups[1].lr_mult, 10.0);
  ASSERT_EQ(groups[1].params.size(), 1u);
  EXPECT_TRUE(groups[1].params[0].same_storage(net.flat_parameters()));  // packed view

  // frozen_stages 0 (training from scratch): every parameter and the image get a gradient.
  CamNet all(cam_options(18, 3, NormKind::BN, 0), gen, ctx);
  Tensor x2 = testing::random_input({2, 3, 32, 32}, gen, ctx, DType::f32);
  ops::sum(all.forward(x2)).backward();
  for (const auto& p : all.named_parameters()) EXPECT_TRUE(p.second.grad().defined()) << p.first;
  EXPECT_TRUE(x2.grad().defined());
}

std::vector<std::pair<std::string, Tensor>> stats_of(const layers::Module& m) {
  std::vector<std::pair<std::string, Tensor>> out;
  for (const auto& b : m.named_buffers())
    if (b.first.find("running_") != std::string::npos) out.emplace_back(b.first, b.second.clone());
  return out;
}

// One SGD step in training mode: FixedBN (IRN) keeps every running statistic; BN moves those of
// the trained stages, while the frozen ones (converted to FrozenBN) keep theirs.
TEST(CamNet, FixedBnStatisticsDoNotMoveInTraining) {
  auto ctx = cpu_context();
  auto step_and_compare = [&](NormKind norm, int frozen_stages) {
    Generator gen(5);
    CamNet net(cam_options(18, 2, norm, frozen_stages), gen, ctx);
    net.pack_parameters();
    const auto before = stats_of(net);
    const Tensor w_before = find(net.named_parameters(), "backbone.layer3.0.bn1.weight").clone();
    optim::SgdOptions so;
    so.lr = 0.1;
    optim::SGD opt(net.param_groups(), so);
    Tensor x = Tensor::uniform({4, 3, 32, 32}, -1, 1, gen, ctx);
    ops::sum(net.forward(x)).backward();
    opt.step();
    EXPECT_FALSE(tensors_close(find(net.named_parameters(), "backbone.layer3.0.bn1.weight"),
                               w_before, 1e-9, 0));  // the step happened
    std::vector<std::string> moved;
    for (const auto& [name, value] : before)
      if (!tensors_close(find(net.named_buffers(), name), value, 0, 0)) moved.push_back(name);
    return moved;
  };
  EXPECT_TRUE(step_and_compare(NormKind::FixedBN, 0).empty());
  const auto moved_bn = step_and_compare(NormKind::BN, 2);
  EXPECT_FALSE(moved_bn.empty());
  for (const std::string& name : moved_bn)
    EXPECT_TRUE(starts_with(name, "backbone.layer3.") || starts_with(name, "backbone.layer4."))
        << name;
  EXPECT_NE(std::find(moved_bn.begin(), moved_bn.end(), "backbone.layer3.0.bn1.running_mean"),
            moved_bn.end());
}

// torchvision names (no "backbone." prefix, with fc) load into the backbone; a file that lacks
// a backbone tensor is refused with an InputError naming the tensor.
TEST(CamNet, LoadsTorchvisionNamedBackboneWeights) {
  auto ctx = cpu_context();
  Generator gen(6);
  models::ResNetOptions ro;
  ro.depth = 18;
  ro.num_classes = 1000;
  models::ResNet torchvision_like(ro, gen, ctx);
  const std::string path = ::testing::TempDir() + "/wsvis_cam_net_backbone.safetensors";
  save_safetensors(path, torchvision_like.state_dict());

  CamNet net(cam_options(18, 20, NormKind::FixedBN, 2), gen, ctx);
  net.load_backbone_file(path);
  for (const char* name : {"conv1.weight", "layer2.1.bn2.running_var", "layer4.0.downsample.0.weight"})
    EXPECT_TRUE(tensors_close(find(net.backbone().state_dict(), name),
                              find(torchvision_like.state_dict(), name), 0, 0))
        << name;

  NamedTensors partial;
  for (const auto& t : torchvision_like.state_dict())
    if (t.first != "layer3.1.conv2.weight") partial.push_back(t);
  save_safetensors(path, partial);
  try {
    net.load_backbone_file(path);
    ADD_FAILURE() << "a file without layer3.1.conv2.weight loaded";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("layer3.1.conv2.weight"), std::string::npos) << e.what();
  }
  std::remove(path.c_str());
}

TEST(CamNet, RejectsBadOptions) {
  auto ctx = cpu_context();
  Generator gen(7);
  EXPECT_THROW(CamNet(cam_options(18, 20, NormKind::FixedBN, 5), gen, ctx), Error);
  EXPECT_THROW(CamNet(cam_options(18, 20, NormKind::FixedBN, -1), gen, ctx), Error);
  EXPECT_THROW(CamNet(cam_options(18, 0, NormKind::FixedBN, 2), gen, ctx), Error);
  EXPECT_THROW(CamNet(cam_options(20, 20, NormKind::FixedBN, 2), gen, ctx), Error);
}

// Two synthetic classes: a bright square in the red channel (class 0) or in the blue channel
// (class 1) at a random place on faint noise; one label per image, as multilabel targets.
void two_class_batch(int n, int size, Generator& gen, const ContextPtr& ctx, Tensor& images,
                     Tensor& targets) {
  std::vector<float> img(static_cast<size_t>(n) * 3 * size * size), tgt(static_cast<size_t>(n) * 2, 0);
  for (auto& v : img) v = static_cast<float>(gen.uniform(-0.1, 0.1));
  const int side = size / 3;
  for (int i = 0; i < n; ++i) {
    const int cls = i % 2, channel = cls == 0 ? 0 : 2;
    const int y0 = static_cast<int>(gen.randint(0, size - side + 1));
    const int x0 = static_cast<int>(gen.randint(0, size - side + 1));
    for (int y = y0; y < y0 + side; ++y)
      for (int x = x0; x < x0 + side; ++x)
        img[((static_cast<size_t>(i) * 3 + channel) * size + y) * size + x] += 1.0f;
    tgt[static_cast<size_t>(i) * 2 + cls] = 1.0f;
  }
  images = Tensor::from_vector(img, {n, 3, size, size}, ctx);
  targets = Tensor::from_vector(tgt, {n, 2}, ctx);
}

// From scratch (frozen_stages 0, batch BN) with IRN's loss and its two lr groups: the
// multilabel soft-margin loss over fresh batches falls well below its start (ln 2 ~ 0.69).
TEST(CamNet, LearnsTwoSyntheticClasses) {
  auto ctx = cpu_context();
  Generator gen(8);
  CamNet net(cam_options(18, 2, NormKind::BN, 0), gen, ctx);
  net.pack_parameters();
  optim::SgdOptions so;
  so.lr = 0.008;
  so.momentum = 0.9;
  so.weight_decay = 1e-4;
  optim::SGD opt(net.param_groups(), so);
  constexpr int kSteps = 14;
  std::vector<double> losses;
  for (int step = 0; step < kSteps; ++step) {
    Tensor images, targets;
    two_class_batch(4, 32, gen, ctx, images, targets);
    Tensor loss = ops::multilabel_soft_margin(net.forward(images), targets);
    losses.push_back(loss.item<double>());
    net.zero_grad();
    loss.backward();
    opt.step();
  }
  const double first = (losses[0] + losses[1] + losses[2]) / 3;
  const double last = (losses[kSteps - 3] + losses[kSteps - 2] + losses[kSteps - 1]) / 3;
  EXPECT_GT(first, 0.5);
  EXPECT_LT(last, 0.5 * first) << "first " << first << " last " << last;
}

TEST(CamNet, CudaForwardMatchesCpu) {
  WSVIS_REQUIRE_CUDA();
  auto cpu = cpu_context();
  auto gpu = Context::create(Device::cuda(0));
  gpu->set_tf32(false);
  Generator g1(9), g2(9);
  CamNet a(cam_options(50, 20, NormKind::FixedBN, 2), g1, cpu);
  CamNet b(cam_options(50, 20, NormKind::FixedBN, 2), g2, cpu);
  b.pack_parameters();
  b.to(gpu);
  Generator gen(10);
  Tensor x = Tensor::uniform({2, 3, 65, 77}, -1, 1, gen, cpu);
  // FP32 on both sides (TF32 off); cuDNN and the CPU GEMM sum in different orders through ~50
  // convs with fixed BN (no renormalisation): relative differences of ~1e-5 per layer add up.
  EXPECT_TRUE(tensors_close(b.forward(x.to(gpu)).to(cpu), a.forward(x), 1e-3, 1e-3));
  EXPECT_TRUE(tensors_close(b.cam(x.to(gpu)).to(cpu), a.cam(x), 1e-3, 1e-3));
}

}  // namespace
}  // namespace wsvis
