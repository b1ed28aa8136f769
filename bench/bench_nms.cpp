// NMS: batched, class-aware NMS over 8 images x 5,000 boxes in one launch sequence with no
// host synchronisation (the target: under 0.3 ms on an H100), the RPN form (5 FPN
// levels as labels, IoU 0.7, keep <= 1000 per image) and the box-head form (80 classes, IoU
// 0.5, keep <= 100); single-image NMS of 1,000 boxes; IoM-NMS of 100 masks at 200x336.
// Each entry validates the CUDA result (keep lists and counts) against the CPU twin exactly
// (both compute bit-identical IoUs), then times; without a GPU the CPU twin is timed.
// torchvision twins: scripts/torch_bench/nms.py (same result names).
#include <cmath>
#include <cstdio>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "bench/harness.h"
#include "kernels/boxes.h"

namespace wsvis::bench {

namespace {

namespace kc = kernels::cpu;

// Detector-like boxes: jittered around 60 objects per image, so NMS has real work to do.
void make_boxes(std::mt19937& rng, int64_t batch, int64_t per_image, std::vector<float>& boxes,
                std::vector<float>& scores) {
  std::uniform_real_distribution<double> ux(0, 1333), uy(0, 800), us(16, 400), u(0, 1);
  std::normal_distribution<double> jitter(0, 0.12);
  boxes.resize(size_t(batch * per_image * 4));
  scores.resize(size_t(batch * per_image));
  for (int64_t b = 0; b < batch; ++b) {
    std::vector<double> obj(60 * 4);
    for (int o = 0; o < 60; ++o) {
      obj[size_t(4 * o)] = ux(rng);
      obj[size_t(4 * o + 1)] = uy(rng);
      obj[size_t(4 * o + 2)] = us(rng);
      obj[size_t(4 * o + 3)] = us(rng);
    }
    for (int64_t i = 0; i < per_image; ++i) {
      const double* o = &obj[size_t(4 * (rng() % 60))];
      const double w = o[2] * std::exp(jitter(rng)), h = o[3] * std::exp(jitter(rng));
      const double cx = o[0] + jitter(rng) * o[2], cy = o[1] + jitter(rng) * o[3];
      float* p = &boxes[size_t(4 * (b * per_image + i))];
      p[0] = float(cx - w / 2);
      p[1] = float(cy - h / 2);
      p[2] = float(cx + w / 2);
      p[3] = float(cy + h / 2);
      scores[size_t(b * per_image + i)] = float(u(rng));
    }
  }
}

// Result name: prefix + "BxM" + suffix, e.g. nms_batched/8x5000_rpn.
void run_batched(Runner& r, const std::string& prefix, const std::string& suffix, int64_t batch,
                 int64_t per_image, int labels_n, bool level_labels,
                 const kernels::NmsOptions& opt) {
  const std::string name =
      prefix + std::to_string(batch) + "x" + std::to_string(per_image) + suffix;
  std::mt19937 rng(7);
  std::vector<float> boxes, scores;
  make_boxes(rng, batch, per_image, boxes, scores);
  std::vector<int32_t> labels(size_t(batch * per_image));
  for (int64_t i = 0; i < batch * per_image; ++i)
    labels[size_t(i)] =
        level_labels ? int32_t((i % per_image) * labels_n / per_image) : int32_t(rng() % labels_n);
  const ContextPtr& ctx = r.ctx();
  const Tensor tb = Tensor::from_vector(boxes, {batch, per_image, 4}, ctx);
  const Tensor ts = Tensor::from_vector(scores, {batch, per_image}, ctx);
  const Tensor tl = Tensor::from_vector(labels, {batch, per_image}, ctx);
  Tensor keep = Tensor::empty({batch, per_image}, DType::i32, ctx);
  Tensor count = Tensor::empty({batch}, DType::i32, ctx);
  Tensor mask = Tensor::empty({batch, per_image}, DType::u8, ctx);
  std::vector<char> cws(kc::batched_nms_workspace_bytes(batch, per_image, opt) + 64);
  auto run_cpu = [&](const float* b, const float* s, const int32_t* l, Tensor& k, Tensor& c,
                     Tensor& m) {
    kc::batched_nms(b, s, l, batch, per_image, opt, k.data<int32_t>(), c.data<int32_t>(),
                    m.data<uint8_t>(), cws.data(), cws.size());
  };
  std::function<void()> fn = [&] {
    run_cpu(tb.data<float>(), ts.data<float>(), tl.data<int32_t>(), keep, count, mask);
  };
  size_t bytes_ws = 0;
#if WSVIS_WITH_CUDA
  Tensor gws;
  if (r.gpu()) {
    bytes_ws = kernels::cuda::batched_nms_workspace_bytes(batch, per_image, opt);
    gws = Tensor::empty({int64_t(bytes_ws)}, DType::u8, ctx);
    fn = [&] {
      kernels::cuda::batched_nms<float>(ctx->stream(), tb.data<float>(), ts.data<float>(),
                                        tl.data<int32_t>(), batch, per_image, opt,
                                        keep.data<int32_t>(), count.data<int32_t>(),
                                        mask.data<uint8_t>(), gws.data<uint8_t>(), bytes_ws);
    };
    Tensor rk = Tensor::empty({batch, per_image}, DType::i32, r.cpu_ctx());
    Tensor rc = Tensor::empty({batch}, DType::i32, r.cpu_ctx());
    Tensor rm = Tensor::empty({batch, per_image}, DType::u8, r.cpu_ctx());
    run_cpu(boxes.data(), scores.data(), labels.data(), rk, rc, rm);
    fn();
    ctx->synchronize();
    if (!r.validate(name + " count", count, rc, 0.0) || !r.validate(name + " keep", keep, rk, 0.0))
      return;
    const std::vector<int32_t> counts = rc.to_vector<int32_t>();
    std::printf("  %s: kept per image", name.c_str());
    for (int32_t c : counts) std::printf(" %d", c);
    std::printf("\n");
  }
#endif
  const Measurement t = r.time(fn, 5, r.gpu() ? 100 : 3);
  // Inputs read, outputs written, and the per-image K x K bit matrix's upper triangle
  // written once and read at most once.
  const int64_t k = opt.candidate_limit < 0 ? per_image : std::min(opt.candidate_limit, per_image);
  const double bit_matrix = double(batch) * k * ((k + 63) / 64) * 8.0;
  r.report({name, shapes({{"boxes", {batch, per_image, 4}}}), "fp32", t, 0.0,
            double(batch) * per_image * (16 + 4 + 4 + 4 + 1) + bit_matrix});
}

void run_mask_nms(Runner& r, int64_t n, int64_t h, int64_t w) {
  const std::string name =
      "mask_iom_nms/" + std::to_string(n) + "x" + std::to_string(h) + "x" + std::to_string(w);
  std::mt19937 rng(9);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<uint8_t> masks(size_t(n * h * w), 0);
  std::vector<float> scores(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const int64_t y0 = int64_t(u(rng) * h * 0.6), x0 = int64_t(u(rng) * w * 0.6);
    const int64_t y1 = y0 + 1 + int64_t(u(rng) * h * 0.4), x1 = x0 + 1 + int64_t(u(rng) * w * 0.4);
    for (int64_t y = y0; y < y1; ++y)
      for (int64_t x = x0; x < x1; ++x) masks[size_t((i * h + y) * w + x)] = 1;
    scores[size_t(i)] = float(u(rng));
  }
  const ContextPtr& ctx = r.ctx();
  const Tensor tm = Tensor::from_vector(masks, {n, h, w}, ctx, DType::u8);
  const Tensor ts = Tensor::from_vector(scores, {n}, ctx);
  Tensor keep = Tensor::empty({n}, DType::i32, ctx), count = Tensor::empty({1}, DType::i32, ctx);
  std::vector<char> cws(kc::mask_iom_nms_workspace_bytes(n, h * w) + 64);
  auto run_cpu = [&](const uint8_t* m, const float* s, Tensor& k, Tensor& c) {
    kc::mask_iom_nms(m, s, n, h * w, 0.5, k.data<int32_t>(), c.data<int32_t>(), cws.data(),
                     cws.size());
  };
  std::function<void()> fn = [&] { run_cpu(tm.data<uint8_t>(), ts.data<float>(), keep, count); };
#if WSVIS_WITH_CUDA
  Tensor gws;
  if (r.gpu()) {
    const size_t bytes = kernels::cuda::mask_iom_nms_workspace_bytes(n, h * w);
    gws = Tensor::empty({int64_t(bytes)}, DType::u8, ctx);
    fn = [&, bytes] {
      kernels::cuda::mask_iom_nms(ctx->stream(), tm.data<uint8_t>(), ts.data<float>(), n, h * w,
                                  0.5, keep.data<int32_t>(), count.data<int32_t>(),
                                  gws.data<uint8_t>(), bytes);
    };
    Tensor rk = Tensor::empty({n}, DType::i32, r.cpu_ctx()),
           rc = Tensor::empty({1}, DType::i32, r.cpu_ctx());
    run_cpu(masks.data(), scores.data(), rk, rc);
    fn();
    ctx->synchronize();
    if (!r.validate(name + " count", count, rc, 0.0) || !r.validate(name + " keep", keep, rk, 0.0))
      return;
  }
#endif
  const Measurement t = r.time(fn, 3, r.gpu() ? 50 : 3);
  r.report(
      {name, shapes({{"masks", {n, h, w}}}), "u8", t, 0.0, double(n) * h * w + double(n) * n * 4});
}

kernels::NmsOptions rpn_options() {
  kernels::NmsOptions o;
  o.iou_threshold = 0.7;
  o.max_keep = 1000;
  return o;
}
kernels::NmsOptions box_head_options() {
  kernels::NmsOptions o;
  o.iou_threshold = 0.5;
  o.max_keep = 100;
  return o;
}

const Registrar rpn("nms/batched_rpn", [](Runner& r) {
  run_batched(r, "nms_batched/", "_rpn", r.gpu() ? 8 : 2, 5000, 5, true, rpn_options());
});
const Registrar cls("nms/batched_cls80", [](Runner& r) {
  run_batched(r, "nms_batched/", "_cls80", r.gpu() ? 8 : 2, 5000, 80, false, box_head_options());
});
const Registrar single("nms/single_1000", [](Runner& r) {
  kernels::NmsOptions o;
  o.iou_threshold = 0.5;
  run_batched(r, "nms/", "", 1, 1000, 1, true, o);
});
const Registrar iom("nms/mask_iom", [](Runner& r) {
  if (r.gpu())
    run_mask_nms(r, 100, 200, 336);
  else
    run_mask_nms(r, 40, 100, 168);
});

}  // namespace
}  // namespace wsvis::bench
