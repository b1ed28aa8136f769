// Batched linear sum assignment: 1,000 problems of 100x100 (the tracker's frame-pair size) and
// 8 of 512x512, uniform random float32 costs. The GPU solver is validated against the CPU twin
// (statuses equal and totals equal: both twins do the same double arithmetic, so exactly), then
// timed; without a GPU the CPU twin is timed (all OpenMP threads, one problem per thread).
// scipy's loop over the same sizes: scripts/torch_bench/assign.py (same result names).
#include <omp.h>

#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "bench/harness.h"
#include "kernels/basic.h"
#include "kernels/assign.h"

namespace wsvis::bench {
namespace {

void run_assign(Runner& r, int64_t B, int64_t R, int64_t C) {
  const std::string name =
      "assign_batched/" + std::to_string(B) + "x" + std::to_string(R) + "x" + std::to_string(C);
  Generator gen(17);
  const Tensor cost_cpu = Tensor::uniform({B, R, C}, 0, 1, gen, r.cpu_ctx(), DType::f32);
  const ContextPtr& ctx = r.ctx();
  const Tensor cost = cost_cpu.to(ctx);
  Tensor r2c = Tensor::empty({B, R}, DType::i32, ctx);
  Tensor total = Tensor::empty({B}, DType::f64, ctx);
  Tensor status = Tensor::empty({B}, DType::i32, ctx);

  // CPU twin: the reference on the GPU machine, the timed path without one.
  const int slots = omp_get_max_threads();
  std::vector<char> ws(kernels::cpu::assign_workspace_bytes(R, C) * size_t(slots));
  Tensor r2c_ref = Tensor::empty({B, R}, DType::i32, r.cpu_ctx());
  Tensor total_ref = Tensor::empty({B}, DType::f64, r.cpu_ctx());
  Tensor status_ref = Tensor::empty({B}, DType::i32, r.cpu_ctx());
  auto solve_cpu = [&](Tensor& a, Tensor& t, Tensor& s) {
    kernels::cpu::linear_sum_assignment_batched(cost_cpu.data<float>(), B, R, C, nullptr, nullptr,
                                                false, a.data<int32_t>(), t.data<double>(),
                                                s.data<int32_t>(), ws.data(), ws.size());
  };
  std::function<void()> solve = [&] { solve_cpu(r2c, total, status); };
#if WSVIS_WITH_CUDA
  if (r.gpu()) {
    solve = [&] {
      kernels::cuda::linear_sum_assignment_batched(ctx->stream(), cost.data<float>(), B, R, C,
                                                   nullptr, nullptr, false, r2c.data<int32_t>(),
                                                   total.data<double>(), status.data<int32_t>());
    };
    solve_cpu(r2c_ref, total_ref, status_ref);
    solve();
    ctx->synchronize();
    // The twins do the same double arithmetic in the same order: exact agreement expected.
    const bool ok = r.validate(name + " status", status, status_ref, 0.0) &&
                    r.validate(name + " total", total, total_ref, 0.0);
    if (!ok) return;
  }
#endif
  const Measurement m = r.time(solve, r.gpu() ? 2 : 1, r.gpu() ? 20 : 3);
  // No flop count defines this solver's work; bytes: the cost matrices, read at least once.
  const double bytes = double(B) * R * C * sizeof(float) + double(B) * (R * 4 + 12);
  // The solver is latency-bound (each problem re-reads its matrix row by row, one Dijkstra step
  // at a time), so the fraction of copy bandwidth stays small; the time per problem is what
  // compares with scipy.
  std::printf("  %s: %.4f ms per problem\n", name.c_str(), m.median_ms / double(B));
  r.report({name, shapes({{"cost", {B, R, C}}}), "fp32", m, 0.0, bytes});
}

// GPU: the sizes. CPU: fewer problems, so `make bench` stays quick.
const Registrar small("assign/batched_100x100", [](Runner& r) {
  run_assign(r, r.gpu() ? 1000 : 100, 100, 100);
});
const Registrar large("assign/batched_512x512", [](Runner& r) {
  run_assign(r, r.gpu() ? 8 : 2, 512, 512);
});

}  // namespace
}  // namespace wsvis::bench
