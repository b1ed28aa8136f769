// Tests of models::IrnNet (IRN's inter-pixel relation network): branch parameter count from
// the spec's tables and IRN's state_dict names, output grids at stride 4, branch input channels
// following the backbone, a frozen eval-mode backbone (no gradient, not packed, statistics
// fixed whatever train() says), the optimizer groups, the eval-only mean shift, a directional
// derivative of the branches in double, copying a backbone, a tiny displacement fit and CUDA
// parity. Depth 18 and small images wherever the property does not depend on depth.
#include <cmath>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "models/cam_net.h"
#include "models/irn_net.h"
#include "tests/support/testing.h"

namespace wsvis {
namespace {

using models::IrnNet;
using models::IrnNetOptions;
using models::NormKind;
using testing::cpu_context;
using testing::tensors_close;

IrnNetOptions irn_options(int depth, NormKind norm = NormKind::FixedBN,
                          DType dtype = DType::f32) {
  IrnNetOptions o;
  o.depth = depth;
  o.norm = norm;
  o.dtype = dtype;
  return o;
}

using testing::find;

bool is_backbone(const std::string& name) { return name.rfind("backbone.", 0) == 0; }

// IRN's trainable parameter names (edge_layers then dp_layers, torch's named_parameters order).
std::vector<std::string> irn_branch_names() {
  std::vector<std::string> names;
  for (int k = 1; k <= 5; ++k)
    for (const char* s : {".0.weight", ".1.weight", ".1.bias"})
      names.push_back("fc_edge" + std::to_string(k) + s);
  names.insert(names.end(), {"fc_edge6.weight", "fc_edge6.bias"});
  for (int k = 1; k <= 6; ++k)
    for (const char* s : {".0.weight", ".1.weight", ".1.bias"})
      names.push_back("fc_dp" + std::to_string(k) + s);
  names.insert(names.end(),
               {"fc_dp7.0.weight", "fc_dp7.1.weight", "fc_dp7.1.bias", "fc_dp7.3.weight"});
  return names;
}

// Branch parameters for ResNet-50 inputs (64, 256, 512, 1024, 2048 channels), by the tables of
// spec section 3 (1x1 conv in*out, no bias unless said; GroupNorm 2*out):
//   fc_edge1  64*32 + 64 =  2,112     fc_dp1   64*64 + 128 =    4,224
//   fc_edge2 256*32 + 64 =  8,256     fc_dp2  256*128 + 256 =  33,024
//   fc_edge3 512*32 + 64 = 16,448     fc_dp3  512*256 + 512 = 131,584
//   fc_edge4 1024*32 + 64 = 32,832    fc_dp4 1024*256 + 512 = 262,656
//   fc_edge5 2048*32 + 64 = 65,600    fc_dp5 2048*256 + 512 = 524,800
//   fc_edge6 160*1 + 1   =    161     fc_dp6  768*256 + 512 = 197,120
//                                     fc_dp7  448*256 + 512 + 256*2 = 115,712
//   edge 125,409 + displacement 1,269,120 = 1,394,529; backbone 23,508,032 (ResNet-50, no fc).
TEST(IrnNet, Resnet50BranchCountAndIrnNames) {
  auto ctx = cpu_context();
  Generator gen(1);
  IrnNet net(irn_options(50), gen, ctx);
  EXPECT_EQ(models::count_parameters(net), 23508032 + 1394529);
  std::vector<std::string> branch;
  int64_t edge = 0, dp = 0;
  for (const auto& p : net.named_parameters()) {
    EXPECT_EQ(p.second.requires_grad(), !is_backbone(p.first)) << p.first;
    if (is_backbone(p.first)) continue;
    branch.push_back(p.first);
    (p.first.rfind("fc_edge", 0) == 0 ? edge : dp) += p.second.numel();
  }
  EXPECT_EQ(branch, irn_branch_names());
  EXPECT_EQ(edge, 125409);
  EXPECT_EQ(dp, 1269120);
  std::vector<std::string> buffers;
  for (const auto& b : net.named_buffers())
    if (!is_backbone(b.first)) buffers.push_back(b.first);
  EXPECT_EQ(buffers, std::vector<std::string>{"mean_shift.running_mean"});
  EXPECT_EQ(find(net.state_dict(), "fc_edge5.0.weight").shape(), (Shape{32, 2048, 1, 1}));
  EXPECT_EQ(find(net.state_dict(), "fc_dp7.3.weight").shape(), (Shape{2, 256, 1, 1}));
}

TEST(IrnNet, OutputsOnTheStride4GridAndChannelsFollowTheBackbone) {
  auto ctx = cpu_context();
  Generator gen(2);
  IrnNet net(irn_options(18), gen, ctx);
  // ResNet-18 stage channels 64, 64, 128, 256, 512 feed the 1x1 convs.
  EXPECT_EQ(find(net.state_dict(), "fc_edge2.0.weight").shape(), (Shape{32, 64, 1, 1}));
  EXPECT_EQ(find(net.state_dict(), "fc_edge5.0.weight").shape(), (Shape{32, 512, 1, 1}));
  EXPECT_EQ(find(net.state_dict(), "fc_dp4.0.weight").shape(), (Shape{256, 256, 1, 1}));
  EXPECT_EQ(find(net.state_dict(), "fc_dp6.0.weight").shape(), (Shape{256, 768, 1, 1}));
  NoGradGuard no_grad;
  struct Case {
    int h, w, gh, gw;
  };
  // (H-1)//4 + 1: 64 -> 16, 65 -> 17, 77 -> 20 (65 makes every upsampled map overhang).
  for (const Case& c : {Case{64, 64, 16, 16}, Case{65, 77, 17, 20}}) {
    const auto out = net.forward(Tensor::uniform({1, 3, c.h, c.w}, -1, 1, gen, ctx));
    EXPECT_EQ(out.edge_logit.shape(), (Shape{1, 1, c.gh, c.gw})) << c.h << "x" << c.w;
    EXPECT_EQ(out.displacement.shape(), (Shape{1, 2, c.gh, c.gw})) << c.h << "x" << c.w;
  }
}

TEST(IrnNet, BackboneIsFrozenAndStaysOutOfTheOptimizer) {
  auto ctx = cpu_context();
  Generator gen(3);
  IrnNet net(irn_options(18), gen, ctx);
  Tensor x = testing::random_input({2, 3, 32, 32}, gen, ctx, DType::f32);
  const auto out = net.forward(x);
  ops::add(ops::sum(out.edge_logit), ops::sum(out.displacement)).backward();
  int64_t branch = 0;
  for (const auto& p : net.named_parameters()) {
    if (is_backbone(p.first)) {
      EXPECT_FALSE(p.second.grad().defined()) << p.first;
    } else {
      EXPECT_TRUE(p.second.grad().defined()) << p.first;
      branch += p.second.numel();
    }
  }
  EXPECT_FALSE(x.grad().defined());  // every stage output is detached

  net.pack_parameters();
  EXPECT_EQ(net.flat_parameters().numel(), branch);
  const auto groups = net.param_groups();
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0].name, "edge");
  EXPECT_EQ(groups[0].lr_mult, 1.0);
  EXPECT_EQ(groups[0].params.size(), 5u * 3u + 2u);
  EXPECT_EQ(groups[1].name, "displacement");
  EXPECT_EQ(groups[1].lr_mult, 10.0);
  EXPECT_EQ(groups[1].params.size(), 6u * 3u + 4u);
  int64_t in_groups = 0;
  for (const auto& g : groups)
    for (const Tensor& p : g.params) {
      EXPECT_TRUE(p.same_storage(net.flat_parameters()));
      in_groups += p.numel();
    }
  EXPECT_EQ(in_groups, branch);
}

