// Flow warping: a 256-channel stride-4 feature map of an 800x1344 frame (200x336), forward,
// backward (input gradient atomic and deterministic, flow gradient) and the mask warp of 100
// instance masks at 200x336. Each GPU result is validated against the CPU twin, then timed;
// bytes are the compulsory traffic (each operand read once, each result written once), and
// GB/s is compared with the measured copy bandwidth (an SM copy kernel over 256 MiB).
// grid_sample over the same sizes: scripts/torch_bench/warp.py (same result names).
#include <cstdio>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "bench/harness.h"
#include "kernels/basic.h"
#include "kernels/warp.h"

namespace wsvis::bench {
namespace {

using kernels::WarpPadding;

// Bandwidth-bound entries: the harness reports GB/s against the measured copy bandwidth.
void report_bw(Runner& r, const std::string& name, const std::string& shape,
               const std::string& precision, const Measurement& m, double bytes) {
  r.report({name, shape, precision, m, 0.0, bytes});
}

struct WarpSizes {
  int64_t N, C, H, W;
  std::string tag() const {
    return std::to_string(N) + "x" + std::to_string(C) + "x" + std::to_string(H) + "x" +
           std::to_string(W);
  }
};

WarpSizes warp_sizes(Runner& r) { return r.gpu() ? WarpSizes{1, 256, 200, 336} : WarpSizes{1, 32, 100, 168}; }

void run_warp(Runner& r) {
  const WarpSizes s = warp_sizes(r);
  const int64_t plane = s.H * s.W;
  Generator gen(41);
  const ContextPtr& ctx = r.ctx();
  const Tensor x_cpu = Tensor::uniform({s.N, s.C, s.H, s.W}, -1, 1, gen, r.cpu_ctx());
  // Optical flow of a few pixels, the typical frame-to-frame motion at stride 4.
  const Tensor flow_cpu = Tensor::uniform({s.N, 2, s.H, s.W}, -6, 6, gen, r.cpu_ctx());
  const Tensor gy_cpu = Tensor::uniform({s.N, s.C, s.H, s.W}, -1, 1, gen, r.cpu_ctx());
  const Tensor x = x_cpu.to(ctx), flow = flow_cpu.to(ctx), gy = gy_cpu.to(ctx);
  Tensor out = Tensor::empty(x.shape(), DType::f32, ctx);
  Tensor gx = Tensor::empty(x.shape(), DType::f32, ctx);
  Tensor gflow = Tensor::empty(flow.shape(), DType::f32, ctx);
  const std::string shape = shapes({{"x", x.shape()}, {"flow", flow.shape()}});
  const double map_bytes = double(s.N * s.C * plane) * 4, flow_bytes = double(s.N * 2 * plane) * 4;
  const auto pad = WarpPadding::zeros;

  std::function<void()> fwd = [&] {
    kernels::cpu::warp_forward(x.data<float>(), flow.data<float>(), s.N, s.C, s.H, s.W, pad,
                               out.data<float>());
  };
  std::function<void()> bwd_in = [&] {
    kernels::cpu::warp_backward_input(gy.data<float>(), flow.data<float>(), s.N, s.C, s.H, s.W,
                                      pad, false, nullptr, 0, gx.data<float>());
  };
  std::function<void()> bwd_in_det = bwd_in;
  std::function<void()> bwd_flow = [&] {
    kernels::cpu::warp_backward_flow(gy.data<float>(), x.data<float>(), flow.data<float>(), s.N,
                                     s.C, s.H, s.W, pad, gflow.data<float>());
  };
  Tensor ws;
#if WSVIS_WITH_CUDA
  if (r.gpu()) {
    namespace kg = kernels::cuda;
    const cudaStream_t st = ctx->stream();
    const size_t ws_bytes = kg::warp_backward_input_workspace_bytes(s.N, s.H, s.W, true);
    ws = Tensor::empty({int64_t(ws_bytes) + 1}, DType::u8, ctx);
    fwd = [&, st] {
      kg::warp_forward(st, x.data<float>(), flow.data<float>(), s.N, s.C, s.H, s.W, pad,
                       out.data<float>());
    };
    bwd_in = [&, st] {
      kg::warp_backward_input(st, gy.data<float>(), flow.data<float>(), s.N, s.C, s.H, s.W, pad,
                              false, nullptr, 0, gx.data<float>());
    };
    bwd_in_det = [&, st, ws_bytes] {
      kg::warp_backward_input(st, gy.data<float>(), flow.data<float>(), s.N, s.C, s.H, s.W, pad,
                              true, ws.raw_data(), ws_bytes, gx.data<float>());
    };
    bwd_flow = [&, st] {
      kg::warp_backward_flow(st, gy.data<float>(), x.data<float>(), flow.data<float>(), s.N, s.C,
                             s.H, s.W, pad, gflow.data<float>());
    };
    // Validate every path against the CPU twin on the same inputs (fp32: a few ulp per tap;
    // the flow gradient sums 256 channels in another order, hence 1e-4 norm-wise).
    Tensor ref = Tensor::empty(x.shape(), DType::f32, r.cpu_ctx());
    Tensor gref = Tensor::empty(x.shape(), DType::f32, r.cpu_ctx());
    Tensor fref = Tensor::empty(flow.shape(), DType::f32, r.cpu_ctx());
    kernels::cpu::warp_forward(x_cpu.data<float>(), flow_cpu.data<float>(), s.N, s.C, s.H, s.W,
                               pad, ref.data<float>());
    kernels::cpu::warp_backward_input(gy_cpu.data<float>(), flow_cpu.data<float>(), s.N, s.C, s.H,
                                      s.W, pad, true, nullptr, 0, gref.data<float>());
    kernels::cpu::warp_backward_flow(gy_cpu.data<float>(), x_cpu.data<float>(),
                                     flow_cpu.data<float>(), s.N, s.C, s.H, s.W, pad,
                                     fref.data<float>());
    fwd();
    ctx->synchronize();
    bool ok = r.validate("warp_fwd", out, ref, 1e-5);
    bwd_in();
    ctx->synchronize();
    ok = r.validate("warp_bwd_input (atomic)", gx, gref, 1e-5) && ok;
    bwd_in_det();
    ctx->synchronize();
    ok = r.validate("warp_bwd_input (deterministic)", gx, gref, 1e-5) && ok;
    bwd_flow();
    ctx->synchronize();
    ok = r.validate("warp_bwd_flow", gflow, fref, 1e-4) && ok;
    if (!ok) return;
  }
#endif
  const int warm = r.gpu() ? 5 : 1, runs = r.gpu() ? 50 : 5;
  // Forward: x read, flow read, out written.
  report_bw(r, "warp_fwd/" + s.tag(), shape, "fp32", r.time(fwd, warm, runs),
            2 * map_bytes + flow_bytes);
  // Input gradient: grad_out and flow read, grad_x written (the zero fill is extra traffic).
  report_bw(r, "warp_bwd_input_atomic/" + s.tag(), shape, "fp32", r.time(bwd_in, warm, runs),
            2 * map_bytes + flow_bytes);
  report_bw(r, "warp_bwd_input_det/" + s.tag(), shape, "fp32", r.time(bwd_in_det, warm, runs),
            2 * map_bytes + flow_bytes);
  // Flow gradient: grad_out, x, flow read, grad_flow written.
  report_bw(r, "warp_bwd_flow/" + s.tag(), shape, "fp32", r.time(bwd_flow, warm, runs),
            2 * map_bytes + 2 * flow_bytes);
  // Both gradients, as grid_sample's backward computes them in one call.
  std::function<void()> both = [&] {
    bwd_in();
    bwd_flow();
  };
  report_bw(r, "warp_bwd/" + s.tag(), shape, "fp32", r.time(both, warm, runs),
            3 * map_bytes + 2 * flow_bytes);
}

template <typename V>
void run_masks(Runner& r, const char* type) {
  const int64_t K = r.gpu() ? 100 : 20, H = 200, W = 336;
  const std::string tag = std::to_string(K) + "x" + std::to_string(H) + "x" + std::to_string(W);
  const std::string name = std::string("warp_masks_") + type + "/" + tag;
  const ContextPtr& ctx = r.ctx();
  // Masks: one axis-aligned ellipse per instance, soft edges for float, binary for uint8.
  std::vector<V> host(size_t(K * H * W));
  for (int64_t k = 0; k < K; ++k) {
    const double cx = 20 + (k * 37) % 300, cy = 15 + (k * 53) % 170, rx = 8 + k % 40, ry = 6 + k % 30;
    for (int64_t y = 0; y < H; ++y)
      for (int64_t x = 0; x < W; ++x) {
        const double d = ((x - cx) * (x - cx)) / (rx * rx) + ((y - cy) * (y - cy)) / (ry * ry);
        const double v = d < 1 ? 1.0 : (d < 1.5 ? 3.0 - 2.0 * d : 0.0);
        host[size_t((k * H + y) * W + x)] = static_cast<V>(sizeof(V) == 1 ? (v >= 0.5) : v);
      }
  }
  Generator gen(43);
  const Tensor masks_cpu = Tensor::from_vector(host, {K, H, W}, r.cpu_ctx());
  const Tensor flow_cpu = Tensor::uniform({2, H, W}, -6, 6, gen, r.cpu_ctx());
  const Tensor masks = masks_cpu.to(ctx), flow = flow_cpu.to(ctx);
  Tensor out = Tensor::empty({K, H, W}, DType::u8, ctx);
  Tensor boxes = Tensor::empty({K, 4}, DType::i32, ctx);
  Tensor areas = Tensor::empty({K}, DType::i32, ctx);
  std::function<void()> fn = [&] {
    kernels::cpu::warp_masks(masks.data<V>(), flow.data<float>(), K, H, W, out.data<uint8_t>(),
                             boxes.data<int32_t>(), areas.data<int32_t>());
  };
#if WSVIS_WITH_CUDA
  if (r.gpu()) {
    fn = [&] {
      kernels::cuda::warp_masks(ctx->stream(), masks.data<V>(), flow.data<float>(), K, H, W,
                                out.data<uint8_t>(), boxes.data<int32_t>(), areas.data<int32_t>());
    };
    Tensor out_ref = Tensor::empty({K, H, W}, DType::u8, r.cpu_ctx());
    Tensor boxes_ref = Tensor::empty({K, 4}, DType::i32, r.cpu_ctx());
    Tensor areas_ref = Tensor::empty({K}, DType::i32, r.cpu_ctx());
    kernels::cpu::warp_masks(masks_cpu.data<V>(), flow_cpu.data<float>(), K, H, W,
                             out_ref.data<uint8_t>(), boxes_ref.data<int32_t>(),
                             areas_ref.data<int32_t>());
    fn();
    ctx->synchronize();
    // Thresholded outputs: a pixel whose warped value sits within rounding of 0.5 may flip
    // (the GPU fuses multiply-adds, the CPU does not). Allow a handful of flips; with none, the
    // boxes and areas must agree exactly.
    const std::vector<uint8_t> a = out.to_vector<uint8_t>(), e = out_ref.to_vector<uint8_t>();
    int64_t flips = 0;
    for (size_t i = 0; i < a.size(); ++i) flips += a[i] != e[i];
    std::printf("  %s: %lld of %zu mask pixels differ from the CPU twin\n", name.c_str(),
                static_cast<long long>(flips), a.size());
    bool ok = flips <= 8;
    if (!ok) ++r.entries_failed;
    if (ok && flips == 0)
      ok = r.validate(name + " boxes", boxes, boxes_ref, 0.0) &&
           r.validate(name + " areas", areas, areas_ref, 0.0);
    if (!ok) return;
  }
#endif
  const Measurement m = r.time(fn, r.gpu() ? 5 : 1, r.gpu() ? 50 : 5);
  // Masks read, flow read, uint8 masks written, boxes and areas written.
  const double bytes = double(K * H * W) * (sizeof(V) + 1) + 2.0 * H * W * 4 + K * 20.0;
  report_bw(r, name, shapes({{"masks", {K, H, W}}, {"flow", {2, H, W}}}),
            sizeof(V) == 1 ? "u8" : "fp32", m, bytes);
}

const Registrar warp_entry("warp/feature_map", [](Runner& r) { run_warp(r); });
const Registrar masks_u8("warp/masks_u8", [](Runner& r) { run_masks<uint8_t>(r, "u8"); });
const Registrar masks_f32("warp/masks_f32", [](Runner& r) { run_masks<float>(r, "f32"); });

}  // namespace
}  // namespace wsvis::bench
