// Tests of layers::Module: torch-style naming and state_dict order, train/eval, parameter
// packing into one contiguous buffer (views, in-place gradient accumulation, zero_grad), frozen
// parameters, and moving between contexts (slots re-registered).
#include <cmath>
#include <string>
#include <vector>

#include "engine/ops/elementwise.h"
#include "engine/ops/reduce.h"
#include "layers/linear.h"
#include "layers/module.h"
#include "layers/norm.h"
#include "layers/sequential.h"
#include "tests/support/testing.h"

namespace wsvis {
namespace {

using layers::Layer;
using layers::Linear;
using testing::cpu_context;
using testing::tensors_close;

using testing::names_of;

// y = relu(child(x) * w + v) with a statistics buffer: own parameters registered around a buffer
// and a child, to pin torch's ordering (own params, own buffers, then children).
class Toy : public Layer {
 public:
  Toy(Generator& gen, const ContextPtr& ctx, DType dtype = DType::f32) {
    register_parameter("w", Tensor::uniform({3}, 0.5, 1.5, gen, ctx, dtype));
    register_buffer("stat", Tensor::zeros({3}, dtype, ctx));
    child_ = register_module("child", std::make_shared<Linear>(4, 3, gen, ctx, dtype));
    register_parameter("v", Tensor::uniform({3}, -1, 1, gen, ctx, dtype));
  }
  Tensor forward(const Tensor& x) override {
    return ops::relu(ops::add(ops::mul(child_->forward(x), parameter_at(0)), parameter_at(1)));
  }
  std::shared_ptr<Linear> child_;
};

// Two levels of nesting: "0.w", "0.child.weight", "2.child.bias", ...
std::shared_ptr<layers::Sequential> make_nested(uint64_t seed, const ContextPtr& ctx,
                                                DType dtype = DType::f32) {
  Generator gen(seed);
  auto seq = std::make_shared<layers::Sequential>();
  seq->append(std::make_shared<Toy>(gen, ctx, dtype));
  seq->append(std::make_shared<layers::ReLU>());
  seq->append(std::make_shared<Linear>(3, 2, gen, ctx, dtype));
  return seq;
}

TEST(Module, NamesFollowTorchOrder) {
  auto ctx = cpu_context();
  Generator gen(1);
  Toy toy(gen, ctx);
  EXPECT_EQ(names_of(toy.named_parameters()),
            (std::vector<std::string>{"w", "v", "child.weight", "child.bias"}));
  EXPECT_EQ(names_of(toy.named_buffers()), (std::vector<std::string>{"stat"}));
  EXPECT_EQ(names_of(toy.state_dict()),
            (std::vector<std::string>{"w", "v", "stat", "child.weight", "child.bias"}));
  EXPECT_EQ(toy.parameters().size(), 4u);

  auto seq = make_nested(2, ctx);
  EXPECT_EQ(names_of(seq->state_dict()),
            (std::vector<std::string>{"0.w", "0.v", "0.stat", "0.child.weight", "0.child.bias",
                                      "2.weight", "2.bias"}));
  for (const auto& p : seq->named_parameters()) EXPECT_TRUE(p.second.requires_grad()) << p.first;
  for (const auto& b : seq->named_buffers()) EXPECT_FALSE(b.second.requires_grad()) << b.first;
}

// Registration misuse is refused with the offending name.
class BadNames : public layers::Module {
 public:
  explicit BadNames(const ContextPtr& ctx) : ctx_(ctx) {}
  void add_param(const std::string& name) {
    register_parameter(name, Tensor::zeros({1}, DType::f32, ctx_));
  }
  void add_buffer(const std::string& name) {
    register_buffer(name, Tensor::zeros({1}, DType::f32, ctx_));
  }
  void add_int_param() { register_parameter("k", Tensor::zeros({1}, DType::i64, ctx_)); }
  ContextPtr ctx_;
};

TEST(Module, RegistrationErrors) {
  BadNames m(cpu_context());
  m.add_param("a");
  EXPECT_THROW(m.add_param("a"), Error);
  EXPECT_THROW(m.add_buffer("a"), Error);
  EXPECT_THROW(m.add_param("x.y"), Error);
  EXPECT_THROW(m.add_param(""), Error);
  EXPECT_THROW(m.add_int_param(), Error);
}

TEST(Module, TrainEvalIsRecursive) {
  auto seq = make_nested(3, cpu_context());
  auto toy = std::dynamic_pointer_cast<Toy>((*seq)[0]);
  ASSERT_TRUE(toy);
  EXPECT_TRUE(seq->is_training());
  EXPECT_TRUE(toy->child_->is_training());
  seq->train(false);
  EXPECT_FALSE(seq->is_training());
  EXPECT_FALSE(toy->is_training());
  EXPECT_FALSE(toy->child_->is_training());
  seq->train();
  EXPECT_TRUE(toy->child_->is_training());
}

// Gradients of sum(model(x)) for one model.
void run_backward(layers::Sequential& model, const Tensor& x) {
  ops::sum(model.forward(x)).backward();
}

TEST(Module, PackedParametersAreViewsOfOneBuffer) {
  auto ctx = cpu_context();
  auto model = make_nested(4, ctx);
  const auto before = model->named_parameters();
  std::vector<std::vector<float>> values;
  int64_t total = 0;
  for (const auto& p : before) {
    values.push_back(p.second.to_vector<float>());
    total += p.second.numel();
  }
  model->pack_parameters();
  const Tensor& flat = model->flat_parameters();
  const Tensor& gflat = model->flat_gradients();
  ASSERT_TRUE(flat.defined());
  ASSERT_TRUE(gflat.defined());
  EXPECT_EQ(flat.shape(), (Shape{total}));
  EXPECT_EQ(gflat.shape(), (Shape{total}));

  // In named_parameters() order, back to back, values kept, gradients views of the grad buffer.
  const auto after = model->named_parameters();
  ASSERT_EQ(after.size(), before.size());
  int64_t offset = 0;
  for (size_t i = 0; i < after.size(); ++i) {
    const Tensor& p = after[i].second;
    EXPECT_EQ(after[i].first, before[i].first);
    EXPECT_EQ(p.shape(), before[i].second.shape());
    EXPECT_TRUE(p.same_storage(flat)) << after[i].first;
    EXPECT_EQ(p.data<float>(), flat.data<float>() + offset) << after[i].first;
    EXPECT_EQ(p.to_vector<float>(), values[i]) << after[i].first;
    EXPECT_TRUE(p.requires_grad());
    ASSERT_TRUE(p.grad().defined());
    EXPECT_EQ(p.grad().data<float>(), gflat.data<float>() + offset) << after[i].first;
    offset += p.numel();
  }
  for (float g : gflat.to_vector<float>()) EXPECT_EQ(g, 0.0f);

  // Writing the flat buffer is writing the parameters the layers read.
  Generator gen(9);
  Tensor x = Tensor::uniform({5, 4}, -1, 1, gen, ctx);
  const Tensor y0 = model->forward(x).detach().clone();
  Tensor(flat).fill_(0.0);  // a handle copy writes the same storage
  EXPECT_TRUE(tensors_close(model->forward(x), Tensor::zeros(y0.shape(), DType::f32, ctx), 0, 0));
}

TEST(Module, BackwardAccumulatesIntoTheFlatGradientBuffer) {
  auto ctx = cpu_context();
  auto packed = make_nested(5, ctx);
  auto reference = make_nested(5, ctx);  // same seed, same values, not packed
  packed->pack_parameters();
  Generator gen(10);
  Tensor x = Tensor::uniform({6, 4}, -1, 1, gen, ctx);

  run_backward(*packed, x);
  run_backward(*reference, x);
  std::vector<float> expected;
  for (const auto& p : reference->named_parameters()) {
    ASSERT_TRUE(p.second.grad().defined()) << p.first;
    for (float g : p.second.grad().to_vector<float>()) expected.push_back(g);
  }
  const std::vector<float> flat = packed->flat_gradients().to_vector<float>();
  ASSERT_EQ(flat.size(), expected.size());
  double norm = 0;
  for (size_t i = 0; i < flat.size(); ++i) {
    EXPECT_FLOAT_EQ(flat[i], expected[i]) << i;
    norm += std::fabs(flat[i]);
  }
  EXPECT_GT(norm, 0.0);

  // A second backward adds (+=) in place: the buffer doubles, the views still point into it.
  run_backward(*packed, x);
  const std::vector<float> twice = packed->flat_gradients().to_vector<float>();
  for (size_t i = 0; i < flat.size(); ++i) EXPECT_FLOAT_EQ(twice[i], 2 * flat[i]) << i;
  for (const auto& p : packed->named_parameters())
    EXPECT_TRUE(p.second.grad().same_storage(packed->flat_gradients())) << p.first;

  // zero_grad is one fill of the buffer; the views survive and accumulate again.
  packed->zero_grad();
  for (float g : packed->flat_gradients().to_vector<float>()) EXPECT_EQ(g, 0.0f);
  run_backward(*packed, x);
  const std::vector<float> again = packed->flat_gradients().to_vector<float>();
  for (size_t i = 0; i < flat.size(); ++i) EXPECT_FLOAT_EQ(again[i], flat[i]) << i;

  // One update of the whole buffer moves every parameter (what the fused optimizer does).
  const std::vector<float> p0 = packed->flat_parameters().to_vector<float>();
  {
    NoGradGuard no_grad;
    float* p = packed->flat_parameters().data<float>();
    const float* g = packed->flat_gradients().data<float>();
    for (int64_t i = 0; i < packed->flat_parameters().numel(); ++i) p[i] -= 0.5f * g[i];
  }
  size_t k = 0;
  for (const auto& p : packed->named_parameters())
    for (float v : p.second.to_vector<float>()) {
      EXPECT_FLOAT_EQ(v, p0[k] - 0.5f * flat[k]);
      ++k;
    }
}

TEST(Module, UnpackedZeroGradClearsEachGradient) {
  auto ctx = cpu_context();
  auto model = make_nested(6, ctx);
  Generator gen(11);
  run_backward(*model, Tensor::uniform({2, 4}, -1, 1, gen, ctx));
  model->zero_grad();
  for (const auto& p : model->named_parameters()) {
    ASSERT_TRUE(p.second.grad().defined());
    for (float g : p.second.grad().to_vector<float>()) EXPECT_EQ(g, 0.0f) << p.first;
  }
}

TEST(Module, FrozenParametersStayOutOfTheBuffers) {
  auto ctx = cpu_context();
  auto model = make_nested(7, ctx);
  int64_t trainable = 0;
  for (auto& p : model->named_parameters()) {
    if (p.first.rfind("0.child.", 0) == 0)
      p.second.set_requires_grad(false);
    else
      trainable += p.second.numel();
  }
  model->pack_parameters();
  EXPECT_EQ(model->flat_parameters().numel(), trainable);
  Generator gen(12);
  run_backward(*model, Tensor::uniform({3, 4}, -1, 1, gen, ctx));
  for (const auto& p : model->named_parameters()) {
    if (p.first.rfind("0.child.", 0) == 0) {
      EXPECT_FALSE(p.second.requires_grad()) << p.first;
      EXPECT_FALSE(p.second.same_storage(model->flat_parameters())) << p.first;
      EXPECT_FALSE(p.second.grad().defined()) << p.first;
    } else {
      EXPECT_TRUE(p.second.same_storage(model->flat_parameters())) << p.first;
    }
  }
}

TEST(Module, PackingRejectsMixedDtypes) {
  auto ctx = cpu_context();
  Generator gen(13);
  layers::Sequential seq;
  seq.append(std::make_shared<Linear>(2, 2, gen, ctx, DType::f32));
  seq.append(std::make_shared<Linear>(2, 2, gen, ctx, DType::f64));
  EXPECT_THROW(seq.pack_parameters(), Error);
}

// A second CPU context is a different device as far as `to` is concerned: every slot must be
// replaced by a copy there, the packing rebuilt on it, and the host counter left alone.
TEST(Module, ToReRegistersEverySlotOnTheNewContext) {
  auto ctx = cpu_context();
  auto other = Context::create(Device::cpu());
  ASSERT_NE(ctx.get(), other.get());
  Generator gen(14);
  layers::Sequential seq;
  seq.append(std::make_shared<Linear>(4, 3, gen, ctx));
  layers::BatchNorm2dOptions bn;
  bn.num_features = 3;
  seq.append(std::make_shared<layers::BatchNorm2d>(bn, ctx));
  seq.pack_parameters();
  const auto before = seq.state_dict();
  const Tensor nbt = seq.named_buffers().back().second;

  seq.to(ctx);  // already there: nothing moves
  for (size_t i = 0; i < before.size(); ++i)
    EXPECT_TRUE(seq.state_dict()[i].second.same_storage(before[i].second)) << before[i].first;

  seq.to(other);
  const auto after = seq.state_dict();
  ASSERT_EQ(after.size(), before.size());
  for (size_t i = 0; i < after.size(); ++i) {
    const std::string& name = after[i].first;
    EXPECT_EQ(name, before[i].first);
    EXPECT_TRUE(tensors_close(after[i].second, before[i].second, 0, 0)) << name;
    EXPECT_EQ(after[i].second.requires_grad(), before[i].second.requires_grad()) << name;
    if (name == "1.num_batches_tracked") {
      EXPECT_TRUE(after[i].second.same_storage(nbt));
    } else {
      EXPECT_EQ(&after[i].second.context(), other.get()) << name;
      EXPECT_FALSE(after[i].second.same_storage(before[i].second)) << name;
    }
  }
  ASSERT_TRUE(seq.flat_parameters().defined());
  EXPECT_EQ(&seq.flat_parameters().context(), other.get());
  for (const auto& p : seq.named_parameters()) {
    EXPECT_TRUE(p.second.same_storage(seq.flat_parameters())) << p.first;
    EXPECT_TRUE(p.second.grad().same_storage(seq.flat_gradients())) << p.first;
  }
  // The layers read the moved tensors: a forward on the new context works and trains.
  Tensor x = Tensor::uniform({5, 4}, -1, 1, gen, other);
  ops::sum(seq.forward(x)).backward();
  double gsum = 0;
  for (float g : seq.flat_gradients().to_vector<float>()) gsum += std::fabs(g);
  EXPECT_GT(gsum, 0.0);
}

TEST(Module, ToCudaAndBack) {
  WSVIS_REQUIRE_CUDA();
  auto cpu = cpu_context();
  auto gpu = Context::create(Device::cuda(0));
  auto model = make_nested(15, cpu);
  auto reference = make_nested(15, cpu);
  model->pack_parameters();
  model->to(gpu);
  EXPECT_TRUE(model->flat_parameters().device().is_cuda());
  for (const auto& t : model->state_dict()) EXPECT_TRUE(t.second.device().is_cuda()) << t.first;
  Generator gen(16);
  Tensor x = Tensor::uniform({5, 4}, -1, 1, gen, cpu);
  Tensor y_gpu = model->forward(x.to(gpu));
  Tensor y_cpu = reference->forward(x);
  // Linear on cuBLAS with TF32 by default: 10-bit mantissa products over K = 4 and 3 terms.
  EXPECT_TRUE(tensors_close(y_gpu.to(cpu), y_cpu, 2e-3, 2e-3));
  ops::sum(y_gpu).backward();
  model->to(cpu);
  for (const auto& t : model->state_dict()) EXPECT_TRUE(t.second.device().is_cpu()) << t.first;
}

}  // namespace
}  // namespace wsvis
