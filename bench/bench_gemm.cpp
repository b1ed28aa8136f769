// GEMM (square, TF32 and FP32) and the Mask R-CNN box head's linear layers (fc6: 12544 -> 1024
// over 1024 RoIs, fc7: 1024 -> 1024), forward and both backward GEMMs.
#include <cstdio>
#include <string>

#include "bench/harness.h"
#include "engine/ops/linalg.h"

namespace wsvis::bench {
namespace {

// out (M, N) = op(a) op(b) with op(a) (M, K): validated against OpenBLAS, then timed.
void run_gemm(Runner& r, const std::string& name, bool tf32, bool trans_a, bool trans_b,
              int64_t M, int64_t N, int64_t K, const std::string& shape) {
  const ContextPtr& ctx = r.ctx();
  const bool previous_tf32 = ctx->tf32();
  ctx->set_tf32(tf32);
  Generator gen(11);
  const Shape a_shape = trans_a ? Shape{K, M} : Shape{M, K};
  const Shape b_shape = trans_b ? Shape{N, K} : Shape{K, N};
  const Tensor a_cpu = Tensor::uniform(a_shape, -1, 1, gen, r.cpu_ctx());
  const Tensor b_cpu = Tensor::uniform(b_shape, -1, 1, gen, r.cpu_ctx());
  const Tensor a = a_cpu.to(ctx), b = b_cpu.to(ctx);
  Tensor c = Tensor::empty({M, N}, DType::f32, ctx);
  auto gemm = [&] { ops::detail::gemm_into(trans_a, trans_b, 1, M, N, K, a, b, 0.0, c); };
  bool ok = true;
  if (r.gpu()) {
    Tensor c_ref = Tensor::empty({M, N}, DType::f32, r.cpu_ctx());
    ops::detail::gemm_into(trans_a, trans_b, 1, M, N, K, a_cpu, b_cpu, 0.0, c_ref);
    gemm();
    // FP32: cuBLAS and OpenBLAS differ only in summation order (~1e-6 norm-wise); TF32 rounds
    // the operands to 10 mantissa bits (~1e-3 norm-wise for K in the thousands).
    ok = r.validate(name, c, c_ref, tf32 ? 5e-3 : 1e-4);
  }
  if (ok) {
    const Measurement m = r.time(gemm, r.gpu() ? 5 : 1, r.gpu() ? 30 : 5);
    r.report({name, shape, r.gpu() ? (tf32 ? "tf32" : "fp32") : "fp32", m, 2.0 * M * N * K});
  }
  ctx->set_tf32(previous_tf32);
}

void square(Runner& r, bool tf32) {
  if (tf32 && !r.gpu()) {
    std::printf("  skipped: TF32 is a GPU math mode (the CPU figure is gemm_fp32)\n");
    return;
  }
  const int64_t n = r.gpu() ? 4096 : 512;
  const std::string tag = std::to_string(n);
  run_gemm(r, std::string(tf32 ? "gemm_tf32/" : "gemm_fp32/") + tag, tf32, false, false, n, n, n,
           shapes({{"a", {n, n}}, {"b", {n, n}}}));
}

// linear x (rois, in) * w (out, in)^T; backward: grad_x = g (rois, out) * w, grad_w = g^T * x.
void box_head(Runner& r, const char* tag, int64_t rois, int64_t in, int64_t out) {
  const bool tf32 = r.gpu();
  const std::string suffix = std::string("/") + tag;
  const std::string shape = shapes({{"x", {rois, in}}, {"w", {out, in}}});
  run_gemm(r, "linear_fwd" + suffix, tf32, false, true, rois, out, in, shape);
  run_gemm(r, "linear_bwd_data" + suffix, tf32, false, false, rois, in, out, shape);
  run_gemm(r, "linear_bwd_weight" + suffix, tf32, true, false, out, in, rois, shape);
}

const Registrar gemm_tf32("gemm/square_tf32", [](Runner& r) { square(r, true); });
const Registrar gemm_fp32("gemm/square_fp32", [](Runner& r) { square(r, false); });
// GPU: 1024 RoIs (2 images x 512, Mask R-CNN's training batch); CPU: 64 RoIs.
const Registrar fc6("linear/maskrcnn_fc6", [](Runner& r) {
  box_head(r, "maskrcnn_fc6", r.gpu() ? 1024 : 64, 12544, 1024);
});
const Registrar fc7("linear/maskrcnn_fc7", [](Runner& r) {
  box_head(r, "maskrcnn_fc7", r.gpu() ? 1024 : 64, 1024, 1024);
});

}  // namespace
}  // namespace wsvis::bench