// IRN keeps the backbone in eval mode, also when train(true) comes through the Module base
// (Module::train is virtual); and its norms are fixed or frozen, so even a backbone switched to
// training mode by hand changes nothing.
TEST(IrnNet, BackboneStatisticsNeverMove) {
  auto ctx = cpu_context();
  Generator gen(4);
  IrnNet net(irn_options(18, NormKind::BN), gen, ctx);
  for (const auto& b : net.backbone().named_buffers())
    EXPECT_EQ(b.first.find("num_batches_tracked"), std::string::npos) << b.first;  // FrozenBN
  net.train(true);
  EXPECT_FALSE(net.backbone().is_training());
  EXPECT_TRUE(net.is_training());

  Tensor x = Tensor::uniform({2, 3, 32, 32}, -1, 1, gen, ctx);
  NoGradGuard no_grad;
  const Tensor edge_eval_backbone = net.forward(x).edge_logit;
  static_cast<layers::Module&>(net).train(true);
  EXPECT_FALSE(net.backbone().is_training());
  const_cast<models::ResNet&>(net.backbone()).train(true);
  ASSERT_TRUE(net.backbone().is_training());
  std::vector<Tensor> before;
  for (const auto& b : net.backbone().named_buffers()) before.push_back(b.second.clone());
  EXPECT_TRUE(tensors_close(net.forward(x).edge_logit, edge_eval_backbone, 0, 0));
  const auto after = net.backbone().named_buffers();
  for (size_t i = 0; i < after.size(); ++i)
    EXPECT_TRUE(tensors_close(after[i].second, before[i], 0, 0)) << after[i].first;
}

