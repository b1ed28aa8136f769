// flowIRN kernels: the exact percentile of a 1280x720 flow-magnitude map (YTVIS frame), the
// f-CAM amplification, and the flow-boundary loss forward and backward over IRN's radius-10
// pair set (152 directions) on stride-4 grids of a VOC frame (94x125) and a YTVIS frame
// (180x320). Each GPU result is validated against the CPU twin (the percentile and f-CAM
// exactly), then timed. Bytes are the compulsory traffic (every operand read once, every result
// written once); the radix select reads the map once per 8-bit digit (4 passes), so its
// fraction of the copy bandwidth is at most 1/4 by construction.
// torch twin: scripts/torch_bench/flowirn.py (torch.kthvalue, torch.where, a gather loss).
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "bench/harness.h"
#include "kernels/flowirn.h"
#include "kernels/irn.h"
#include "kernels/irn_displacement.h"

namespace wsvis::bench {
namespace {

namespace fm = kernels::flowirn_math;
using kernels::irn_pair_set;
using kernels::IrnPairSet;

void report_bw(Runner& r, const std::string& name, const std::string& shape,
               const std::string& precision, const Measurement& m, double bytes) {
  r.report({name, shape, precision, m, 0.0, bytes});
}

// A smooth flow field with a moving "object": magnitudes spread over a realistic range and many
// near-ties in the background.
Tensor synthetic_flow(Runner& r, int64_t H, int64_t W, uint64_t seed) {
  Generator gen(seed);
  Tensor noise = Tensor::uniform({2, H, W}, -0.5, 0.5, gen, r.cpu_ctx());
  std::vector<float> f = noise.to_vector<float>();
  const int64_t P = H * W;
  for (int64_t p = 0; p < P; ++p) {
    const double y = double(p / W) / double(H), x = double(p % W) / double(W);
    const bool object = (x - 0.4) * (x - 0.4) + (y - 0.5) * (y - 0.5) < 0.04;
    f[size_t(p)] += float(object ? 12.0 : 1.5 * x);
    f[size_t(P + p)] += float(object ? -5.0 : 0.5 * y);
  }
  return Tensor::from_vector(f, {2, H, W}, r.cpu_ctx());
}

void run_percentile(Runner& r) {
  const int64_t H = 720, W = 1280, n = H * W;
  const int64_t k = fm::percentile_rank(n, 0.8);
  const ContextPtr& ctx = r.ctx();
  const Tensor flow_cpu = synthetic_flow(r, H, W, 51);
  Tensor mag_cpu = Tensor::empty({H, W}, DType::f32, r.cpu_ctx());
  kernels::cpu::flow_magnitude(flow_cpu.data<float>(), 1, H, W, mag_cpu.data<float>());
  const Tensor flow = flow_cpu.to(ctx), mag = mag_cpu.to(ctx);
  Tensor mag_out = Tensor::empty({H, W}, DType::f32, ctx);
  Tensor out = Tensor::empty({1}, DType::f32, ctx);
  const std::string shape = shapes({{"magnitude", {H, W}}});
  Tensor ws = Tensor::empty({int64_t(kernels::cpu::select_kth_workspace_bytes(n, 4)) + 1},
                            DType::u8, r.cpu_ctx());
  std::function<void()> select = [&] {
    kernels::cpu::select_kth(mag.data<float>(), n, k, out.data<float>(), ws.raw_data());
  };
  std::function<void()> mag_select = [&] {
    kernels::cpu::flow_magnitude(flow.data<float>(), 1, H, W, mag_out.data<float>());
    kernels::cpu::select_kth(mag_out.data<float>(), n, k, out.data<float>(), ws.raw_data());
  };
#if WSVIS_WITH_CUDA
  if (r.gpu()) {
    namespace kg = kernels::cuda;
    const cudaStream_t st = ctx->stream();
    ws = Tensor::empty({int64_t(kg::select_kth_workspace_bytes(n, 4)) + 1}, DType::u8, ctx);
    select = [&, st] {
      kg::select_kth(st, mag.data<float>(), n, k, out.data<float>(), ws.raw_data());
    };
    mag_select = [&, st] {
      kg::flow_magnitude(st, flow.data<float>(), 1, H, W, mag_out.data<float>());
      kg::select_kth(st, mag_out.data<float>(), n, k, out.data<float>(), ws.raw_data());
    };
    Tensor ref = Tensor::empty({1}, DType::f32, r.cpu_ctx());
    Tensor cpu_ws = Tensor::empty({int64_t(kernels::cpu::select_kth_workspace_bytes(n, 4))},
                                  DType::u8, r.cpu_ctx());
    kernels::cpu::select_kth(mag_cpu.data<float>(), n, k, ref.data<float>(), cpu_ws.raw_data());
    // Exact: the k-th order statistic is one value (tolerance 0), and the magnitudes too.
    select();
    ctx->synchronize();
    bool ok = r.validate("percentile_select", out, ref, 0.0);
    mag_select();
    ctx->synchronize();
    ok = r.validate("flow_magnitude", mag_out, mag_cpu, 0.0) && ok;
    ok = r.validate("flow_magnitude + percentile_select", out, ref, 0.0) && ok;
    if (!ok) return;
  }
#endif
  const int warm = r.gpu() ? 5 : 1, runs = r.gpu() ? 50 : 5;
  const double map_bytes = double(n) * 4;
  report_bw(r, "percentile_select/720x1280_q0.8", shape, "fp32", r.time(select, warm, runs),
            map_bytes + 4);
  // Flow read, magnitude written and read back by the select.
  report_bw(r, "flow_magnitude_percentile/720x1280_q0.8", shapes({{"flow", {2, H, W}}}), "fp32",
            r.time(mag_select, warm, runs), 2 * map_bytes + 2 * map_bytes + 4);
}

void run_fcam(Runner& r, int64_t C, int64_t H, int64_t W) {
  const std::string tag = std::to_string(C) + "x" + std::to_string(H) + "x" + std::to_string(W);
  const int64_t P = H * W;
  const ContextPtr& ctx = r.ctx();
  Generator gen(52);
  const Tensor flow_cpu = synthetic_flow(r, H, W, 53);
  Tensor mag_cpu = Tensor::empty({H, W}, DType::f32, r.cpu_ctx());
  kernels::cpu::flow_magnitude(flow_cpu.data<float>(), 1, H, W, mag_cpu.data<float>());
  Tensor thr_cpu = Tensor::empty({1}, DType::f32, r.cpu_ctx());
  {
    Tensor ws = Tensor::empty({int64_t(kernels::cpu::select_kth_workspace_bytes(P, 4))}, DType::u8,
                              r.cpu_ctx());
    kernels::cpu::select_kth(mag_cpu.data<float>(), P, fm::percentile_rank(P, 0.8),
                             thr_cpu.data<float>(), ws.raw_data());
  }
  const Tensor cams_cpu = Tensor::uniform({C, H, W}, 0, 1, gen, r.cpu_ctx());
  const Tensor cams = cams_cpu.to(ctx), mag = mag_cpu.to(ctx), thr = thr_cpu.to(ctx);
  Tensor out = Tensor::empty({C, H, W}, DType::f32, ctx);
  std::function<void()> fn = [&] {
    kernels::cpu::fcam_amplify(cams.data<float>(), mag.data<float>(), 1, C, H, W, thr.data<float>(),
                               2.0f, out.data<float>());
  };
#if WSVIS_WITH_CUDA
  if (r.gpu()) {
    const cudaStream_t st = ctx->stream();
    fn = [&, st] {
      kernels::cuda::fcam_amplify(st, cams.data<float>(), mag.data<float>(), 1, C, H, W,
                                  thr.data<float>(), 2.0f, out.data<float>());
    };
    Tensor ref = Tensor::empty({C, H, W}, DType::f32, r.cpu_ctx());
    kernels::cpu::fcam_amplify(cams_cpu.data<float>(), mag_cpu.data<float>(), 1, C, H, W,
                               thr_cpu.data<float>(), 2.0f, ref.data<float>());
    fn();
    ctx->synchronize();
    if (!r.validate("fcam " + tag, out, ref, 0.0)) return;  // one multiply: exact
  }
#endif
  const double bytes = double(C * P) * 8 + double(P) * 4 + 4;  // cams + out, magnitude, T
  report_bw(r, "fcam/" + tag, shapes({{"cams", {C, H, W}}, {"magnitude", {H, W}}}), "fp32",
            r.time(fn, r.gpu() ? 5 : 1, r.gpu() ? 50 : 5), bytes);
}

void run_flow_boundary(Runner& r, int64_t H, int64_t W) {
  const int64_t N = 1, P = H * W;
  const IrnPairSet set = irn_pair_set(kernels::kIrnTrainRadius);
  const int64_t D = set.num_directions;
  const int64_t pairs = N * kernels::flow_boundary_pair_count(H, W, set, true);
  const std::string tag = std::to_string(H) + "x" + std::to_string(W);
  const ContextPtr& ctx = r.ctx();
  Generator gen(54);
  // Flow in image pixels at stride 4: F' takes forward differences and divides by 4.
  const Tensor flow_cpu = synthetic_flow(r, H, W, 55);
  Tensor fg_cpu = Tensor::empty({N, 4, H, W}, DType::f32, r.cpu_ctx());
  kernels::cpu::flow_gradient(flow_cpu.data<float>(), N, H, W, 0.25f, fg_cpu.data<float>());
  const Tensor alpha_cpu = Tensor::uniform({N, D, H, W}, 0, 1, gen, r.cpu_ctx());
  const Tensor gl_cpu = Tensor::full({1}, 1.0, DType::f32, r.cpu_ctx());
  const Tensor flow = flow_cpu.to(ctx), fg = fg_cpu.to(ctx), alpha = alpha_cpu.to(ctx),
               gl = gl_cpu.to(ctx);
  Tensor fg_out = Tensor::empty({N, 4, H, W}, DType::f32, ctx);
  Tensor loss = Tensor::empty({1}, DType::f32, ctx);
  Tensor galpha = Tensor::empty({N, D, H, W}, DType::f32, ctx);
  Tensor ws =
      Tensor::empty({int64_t(kernels::cpu::flow_boundary_loss_workspace_bytes(N, H, W, set)) + 1},
                    DType::u8, r.cpu_ctx());
  const float lambda = float(kernels::kFlowBoundaryLambda);
  std::function<void()> grad = [&] {
    kernels::cpu::flow_gradient(flow.data<float>(), N, H, W, 0.25f, fg_out.data<float>());
  };
  std::function<void()> fwd = [&] {
    kernels::cpu::flow_boundary_loss_forward(fg.data<float>(), alpha.data<float>(), N, H, W, set,
                                             true, lambda, loss.data<float>(), ws.raw_data());
  };
  std::function<void()> bwd = [&] {
    kernels::cpu::flow_boundary_loss_backward(fg.data<float>(), alpha.data<float>(), N, H, W, set,
                                              true, lambda, gl.data<float>(), galpha.data<float>());
  };
#if WSVIS_WITH_CUDA
  if (r.gpu()) {
    namespace kg = kernels::cuda;
    const cudaStream_t st = ctx->stream();
    ws = Tensor::empty({int64_t(kg::flow_boundary_loss_workspace_bytes(N, H, W, set)) + 1},
                       DType::u8, ctx);
    grad = [&, st] {
      kg::flow_gradient(st, flow.data<float>(), N, H, W, 0.25f, fg_out.data<float>());
    };
    fwd = [&, st] {
      kg::flow_boundary_loss_forward(st, fg.data<float>(), alpha.data<float>(), N, H, W, set, true,
                                     lambda, loss.data<float>(), ws.raw_data());
    };
    bwd = [&, st] {
      kg::flow_boundary_loss_backward(st, fg.data<float>(), alpha.data<float>(), N, H, W, set, true,
                                      lambda, gl.data<float>(), galpha.data<float>());
    };
    Tensor loss_ref = Tensor::empty({1}, DType::f32, r.cpu_ctx());
    Tensor galpha_ref = Tensor::empty({N, D, H, W}, DType::f32, r.cpu_ctx());
    Tensor cpu_ws =
        Tensor::empty({int64_t(kernels::cpu::flow_boundary_loss_workspace_bytes(N, H, W, set)) + 1},
                      DType::u8, r.cpu_ctx());
    kernels::cpu::flow_boundary_loss_forward(fg_cpu.data<float>(), alpha_cpu.data<float>(), N, H, W,
                                             set, true, lambda, loss_ref.data<float>(),
                                             cpu_ws.raw_data());
    kernels::cpu::flow_boundary_loss_backward(fg_cpu.data<float>(), alpha_cpu.data<float>(), N, H,
                                              W, set, true, lambda, gl_cpu.data<float>(),
                                              galpha_ref.data<float>());
    grad();
    fwd();
    bwd();
    ctx->synchronize();
    // Gradient: one rounding per value, exact. Loss: both sum in double, the per-pair float
    // norms may differ by an FMA contraction (an ulp): 1e-5. Gradient of alpha: likewise.
    bool ok = r.validate("flow_gradient " + tag, fg_out, fg_cpu, 0.0);
    ok = r.validate("flow_boundary_fwd " + tag, loss, loss_ref, 1e-5) && ok;
    ok = r.validate("flow_boundary_bwd " + tag, galpha, galpha_ref, 1e-5) && ok;
    if (!ok) return;
  }
#endif
  const int warm = r.gpu() ? 5 : 1, runs = r.gpu() ? 50 : 5;
  // alpha: the pair entries must be read (IRN's crop: 77% of (N, D, H, W) at 94x125); the
  // backward writes all of grad_alpha (zeros off the pairs). F' read once (the pair gathers of
  // F' hit in cache).
  const double pair_bytes = double(pairs) * 4, alpha_bytes = double(N * D * P) * 4,
               fg_bytes = double(N * P) * 16;
  const std::string shape = shapes({{"flow_grad", {N, 4, H, W}}, {"alpha", {N, D, H, W}}});
  report_bw(r, "flow_gradient/" + tag, shapes({{"flow", {N, 2, H, W}}}), "fp32",
            r.time(grad, warm, runs), double(N * P) * 8 + fg_bytes);
  report_bw(r, "flow_boundary_fwd/" + tag, shape, "fp32", r.time(fwd, warm, runs),
            pair_bytes + fg_bytes + 4);
  report_bw(r, "flow_boundary_bwd/" + tag, shape, "fp32", r.time(bwd, warm, runs),
            pair_bytes + alpha_bytes + fg_bytes + 4);
  std::function<void()> both = [&] {
    fwd();
    bwd();
  };
  report_bw(r, "flow_boundary_fwd_bwd/" + tag, shape, "fp32", r.time(both, warm, runs),
            2 * pair_bytes + alpha_bytes + 2 * fg_bytes + 8);
}

// IRN's displacement-field grouping (kernels/irn_displacement.h) on the stride-4 grid of a YTVIS
// frame: 300 centroid steps per pixel, then the weak-region components and the renumbering.
// Latency-bound (300 dependent steps per thread); bytes are the compulsory traffic only.
void run_centroids(Runner& r, int64_t H, int64_t W) {
  const int64_t P = H * W;
  const std::string tag = std::to_string(H) + "x" + std::to_string(W);
  const ContextPtr& ctx = r.ctx();
  // Two attracting blobs plus noise, as a trained IRN's field looks.
  Generator gen(56);
  std::vector<float> d = Tensor::uniform({2, H, W}, -0.5, 0.5, gen, r.cpu_ctx()).to_vector<float>();
  for (int64_t p = 0; p < P; ++p) {
    const double y = double(p / W), x = double(p % W);
    const double cy = x < double(W) / 2 ? 0.4 * double(H) : 0.6 * double(H);
    const double cx = x < double(W) / 2 ? 0.25 * double(W) : 0.75 * double(W);
    d[size_t(p)] += float(0.3 * (cy - y));
    d[size_t(P + p)] += float(0.3 * (cx - x));
  }
  const Tensor disp_cpu = Tensor::from_vector(d, {2, H, W}, r.cpu_ctx());
  const Tensor disp = disp_cpu.to(ctx);
  Tensor cent = Tensor::empty({2, H, W}, DType::i32, ctx);
  Tensor map = Tensor::empty({H, W}, DType::i32, ctx);
  Tensor count = Tensor::empty({1}, DType::i32, ctx);
  Tensor ws = Tensor::empty({int64_t(kernels::cpu::cluster_centroids_workspace_bytes(H, W)) + 1},
                            DType::u8, r.cpu_ctx());
  const int iters = kernels::kIrnCentroidIterations;
  const double thr = kernels::kIrnWeakDisplacementThreshold;
  std::function<void()> centroids = [&] {
    kernels::cpu::find_centroids(disp.data<float>(), H, W, iters, cent.data<int32_t>());
  };
  std::function<void()> cluster = [&] {
    kernels::cpu::cluster_centroids(disp.data<float>(), cent.data<int32_t>(), H, W, thr,
                                    map.data<int32_t>(), count.data<int32_t>(), ws.raw_data());
  };
#if WSVIS_WITH_CUDA
  if (r.gpu()) {
    namespace kg = kernels::cuda;
    const cudaStream_t st = ctx->stream();
    ws = Tensor::empty({int64_t(kg::cluster_centroids_workspace_bytes(H, W)) + 1}, DType::u8, ctx);
    centroids = [&, st] {
      kg::find_centroids(st, disp.data<float>(), H, W, iters, cent.data<int32_t>());
    };
    cluster = [&, st] {
      kg::cluster_centroids(st, disp.data<float>(), cent.data<int32_t>(), H, W, thr,
                            map.data<int32_t>(), count.data<int32_t>(), ws.raw_data());
    };
    Tensor cent_ref = Tensor::empty({2, H, W}, DType::i32, r.cpu_ctx());
    Tensor map_ref = Tensor::empty({H, W}, DType::i32, r.cpu_ctx());
    Tensor count_ref = Tensor::empty({1}, DType::i32, r.cpu_ctx());
    Tensor cpu_ws = Tensor::empty({int64_t(kernels::cpu::cluster_centroids_workspace_bytes(H, W))},
                                  DType::u8, r.cpu_ctx());
    kernels::cpu::find_centroids(disp_cpu.data<float>(), H, W, iters, cent_ref.data<int32_t>());
    kernels::cpu::cluster_centroids(disp_cpu.data<float>(), cent_ref.data<int32_t>(), H, W, thr,
                                    map_ref.data<int32_t>(), count_ref.data<int32_t>(),
                                    cpu_ws.raw_data());
    centroids();
    cluster();
    ctx->synchronize();
    // Exact: the twins perform the same IEEE operations (no FMA contraction) in the same order.
    bool ok = r.validate("irn_centroids " + tag, cent, cent_ref, 0.0);
    ok = r.validate("irn_cluster " + tag, map, map_ref, 0.0) && ok;
    ok = r.validate("irn_cluster count " + tag, count, count_ref, 0.0) && ok;
    if (!ok) return;
  }
#endif
  const int warm = r.gpu() ? 3 : 1, runs = r.gpu() ? 20 : 3;
  report_bw(r, "irn_centroids/" + tag + "_300steps", shapes({{"disp", {2, H, W}}}), "fp32",
            r.time(centroids, warm, runs), double(P) * 16);
  report_bw(r, "irn_cluster/" + tag, shapes({{"disp", {2, H, W}}}), "fp32",
            r.time(cluster, warm, runs), double(P) * 20);
}

const Registrar percentile_entry("flowirn/percentile_720x1280",
                                 [](Runner& r) { run_percentile(r); });
const Registrar fcam_small("flowirn/fcam_40x180x320", [](Runner& r) { run_fcam(r, 40, 180, 320); });
const Registrar fcam_full("flowirn/fcam_3x720x1280", [](Runner& r) { run_fcam(r, 3, 720, 1280); });
const Registrar fb_voc("flowirn/flow_boundary_94x125",
                       [](Runner& r) { run_flow_boundary(r, 94, 125); });
// CPU mode: a VOC-sized grid (the 300 steps cost about a second per run at 180x320 there).
const Registrar centroids_ytvis("flowirn/irn_centroids_180x320", [](Runner& r) {
  if (r.gpu())
    run_centroids(r, 180, 320);
  else
    run_centroids(r, 94, 125);
});
const Registrar fb_ytvis("flowirn/flow_boundary_180x320",
                         [](Runner& r) { run_flow_boundary(r, 180, 320); });

}  // namespace
}  // namespace wsvis::bench
