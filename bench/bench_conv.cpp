// conv2d forward, backward data and backward filter at ResNet-50 layer shapes (cuDNN on the
// GPU with TF32, as PyTorch's default for convolutions; im2col + OpenBLAS on the CPU).
#include <string>

#include "bench/harness.h"
#include "engine/ops/conv.h"

namespace wsvis::bench {
namespace {

struct ConvShape {
  const char* tag;
  int64_t N, C, H, W, K;
  int kernel, stride, pad;
};

void run_conv(Runner& r, const ConvShape& gpu_shape, const ConvShape& cpu_shape) {
  const ConvShape& s = r.gpu() ? gpu_shape : cpu_shape;
  const ContextPtr& ctx = r.ctx();
  const ops::detail::ConvParams p{s.stride, s.pad, 1, 1};
  const int64_t P = (s.H + 2 * s.pad - s.kernel) / s.stride + 1;
  const int64_t Q = (s.W + 2 * s.pad - s.kernel) / s.stride + 1;
  const Shape x_shape{s.N, s.C, s.H, s.W}, w_shape{s.K, s.C, s.kernel, s.kernel};
  const Shape y_shape{s.N, s.K, P, Q};
  const std::string shape = shapes({{"x", x_shape}, {"w", w_shape}}) + " s" +
                            std::to_string(s.stride) + " p" + std::to_string(s.pad);
  // Every pass does N*K*P*Q*C*kh*kw multiply-adds.
  const double flops = 2.0 * s.N * s.K * P * Q * s.C * s.kernel * s.kernel;

  Generator gen(7);
  const Tensor x_cpu = Tensor::uniform(x_shape, -1, 1, gen, r.cpu_ctx());
  const Tensor w_cpu = Tensor::uniform(w_shape, -1, 1, gen, r.cpu_ctx());
  const Tensor gy_cpu = Tensor::uniform(y_shape, -1, 1, gen, r.cpu_ctx());
  const Tensor x = x_cpu.to(ctx), w = w_cpu.to(ctx), gy = gy_cpu.to(ctx);
  Tensor y = Tensor::empty(y_shape, DType::f32, ctx);
  Tensor gx = Tensor::empty(x_shape, DType::f32, ctx);
  Tensor gw = Tensor::empty(w_shape, DType::f32, ctx);

  auto forward = [&] { ops::detail::conv_forward_into(x, w, p, y); };
  auto backward_data = [&] { ops::detail::conv_backward_data_into(gy, w, p, gx); };
  auto backward_filter = [&] { ops::detail::conv_backward_filter_into(x, gy, p, gw); };

  if (r.gpu()) {
    // TF32 rounds operands to 10 mantissa bits: for K = C*kh*kw up to 4608 the norm-wise error
    // stays near 1e-3 of the output's largest value; 5e-3 leaves room without hiding a bug
    // (a wrong index gives errors of order 1).
    constexpr double kTf32Tol = 5e-3;
    Tensor y_ref = Tensor::empty(y_shape, DType::f32, r.cpu_ctx());
    Tensor gx_ref = Tensor::empty(x_shape, DType::f32, r.cpu_ctx());
    Tensor gw_ref = Tensor::empty(w_shape, DType::f32, r.cpu_ctx());
    ops::detail::conv_forward_into(x_cpu, w_cpu, p, y_ref);
    ops::detail::conv_backward_data_into(gy_cpu, w_cpu, p, gx_ref);
    ops::detail::conv_backward_filter_into(x_cpu, gy_cpu, p, gw_ref);
    forward();
    backward_data();
    backward_filter();
    if (!r.validate("forward", y, y_ref, kTf32Tol)) return;
    if (!r.validate("backward data", gx, gx_ref, kTf32Tol)) return;
    if (!r.validate("backward filter", gw, gw_ref, kTf32Tol)) return;
  }
  const char* precision = r.gpu() ? "tf32" : "fp32";
  const int warmup = r.gpu() ? 5 : 1, runs = r.gpu() ? 30 : 5;
  const std::string tag = s.tag;
  r.report({"conv2d_fwd/" + tag, shape, precision, r.time(forward, warmup, runs), flops});
  r.report({"conv2d_bwd_data/" + tag, shape, precision, r.time(backward_data, warmup, runs), flops});
  r.report({"conv2d_bwd_filter/" + tag, shape, precision, r.time(backward_filter, warmup, runs),
            flops});
}

// GPU: batch 8 at the real layer sizes. CPU: batch 1 at half the spatial size, so the whole
// set finishes in seconds on a laptop.
const Registrar res2_3x3("conv2d/res2_3x3_64", [](Runner& r) {
  run_conv(r, {"res2_3x3_64", 8, 64, 56, 56, 64, 3, 1, 1}, {"res2_3x3_64", 1, 64, 28, 28, 64, 3, 1, 1});
});
const Registrar res2_1x1("conv2d/res2_1x1_256to64", [](Runner& r) {
  run_conv(r, {"res2_1x1_256to64", 8, 256, 56, 56, 64, 1, 1, 0},
           {"res2_1x1_256to64", 1, 256, 28, 28, 64, 1, 1, 0});
});
const Registrar res3_3x3_s2("conv2d/res3_3x3_128_s2", [](Runner& r) {
  run_conv(r, {"res3_3x3_128_s2", 8, 128, 56, 56, 128, 3, 2, 1},
           {"res3_3x3_128_s2", 1, 128, 28, 28, 128, 3, 2, 1});
});
const Registrar conv_512_3x3("conv2d/c512_3x3_14", [](Runner& r) {
  run_conv(r, {"c512_3x3_14", 8, 512, 14, 14, 512, 3, 1, 1}, {"c512_3x3_14", 1, 512, 7, 7, 512, 3, 1, 1});
});

}  // namespace
}  // namespace wsvis::bench