// Training mode: D as computed; eval mode: D minus the stored (dy, dx). GroupNorm and the fixed
// backbone do not depend on the mode, so the two differ by exactly the shift.
TEST(IrnNet, MeanShiftAppliesInEvalOnly) {
  auto ctx = cpu_context();
  Generator gen(5);
  IrnNet net(irn_options(18), gen, ctx);
  Tensor x = Tensor::uniform({2, 3, 32, 32}, -1, 1, gen, ctx);
  NoGradGuard no_grad;
  net.set_mean_shift(0.5, -1.25);
  EXPECT_EQ(net.mean_shift().to_vector<double>(), (std::vector<double>{0.5, -1.25}));
  const Tensor d_train = net.forward(x).displacement;
  net.train(false);
  const Tensor d_eval = net.forward(x).displacement;
  const Tensor shift = Tensor::from_vector<float>({0.5f, -1.25f}, {1, 2, 1, 1}, ctx);
  EXPECT_TRUE(tensors_close(d_eval, ops::sub(d_train, shift), 1e-6, 1e-6));
  EXPECT_FALSE(tensors_close(d_eval, d_train, 1e-3, 0));
}

// Whole-branch gradient in double: <grad, direction> over every branch parameter against the
// central difference of L = <edge, R1> + <D, R2> along that direction. This checks the wiring
// of crops, concats, upsampling and the two outputs together (each op has its own gradcheck).
// Half a million parameters move at once, so large steps cross ReLU kinks: measured relative
// errors 8e-2 at eps 1e-4, 8e-3 at 1e-5, 3e-4 at 1e-6, 4e-10 at 1e-7, 3e-9 at 1e-8 (rounding).
TEST(IrnNet, BranchDirectionalDerivativeMatchesBackward) {
  auto ctx = cpu_context();
  Generator gen(6);
  IrnNet net(irn_options(18, NormKind::FixedBN, DType::f64), gen, ctx);
  Tensor x = Tensor::uniform({1, 3, 36, 28}, -1, 1, gen, ctx, DType::f64);
  std::vector<Tensor> params;
  for (const auto& p : net.named_parameters())
    if (!is_backbone(p.first)) params.push_back(p.second);
  std::vector<Tensor> directions;
  for (const Tensor& p : params)
    directions.push_back(Tensor::uniform(p.shape(), -1, 1, gen, ctx, DType::f64));
  const Tensor r_edge = Tensor::uniform({1, 1, 9, 7}, -1, 1, gen, ctx, DType::f64);
  const Tensor r_disp = Tensor::uniform({1, 2, 9, 7}, -1, 1, gen, ctx, DType::f64);
  auto objective = [&]() {
    const auto out = net.forward(x);
    return ops::add(ops::sum(ops::mul(out.edge_logit, r_edge)),
                    ops::sum(ops::mul(out.displacement, r_disp)));
  };
  objective().backward();
  double analytic = 0;
  for (size_t i = 0; i < params.size(); ++i) {
    ASSERT_TRUE(params[i].grad().defined()) << i;
    const auto g = params[i].grad().to_vector<double>();
    const auto d = directions[i].to_vector<double>();
    for (size_t k = 0; k < g.size(); ++k) analytic += g[k] * d[k];
  }
  auto shifted = [&](double eps) {
    NoGradGuard no_grad;
    for (size_t i = 0; i < params.size(); ++i) {
      double* v = params[i].data<double>();
      const double* d = directions[i].data<double>();
      for (int64_t k = 0; k < params[i].numel(); ++k) v[k] += eps * d[k];
    }
    const double loss = objective().item<double>();
    for (size_t i = 0; i < params.size(); ++i) {
      double* v = params[i].data<double>();
      const double* d = directions[i].data<double>();
      for (int64_t k = 0; k < params[i].numel(); ++k) v[k] -= eps * d[k];
    }
    return loss;
  };

  const double eps = 1e-7;
  const double numeric = (shifted(eps) - shifted(-eps)) / (2 * eps);
  EXPECT_NEAR(analytic, numeric, 1e-6 + 1e-6 * std::fabs(numeric))
      << "analytic " << analytic << " numeric " << numeric;
  EXPECT_GT(std::fabs(analytic), 1e-3);
}

