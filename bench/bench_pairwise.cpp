// BoxInst losses (kernels/pairwise.h) at the size: 2 images x 64 instances with
// 200x336 stride-4 mask logits (an 800x1344 padded batch), forward and backward, colour-only
// and motion-aware pairwise loss, the projection loss, and the once-per-image colour pipeline
// (4x4 pooling, Lab, 8-neighbour similarity) and flow colour wheel at 800x1344.
// Each GPU result is validated against the CPU twin on the same inputs, then timed. Bytes are
// the compulsory traffic (each operand read once, each result written once); the fused kernels
// are compute-bound, so the GB/s column mostly says how far they are from the memory floor.
// The memory footprint printed is what the loss needs beyond its inputs: the logit gradient
// (which the unfold formulation also produces) plus the scratch.
// Box layout: a fixed formula shared with scripts/torch_bench/pairwise.py (boxes cover about 22%
// of the K x H x W logits); the "fullbox" entries use whole-map boxes, the fused kernels' worst case.
// torch twin (AdelaiDet's unfold implementation under autograd): scripts/torch_bench/pairwise.py.
#include <algorithm>
#include <cstdio>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "bench/harness.h"
#include "kernels/pairwise.h"

namespace wsvis::bench {
namespace {

using kernels::PairwiseParams;

struct Sizes {
  int64_t N, per_image, H, W;
  int64_t K() const { return N * per_image; }
  std::string tag() const {
    return std::to_string(N) + "x" + std::to_string(per_image) + "x" + std::to_string(H) + "x" +
           std::to_string(W);
  }
};

Sizes sizes(Runner& r) { return r.gpu() ? Sizes{2, 64, 200, 336} : Sizes{2, 8, 100, 168}; }

// Instance k of every image: width 15%..85% of the map, height likewise, placed by fixed
// strides (the same formula as scripts/torch_bench/pairwise.py).
std::vector<int32_t> bench_rects(const Sizes& s, bool full) {
  std::vector<int32_t> rects;
  for (int64_t n = 0; n < s.N; ++n)
    for (int64_t k = 0; k < s.per_image; ++k) {
      if (full) {
        rects.insert(rects.end(), {0, 0, int32_t(s.W - 1), int32_t(s.H - 1)});
        continue;
      }
      const double fw = 0.15 + 0.7 * double((k * 37) % 64) / 64;
      const double fh = 0.15 + 0.7 * double((k * 53) % 64) / 64;
      const int64_t w = std::max<int64_t>(1, int64_t(fw * s.W)), h = std::max<int64_t>(1, int64_t(fh * s.H));
      const int64_t x0 = int64_t(double((k * 29) % 64) / 64 * double(s.W - w));
      const int64_t y0 = int64_t(double((k * 41) % 64) / 64 * double(s.H - h));
      rects.insert(rects.end(), {int32_t(x0), int32_t(y0), int32_t(x0 + w - 1), int32_t(y0 + h - 1)});
    }
  return rects;
}

void print_memory(const char* what, double grad_bytes, double scratch_bytes) {
  std::printf("  %s memory beyond the inputs: %.2f MB (gradient %.2f MB + scratch %.4f MB)\n",
              what, (grad_bytes + scratch_bytes) / 1e6, grad_bytes / 1e6, scratch_bytes / 1e6);
}

void run_pairwise(Runner& r, bool motion, bool full) {
  const Sizes s = sizes(r);
  const int64_t K = s.K(), H = s.H, W = s.W, plane = H * W;
  const ContextPtr& ctx = r.ctx();
  Generator gen(61);
  const Tensor z_cpu = Tensor::uniform({K, H, W}, -4, 4, gen, r.cpu_ctx());
  const Tensor cs_cpu = Tensor::uniform({s.N, 8, H, W}, 0, 1, gen, r.cpu_ctx());
  const Tensor fs_cpu = Tensor::uniform({s.N, 8, H, W}, 0, 1, gen, r.cpu_ctx());
  std::vector<int32_t> inds(K);
  for (int64_t k = 0; k < K; ++k) inds[k] = int32_t(k / s.per_image);
  const std::vector<int32_t> rects_v = bench_rects(s, full);
  const Tensor inds_cpu = Tensor::from_vector(inds, {K}, r.cpu_ctx());
  const Tensor rects_cpu = Tensor::from_vector(rects_v, {K, 4}, r.cpu_ctx());
  const Tensor z = z_cpu.to(ctx), cs = cs_cpu.to(ctx), fs = fs_cpu.to(ctx), ind = inds_cpu.to(ctx),
               rect = rects_cpu.to(ctx);
  Tensor loss = Tensor::empty({1}, DType::f32, ctx), stats = Tensor::empty({2}, DType::f32, ctx);
  Tensor grad = Tensor::empty({K, H, W}, DType::f32, ctx);
  const Tensor gl = Tensor::full({1}, 1.0, DType::f32, ctx);
  const PairwiseParams params;
  const float* fsp = motion ? fs.data<float>() : nullptr;
  size_t ws_bytes = kernels::cpu::pairwise_loss_workspace_bytes(K, H, W);
  std::function<void()> fwd = [&] {
    kernels::cpu::pairwise_loss_forward(z.data<float>(), ind.data<int32_t>(), rect.data<int32_t>(),
                                        K, s.N, H, W, cs.data<float>(), fsp, params, nullptr, 0,
                                        loss.data<float>(), stats.data<float>());
  };
  std::function<void()> bwd = [&] {
    kernels::cpu::pairwise_loss_backward(z.data<float>(), ind.data<int32_t>(), rect.data<int32_t>(),
                                         K, s.N, H, W, cs.data<float>(), fsp, params,
                                         stats.data<float>(), gl.data<float>(), grad.data<float>());
  };
  Tensor ws;
#if WSVIS_WITH_CUDA
  if (r.gpu()) {
    namespace kg = kernels::cuda;
    const cudaStream_t st = ctx->stream();
    ws_bytes = kg::pairwise_loss_workspace_bytes(K, H, W);
    ws = Tensor::empty({int64_t(ws_bytes) + 8}, DType::u8, ctx);
    fwd = [&, st, ws_bytes] {
      kg::pairwise_loss_forward(st, z.data<float>(), ind.data<int32_t>(), rect.data<int32_t>(), K,
                                s.N, H, W, cs.data<float>(), fsp, params, ws.raw_data(), ws_bytes,
                                loss.data<float>(), stats.data<float>());
    };
    bwd = [&, st] {
      kg::pairwise_loss_backward(st, z.data<float>(), ind.data<int32_t>(), rect.data<int32_t>(), K,
                                 s.N, H, W, cs.data<float>(), fsp, params, stats.data<float>(),
                                 gl.data<float>(), grad.data<float>());
    };
    Tensor lref = Tensor::empty({1}, DType::f32, r.cpu_ctx()), sref = Tensor::empty({2}, DType::f32, r.cpu_ctx());
    Tensor gref = Tensor::empty({K, H, W}, DType::f32, r.cpu_ctx());
    const float one = 1.0f;
    kernels::cpu::pairwise_loss_forward(z_cpu.data<float>(), inds_cpu.data<int32_t>(),
                                        rects_cpu.data<int32_t>(), K, s.N, H, W,
                                        cs_cpu.data<float>(), motion ? fs_cpu.data<float>() : nullptr,
                                        params, nullptr, 0, lref.data<float>(), sref.data<float>());
    kernels::cpu::pairwise_loss_backward(z_cpu.data<float>(), inds_cpu.data<int32_t>(),
                                         rects_cpu.data<int32_t>(), K, s.N, H, W,
                                         cs_cpu.data<float>(), motion ? fs_cpu.data<float>() : nullptr,
                                         params, sref.data<float>(), &one, gref.data<float>());
    fwd();
    bwd();
    ctx->synchronize();
    // Sums of ~10^7 edge losses in double on both sides (different order): 1e-5 is generous;
    // the gradient is per pixel, a few float ulps of O(1/weights) values.
    bool ok = r.validate("pairwise loss", loss, lref, 1e-5);
    ok = r.validate("pairwise weight sum", stats, sref, 1e-6) && ok;
    ok = r.validate("pairwise gradient", grad, gref, 1e-5) && ok;
    if (!ok) return;
  }
#endif
  // Compulsory traffic. Forward: the logits inside the boxes, each image's similarities once
  // (8 planes, twice for the motion-aware loss), the rects. Backward: the logits within the
  // margin (taken as the box), the similarities once, the gradient written in full.
  double box_px = 0;
  for (int64_t k = 0; k < K; ++k)
    box_px += double(rects_v[4 * k + 2] - rects_v[4 * k] + 1) * double(rects_v[4 * k + 3] - rects_v[4 * k + 1] + 1);
  const double sim_bytes = double(s.N * 8 * plane) * 4 * (motion ? 2 : 1);
  const double fwd_bytes = box_px * 4 + sim_bytes + K * 20.0;
  const double bwd_bytes = box_px * 4 + sim_bytes + double(K * plane) * 4 + K * 20.0;
  const std::string base = std::string(motion ? "pairwise_motion" : "pairwise") + (full ? "_fullbox" : "");
  char boxes_note[64];
  std::snprintf(boxes_note, sizeof(boxes_note), " boxes %.0f%% of the map",
                100 * box_px / double(K * plane));
  const std::string shape = shapes({{"logits", {K, H, W}}, {"sim", {s.N, 8, H, W}}}) + boxes_note;
  const int warm = r.gpu() ? 5 : 1, runs = r.gpu() ? 30 : 3;
  r.report({base + "_fwd/" + s.tag(), shape, "fp32", r.time(fwd, warm, runs), 0.0, fwd_bytes});
  r.report({base + "_bwd/" + s.tag(), shape, "fp32", r.time(bwd, warm, runs), 0.0, bwd_bytes});
  std::function<void()> both = [&] {
    fwd();
    bwd();
  };
  r.report({base + "_fwd_bwd/" + s.tag(), shape, "fp32", r.time(both, warm, runs), 0.0,
            fwd_bytes + bwd_bytes});
  print_memory(base.c_str(), double(K * plane) * 4, double(ws_bytes) + 12);
}

void run_projection(Runner& r) {
  const Sizes s = sizes(r);
  const int64_t K = s.K(), H = s.H, W = s.W, plane = H * W;
  const ContextPtr& ctx = r.ctx();
  Generator gen(62);
  const Tensor p_cpu = Tensor::uniform({K, H, W}, 0, 1, gen, r.cpu_ctx());
  const Tensor rects_cpu = Tensor::from_vector(bench_rects(s, false), {K, 4}, r.cpu_ctx());
  const Tensor p = p_cpu.to(ctx), rect = rects_cpu.to(ctx);
  Tensor loss = Tensor::empty({1}, DType::f32, ctx), stats = Tensor::empty({K, 4}, DType::f32, ctx);
  Tensor ax = Tensor::empty({K, W}, DType::i32, ctx), ay = Tensor::empty({K, H}, DType::i32, ctx);
  Tensor grad = Tensor::empty({K, H, W}, DType::f32, ctx);
  const Tensor gl = Tensor::full({1}, 1.0, DType::f32, ctx);
  const double eps = kernels::kProjectionDiceEps;
  std::function<void()> fwd = [&] {
    kernels::cpu::projection_loss_forward(p.data<float>(), rect.data<int32_t>(), K, H, W, eps,
                                          loss.data<float>(), stats.data<float>(),
                                          ax.data<int32_t>(), ay.data<int32_t>());
  };
  std::function<void()> bwd = [&] {
    kernels::cpu::projection_loss_backward(p.data<float>(), rect.data<int32_t>(), K, H, W,
                                           stats.data<float>(), ax.data<int32_t>(),
                                           ay.data<int32_t>(), gl.data<float>(), grad.data<float>());
  };
#if WSVIS_WITH_CUDA
  if (r.gpu()) {
    namespace kg = kernels::cuda;
    const cudaStream_t st = ctx->stream();
    fwd = [&, st] {
      kg::projection_loss_forward(st, p.data<float>(), rect.data<int32_t>(), K, H, W, eps,
                                  loss.data<float>(), stats.data<float>(), ax.data<int32_t>(),
                                  ay.data<int32_t>());
    };
    bwd = [&, st] {
      kg::projection_loss_backward(st, p.data<float>(), rect.data<int32_t>(), K, H, W,
                                   stats.data<float>(), ax.data<int32_t>(), ay.data<int32_t>(),
                                   gl.data<float>(), grad.data<float>());
    };
    Tensor lref = Tensor::empty({1}, DType::f32, r.cpu_ctx()), sref = Tensor::empty({K, 4}, DType::f32, r.cpu_ctx());
    Tensor axr = Tensor::empty({K, W}, DType::i32, r.cpu_ctx()), ayr = Tensor::empty({K, H}, DType::i32, r.cpu_ctx());
    Tensor gref = Tensor::empty({K, H, W}, DType::f32, r.cpu_ctx());
    const float one = 1.0f;
    kernels::cpu::projection_loss_forward(p_cpu.data<float>(), rects_cpu.data<int32_t>(), K, H, W,
                                          eps, lref.data<float>(), sref.data<float>(),
                                          axr.data<int32_t>(), ayr.data<int32_t>());
    kernels::cpu::projection_loss_backward(p_cpu.data<float>(), rects_cpu.data<int32_t>(), K, H,
                                           W, sref.data<float>(), axr.data<int32_t>(),
                                           ayr.data<int32_t>(), &one, gref.data<float>());
    fwd();
    bwd();
    ctx->synchronize();
    bool ok = r.validate("projection loss", loss, lref, 1e-5);
    ok = r.validate("projection column argmax", ax, axr, 0.0) && ok;
    ok = r.validate("projection row argmax", ay, ayr, 0.0) && ok;
    ok = r.validate("projection gradient", grad, gref, 1e-5) && ok;
    if (!ok) return;
  }
#endif
  const int warm = r.gpu() ? 5 : 1, runs = r.gpu() ? 30 : 3;
  const std::string shape = shapes({{"probs", {K, H, W}}});
  // Forward reads the probabilities twice (columns, then rows); counted once. Backward reads
  // the argmaxes and writes the gradient (probabilities are read only at the argmaxes).
  const double fwd_bytes = double(K * plane) * 4 + double(K * (H + W)) * 4;
  const double bwd_bytes = double(K * plane) * 4 + double(K * (H + W)) * 8;
  r.report({"projection_fwd/" + s.tag(), shape, "fp32", r.time(fwd, warm, runs), 0.0, fwd_bytes});
  std::function<void()> both = [&] {
    fwd();
    bwd();
  };
  r.report({"projection_fwd_bwd/" + s.tag(), shape, "fp32", r.time(both, warm, runs), 0.0,
            fwd_bytes + bwd_bytes});
}

// Once per image: BGR float image at full resolution -> pooled uint8 RGB -> Lab -> similarity.
void run_colour(Runner& r) {
  const int64_t N = 2, Hf = r.gpu() ? 800 : 400, Wf = r.gpu() ? 1344 : 672, H = Hf / 4, W = Wf / 4;
  const ContextPtr& ctx = r.ctx();
  Generator gen(63);
  // Integer pixel values (images come from uint8 files): floor of uniform [0, 256).
  std::vector<float> img = Tensor::uniform({N, 3, Hf, Wf}, 0, 256, gen, r.cpu_ctx()).to_vector<float>();
  for (auto& v : img) v = float(int(v));
  const Tensor img_cpu = Tensor::from_vector(img, {N, 3, Hf, Wf}, r.cpu_ctx());
  const Tensor x = img_cpu.to(ctx);
  Tensor small = Tensor::empty({N, 3, H, W}, DType::u8, ctx);
  Tensor lab = Tensor::empty({N, 3, H, W}, DType::f32, ctx);
  Tensor sim = Tensor::empty({N, 8, H, W}, DType::f32, ctx);
  const double theta = kernels::kColorSimilarityTheta;
  std::function<void()> fn = [&] {
    kernels::cpu::downsample_image(x.data<float>(), N, 3, Hf, Wf, 4, true, small.data<uint8_t>());
    kernels::cpu::rgb_to_lab(small.data<uint8_t>(), N, H, W, lab.data<float>());
    kernels::cpu::neighbour_similarity(lab.data<float>(), N, 3, H, W, nullptr, 2, 1.0, theta,
                                       sim.data<float>());
  };
#if WSVIS_WITH_CUDA
  if (r.gpu()) {
    namespace kg = kernels::cuda;
    const cudaStream_t st = ctx->stream();
    fn = [&, st] {
      kg::downsample_image(st, x.data<float>(), N, 3, Hf, Wf, 4, true, small.data<uint8_t>());
      kg::rgb_to_lab(st, small.data<uint8_t>(), N, H, W, lab.data<float>());
      kg::neighbour_similarity(st, lab.data<float>(), N, 3, H, W, nullptr, 2, 1.0, theta,
                               sim.data<float>());
    };
    Tensor sref = Tensor::empty({N, 3, H, W}, DType::u8, r.cpu_ctx());
    Tensor lref = Tensor::empty({N, 3, H, W}, DType::f32, r.cpu_ctx());
    Tensor simref = Tensor::empty({N, 8, H, W}, DType::f32, r.cpu_ctx());
    kernels::cpu::downsample_image(img_cpu.data<float>(), N, 3, Hf, Wf, 4, true, sref.data<uint8_t>());
    kernels::cpu::rgb_to_lab(sref.data<uint8_t>(), N, H, W, lref.data<float>());
    kernels::cpu::neighbour_similarity(lref.data<float>(), N, 3, H, W, nullptr, 2, 1.0, theta,
                                       simref.data<float>());
    fn();
    ctx->synchronize();
    bool ok = r.validate("pooled image", small, sref, 0.0);
    ok = r.validate("lab", lab, lref, 1e-6) && ok;
    ok = r.validate("colour similarity", sim, simref, 1e-5) && ok;
    if (!ok) return;
  }
#endif
  const double bytes = double(N * 3 * Hf * Wf) * 4 + double(N * 3 * H * W) * (1 + 1 + 4 + 4) +
                       double(N * 8 * H * W) * 4;
  r.report({"colour_similarity/" + std::to_string(N) + "x" + std::to_string(Hf) + "x" + std::to_string(Wf),
            shapes({{"image", {N, 3, Hf, Wf}}, {"sim", {N, 8, H, W}}}), "fp32",
            r.time(fn, r.gpu() ? 5 : 1, r.gpu() ? 30 : 3), 0.0, bytes});
}

void run_flow_color(Runner& r) {
  const int64_t N = 2, H = r.gpu() ? 800 : 400, W = r.gpu() ? 1344 : 672;
  const ContextPtr& ctx = r.ctx();
  Generator gen(64);
  const Tensor flow_cpu = Tensor::uniform({N, 2, H, W}, -12, 12, gen, r.cpu_ctx());
  const Tensor flow = flow_cpu.to(ctx);
  Tensor out = Tensor::empty({N, 3, H, W}, DType::u8, ctx);
  const auto variant = kernels::FlowWheelVariant::flow_vis;
  std::function<void()> fn = [&] {
    kernels::cpu::flow_to_color(flow.data<float>(), N, H, W, variant, 0.0, false, nullptr, 0,
                                out.data<uint8_t>());
  };
  Tensor ws;
#if WSVIS_WITH_CUDA
  if (r.gpu()) {
    namespace kg = kernels::cuda;
    const cudaStream_t st = ctx->stream();
    const size_t ws_bytes = kg::flow_to_color_workspace_bytes(N);
    ws = Tensor::empty({int64_t(ws_bytes) + 8}, DType::u8, ctx);
    fn = [&, st, ws_bytes] {
      kg::flow_to_color(st, flow.data<float>(), N, H, W, variant, 0.0, false, ws.raw_data(),
                        ws_bytes, out.data<uint8_t>());
    };
    Tensor ref = Tensor::empty({N, 3, H, W}, DType::u8, r.cpu_ctx());
    kernels::cpu::flow_to_color(flow_cpu.data<float>(), N, H, W, variant, 0.0, false, nullptr, 0,
                                ref.data<uint8_t>());
    fn();
    ctx->synchronize();
    // atan2 on the device may differ from glibc's by an ulp: a byte can move by one in rare
    // pixels, so 1/255 of the range norm-wise.
    if (!r.validate("flow colour", out, ref, 1.0 / 255 + 1e-9)) return;
  }
#endif
  // Flow read once for the radius and once for the colours; colours written.
  const double bytes = double(N * 2 * H * W) * 4 * 2 + double(N * 3 * H * W);
  r.report({"flow_to_color/" + std::to_string(N) + "x" + std::to_string(H) + "x" + std::to_string(W),
            shapes({{"flow", {N, 2, H, W}}}), "u8", r.time(fn, r.gpu() ? 5 : 1, r.gpu() ? 30 : 3),
            0.0, bytes});
}

const Registrar pairwise_entry("pairwise/boxinst", [](Runner& r) { run_pairwise(r, false, false); });
const Registrar motion_entry("pairwise/motion", [](Runner& r) { run_pairwise(r, true, false); });
const Registrar full_entry("pairwise/boxinst_fullbox", [](Runner& r) { run_pairwise(r, false, true); });
const Registrar proj_entry("pairwise/projection", [](Runner& r) { run_projection(r); });
const Registrar colour_entry("pairwise/colour_similarity", [](Runner& r) { run_colour(r); });
const Registrar flow_entry("pairwise/flow_to_color", [](Runner& r) { run_flow_color(r); });

}  // namespace
}  // namespace wsvis::bench
