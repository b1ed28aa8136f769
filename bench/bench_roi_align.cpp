// RoIAlign (ROIAlignV2: aligned, adaptive sampling) at Mask R-CNN's sizes: the box head's
// 2 images x 512 rois x 256 channels x 7x7 on one stride-8 map of an 800x1344 frame (100x168,
// the shape torchvision.ops.roi_align is compared on), and the FPN pooler over P2..P5 with
// detectron2's level assignment (7x7 box head, 14x14 mask head on 128 rois), forward and
// backward. Validated against the CPU twin first, then timed. Bytes: each roi's output written
// once plus each feature map read once (forward; backward: grad_out read, grad maps written).
// torchvision over the same sizes: scripts/torch_bench/roi_align.py (same result names).
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "bench/harness.h"
#include "kernels/basic.h"
#include "kernels/roi_align.h"

namespace wsvis::bench {
namespace {

using kernels::FpnLevelParams;
using kernels::RoiLevels;

// Bandwidth-bound entries: the harness reports GB/s against the measured copy bandwidth.
void report_bw(Runner& r, const std::string& name, const std::string& shape, const Measurement& m,
               double bytes) {
  r.report({name, shape, "fp32", m, 0.0, bytes});
}

// Boxes in an img_w x img_h frame, sizes log-uniform in [16, 640] pixels (proposal-like), the
// images alternating. scripts/torch_bench/roi_align.py draws from the same distribution (not
// the same boxes): the timings depend on the sizes, not on the exact boxes.
std::vector<float> make_rois(int64_t R, int64_t N, double img_w, double img_h, uint64_t seed) {
  Generator gen(seed);
  const Tensor u = Tensor::uniform({R, 4}, 0, 1, gen, Context::create(Device::cpu()), DType::f64);
  const std::vector<double> v = u.to_vector<double>();
  std::vector<float> rois;
  for (int64_t r = 0; r < R; ++r) {
    const double w = 16 * std::pow(40.0, v[4 * r + 0]), h = 16 * std::pow(40.0, v[4 * r + 1]);
    const double x1 = v[4 * r + 2] * (img_w - std::min(w, img_w));
    const double y1 = v[4 * r + 3] * (img_h - std::min(h, img_h));
    rois.insert(rois.end(), {float(r % N), float(x1), float(y1), float(x1 + w), float(y1 + h)});
  }
  return rois;
}

void run_single(Runner& r) {
  const bool g = r.gpu();
  const int64_t N = 2, C = g ? 256 : 32, H = 100, W = 168, R = g ? 1024 : 128, P = 7;
  const double scale = 1.0 / 8;
  const std::string tag = std::to_string(N) + "x" + std::to_string(C) + "x" + std::to_string(H) +
                          "x" + std::to_string(W) + "_r" + std::to_string(R) + "_" +
                          std::to_string(P) + "x" + std::to_string(P);
  const ContextPtr& ctx = r.ctx();
  Generator gen(51);
  const Tensor x_cpu = Tensor::uniform({N, C, H, W}, -1, 1, gen, r.cpu_ctx());
  const Tensor rois_cpu = Tensor::from_vector(make_rois(R, N, W / scale, H / scale, 52), {R, 5},
                                              r.cpu_ctx());
  const Tensor gy_cpu = Tensor::uniform({R, C, P, P}, -1, 1, gen, r.cpu_ctx());
  const Tensor x = x_cpu.to(ctx), rois = rois_cpu.to(ctx), gy = gy_cpu.to(ctx);
  Tensor out = Tensor::empty({R, C, P, P}, DType::f32, ctx);
  Tensor gx = Tensor::empty({N, C, H, W}, DType::f32, ctx);
  auto fwd_cpu = [&](const Tensor& xi, const Tensor& ri, Tensor& o) {
    kernels::cpu::roi_align_forward(xi.data<float>(), N, C, H, W, ri.data<float>(), R, P, P, scale,
                                    0, true, o.data<float>());
  };
  auto bwd_cpu = [&](const Tensor& gi, const Tensor& ri, Tensor& o) {
    kernels::cpu::roi_align_backward(gi.data<float>(), N, C, H, W, ri.data<float>(), R, P, P,
                                     scale, 0, true, o.data<float>());
  };
  std::function<void()> fwd = [&] { fwd_cpu(x, rois, out); };
  std::function<void()> bwd = [&] { bwd_cpu(gy, rois, gx); };
#if WSVIS_WITH_CUDA
  if (g) {
    const cudaStream_t st = ctx->stream();
    fwd = [&, st] {
      kernels::cuda::roi_align_forward(st, x.data<float>(), N, C, H, W, rois.data<float>(), R, P,
                                       P, scale, 0, true, out.data<float>());
    };
    bwd = [&, st] {
      kernels::cuda::roi_align_backward(st, gy.data<float>(), N, C, H, W, rois.data<float>(), R, P,
                                        P, scale, 0, true, gx.data<float>());
    };
    Tensor ref = Tensor::empty(out.shape(), DType::f32, r.cpu_ctx());
    Tensor gref = Tensor::empty(gx.shape(), DType::f32, r.cpu_ctx());
    fwd_cpu(x_cpu, rois_cpu, ref);
    bwd_cpu(gy_cpu, rois_cpu, gref);
    fwd();
    bwd();
    ctx->synchronize();
    // fp32, same arithmetic order forward; the backward adds many bins per pixel in atomic
    // order, a few ulp of the largest sums.
    const bool ok = r.validate("roi_align_fwd/" + tag, out, ref, 1e-5) &&
                    r.validate("roi_align_bwd/" + tag, gx, gref, 1e-5);
    if (!ok) return;
  }
#endif
  const std::string shape = shapes({{"x", {N, C, H, W}}, {"rois", {R, 5}}});
  const double out_bytes = double(R * C * P * P) * 4, map_bytes = double(N * C * H * W) * 4;
  report_bw(r, "roi_align_fwd/" + tag, shape, r.time(fwd, g ? 5 : 1, g ? 50 : 5),
            out_bytes + map_bytes + R * 20.0);
  report_bw(r, "roi_align_bwd/" + tag, shape, r.time(bwd, g ? 5 : 1, g ? 50 : 5),
            out_bytes + map_bytes + R * 20.0);
}

// P2..P5 of an 800x1344 frame, detectron2's pooler: levels assigned on the device, then one
// multi-level launch.
void run_multilevel(Runner& r, int64_t R, int64_t P) {
  const bool g = r.gpu();
  const int64_t N = 2, C = g ? 256 : 32, img_h = 800, img_w = 1344;
  const std::string tag = "fpn_" + std::to_string(N) + "x" + std::to_string(C) + "_r" +
                          std::to_string(R) + "_" + std::to_string(P) + "x" + std::to_string(P);
  const ContextPtr& ctx = r.ctx();
  RoiLevels levels;
  levels.count = 4;
  Generator gen(61);
  std::vector<Tensor> maps_cpu, maps, grads;
  const float* feats[4];
  const float* feats_cpu[4];
  float* gptr[4];
  double map_bytes = 0;
  for (int l = 0; l < 4; ++l) {
    const int64_t stride = int64_t(4) << l;
    levels.height[l] = img_h / stride;
    levels.width[l] = img_w / stride;
    levels.spatial_scale[l] = 1.0 / double(stride);
    maps_cpu.push_back(
        Tensor::uniform({N, C, levels.height[l], levels.width[l]}, -1, 1, gen, r.cpu_ctx()));
    maps.push_back(maps_cpu.back().to(ctx));
    grads.push_back(Tensor::empty(maps.back().shape(), DType::f32, ctx));
    feats_cpu[l] = maps_cpu.back().data<float>();
    feats[l] = maps.back().data<float>();
    gptr[l] = grads.back().data<float>();
    map_bytes += double(maps.back().numel()) * 4;
  }
  const Tensor rois_cpu = Tensor::from_vector(make_rois(R, N, img_w, img_h, 62), {R, 5}, r.cpu_ctx());
  const Tensor gy_cpu = Tensor::uniform({R, C, P, P}, -1, 1, gen, r.cpu_ctx());
  const Tensor rois = rois_cpu.to(ctx), gy = gy_cpu.to(ctx);
  Tensor lv = Tensor::empty({R}, DType::i32, ctx);
  Tensor out = Tensor::empty({R, C, P, P}, DType::f32, ctx);
  const FpnLevelParams params;
  std::function<void()> fwd = [&] {
    kernels::cpu::fpn_assign_levels(rois.data<float>(), R, params, lv.data<int32_t>());
    kernels::cpu::multilevel_roi_align_forward(feats, levels, N, C, rois.data<float>(),
                                               lv.data<int32_t>(), R, P, P, 0, true,
                                               out.data<float>());
  };
  std::function<void()> bwd = [&] {
    kernels::cpu::multilevel_roi_align_backward(gy.data<float>(), levels, N, C, rois.data<float>(),
                                                lv.data<int32_t>(), R, P, P, 0, true, gptr);
  };
#if WSVIS_WITH_CUDA
  if (g) {
    const cudaStream_t st = ctx->stream();
    fwd = [&, st] {
      kernels::cuda::fpn_assign_levels(st, rois.data<float>(), R, params, lv.data<int32_t>());
      kernels::cuda::multilevel_roi_align_forward(st, feats, levels, N, C, rois.data<float>(),
                                                  lv.data<int32_t>(), R, P, P, 0, true,
                                                  out.data<float>());
    };
    bwd = [&, st] {
      kernels::cuda::multilevel_roi_align_backward(st, gy.data<float>(), levels, N, C,
                                                   rois.data<float>(), lv.data<int32_t>(), R, P, P,
                                                   0, true, gptr);
    };
    Tensor lv_ref = Tensor::empty({R}, DType::i32, r.cpu_ctx());
    Tensor ref = Tensor::empty(out.shape(), DType::f32, r.cpu_ctx());
    kernels::cpu::fpn_assign_levels(rois_cpu.data<float>(), R, params, lv_ref.data<int32_t>());
    kernels::cpu::multilevel_roi_align_forward(feats_cpu, levels, N, C, rois_cpu.data<float>(),
                                               lv_ref.data<int32_t>(), R, P, P, 0, true,
                                               ref.data<float>());
    std::vector<Tensor> grads_ref;
    float* gptr_ref[4];
    for (int l = 0; l < 4; ++l) {
      grads_ref.push_back(Tensor::empty(maps_cpu[l].shape(), DType::f32, r.cpu_ctx()));
      gptr_ref[l] = grads_ref.back().data<float>();
    }
    kernels::cpu::multilevel_roi_align_backward(gy_cpu.data<float>(), levels, N, C,
                                                rois_cpu.data<float>(), lv_ref.data<int32_t>(), R,
                                                P, P, 0, true, gptr_ref);
    fwd();
    bwd();
    ctx->synchronize();
    bool ok = r.validate("fpn levels " + tag, lv, lv_ref, 0.0) &&
              r.validate("roi_align_multilevel_fwd/" + tag, out, ref, 1e-5);
    for (int l = 0; l < 4 && ok; ++l)
      ok = r.validate("roi_align_multilevel_bwd/" + tag + " P" + std::to_string(l + 2), grads[l],
                      grads_ref[l], 1e-5);
    if (!ok) return;
  }
#endif
  const std::string shape = shapes({{"P2", maps[0].shape()}, {"rois", {R, 5}}});
  const double out_bytes = double(R * C * P * P) * 4;
  report_bw(r, "roi_align_multilevel_fwd/" + tag, shape, r.time(fwd, g ? 5 : 1, g ? 50 : 5),
            out_bytes + map_bytes + R * 24.0);
  report_bw(r, "roi_align_multilevel_bwd/" + tag, shape, r.time(bwd, g ? 5 : 1, g ? 50 : 5),
            out_bytes + map_bytes + R * 24.0);
}

const Registrar single("roi_align/box_head_single_level", [](Runner& r) { run_single(r); });
const Registrar box("roi_align/fpn_box_head", [](Runner& r) {
  run_multilevel(r, r.gpu() ? 1024 : 128, 7);
});
const Registrar mask("roi_align/fpn_mask_head", [](Runner& r) {
  run_multilevel(r, r.gpu() ? 128 : 32, 14);
});

}  // namespace
}  // namespace wsvis::bench