// The no-ImageNet path: the IRN backbone starts from a CAM network's backbone (batch-BN CAM
// net, frozen-BN IRN backbone: the names still line up, counters ignored).
TEST(IrnNet, CopiesABackbone) {
  auto ctx = cpu_context();
  Generator gen(7);
  models::CamNetOptions co;
  co.depth = 18;
  co.norm = NormKind::BN;
  co.frozen_stages = 0;
  models::CamNet cam(co, gen, ctx);
  IrnNet net(irn_options(18, NormKind::BN), gen, ctx);
  net.copy_backbone_from(cam.backbone());
  const auto source = cam.backbone().state_dict();
  int compared = 0;
  for (const auto& t : net.backbone().state_dict()) {
    ASSERT_TRUE(find(source, t.first).defined()) << t.first;
    EXPECT_TRUE(tensors_close(t.second, find(source, t.first), 0, 0)) << t.first;
    ++compared;
  }
  EXPECT_EQ(compared, 20 + 20 * 4);  // 20 convs; 20 norms x (weight, bias, mean, var)
  for (const auto& p : net.backbone().named_parameters())
    EXPECT_FALSE(p.second.requires_grad()) << p.first;  // still frozen after the copy
}

// The displacement branch learns a fixed target field with an L1 loss (IRN's displacement loss
// is L1) through its two lr groups: the loss falls well below its start.
TEST(IrnNet, DisplacementFitsATarget) {
  auto ctx = cpu_context();
  Generator gen(8);
  IrnNet net(irn_options(18), gen, ctx);
  net.pack_parameters();
  optim::SgdOptions so;
  so.lr = 0.001;
  so.momentum = 0.9;
  optim::SGD opt(net.param_groups(), so);
  // Target on the 8x8 grid of a 32x32 image: dy = 1.5 + y/4, dx = -0.5 - x/8.
  std::vector<float> target(2 * 8 * 8);
  for (int y = 0; y < 8; ++y)
    for (int x = 0; x < 8; ++x) {
      target[static_cast<size_t>(y * 8 + x)] = 1.5f + y / 4.0f;
      target[static_cast<size_t>(64 + y * 8 + x)] = -0.5f - x / 8.0f;
    }
  const Tensor t = Tensor::from_vector(target, {1, 2, 8, 8}, ctx);
  const Tensor x = Tensor::uniform({2, 3, 32, 32}, -1, 1, gen, ctx);
  std::vector<double> losses;
  for (int step = 0; step < 20; ++step) {
    Tensor loss = ops::mean(ops::abs(ops::sub(net.forward(x).displacement, t)));
    losses.push_back(loss.item<double>());
    net.zero_grad();
    loss.backward();
    opt.step();
  }
  // Measured: 1.62 at the start, 0.25..0.32 over the last three steps (L1 with momentum jitters).
  const double last = (losses[17] + losses[18] + losses[19]) / 3;
  EXPECT_GT(losses.front(), 1.0);
  EXPECT_LT(last, 0.3 * losses.front()) << "first " << losses.front() << " last " << last;
}

TEST(IrnNet, CudaForwardMatchesCpu) {
  WSVIS_REQUIRE_CUDA();
  auto cpu = cpu_context();
  auto gpu = Context::create(Device::cuda(0));
  gpu->set_tf32(false);
  Generator g1(9), g2(9);
  IrnNet a(irn_options(50), g1, cpu), b(irn_options(50), g2, cpu);
  b.pack_parameters();
  b.to(gpu);
  Generator gen(10);
  Tensor x = Tensor::uniform({2, 3, 65, 77}, -1, 1, gen, cpu);
  const auto ya = a.forward(x), yb = b.forward(x.to(gpu));
  // FP32 on both sides (TF32 off): cuDNN and the CPU GEMM sum in different orders through the
  // backbone's ~50 convs; GroupNorm renormalises in the branches.
  EXPECT_TRUE(tensors_close(yb.edge_logit.to(cpu), ya.edge_logit, 1e-3, 1e-3));
  EXPECT_TRUE(tensors_close(yb.displacement.to(cpu), ya.displacement, 1e-3, 1e-3));
}

}  // namespace
}  // namespace wsvis
