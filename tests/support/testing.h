// Test support shared by every test binary: CUDA skipping, tolerance checks that report the
// worst element, central-difference gradient checks in double, and CPU/CUDA parity checks.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "engine/error.h"
#include "engine/tensor.h"

namespace wsvis::testing {

// Skips the current test with a message when no GPU is usable.
#define WSVIS_REQUIRE_CUDA()                                                              \
  do {                                                                                    \
    if (!::wsvis::cuda_available())                                                       \
      GTEST_SKIP() << "no CUDA device present: CUDA parity test skipped (runs on the GPU " \
                      "machine through scripts/gpu_check.sh)";                            \
  } while (0)

inline ContextPtr cpu_context() { return Context::create(Device::cpu()); }

// |actual - expected| <= atol + rtol * |expected| everywhere (NaN is a fault); reports the
// worst element and the first few faults by flat index. For raw arrays from kernel tests.
template <typename A, typename E>
::testing::AssertionResult all_close(const std::vector<A>& actual, const std::vector<E>& expected,
                                     double atol, double rtol) {
  if (actual.size() != expected.size())
    return ::testing::AssertionFailure() << "size " << actual.size() << " vs expected "
                                         << expected.size();
  size_t faults = 0, worst = 0;
  double worst_excess = -1;
  std::ostringstream first;
  for (size_t i = 0; i < actual.size(); ++i) {
    const double a = static_cast<double>(actual[i]), e = static_cast<double>(expected[i]);
    const double diff = std::fabs(a - e);
    const double excess = std::isnan(diff) ? 1e300 : diff - (atol + rtol * std::fabs(e));
    if (excess > 0 && faults++ < 5) first << "  [" << i << "] " << a << " vs " << e << "\n";
    if (excess > worst_excess) {
      worst_excess = excess;
      worst = i;
    }
  }
  if (faults == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << faults << " of " << actual.size() << " elements outside atol " << atol << " + rtol "
         << rtol << "*|ref|; worst [" << worst << "] " << static_cast<double>(actual[worst])
         << " vs " << static_cast<double>(expected[worst]) << "\n"
         << first.str();
}

// The same for tensors on any device (copied to the host), after a shape check.
inline ::testing::AssertionResult tensors_close(const Tensor& actual, const Tensor& expected,
                                                double atol, double rtol) {
  if (actual.shape() != expected.shape())
    return ::testing::AssertionFailure() << "shape " << actual.shape_str() << " vs expected "
                                         << expected.shape_str();
  return all_close(actual.to_vector<double>(), expected.to_vector<double>(), atol, rtol);
}

// n values drawn uniformly from [lo, hi) (raw arrays for kernel tests).
template <typename T>
std::vector<T> uniform(size_t n, double lo, double hi, std::mt19937& rng) {
  std::uniform_real_distribution<double> d(lo, hi);
  std::vector<T> v(n);
  for (auto& x : v) x = static_cast<T>(d(rng));
  return v;
}

struct GradcheckOptions {
  double eps = 1e-6;   // central-difference step (double precision: error ~eps^2 + 1e-16/eps)
  double atol = 1e-6;  // absolute tolerance on each gradient element
  double rtol = 1e-5;  // relative tolerance on each gradient element
  uint64_t seed = 7;   // seeds the random projection of the output
};

// Compares the analytic gradient of L(x) = <fn(x), R> with central differences, where R is a
// fixed random tensor, for every input that requires grad. Inputs must be f64 CPU tensors;
// fn must be deterministic.
inline ::testing::AssertionResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& fn,
                                            std::vector<Tensor> inputs,
                                            GradcheckOptions opts = {}) {
  for (const Tensor& x : inputs)
    if (x.defined() && x.requires_grad() && (x.dtype() != DType::f64 || !x.device().is_cpu()))
      return ::testing::AssertionFailure() << "gradcheck needs f64 CPU inputs, got " << x.describe();
  Generator gen(opts.seed);
  Tensor out = fn(inputs);
  const ContextPtr ctx = out.context_ptr();
  const Tensor projection = Tensor::randn(out.shape(), gen, ctx, DType::f64);
  const std::vector<double> r = projection.to_vector<double>();
  auto objective = [&](const std::vector<Tensor>& xs) {
    NoGradGuard no_grad;
    const std::vector<double> y = fn(xs).to_vector<double>();
    double sum = 0;
    for (size_t i = 0; i < y.size(); ++i) sum += y[i] * r[i];
    return sum;
  };
  for (Tensor& x : inputs)
    if (x.defined() && x.requires_grad()) x.set_grad(Tensor());
  out.backward(projection);

  for (size_t k = 0; k < inputs.size(); ++k) {
    Tensor& x = inputs[k];
    if (!x.defined() || !x.requires_grad()) continue;
    if (!x.grad().defined())
      return ::testing::AssertionFailure() << "input " << k << " got no gradient";
    const std::vector<double> analytic = x.grad().to_vector<double>();
    double* values = x.data<double>();
    for (int64_t i = 0; i < x.numel(); ++i) {
      const double saved = values[i];
      values[i] = saved + opts.eps;
      const double plus = objective(inputs);
      values[i] = saved - opts.eps;
      const double minus = objective(inputs);
      values[i] = saved;
      const double numeric = (plus - minus) / (2 * opts.eps);
      const double bound = opts.atol + opts.rtol * std::fabs(numeric);
      if (!(std::fabs(analytic[static_cast<size_t>(i)] - numeric) <= bound))
        return ::testing::AssertionFailure()
               << "input " << k << " " << x.shape_str() << " element " << i << ": analytic "
               << analytic[static_cast<size_t>(i)] << " vs numeric " << numeric << " (atol "
               << opts.atol << ", rtol " << opts.rtol << ")";
    }
  }
  return ::testing::AssertionSuccess();
}

// Runs fn on f32 CPU inputs and on CUDA copies of them; compares the outputs and, where inputs
// require grad, the gradients after backward with the same random output gradient.
inline ::testing::AssertionResult cuda_parity(const std::function<Tensor(const std::vector<Tensor>&)>& fn,
                                              const std::vector<Tensor>& cpu_inputs, double atol,
                                              double rtol, uint64_t seed = 11) {
  const ContextPtr gpu = Context::create(Device::cuda(0));
  std::vector<Tensor> cpu_in, gpu_in;
  for (const Tensor& x : cpu_inputs) {
    if (!x.defined()) {
      cpu_in.emplace_back();
      gpu_in.emplace_back();
      continue;
    }
    Tensor c = x.clone(), g = x.to(gpu);
    if (x.requires_grad()) {
      c.set_requires_grad(true);
      g.set_requires_grad(true);
    }
    cpu_in.push_back(c);
    gpu_in.push_back(g);
  }
  Tensor out_cpu = fn(cpu_in);
  Tensor out_gpu = fn(gpu_in);
  auto result = tensors_close(out_gpu, out_cpu, atol, rtol);
  if (!result) return ::testing::AssertionFailure() << "forward: " << result.message();
  if (!out_cpu.requires_grad()) return ::testing::AssertionSuccess();
  Generator gen(seed);
  Tensor gy = Tensor::randn(out_cpu.shape(), gen, out_cpu.context_ptr(), out_cpu.dtype());
  out_cpu.backward(gy);
  out_gpu.backward(gy.to(gpu));
  for (size_t k = 0; k < cpu_in.size(); ++k) {
    if (!cpu_in[k].defined() || !cpu_in[k].requires_grad()) continue;
    auto g = tensors_close(gpu_in[k].grad(), cpu_in[k].grad(), atol, rtol);
    if (!g) return ::testing::AssertionFailure() << "gradient of input " << k << ": " << g.message();
  }
  return ::testing::AssertionSuccess();
}

// Random f64/f32 tensor that requires grad (for gradcheck inputs and parity inputs).
inline Tensor random_input(const Shape& shape, Generator& gen, const ContextPtr& ctx,
                           DType dtype = DType::f64, bool requires_grad = true,
                           double lo = -1.0, double hi = 1.0) {
  Tensor t = Tensor::uniform(shape, lo, hi, gen, ctx, dtype);
  if (requires_grad) t.set_requires_grad(true);
  return t;
}

// ---- named tensors (state_dict / named_parameters lists) -----------------------------------

inline std::vector<std::string> names_of(const std::vector<std::pair<std::string, Tensor>>& named) {
  std::vector<std::string> out;
  for (const auto& n : named) out.push_back(n.first);
  return out;
}

// The tensor called `name`, or an undefined tensor when there is none (tests check absence).
inline Tensor find(const std::vector<std::pair<std::string, Tensor>>& named, const std::string& name) {
  for (const auto& n : named)
    if (n.first == name) return n.second;
  return Tensor();
}

// Runs fn, expecting a wsvis::Error (InputError included) whose message contains `part`.
template <typename Fn>
void expect_error(Fn fn, const char* part) {
  try {
    fn();
    ADD_FAILURE() << "expected a wsvis::Error mentioning `" << part << "`";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

}  // namespace wsvis::testing
