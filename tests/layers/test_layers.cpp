// Tests of the layers: each forward against the raw op it wraps, parameter/buffer names and
// shapes as torch, initialiser distributions, BatchNorm running statistics and counters,
// FrozenBatchNorm2d, Sequential naming, and a double-precision gradient check through a small
// Sequential(Conv2d, BatchNorm2d, ReLU, Conv2d, GroupNorm).
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "engine/ops/conv.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/linalg.h"
#include "engine/ops/norm.h"
#include "engine/ops/pool.h"
#include "engine/ops/reduce.h"
#include "layers/conv.h"
#include "layers/init.h"
#include "layers/linear.h"
#include "layers/norm.h"
#include "layers/sequential.h"
#include "tests/support/testing.h"

namespace wsvis {
namespace {

using layers::Conv2d;
using layers::Conv2dOptions;
using testing::cpu_context;
using testing::gradcheck;
using testing::tensors_close;

using testing::names_of;

Conv2dOptions conv_opts(int in, int out, int k, int stride = 1, int pad = 0, int dil = 1,
                        int groups = 1, bool bias = true) {
  Conv2dOptions o;
  o.in_channels = in;
  o.out_channels = out;
  o.kernel = k;
  o.stride = stride;
  o.padding = pad;
  o.dilation = dil;
  o.groups = groups;
  o.bias = bias;
  return o;
}

// ---- forwards against the raw ops ------------------------------------------------------------

TEST(Conv2d, ForwardIsTheOpWithItsParameters) {
  auto ctx = cpu_context();
  Generator gen(1);
  Conv2d conv(conv_opts(4, 6, 3, 2, 1, 2, 2), gen, ctx);
  EXPECT_EQ(names_of(conv.state_dict()), (std::vector<std::string>{"weight", "bias"}));
  EXPECT_EQ(conv.weight().shape(), (Shape{6, 2, 3, 3}));
  EXPECT_EQ(conv.bias().shape(), (Shape{6}));
  Tensor x = Tensor::uniform({2, 4, 9, 7}, -1, 1, gen, ctx);
  ops::Conv2dOptions o;
  o.stride = 2;
  o.padding = 1;
  o.dilation = 2;
  o.groups = 2;
  EXPECT_TRUE(tensors_close(conv.forward(x), ops::conv2d(x, conv.weight(), conv.bias(), o), 0, 0));

  Conv2d no_bias(conv_opts(3, 5, 1, 1, 0, 1, 1, false), gen, ctx);
  EXPECT_EQ(names_of(no_bias.state_dict()), (std::vector<std::string>{"weight"}));
  EXPECT_FALSE(no_bias.bias().defined());
  Tensor x2 = Tensor::uniform({1, 3, 4, 4}, -1, 1, gen, ctx);
  EXPECT_TRUE(
      tensors_close(no_bias.forward(x2), ops::conv2d(x2, no_bias.weight(), Tensor()), 0, 0));
  EXPECT_THROW(Conv2d(conv_opts(3, 4, 3, 1, 0, 1, 2), gen, ctx), Error);  // 3 % 2 != 0
}

TEST(ConvTranspose2d, ForwardIsTheOpWithItsParameters) {
  auto ctx = cpu_context();
  Generator gen(2);
  layers::ConvTranspose2dOptions o;
  o.in_channels = 4;
  o.out_channels = 6;
  o.kernel = 2;
  o.stride = 2;
  o.groups = 2;
  layers::ConvTranspose2d deconv(o, gen, ctx);
  EXPECT_EQ(deconv.weight().shape(), (Shape{4, 3, 2, 2}));  // (in, out/groups, kh, kw)
  EXPECT_EQ(deconv.bias().shape(), (Shape{6}));
  Tensor x = Tensor::uniform({2, 4, 5, 3}, -1, 1, gen, ctx);
  ops::ConvTranspose2dOptions oo;
  oo.stride = 2;
  oo.groups = 2;
  Tensor y = deconv.forward(x);
  EXPECT_EQ(y.shape(), (Shape{2, 6, 10, 6}));
  EXPECT_TRUE(tensors_close(y, ops::conv_transpose2d(x, deconv.weight(), deconv.bias(), oo), 0, 0));
}

TEST(Linear, ForwardIsTheOpWithItsParameters) {
  auto ctx = cpu_context();
  Generator gen(3);
  layers::Linear fc(5, 3, gen, ctx);
  EXPECT_EQ(names_of(fc.state_dict()), (std::vector<std::string>{"weight", "bias"}));
  EXPECT_EQ(fc.weight().shape(), (Shape{3, 5}));
  Tensor x = Tensor::uniform({4, 5}, -1, 1, gen, ctx);
  EXPECT_TRUE(tensors_close(fc.forward(x), ops::linear(x, fc.weight(), fc.bias()), 0, 0));
  layers::Linear no_bias(5, 3, gen, ctx, DType::f32, false);
  EXPECT_EQ(no_bias.parameters().size(), 1u);
  EXPECT_TRUE(tensors_close(no_bias.forward(x), ops::linear(x, no_bias.weight(), Tensor()), 0, 0));
}

TEST(BatchNorm2d, TrainingUsesBatchStatisticsAndUpdatesBuffers) {
  auto ctx = cpu_context();
  Generator gen(4);
  layers::BatchNorm2dOptions o;
  o.num_features = 3;
  o.momentum = 0.2;
  layers::BatchNorm2d bn(o, ctx, DType::f64);
  EXPECT_EQ(names_of(bn.state_dict()),
            (std::vector<std::string>{"weight", "bias", "running_mean", "running_var",
                                      "num_batches_tracked"}));
  EXPECT_EQ(names_of(bn.named_parameters()), (std::vector<std::string>{"weight", "bias"}));
  EXPECT_EQ(bn.num_batches_tracked().dtype(), DType::i64);
  EXPECT_EQ(bn.num_batches_tracked().dim(), 0);
  EXPECT_EQ(bn.num_batches_tracked().item<int64_t>(), 0);
  EXPECT_EQ(bn.weight().to_vector<double>(), std::vector<double>(3, 1.0));
  EXPECT_EQ(bn.bias().to_vector<double>(), std::vector<double>(3, 0.0));
  EXPECT_EQ(bn.running_mean().to_vector<double>(), std::vector<double>(3, 0.0));
  EXPECT_EQ(bn.running_var().to_vector<double>(), std::vector<double>(3, 1.0));
  // Non-trivial affine so the comparison covers it.
  Tensor(bn.weight()).copy_from(Tensor::uniform({3}, 0.5, 1.5, gen, ctx, DType::f64));
  Tensor(bn.bias()).copy_from(Tensor::uniform({3}, -1, 1, gen, ctx, DType::f64));

  Tensor x = Tensor::uniform({4, 3, 5, 2}, -2, 3, gen, ctx, DType::f64);
  Tensor rm = bn.running_mean().clone(), rv = bn.running_var().clone();
  Tensor expected = ops::batch_norm(x, bn.weight(), bn.bias(), rm, rv, true, 0.2, 1e-5);
  EXPECT_TRUE(tensors_close(bn.forward(x), expected, 0, 0));
  EXPECT_TRUE(tensors_close(bn.running_mean(), rm, 0, 0));
  EXPECT_TRUE(tensors_close(bn.running_var(), rv, 0, 0));
  EXPECT_GT(std::fabs(bn.running_mean().to_vector<double>()[0]), 1e-3);  // it moved
  EXPECT_EQ(bn.num_batches_tracked().item<int64_t>(), 1);
  bn.forward(x);
  EXPECT_EQ(bn.num_batches_tracked().item<int64_t>(), 2);

  // Eval: the running statistics, untouched, no count.
  bn.train(false);
  const Tensor rm_before = bn.running_mean().clone();
  Tensor expected_eval = ops::batch_norm(x, bn.weight(), bn.bias(), bn.running_mean(),
                                         bn.running_var(), false, 0.2, 1e-5);
  EXPECT_TRUE(tensors_close(bn.forward(x), expected_eval, 0, 0));
  EXPECT_TRUE(tensors_close(bn.running_mean(), rm_before, 0, 0));
  EXPECT_EQ(bn.num_batches_tracked().item<int64_t>(), 2);
}

TEST(BatchNorm2d, FixedStatisticsIgnoreTrainingModeButTrainAffine) {
  auto ctx = cpu_context();
  Generator gen(5);
  layers::BatchNorm2dOptions o;
  o.num_features = 2;
  o.fixed_statistics = true;
  layers::BatchNorm2d bn(o, ctx, DType::f64);
  Tensor(bn.running_mean()).copy_from(Tensor::uniform({2}, -1, 1, gen, ctx, DType::f64));
  Tensor(bn.running_var()).copy_from(Tensor::uniform({2}, 0.5, 2, gen, ctx, DType::f64));
  const Tensor rm = bn.running_mean().clone();
  ASSERT_TRUE(bn.is_training());
  Tensor x = Tensor::uniform({3, 2, 4, 4}, -1, 1, gen, ctx, DType::f64);
  Tensor y = bn.forward(x);
  EXPECT_TRUE(tensors_close(
      y, ops::batch_norm(x, bn.weight(), bn.bias(), bn.running_mean(), bn.running_var(), false), 0,
      0));
  EXPECT_TRUE(tensors_close(bn.running_mean(), rm, 0, 0));
  EXPECT_EQ(bn.num_batches_tracked().item<int64_t>(), 0);
  ops::sum(y).backward();
  EXPECT_TRUE(bn.weight().grad().defined());
  EXPECT_TRUE(bn.bias().grad().defined());
}

TEST(FrozenBatchNorm2d, BuffersOnlyIdentityAtInitAndTheOp) {
  auto ctx = cpu_context();
  Generator gen(6);
  layers::FrozenBatchNorm2d bn(3, ctx, DType::f64);
  EXPECT_TRUE(bn.named_parameters().empty());
  EXPECT_EQ(names_of(bn.state_dict()),
            (std::vector<std::string>{"weight", "bias", "running_mean", "running_var"}));
  // detectron2 initialises running_var to 1 - eps, so a fresh layer is the identity.
  for (double v : bn.running_var().to_vector<double>()) EXPECT_DOUBLE_EQ(v, 1.0 - 1e-5);
  Tensor x = Tensor::uniform({2, 3, 4, 5}, -1, 1, gen, ctx, DType::f64);
  EXPECT_TRUE(tensors_close(bn.forward(x), x, 1e-15, 1e-15));

  for (const auto& named : bn.named_buffers())
    Tensor(named.second).copy_from(Tensor::uniform({3}, 0.5, 1.5, gen, ctx, DType::f64));
  Tensor expected =
      ops::frozen_batch_norm(x, bn.weight(), bn.bias(), bn.running_mean(), bn.running_var(), 1e-5);
  EXPECT_TRUE(tensors_close(bn.forward(x), expected, 0, 0));
  bn.train(false);
  EXPECT_TRUE(tensors_close(bn.forward(x), expected, 0, 0));  // same in both modes
}

TEST(GroupNorm, ForwardIsTheOpWithItsParameters) {
  auto ctx = cpu_context();
  Generator gen(7);
  layers::GroupNorm gn(2, 6, ctx, DType::f64);
  EXPECT_EQ(names_of(gn.state_dict()), (std::vector<std::string>{"weight", "bias"}));
  Tensor(gn.weight()).copy_from(Tensor::uniform({6}, 0.5, 1.5, gen, ctx, DType::f64));
  Tensor x = Tensor::uniform({2, 6, 3, 3}, -1, 1, gen, ctx, DType::f64);
  EXPECT_TRUE(tensors_close(gn.forward(x), ops::group_norm(x, 2, gn.weight(), gn.bias()), 0, 0));
  EXPECT_THROW(layers::GroupNorm(4, 6, ctx), Error);
}

TEST(Sequential, NamesCountStatelessLayersAndChainsForward) {
  auto ctx = cpu_context();
  Generator gen(8);
  layers::Sequential seq;
  auto c0 = seq.append(std::make_shared<Conv2d>(conv_opts(2, 3, 3, 1, 1), gen, ctx));
  seq.append(std::make_shared<layers::ReLU>());
  seq.append(std::make_shared<layers::MaxPool2d>(2, 2));
  auto c3 = seq.append(std::make_shared<Conv2d>(conv_opts(3, 1, 1, 1, 0, 1, 1, false), gen, ctx));
  EXPECT_EQ(seq.size(), 4u);
  EXPECT_EQ(names_of(seq.state_dict()),
            (std::vector<std::string>{"0.weight", "0.bias", "3.weight"}));
  Tensor x = Tensor::uniform({1, 2, 6, 6}, -1, 1, gen, ctx);
  Tensor expected = ops::conv2d(
      ops::max_pool2d(ops::relu(ops::conv2d(x, c0->weight(), c0->bias(), {1, 1, 1, 1})), 2, 2),
      c3->weight(), Tensor());
  EXPECT_TRUE(tensors_close(seq.forward(x), expected, 0, 0));
  EXPECT_THROW(layers::Sequential().forward(x), Error);
}

// ---- initialisers ----------------------------------------------------------------------------

// Sample mean, standard deviation and largest magnitude of a tensor.
struct Moments {
  double mean = 0, std = 0, max_abs = 0;
};
Moments moments(const Tensor& t) {
  const std::vector<double> v = t.to_vector<double>();
  Moments m;
  for (double x : v) m.mean += x / static_cast<double>(v.size());
  for (double x : v) {
    m.std += (x - m.mean) * (x - m.mean) / static_cast<double>(v.size());
    m.max_abs = std::max(m.max_abs, std::fabs(x));
  }
  m.std = std::sqrt(m.std);
  return m;
}

TEST(Init, FansAsTorch) {
  const auto conv = layers::init::compute_fans({64, 3, 7, 7});
  EXPECT_EQ(conv.fan_in, 3 * 49);
  EXPECT_EQ(conv.fan_out, 64 * 49);
  const auto lin = layers::init::compute_fans({10, 20});
  EXPECT_EQ(lin.fan_in, 20);
  EXPECT_EQ(lin.fan_out, 10);
  EXPECT_THROW(layers::init::compute_fans({5}), Error);
}

// With n = 147,456 samples the sample std of U(-b, b) is within ~0.5% of b/sqrt(3) (4 sigma),
// so 2% separates a right bound from a wrong gain (sqrt(2) or sqrt(3) off) with a wide margin.
TEST(Init, TorchDefaultConvAndLinear) {
  auto ctx = cpu_context();
  Generator gen(9);
  Conv2d conv(conv_opts(64, 256, 3), gen, ctx);  // fan_in 576
  const double bound = 1.0 / std::sqrt(576.0);
  const Moments w = moments(conv.weight());
  EXPECT_LE(w.max_abs, bound);
  EXPECT_NEAR(w.std, bound / std::sqrt(3.0), 0.02 * bound / std::sqrt(3.0));
  EXPECT_NEAR(w.mean, 0.0, 0.01 * bound);
  const Moments b = moments(conv.bias());
  EXPECT_LE(b.max_abs, bound);
  EXPECT_GT(b.max_abs, 0.5 * bound);

  layers::Linear fc(2048, 100, gen, ctx);
  const double lbound = 1.0 / std::sqrt(2048.0);
  EXPECT_LE(moments(fc.weight()).max_abs, lbound);
  EXPECT_NEAR(moments(fc.weight()).std, lbound / std::sqrt(3.0), 0.02 * lbound / std::sqrt(3.0));
  EXPECT_LE(moments(fc.bias()).max_abs, lbound);
}

TEST(Init, KaimingNormalFanOutAndC2Fills) {
  auto ctx = cpu_context();
  Generator gen(10);
  Conv2d conv(conv_opts(64, 256, 3), gen, ctx);
  layers::init::torchvision_conv_init(conv.weight(), gen);  // std sqrt(2 / (256 * 9))
  const double std_out = std::sqrt(2.0 / (256.0 * 9.0));
  const Moments w = moments(conv.weight());
  EXPECT_NEAR(w.std, std_out, 0.02 * std_out);
  EXPECT_NEAR(w.mean, 0.0, 0.02 * std_out);

  layers::init::c2_msra_fill(conv.weight(), conv.bias(), gen);
  EXPECT_NEAR(moments(conv.weight()).std, std_out, 0.02 * std_out);
  EXPECT_EQ(moments(conv.bias()).max_abs, 0.0);

  Conv2d fpn(conv_opts(256, 64, 3, 1, 1), gen, ctx);  // fan_in 2304
  layers::init::c2_xavier_fill(fpn.weight(), fpn.bias(), gen);
  const double bound = std::sqrt(3.0 / 2304.0);  // kaiming_uniform(a=1): gain 1
  const Moments x = moments(fpn.weight());
  EXPECT_LE(x.max_abs, bound);
  EXPECT_GT(x.max_abs, 0.99 * bound);
  EXPECT_NEAR(x.std, bound / std::sqrt(3.0), 0.02 * bound / std::sqrt(3.0));
  EXPECT_EQ(moments(fpn.bias()).max_abs, 0.0);

  // The same fills chosen at construction (one draw, what ResNet and FPN use).
  Conv2dOptions o = conv_opts(256, 64, 3, 1, 1);
  o.init = layers::ConvInit::c2_xavier;
  Conv2d xavier(o, gen, ctx);
  EXPECT_LE(moments(xavier.weight()).max_abs, bound);
  EXPECT_NEAR(moments(xavier.weight()).std, bound / std::sqrt(3.0), 0.02 * bound / std::sqrt(3.0));
  EXPECT_EQ(moments(xavier.bias()).max_abs, 0.0);
  o.init = layers::ConvInit::c2_msra;  // fan_out 64 * 9
  Conv2d msra(o, gen, ctx);
  const double std_msra = std::sqrt(2.0 / (64.0 * 9.0));
  EXPECT_NEAR(moments(msra.weight()).std, std_msra, 0.02 * std_msra);
  EXPECT_EQ(moments(msra.bias()).max_abs, 0.0);
}

TEST(Init, SameSeedSameWeights) {
  auto ctx = cpu_context();
  Generator a(11), b(11);
  Conv2d ca(conv_opts(3, 4, 3), a, ctx), cb(conv_opts(3, 4, 3), b, ctx);
  EXPECT_TRUE(tensors_close(ca.weight(), cb.weight(), 0, 0));
  EXPECT_TRUE(tensors_close(ca.bias(), cb.bias(), 0, 0));
}

// ---- gradients through modules ---------------------------------------------------------------

// Double-precision modules on the CPU, checked against central differences for the input and
// every parameter. BatchNorm in training mode couples the batch (its gradient includes the
// statistics' dependence on x); ReLU kinks are measure-zero for random inputs.
TEST(Gradients, SequentialConvBatchNormReluConvGroupNorm) {
  auto ctx = cpu_context();
  Generator gen(12);
  layers::Sequential seq;
  seq.append(std::make_shared<Conv2d>(conv_opts(2, 4, 3, 1, 1), gen, ctx, DType::f64));
  layers::BatchNorm2dOptions bn;
  bn.num_features = 4;
  seq.append(std::make_shared<layers::BatchNorm2d>(bn, ctx, DType::f64));
  seq.append(std::make_shared<layers::ReLU>());
  seq.append(std::make_shared<Conv2d>(conv_opts(4, 4, 3, 2, 1), gen, ctx, DType::f64));
  seq.append(std::make_shared<layers::GroupNorm>(2, 4, ctx, DType::f64));
  // Non-trivial affine parameters so their gradients are exercised away from 1 / 0.
  for (auto& named : seq.named_parameters())
    if (named.first == "1.weight" || named.first == "4.weight")
      named.second.copy_from(Tensor::uniform({4}, 0.5, 1.5, gen, ctx, DType::f64));

  std::vector<Tensor> inputs{testing::random_input({3, 2, 5, 5}, gen, ctx)};
  for (const Tensor& p : seq.parameters()) inputs.push_back(p);  // same storage as the slots
  EXPECT_EQ(inputs.size(), 9u);  // x + conv(w, b) + bn(w, b) + conv(w, b) + gn(w, b)
  auto fn = [&](const std::vector<Tensor>& xs) { return seq.forward(xs[0]); };
  testing::GradcheckOptions opts;
  opts.atol = 1e-6;
  opts.rtol = 1e-5;
  EXPECT_TRUE(gradcheck(fn, inputs, opts));
}

// The same network packed: its flat gradient equals the unpacked network's gradients.
TEST(Gradients, PackedSequentialMatchesUnpacked) {
  auto ctx = cpu_context();
  auto build = [&](uint64_t seed) {
    Generator gen(seed);
    auto seq = std::make_shared<layers::Sequential>();
    seq->append(std::make_shared<Conv2d>(conv_opts(2, 3, 3, 1, 1), gen, ctx, DType::f64));
    layers::BatchNorm2dOptions bn;
    bn.num_features = 3;
    seq->append(std::make_shared<layers::BatchNorm2d>(bn, ctx, DType::f64));
    seq->append(std::make_shared<layers::ReLU>());
    return seq;
  };
  auto a = build(13), b = build(13);
  b->pack_parameters();
  Generator gen(14);
  Tensor x = Tensor::uniform({2, 2, 4, 4}, -1, 1, gen, ctx, DType::f64);
  Tensor gy = Tensor::uniform({2, 3, 4, 4}, -1, 1, gen, ctx, DType::f64);
  a->forward(x).backward(gy);
  b->forward(x).backward(gy);
  std::vector<double> expected;
  for (const Tensor& p : a->parameters())
    for (double g : p.grad().to_vector<double>()) expected.push_back(g);
  const std::vector<double> flat = b->flat_gradients().to_vector<double>();
  ASSERT_EQ(flat.size(), expected.size());
  for (size_t i = 0; i < flat.size(); ++i) EXPECT_DOUBLE_EQ(flat[i], expected[i]) << i;
}

}  // namespace
}  // namespace wsvis
