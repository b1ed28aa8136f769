// IRN kernels (kernels/irn.h):
//  - the random walk of make_sem_seg_labels / make_ins_seg_labels, 21 channels, radius 5 (69-point
//    stencil), beta 10, 256 steps, on the stride-4 grid of a VOC frame (500x375 -> 125x94) and of
//    a 720p frame (1280x720 -> 320x180). FLOPs: 2 * 69 * C * H * W per step (the multiply-adds
//    of the gather; the weight pass is not counted). Bytes (printed beside): the compulsory
//    DRAM traffic, boundary + seeds read, output written, the 69 weight planes written once and
//    read once (the per-step re-reads of the state and weights are L2 hits: the state is 1 MB /
//    4.8 MB and the weights 3.2 MB / 16 MB, inside the 50 MB L2).
//  - the path affinity forward and backward and the IRN loss forward + backward at IRN's
//    training shape (128x128 stride-4 grid of a 512 crop, radius 10, 152 directions), 8 images.
// Each GPU result is validated against the CPU twin, then timed. Torch twins (IRN's dense
// transition-matrix power and its gather-based affinity): scripts/torch_bench/irn.py.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "bench/harness.h"
#include "kernels/irn.h"

namespace wsvis::bench {
namespace {

using kernels::IrnPairSet;

// A boundary map with a few closed rings (objects) and noise, in [0, 1].
Tensor ring_boundary(int64_t H, int64_t W, Generator& gen, const ContextPtr& cpu) {
  Tensor b = Tensor::uniform({1, 1, H, W}, 0, 0.1, gen, cpu);
  float* p = b.data<float>();
  for (int k = 0; k < 6; ++k) {
    const double cy = H * (0.2 + 0.12 * k), cx = W * (0.15 + 0.13 * k),
                 r = 0.12 * double(std::min(H, W));
    for (int64_t y = 0; y < H; ++y)
      for (int64_t x = 0; x < W; ++x)
        if (std::fabs(std::hypot(y - cy, x - cx) - r) < 1.0) p[y * W + x] = 0.9f;
  }
  return b;
}

void run_walk(Runner& r, int64_t H, int64_t W, int steps_gpu, int steps_cpu) {
  const int64_t C = 21, P = H * W;
  const int steps = r.gpu() ? steps_gpu : steps_cpu;
  const IrnPairSet set = kernels::irn_pair_set(kernels::kIrnInferRadius);
  const int K = 2 * set.num_directions + 1;
  const std::string tag = std::to_string(C) + "x" + std::to_string(H) + "x" + std::to_string(W) +
                          "_s" + std::to_string(steps);
  Generator gen(7);
  const ContextPtr& ctx = r.ctx();
  const Tensor b_cpu = ring_boundary(H, W, gen, r.cpu_ctx());
  // Seeds: CAM-like, non-negative, most mass near a few peaks.
  Tensor s_cpu = Tensor::uniform({C, H, W}, 0, 1, gen, r.cpu_ctx());
  {
    float* p = s_cpu.data<float>();
    for (int64_t i = 0; i < C * P; ++i) p[i] = p[i] * p[i] * p[i] * p[i];
  }
  const Tensor b = b_cpu.to(ctx), seeds = s_cpu.to(ctx);
  Tensor out = Tensor::empty({C, H, W}, DType::f32, ctx);
  size_t ws_bytes = kernels::cpu::irn_random_walk_workspace_bytes<float>(C, H, W, set);
  std::function<void()> fn;
  Tensor ws;
#if WSVIS_WITH_CUDA
  if (r.gpu()) {
    namespace kg = kernels::cuda;
    ws_bytes = kg::irn_random_walk_workspace_bytes<float>(C, H, W, set);
    ws = Tensor::empty({int64_t(ws_bytes)}, DType::u8, ctx);
    const cudaStream_t st = ctx->stream();
    fn = [&, st] {
      kg::irn_random_walk(st, b.data<float>(), seeds.data<float>(), C, H, W, set, 10.0f, steps,
                          true, out.data<float>(), ws.raw_data(), ws_bytes);
    };
    Tensor ref = Tensor::empty({C, H, W}, DType::f32, r.cpu_ctx());
    std::vector<unsigned char> hws(ws_bytes);
    kernels::cpu::irn_random_walk(b_cpu.data<float>(), s_cpu.data<float>(), C, H, W, set, 10.0f,
                                  steps, true, ref.data<float>(), hws.data(), hws.size());
    fn();
    ctx->synchronize();
    // fp32: each step a convex combination of 69 terms, FMA vs separate multiply-add on the
    // CPU: a few ulp per step that do not grow; 1e-4 of the max is ample.
    if (!r.validate("irn_random_walk/" + tag, out, ref, 1e-4)) {
      ++r.entries_failed;
      return;
    }
  }
#endif
  if (!fn) {
    ws = Tensor::empty({int64_t(ws_bytes)}, DType::u8, ctx);
    fn = [&] {
      kernels::cpu::irn_random_walk(b.data<float>(), seeds.data<float>(), C, H, W, set, 10.0f,
                                    steps, true, out.data<float>(), ws.raw_data(), ws_bytes);
    };
  }
  const Measurement m = r.time(fn, r.gpu() ? 3 : 1, r.gpu() ? 30 : 3);
  const double flops = 2.0 * K * C * P * steps;
  const double bytes = 4.0 * (P + 2 * C * P + 2 * K * P);
  r.report({"irn_random_walk/" + tag, shapes({{"seeds", {C, H, W}}, {"boundary", {1, 1, H, W}}}),
            "fp32", m, flops, bytes});
  // Memory: seeds, boundary, output and the workspace (weights + one ping-pong copy), against
  // the one N x N fp32 matrix the dense method holds (it needs two or more at once).
  const double mem_mb = (4.0 * (P + 2 * C * P) + double(ws_bytes)) / 1e6;
  std::printf(
      "%-34s counted DRAM bytes %.2f MB (%.1f GB/s); %d steps, %.2f us/step; memory "
      "%.2f MB vs one dense T %.0f MB\n",
      "", bytes / 1e6, bytes / (m.median_ms * 1e-3) / 1e9, steps, 1e3 * m.median_ms / steps, mem_mb,
      4.0 * double(P) * double(P) / 1e6);
}

void run_affinity(Runner& r) {
  const int64_t N = r.gpu() ? 8 : 1, H = r.gpu() ? 128 : 64, W = H;
  const IrnPairSet set = kernels::irn_pair_set(kernels::kIrnTrainRadius);
  const int64_t D = set.num_directions, P = H * W;
  const std::string tag =
      std::to_string(N) + "x" + std::to_string(H) + "x" + std::to_string(W) + "_r10";
  Generator gen(9);
  const ContextPtr& ctx = r.ctx();
  const Tensor b_cpu = Tensor::uniform({N, 1, H, W}, 0, 1, gen, r.cpu_ctx());
  const Tensor g_cpu = Tensor::uniform({N, D, H, W}, -1, 1, gen, r.cpu_ctx());
  const Tensor d_cpu = Tensor::uniform({N, 2, H, W}, -5, 5, gen, r.cpu_ctx());
  Tensor l_cpu = Tensor::empty({N, H, W}, DType::u8, r.cpu_ctx());
  {
    // IR-label-like blobs: bg, two classes in quadrant blocks, an ignore band.
    uint8_t* p = l_cpu.data<uint8_t>();
    for (int64_t n = 0; n < N; ++n)
      for (int64_t y = 0; y < H; ++y)
        for (int64_t x = 0; x < W; ++x)
          p[(n * H + y) * W + x] =
              (x % 40 < 3) ? 255 : static_cast<uint8_t>(((y / 32) + (x / 40)) % 3);
  }
  const Tensor b = b_cpu.to(ctx), ga = g_cpu.to(ctx), disp = d_cpu.to(ctx), lab = l_cpu.to(ctx);
  Tensor aff = Tensor::empty({N, D, H, W}, DType::f32, ctx);
  Tensor gb = Tensor::empty({N, 1, H, W}, DType::f32, ctx);
  Tensor stats = Tensor::zeros({kernels::kIrnLossStats}, DType::f32, ctx);
  Tensor gstats = Tensor::from_vector(std::vector<float>{0, 0, 0, 0, 0, 1}, {6}, ctx);
  Tensor gaff = Tensor::empty({N, D, H, W}, DType::f32, ctx);
  Tensor gdisp = Tensor::empty({N, 2, H, W}, DType::f32, ctx);
  namespace kc = kernels::cpu;
  std::function<void()> fwd = [&] {
    kc::irn_affinity_forward(b.data<float>(), N, H, W, set, aff.data<float>());
  };
  std::function<void()> bwd = [&] {
    kc::irn_affinity_backward(ga.data<float>(), b.data<float>(), N, H, W, set, gb.data<float>());
  };
  std::function<void()> loss = [&] {
    kc::irn_loss_forward(aff.data<float>(), disp.data<float>(), lab.data<uint8_t>(), N, H, W, set,
                         true, stats.data<float>(), nullptr, 0);
    kc::irn_loss_backward(gstats.data<float>(), stats.data<float>(), aff.data<float>(),
                          disp.data<float>(), lab.data<uint8_t>(), N, H, W, set, true,
                          gaff.data<float>(), gdisp.data<float>());
  };
  Tensor ws;
#if WSVIS_WITH_CUDA
  if (r.gpu()) {
    namespace kg = kernels::cuda;
    const cudaStream_t st = ctx->stream();
    const size_t wsb = kg::irn_loss_workspace_bytes(N, H, W);
    ws = Tensor::empty({int64_t(wsb)}, DType::u8, ctx);
    fwd = [&, st] {
      kg::irn_affinity_forward(st, b.data<float>(), N, H, W, set, aff.data<float>());
    };
    bwd = [&, st] {
      kg::irn_affinity_backward(st, ga.data<float>(), b.data<float>(), N, H, W, set,
                                gb.data<float>());
    };
    loss = [&, st, wsb] {
      kg::irn_loss_forward(st, aff.data<float>(), disp.data<float>(), lab.data<uint8_t>(), N, H, W,
                           set, true, stats.data<float>(), ws.raw_data(), wsb);
      kg::irn_loss_backward(st, gstats.data<float>(), stats.data<float>(), aff.data<float>(),
                            disp.data<float>(), lab.data<uint8_t>(), N, H, W, set, true,
                            gaff.data<float>(), gdisp.data<float>());
    };
    Tensor aff_ref = Tensor::empty({N, D, H, W}, DType::f32, r.cpu_ctx());
    Tensor gb_ref = Tensor::empty({N, 1, H, W}, DType::f32, r.cpu_ctx());
    Tensor st_ref = Tensor::empty({kernels::kIrnLossStats}, DType::f32, r.cpu_ctx());
    Tensor gaff_ref = Tensor::empty({N, D, H, W}, DType::f32, r.cpu_ctx());
    Tensor gdisp_ref = Tensor::empty({N, 2, H, W}, DType::f32, r.cpu_ctx());
    const std::vector<float> gs_host = {0, 0, 0, 0, 0, 1};
    kc::irn_affinity_forward(b_cpu.data<float>(), N, H, W, set, aff_ref.data<float>());
    kc::irn_affinity_backward(g_cpu.data<float>(), b_cpu.data<float>(), N, H, W, set,
                              gb_ref.data<float>());
    kc::irn_loss_forward(aff_ref.data<float>(), d_cpu.data<float>(), l_cpu.data<uint8_t>(), N, H, W,
                         set, true, st_ref.data<float>(), nullptr, 0);
    kc::irn_loss_backward(gs_host.data(), st_ref.data<float>(), aff_ref.data<float>(),
                          d_cpu.data<float>(), l_cpu.data<uint8_t>(), N, H, W, set, true,
                          gaff_ref.data<float>(), gdisp_ref.data<float>());
    fwd();
    bwd();
    loss();
    ctx->synchronize();
    // Forward exact; backward atomics reorder float sums (1e-5); loss sums in double (1e-5).
    bool ok = r.validate("irn_affinity_fwd", aff, aff_ref, 0.0);
    ok = r.validate("irn_affinity_bwd", gb, gb_ref, 1e-5) && ok;
    ok = r.validate("irn_loss stats", stats, st_ref, 1e-5) && ok;
    ok = r.validate("irn_loss grad affinity", gaff, gaff_ref, 1e-5) && ok;
    ok = r.validate("irn_loss grad displacement", gdisp, gdisp_ref, 1e-5) && ok;
    if (!ok) {
      ++r.entries_failed;
      return;
    }
  }
#endif
  const int warm = r.gpu() ? 3 : 1, runs = r.gpu() ? 30 : 3;
  const std::string shape = shapes({{"boundary", {N, 1, H, W}}, {"affinity", {N, D, H, W}}});
  const double plane_bytes = 4.0 * N * P, aff_bytes = 4.0 * N * D * P;
  // Forward: boundary read once (the path re-reads hit L1/L2), affinity written.
  r.report({"irn_affinity_fwd/" + tag, shape, "fp32", r.time(fwd, warm, runs), 0.0,
            plane_bytes + aff_bytes});
  // Backward: grad_affinity and boundary read, grad_boundary zeroed and written.
  r.report({"irn_affinity_bwd/" + tag, shape, "fp32", r.time(bwd, warm, runs), 0.0,
            aff_bytes + 3 * plane_bytes});
  // Loss forward + backward: affinity read twice, labels (1 B) and displacement read, the
  // gradients of affinity and displacement written.
  r.report({"irn_loss_fwd_bwd/" + tag, shape, "fp32", r.time(loss, warm, runs), 0.0,
            3 * aff_bytes + N * P * 1.0 + 4 * 2 * plane_bytes});
}

const Registrar walk_voc("irn/random_walk_voc", [](Runner& r) { run_walk(r, 94, 125, 256, 8); });
const Registrar walk_720("irn/random_walk_720p", [](Runner& r) { run_walk(r, 180, 320, 256, 2); });
const Registrar affinity("irn/affinity_r10", [](Runner& r) { run_affinity(r); });

}  // namespace
}  // namespace wsvis::bench
