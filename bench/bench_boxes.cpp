// Boxes family (no NMS; see bench_nms.cpp): pairwise box IoU, mask IoU/IoM matrices, class-
// specific box decoding and P2 anchors. Each entry validates the CUDA twin against the CPU twin
// on the same inputs, then times it; without a GPU the CPU twin is timed at the same sizes
// (they are small). The harness reports bytes moved, GB/s and the fraction of the measured
// copy bandwidth.
// PyTorch/torchvision twins: scripts/torch_bench/nms.py (same result names).
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "bench/harness.h"
#include "kernels/boxes.h"

#if WSVIS_WITH_CUDA
#include <cuda_runtime.h>

#include "engine/cuda_check.h"
#endif

namespace wsvis::bench {

namespace {

namespace kc = kernels::cpu;

std::vector<float> random_boxes(std::mt19937& rng, int64_t n, double w, double h) {
  std::uniform_real_distribution<double> ux(0, w), uy(0, h), us(8, 300);
  std::vector<float> out(size_t(4 * n));
  for (int64_t i = 0; i < n; ++i) {
    const double cx = ux(rng), cy = uy(rng), bw = us(rng), bh = us(rng);
    out[size_t(4 * i)] = float(cx - bw / 2);
    out[size_t(4 * i + 1)] = float(cy - bh / 2);
    out[size_t(4 * i + 2)] = float(cx + bw / 2);
    out[size_t(4 * i + 3)] = float(cy + bh / 2);
  }
  return out;
}

Tensor to_tensor(const std::vector<float>& v, const Shape& shape, const ContextPtr& ctx) {
  return Tensor::from_vector(v, shape, ctx);
}

void run_box_iou(Runner& r, int64_t n, int64_t m) {
  const std::string name = "box_iou/" + std::to_string(n) + "x" + std::to_string(m);
  std::mt19937 rng(1);
  const auto a = random_boxes(rng, n, 1333, 800), b = random_boxes(rng, m, 1333, 800);
  const ContextPtr& ctx = r.ctx();
  const Tensor ta = to_tensor(a, {n, 4}, ctx), tb = to_tensor(b, {m, 4}, ctx);
  Tensor out = Tensor::empty({n, m}, DType::f32, ctx);
  std::function<void()> fn = [&] {
    kc::box_overlap(ta.data<float>(), n, tb.data<float>(), m, kernels::Overlap::iou,
                    out.data<float>());
  };
#if WSVIS_WITH_CUDA
  if (r.gpu()) {
    fn = [&] {
      kernels::cuda::box_overlap(ctx->stream(), ta.data<float>(), n, tb.data<float>(), m,
                                 kernels::Overlap::iou, out.data<float>());
    };
    Tensor ref = Tensor::empty({n, m}, DType::f32, r.cpu_ctx());
    kc::box_overlap(a.data(), n, b.data(), m, kernels::Overlap::iou, ref.data<float>());
    fn();
    ctx->synchronize();
    if (!r.validate(name, out, ref, 0.0)) return;  // bit-identical by construction (bx_mul)
  }
#endif
  const Measurement t = r.time(fn, 3, r.gpu() ? 50 : 5);
  r.report({name, shapes({{"a", {n, 4}}, {"b", {m, 4}}}), "fp32", t, 0.0,
            double(n + m) * 16 + double(n) * m * 4});
}

void run_mask_overlap(Runner& r, int64_t k, int64_t l, int64_t h, int64_t w) {
  const std::string name = "mask_overlap/" + std::to_string(k) + "x" + std::to_string(l) + "x" +
                           std::to_string(h) + "x" + std::to_string(w);
  std::mt19937 rng(2);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<uint8_t> a(size_t(k * h * w)), b(size_t(l * h * w));
  // Rectangles covering up to half of each side: instance-mask-like densities.
  auto fill = [&](std::vector<uint8_t>& m, int64_t count) {
    for (int64_t i = 0; i < count; ++i) {
      const int64_t y0 = int64_t(u(rng) * h * 0.5), x0 = int64_t(u(rng) * w * 0.5);
      const int64_t y1 = y0 + 1 + int64_t(u(rng) * h * 0.5),
                    x1 = x0 + 1 + int64_t(u(rng) * w * 0.5);
      for (int64_t y = y0; y < y1; ++y)
        for (int64_t x = x0; x < x1; ++x) m[size_t((i * h + y) * w + x)] = 1;
    }
  };
  fill(a, k);
  fill(b, l);
  const ContextPtr& ctx = r.ctx();
  const Tensor ta = Tensor::from_vector(a, {k, h, w}, ctx, DType::u8);
  const Tensor tb = Tensor::from_vector(b, {l, h, w}, ctx, DType::u8);
  Tensor iou = Tensor::empty({k, l}, DType::f32, ctx), iom = Tensor::empty({k, l}, DType::f32, ctx);
  std::vector<char> cws(kc::mask_overlap_workspace_bytes(k, l, h * w) + 64);
  std::function<void()> fn = [&] {
    kc::mask_overlap<float>(ta.data<uint8_t>(), k, tb.data<uint8_t>(), l, h * w, iou.data<float>(),
                            iom.data<float>(), cws.data(), cws.size());
  };
#if WSVIS_WITH_CUDA
  Tensor gws;
  if (r.gpu()) {
    const size_t bytes = kernels::cuda::mask_overlap_workspace_bytes(k, l, h * w);
    gws = Tensor::empty({int64_t(bytes)}, DType::u8, ctx);
    fn = [&, bytes] {
      kernels::cuda::mask_overlap<float>(ctx->stream(), ta.data<uint8_t>(), k, tb.data<uint8_t>(),
                                         l, h * w, iou.data<float>(), iom.data<float>(),
                                         gws.data<uint8_t>(), bytes);
    };
    Tensor ref_iou = Tensor::empty({k, l}, DType::f32, r.cpu_ctx());
    Tensor ref_iom = Tensor::empty({k, l}, DType::f32, r.cpu_ctx());
    kc::mask_overlap<float>(a.data(), k, b.data(), l, h * w, ref_iou.data<float>(),
                            ref_iom.data<float>(), cws.data(), cws.size());
    fn();
    ctx->synchronize();
    // Integer counts divided in double on both twins: identical.
    if (!r.validate(name + " iou", iou, ref_iou, 0.0) ||
        !r.validate(name + " iom", iom, ref_iom, 0.0))
      return;
  }
#endif
  const Measurement t = r.time(fn, 3, r.gpu() ? 50 : 3);
  r.report({name, shapes({{"a", {k, h, w}}, {"b", {l, h, w}}}), "u8", t, 0.0,
            double(k + l) * h * w + double(k) * l * 8});
}

void run_box_decode(Runner& r, int64_t n, int64_t classes) {
  const std::string name = "box_decode/" + std::to_string(n) + "x" + std::to_string(classes);
  std::mt19937 rng(3);
  const auto boxes = random_boxes(rng, n, 1333, 800);
  std::vector<float> deltas(size_t(n * classes * 4));
  std::normal_distribution<float> g(0, 1);
  for (auto& v : deltas) v = g(rng);
  const ContextPtr& ctx = r.ctx();
  const Tensor tb = to_tensor(boxes, {n, 4}, ctx), td = to_tensor(deltas, {n, classes * 4}, ctx);
  Tensor out = Tensor::empty({n, classes * 4}, DType::f32, ctx);
  const kernels::BoxCoderWeights wts;
  std::function<void()> fn = [&] {
    kc::box_decode(tb.data<float>(), td.data<float>(), n, classes, wts, out.data<float>());
  };
#if WSVIS_WITH_CUDA
  if (r.gpu()) {
    fn = [&] {
      kernels::cuda::box_decode(ctx->stream(), tb.data<float>(), td.data<float>(), n, classes, wts,
                                out.data<float>());
    };
    Tensor ref = Tensor::empty({n, classes * 4}, DType::f32, r.cpu_ctx());
    kc::box_decode(boxes.data(), deltas.data(), n, classes, wts, ref.data<float>());
    fn();
    ctx->synchronize();
    if (!r.validate(name, out, ref, 1e-5)) return;  // expf: an ulp or two apart
  }
#endif
  const Measurement t = r.time(fn, 3, r.gpu() ? 50 : 5);
  r.report({name, shapes({{"boxes", {n, 4}}, {"deltas", {n, classes * 4}}}), "fp32", t, 0.0,
            double(n) * 16 + 2.0 * n * classes * 16});
}

void run_anchors(Runner& r, int64_t h, int64_t w) {
  const std::string name = "anchors/p2_" + std::to_string(h) + "x" + std::to_string(w);
  const kernels::AnchorSpec spec = kernels::AnchorSpec::detectron2_level(0);
  const ContextPtr& ctx = r.ctx();
  Tensor out = Tensor::empty({h * w * 3, 4}, DType::f32, ctx);
  std::function<void()> fn = [&] { kc::anchors(out.data<float>(), h, w, spec); };
#if WSVIS_WITH_CUDA
  if (r.gpu()) {
    fn = [&] { kernels::cuda::anchors(ctx->stream(), out.data<float>(), h, w, spec); };
    Tensor ref = Tensor::empty({h * w * 3, 4}, DType::f32, r.cpu_ctx());
    kc::anchors(ref.data<float>(), h, w, spec);
    fn();
    ctx->synchronize();
    if (!r.validate(name, out, ref, 0.0)) return;
  }
#endif
  const Measurement t = r.time(fn, 3, r.gpu() ? 50 : 5);
  r.report({name, shapes({{"anchors", {h * w * 3, 4}}}), "fp32", t, 0.0, double(h) * w * 3 * 16});
}

// Sizes: box IoU of 2,048 x 2,048 (RPN-scale matching), the MaskConsist mask matrices (100
// instances x 100 instances at stride-4 200x336), the box head's class-specific decode (8
// images x 1,000 RoIs x 80 classes) and P2 anchors of an 800x1344 input.
const Registrar iou_entry("boxes/box_iou", [](Runner& r) { run_box_iou(r, 2048, 2048); });
const Registrar mask_entry("boxes/mask_overlap", [](Runner& r) {
  if (r.gpu())
    run_mask_overlap(r, 100, 100, 200, 336);
  else
    run_mask_overlap(r, 20, 20, 100, 168);
});
const Registrar decode_entry("boxes/box_decode", [](Runner& r) { run_box_decode(r, 8000, 80); });
const Registrar anchor_entry("boxes/anchors", [](Runner& r) { run_anchors(r, 200, 336); });

}  // namespace
}  // namespace wsvis::bench
