// Tests of optim::SGD and gradient clipping: several steps against a hand-rolled reference of
// torch.optim.SGD's update rules (momentum, dampening, Nesterov, weight decay, groups, lazily
// created buffers), hand-computed values, fused vs per-tensor equality, merging of packed
// parameters into one range per group, chunk boundaries, clip norms, CUDA parity, misuse.
#include <omp.h>

#include <cmath>
#include <vector>

#include "engine/ops.h"
#include "engine/optim/clip.h"
#include "engine/optim/sgd.h"
#include "kernels/optim.h"
#include "layers/linear.h"
#include "tests/support/testing.h"

namespace wsvis {
namespace {

using testing::cpu_context;
using testing::tensors_close;

// torch.optim.SGD's documented update for one parameter, written from the docs, in T:
//   d = g + wd * p;  buf = first ? d : mu * buf + (1 - dampening) * d;
//   d = nesterov ? d + mu * buf : buf;  p -= lr * d
template <typename T>
struct RefParam {
  std::vector<T> p, buf;
  bool has_buf = false;
  void step(const std::vector<T>& g, double lr, double wd, double mu, double dampening,
            bool nesterov) {
    if (buf.empty()) buf.assign(p.size(), T(0));
    for (size_t i = 0; i < p.size(); ++i) {
      T d = g[i];
      if (wd != 0) d = d + T(wd) * p[i];
      if (mu != 0) {
        buf[i] = has_buf ? T(mu) * buf[i] + T(1.0 - dampening) * d : d;
        d = nesterov ? d + T(mu) * buf[i] : buf[i];
      }
      p[i] = p[i] - T(lr) * d;
    }
    if (mu != 0) has_buf = true;
  }
};

Tensor leaf(const std::vector<double>& v, const Shape& shape, const ContextPtr& ctx, DType dtype) {
  Tensor t = Tensor::from_vector(v, shape, ctx, dtype);
  t.set_requires_grad(true);
  return t;
}

std::vector<double> random_values(int64_t n, Generator& gen) {
  std::vector<double> v(static_cast<size_t>(n));
  for (double& x : v) x = gen.uniform(-1, 1);
  return v;
}

struct Case {
  const char* name;
  double momentum, dampening, weight_decay;
  bool nesterov;
};

// Every parameter of both groups after `steps` steps matches the reference. Group 1 has 10x lr
// and its own weight decay; parameter 2 gets no gradient at step 0 (torch skips it and creates
// its buffer at its first real update); the lr changes at step 3.
template <typename T>
void check_against_reference(const Case& c, double tol) {
  auto ctx = cpu_context();
  const DType dtype = dtype_of<T>::value;
  Generator gen(17);
  // Sizes: odd, one spanning three kernel chunks, 0-d, empty.
  const std::vector<Shape> shapes = {{3, 5}, {2 * kernels::kOptimChunk + 7}, {}, {0}, {4}};
  std::vector<Tensor> params;
  std::vector<RefParam<T>> ref(shapes.size());
  for (size_t i = 0; i < shapes.size(); ++i) {
    const std::vector<double> v = random_values(shape_numel(shapes[i]), gen);
    params.push_back(leaf(v, shapes[i], ctx, dtype));
    for (double x : v) ref[i].p.push_back(T(x));
  }
  const double group1_wd = c.weight_decay == 0 ? 0.0 : 0.5 * c.weight_decay;
  optim::SgdOptions o;
  o.lr = 0.05;
  o.momentum = c.momentum;
  o.dampening = c.dampening;
  o.weight_decay = c.weight_decay;
  o.nesterov = c.nesterov;
  optim::SGD opt({optim::ParamGroup{"a", {params[0], params[1], params[2]}, 1.0, std::nullopt},
                  optim::ParamGroup{"b", {params[3], params[4]}, 10.0, group1_wd}},
                 o);
  const std::vector<size_t> group_of = {0, 0, 0, 1, 1};
  for (int step = 0; step < 6; ++step) {
    if (step == 3) opt.set_lr(0.02);
    for (size_t i = 0; i < params.size(); ++i) {
      if (step == 0 && i == 2) continue;
      const std::vector<double> g = random_values(params[i].numel(), gen);
      params[i].set_grad(Tensor::from_vector(g, params[i].shape(), ctx, dtype));
      std::vector<T> gt(g.begin(), g.end());
      const size_t grp = group_of[i];
      ref[i].step(gt, opt.group_lr(grp), opt.group_weight_decay(grp), c.momentum, c.dampening,
                  c.nesterov);
    }
    opt.step();
    if (step == 0) {
      params[2].set_grad(Tensor());
      EXPECT_FALSE(opt.momentum_buffer(0, 2).defined()) << c.name;
    }
  }
  EXPECT_EQ(opt.step_count(), 6);
  for (size_t i = 0; i < params.size(); ++i) {
    const std::vector<double> expected(ref[i].p.begin(), ref[i].p.end());
    EXPECT_TRUE(tensors_close(
        params[i], Tensor::from_vector(expected, params[i].shape(), ctx, dtype), tol, tol))
        << c.name << " parameter " << i;
    if (c.momentum != 0 && params[i].numel() > 0) {
      const size_t g = group_of[i], k = g == 0 ? i : i - 3;
      const Tensor buf = opt.momentum_buffer(g, k);
      ASSERT_TRUE(buf.defined()) << c.name << " parameter " << i;
      const std::vector<double> eb(ref[i].buf.begin(), ref[i].buf.end());
      EXPECT_TRUE(tensors_close(buf, Tensor::from_vector(eb, buf.shape(), ctx, dtype), tol, tol))
          << c.name << " buffer " << i;
    }
  }
}

const Case kCases[] = {
    {"plain", 0.0, 0.0, 0.0, false},       {"weight_decay", 0.0, 0.0, 1e-2, false},
    {"momentum", 0.9, 0.0, 0.0, false},    {"momentum_wd_dampening", 0.9, 0.1, 1e-2, false},
    {"nesterov_wd", 0.9, 0.0, 5e-3, true},
};

// The reference does the same operations in the same precision, so only a compiler that
// contracted differently could make them differ: 1 ulp-scale bounds suffice.
TEST(Sgd, MatchesTorchRulesOverSeveralStepsFloat) {
  for (const Case& c : kCases) check_against_reference<float>(c, 1e-6);
}

TEST(Sgd, MatchesTorchRulesOverSeveralStepsDouble) {
  for (const Case& c : kCases) check_against_reference<double>(c, 1e-14);
}

// Worked by hand: p = 1, g = 0.5 each step, lr 0.1, momentum 0.9, weight decay 0.1.
//   step 1: d = 0.5 + 0.1 * 1 = 0.6, buf = 0.6, p = 1 - 0.06 = 0.94
//   step 2: d = 0.5 + 0.094 = 0.594, buf = 0.54 + 0.594 = 1.134, p = 0.94 - 0.1134 = 0.8266
//   Nesterov, step 1: d = 0.6 + 0.9 * 0.6 = 1.14, p = 0.886
TEST(Sgd, HandComputedValues) {
  auto ctx = cpu_context();
  for (bool nesterov : {false, true}) {
    Tensor p = leaf({1.0}, {1}, ctx, DType::f64);
    optim::SgdOptions o;
    o.lr = 0.1;
    o.momentum = 0.9;
    o.weight_decay = 0.1;
    o.nesterov = nesterov;
    optim::SGD opt(std::vector<Tensor>{p}, o);
    p.set_grad(Tensor::from_vector(std::vector<double>{0.5}, {1}, ctx, DType::f64));
    opt.step();
    EXPECT_NEAR(p.item<double>(), nesterov ? 0.886 : 0.94, 1e-15);
    if (!nesterov) {
      opt.step();
      EXPECT_NEAR(p.item<double>(), 0.8266, 1e-15);
      EXPECT_NEAR(opt.momentum_buffer(0, 0).item<double>(), 1.134, 1e-15);
    }
  }
}

// Builds the same parameters and gradients twice; returns them after 3 steps with `fused`.
std::vector<Tensor> run_three_steps(bool fused, optim::SGD::StepStats& stats) {
  auto ctx = cpu_context();
  Generator gen(5);
  std::vector<Tensor> params;
  for (int64_t n : {7, 5000, 1, 64, 9000})
    params.push_back(leaf(random_values(n, gen), {n}, ctx, DType::f32));
  optim::SgdOptions o;
  o.lr = 0.1;
  o.momentum = 0.9;
  o.weight_decay = 1e-3;
  o.nesterov = true;
  optim::SGD opt({optim::ParamGroup{"", {params[0], params[1]}, 1.0, std::nullopt},
                  optim::ParamGroup{"", {params[2], params[3], params[4]}, 3.0, 0.0}},
                 o);
  opt.set_fused(fused);
  for (int s = 0; s < 3; ++s) {
    for (Tensor& p : params)
      p.set_grad(Tensor::from_vector(random_values(p.numel(), gen), p.shape(), ctx, DType::f32));
    opt.step();
  }
  stats = opt.last_step_stats();
  return params;
}

TEST(Sgd, FusedEqualsPerTensorBitForBit) {
  optim::SGD::StepStats fused_stats, single_stats;
  const auto a = run_three_steps(true, fused_stats);
  const auto b = run_three_steps(false, single_stats);
  for (size_t i = 0; i < a.size(); ++i)
    EXPECT_TRUE(tensors_close(a[i], b[i], 0.0, 0.0)) << "parameter " << i;
  EXPECT_EQ(fused_stats.launches, 1);
  EXPECT_EQ(fused_stats.segments, 5);  // separate tensors: nothing to merge
  EXPECT_EQ(single_stats.launches, 5);
}

// A packed model (layers::Module::pack_parameters) collapses to one range per group, and the
// result equals the same model updated unpacked.
TEST(Sgd, PackedParametersMergeIntoOneRangePerGroup) {
  auto ctx = cpu_context();
  auto make = [&] {
    Generator gen(9);
    return std::make_shared<layers::Linear>(30, 20, gen, ctx);
  };
  auto packed = make(), plain = make();
  packed->pack_parameters();
  optim::SgdOptions o;
  o.lr = 0.1;
  o.momentum = 0.9;
  o.weight_decay = 1e-4;
  optim::SGD opt_packed(packed->parameters(), o), opt_plain(plain->parameters(), o);
  // Two groups over the packed model: weight and bias, adjacent but with different
  // hyper-parameters.
  Generator split_gen(9);
  auto split = std::make_shared<layers::Linear>(30, 20, split_gen, ctx);
  split->pack_parameters();
  const auto sp = split->parameters();
  optim::SGD opt_split({optim::ParamGroup{"w", {sp[0]}, 1.0, std::nullopt},
                        optim::ParamGroup{"b", {sp[1]}, 1.0, 0.0}},
                       o);
  Generator gen(3);
  const Tensor x = Tensor::uniform({8, 30}, -1, 1, gen, ctx);
  for (int s = 0; s < 3; ++s) {
    for (auto* m : {packed.get(), plain.get(), split.get()}) {
      m->zero_grad();
      Tensor y = m->forward(x);
      ops::sum(ops::mul(y, y)).backward();
    }
    opt_packed.step();
    opt_plain.step();
    opt_split.step();
    EXPECT_EQ(opt_packed.last_step_stats().segments, 1);
    EXPECT_EQ(opt_plain.last_step_stats().segments, 2);
    EXPECT_EQ(opt_split.last_step_stats().segments, 2);
  }
  const auto a = packed->parameters(), b = plain->parameters();
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(tensors_close(a[i], b[i], 0.0, 0.0)) << i;
}

TEST(Sgd, StateTensorsRoundTrip) {
  auto ctx = cpu_context();
  Generator gen(2);
  Tensor a = leaf(random_values(6, gen), {2, 3}, ctx, DType::f32);
  Tensor b = leaf(random_values(4, gen), {4}, ctx, DType::f32);
  optim::SgdOptions o;
  o.momentum = 0.9;
  optim::SGD opt({optim::ParamGroup{"", {a}, 1.0, std::nullopt},
                  optim::ParamGroup{"", {b}, 1.0, std::nullopt}},
                 o);
  a.set_grad(Tensor::ones({2, 3}, DType::f32, ctx));
  opt.step();  // b has no gradient: no state for it
  const auto state = opt.state_tensors();
  ASSERT_EQ(state.size(), 1u);
  EXPECT_EQ(state[0].first, "optim.0.0.momentum");

  optim::SGD fresh({optim::ParamGroup{"", {a.detach()}, 1.0, std::nullopt},
                    optim::ParamGroup{"", {b.detach()}, 1.0, std::nullopt}},
                   o);
  fresh.load_state_tensors(state, "test");
  EXPECT_TRUE(tensors_close(fresh.momentum_buffer(0, 0), state[0].second, 0, 0));
  EXPECT_FALSE(fresh.momentum_buffer(1, 0).defined());
  EXPECT_THROW(fresh.load_state_tensors({{"optim.2.0.momentum", state[0].second}}, "f"),
               InputError);
  EXPECT_THROW(fresh.load_state_tensors({{"optim.1.0.momentum", state[0].second}}, "f"),
               InputError);
  EXPECT_THROW(fresh.load_state_tensors({{"optim.x.0.momentum", state[0].second}}, "f"),
               InputError);
}

TEST(Sgd, Misuse) {
  auto ctx = cpu_context();
  Tensor p = leaf({1, 2}, {2}, ctx, DType::f32);
  optim::SgdOptions o;
  o.nesterov = true;  // without momentum
  EXPECT_THROW(optim::SGD(std::vector<Tensor>{p}, o), Error);
  o.nesterov = false;
  EXPECT_THROW(optim::SGD(std::vector<Tensor>{p, p}, o), Error);
  Tensor q = leaf({1, 2}, {2}, ctx, DType::f64);
  EXPECT_THROW(optim::SGD(std::vector<Tensor>{p, q}, o), Error);
  o.lr = -1;
  EXPECT_THROW(optim::SGD(std::vector<Tensor>{p}, o), Error);
  // No gradient anywhere: nothing moves and nothing launches, but the step counts (schedules
  // follow the iteration).
  o.lr = 0.1;
  optim::SGD opt(std::vector<Tensor>{p}, o);
  opt.step();
  EXPECT_EQ(p.to_vector<float>(), (std::vector<float>{1, 2}));
  EXPECT_EQ(opt.last_step_stats().launches, 0);
  EXPECT_EQ(opt.step_count(), 1);
}

// The CUDA twin finds a block's segment with segment_of_chunk; check the lookup on the host
// for every chunk of a table with empty segments first, in the middle and last.
TEST(OptimKernels, EveryChunkMapsToTheSegmentOwningIt) {
  std::vector<kernels::GradSegment<float>> segs(7);
  const int64_t sizes[] = {0, 1, 2 * kernels::kOptimChunk, 0, 0, kernels::kOptimChunk + 1, 0};
  for (size_t k = 0; k < segs.size(); ++k) segs[k].n = sizes[k];
  const int64_t chunks = kernels::plan_chunks(segs.data(), int64_t(segs.size()));
  EXPECT_EQ(chunks, 1 + 2 + 2);
  const std::vector<int64_t> owner = {1, 2, 2, 5, 5};
  for (int64_t c = 0; c < chunks; ++c)
    EXPECT_EQ(kernels::segment_of_chunk(segs.data(), int64_t(segs.size()), c), owner[size_t(c)])
        << "chunk " << c;
}

// ---- clipping -------------------------------------------------------------------------------

TEST(Clip, GradNormAndClipByNormMatchHandValues) {
  auto ctx = cpu_context();
  Tensor a = leaf({0, 0}, {2}, ctx, DType::f32), b = leaf({0}, {1}, ctx, DType::f32);
  Tensor none = leaf({0}, {1}, ctx, DType::f32);  // no gradient: skipped
  a.set_grad(Tensor::from_vector(std::vector<double>{3, 4}, {2}, ctx, DType::f32));
  b.set_grad(Tensor::from_vector(std::vector<double>{12}, {1}, ctx, DType::f32));
  EXPECT_DOUBLE_EQ(optim::grad_norm({a, b, none}), 13.0);
  // Above the total: torch still multiplies by min(1, max/(norm+1e-6)) = 1, i.e. nothing changes.
  EXPECT_DOUBLE_EQ(optim::clip_grad_norm({a, b, none}, 100.0), 13.0);
  EXPECT_EQ(a.grad().to_vector<float>(), (std::vector<float>{3, 4}));
  EXPECT_DOUBLE_EQ(optim::clip_grad_norm({a, b, none}, 6.5), 13.0);
  const float coef = float(6.5 / (13.0 + 1e-6));
  EXPECT_EQ(a.grad().to_vector<float>(), (std::vector<float>{3 * coef, 4 * coef}));
  EXPECT_EQ(b.grad().to_vector<float>(), (std::vector<float>{12 * coef}));
  EXPECT_NEAR(optim::grad_norm({a, b}), 6.5, 1e-5);
  EXPECT_DOUBLE_EQ(optim::clip_grad_norm({none}, 1.0), 0.0);
}

// Many chunks: the norm does not depend on the thread count, and matches a long-double sum.
TEST(Clip, NormIsDeterministicAcrossThreadCounts) {
  auto ctx = cpu_context();
  Generator gen(8);
  std::vector<Tensor> params;
  long double exact = 0;
  for (int64_t n : {300001, 17, 70000}) {
    Tensor p = leaf(std::vector<double>(size_t(n), 0.0), {n}, ctx, DType::f32);
    Tensor g = Tensor::uniform({n}, -2, 2, gen, ctx);
    for (float v : g.to_vector<float>()) exact += (long double)v * v;
    p.set_grad(g);
    params.push_back(p);
  }
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  const double one = optim::grad_norm(params);
  omp_set_num_threads(std::max(2, threads));
  const double many = optim::grad_norm(params);
  omp_set_num_threads(threads);
  EXPECT_EQ(one, many);
  EXPECT_NEAR(one, std::sqrt((double)exact), 1e-12 * std::sqrt((double)exact));
}

TEST(Clip, ByValueAndNonFinite) {
  auto ctx = cpu_context();
  Tensor a = leaf({0, 0, 0, 0}, {4}, ctx, DType::f64);
  a.set_grad(Tensor::from_vector(std::vector<double>{-3, 0.25, 2, NAN}, {4}, ctx, DType::f64));
  optim::clip_grad_value({a}, 1.0);
  const auto g = a.grad().to_vector<double>();
  EXPECT_EQ(g[0], -1.0);
  EXPECT_EQ(g[1], 0.25);
  EXPECT_EQ(g[2], 1.0);
  EXPECT_TRUE(std::isnan(g[3]));  // NaN passes through, as torch.clamp_
  EXPECT_THROW(optim::clip_grad_norm({a}, 1.0, /*error_if_nonfinite=*/true), Error);
  EXPECT_TRUE(std::isnan(optim::clip_grad_norm({a}, 1.0)));
  EXPECT_TRUE(std::isnan(a.grad().to_vector<double>()[0]));  // torch's default: scaled by NaN
}

// ---- CUDA parity ------------------------------------------------------------------------------

// The CUDA kernel mirrors sgd_element, but nvcc contracts a*b+c into FMAs that round once
// instead of twice: ~1 ulp per operation, compounded over 5 steps of O(1) values -> 1e-6
// absolute + 1e-5 relative.
TEST(SgdCuda, MatchesCpuTwin) {
  WSVIS_REQUIRE_CUDA();
  auto cpu = cpu_context();
  auto gpu = Context::create(Device::cuda(0));
  Generator gen(21);
  std::vector<Tensor> pc, pg;
  for (int64_t n : {1, 33, 4096, 4097, 3 * 4096 + 5, 100000}) {
    Tensor c = leaf(random_values(n, gen), {n}, cpu, DType::f32);
    Tensor g = c.to(gpu);
    g.set_requires_grad(true);
    pc.push_back(c);
    pg.push_back(g);
  }
  optim::SgdOptions o;
  o.lr = 0.05;
  o.momentum = 0.9;
  o.dampening = 0.1;
  o.weight_decay = 1e-3;
  optim::SGD oc({optim::ParamGroup{"", {pc[0], pc[1], pc[2]}, 1.0, std::nullopt},
                 optim::ParamGroup{"", {pc[3], pc[4], pc[5]}, 10.0, 0.0}},
                o);
  optim::SGD og({optim::ParamGroup{"", {pg[0], pg[1], pg[2]}, 1.0, std::nullopt},
                 optim::ParamGroup{"", {pg[3], pg[4], pg[5]}, 10.0, 0.0}},
                o);
  for (int s = 0; s < 5; ++s) {
    for (size_t i = 0; i < pc.size(); ++i) {
      Tensor g = Tensor::uniform(pc[i].shape(), -1, 1, gen, cpu);
      pc[i].set_grad(g);
      pg[i].set_grad(g.to(gpu));
    }
    oc.step();
    og.step();
    EXPECT_EQ(og.last_step_stats().launches, 1);
  }
  for (size_t i = 0; i < pc.size(); ++i) EXPECT_TRUE(tensors_close(pg[i], pc[i], 1e-6, 1e-5)) << i;
}

// Both twins sum squares in double; only the order differs: 1e-12 relative.
TEST(ClipCuda, MatchesCpuTwin) {
  WSVIS_REQUIRE_CUDA();
  auto cpu = cpu_context();
  auto gpu = Context::create(Device::cuda(0));
  Generator gen(4);
  std::vector<Tensor> pc, pg;
  for (int64_t n : {5, 4096, 123457}) {
    Tensor c = leaf(std::vector<double>(size_t(n), 0.0), {n}, cpu, DType::f32);
    Tensor g = c.to(gpu);
    g.set_requires_grad(true);
    Tensor grad = Tensor::uniform({n}, -1, 1, gen, cpu);
    c.set_grad(grad);
    g.set_grad(grad.to(gpu));
    pc.push_back(c);
    pg.push_back(g);
  }
  const double nc = optim::clip_grad_norm(pc, 1.0), ng = optim::clip_grad_norm(pg, 1.0);
  EXPECT_NEAR(ng, nc, 1e-12 * nc);
  EXPECT_EQ(optim::grad_norm(pg), optim::grad_norm(pg));  // deterministic run to run
  for (size_t i = 0; i < pc.size(); ++i)
    EXPECT_TRUE(tensors_close(pg[i].grad(), pc[i].grad(), 1e-7, 1e-6)) << i;
  optim::clip_grad_value(pc, 1e-4);
  optim::clip_grad_value(pg, 1e-4);
  for (size_t i = 0; i < pc.size(); ++i)
    EXPECT_TRUE(tensors_close(pg[i].grad(), pc[i].grad(), 0, 0)) << i;
}

}  // namespace
}  // namespace wsvis
