// Dense CRF as IRN runs it (pydensecrf parameters: gt_prob 0.7, Gaussian sxy 3 compat 3,
// bilateral sxy 50 srgb 5 compat 10, 10 mean-field iterations) on a VOC-sized frame with all 21
// labels and on a 720p video frame with 3 labels (IRN's fg / bg label maps: present classes + 1).
// One timed call = what crf_inference_label pays: both lattices built, 10 iterations, argmax.
// The GPU result is validated against the CPU twin first (Q norm-wise; labels by count of
// flips, which float reordering in the atomic splat can cause only at near-ties).
// Bytes: compulsory traffic per call (see crf_bytes), flops: arithmetic of splat, blur, slice
// and the softmax update, both counted with the real lattice sizes (the vertex counts the twins
// leave in the workspace). pydensecrf on the CPU: scripts/torch_bench/crf.py (same names).
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "bench/harness.h"
#include "kernels/crf.h"

#if WSVIS_WITH_CUDA
#include <cuda_runtime.h>

#include "engine/cuda_check.h"
#endif

namespace wsvis::bench {
namespace {

namespace cm = kernels::crf_math;

// A frame of ellipses of distinct colours on a textured background, with sensor noise, and
// label maps of the ellipses (class k + 1 for ellipse k, modulo L) with 20% of pixels replaced by
// a random label: the blocky, noisy input a thresholded CAM gives.
struct Scene {
  std::vector<uint8_t> rgb;
  std::vector<int32_t> labels;
};
Scene make_scene(int64_t H, int64_t W, int L, uint64_t seed) {
  Generator gen(seed);
  const ContextPtr cpu = Context::create(Device::cpu());
  const std::vector<float> noise = Tensor::uniform({H * W * 4}, 0, 1, gen, cpu).to_vector<float>();
  Scene s{std::vector<uint8_t>(size_t(H * W * 3)), std::vector<int32_t>(size_t(H * W))};
  const int objects = 8;
  for (int64_t y = 0; y < H; ++y)
    for (int64_t x = 0; x < W; ++x) {
      const int64_t i = y * W + x;
      int label = 0;
      double col[3] = {90 + 40 * std::sin(x * 0.05), 110 + 30 * std::cos(y * 0.07), 100};
      for (int k = 0; k < objects; ++k) {
        const double cx = W * (0.1 + 0.8 * ((k * 37) % 11) / 10.0), cy = H * (0.15 + 0.7 * ((k * 53) % 7) / 6.0);
        const double rx = W * (0.06 + 0.02 * (k % 3)), ry = H * (0.08 + 0.03 * (k % 2));
        if ((x - cx) * (x - cx) / (rx * rx) + (y - cy) * (y - cy) / (ry * ry) < 1) {
          label = (k + 1) % L;
          col[0] = 40 + 25 * k;
          col[1] = 220 - 20 * k;
          col[2] = 60 + 35 * (k % 4);
        }
      }
      for (int c = 0; c < 3; ++c) {
        const double v = col[c] + 24.0 * (noise[size_t(i * 4 + c)] - 0.5);
        s.rgb[size_t(i * 3 + c)] = uint8_t(v < 0 ? 0 : (v > 255 ? 255 : v));
      }
      const float u = noise[size_t(i * 4 + 3)];
      s.labels[size_t(i)] = u < 0.2f ? int32_t(u * 5 * L) % L : label;
    }
  return s;
}

// Compulsory bytes of one call of the GPU algorithm with vertex counts Mg, Mb: features and lattice build (table
// cleared and scanned, simplices written and remapped, keys and neighbours), the normalisation
// pass, then per iteration and lattice: vertex values zeroed, Q read and splatted (each vertex
// value written once), D+1 blur passes (values read and written, neighbour ids read), slice
// (simplices and vertex values read), unary read, Q written; labels written at the end.
double crf_bytes(int64_t N, int L, int64_t Mg, int64_t Mb, int iterations) {
  auto lattice = [&](int D, int64_t M) {
    const cm::LatticeLayout lay = cm::lattice_layout(N, D, L, 0);
    const double simplex = double(N) * (D + 1) * 8;  // offsets + weights
    // Features written and read; table cleared and scanned; simplices written; ids and keys
    // of the vertices; simplex slots remapped to ids (read + write); keys read, neighbours written.
    const double build = 8.0 * N * D + 2 * 8.0 * lay.capacity + simplex + 12.0 * M +
                         8.0 * N * (D + 1) + 8.0 * M + 8.0 * M * (D + 1);
    const double norm = 4.0 * M + simplex + 2 * (D + 1) * 4.0 * M + (D + 1) * 8.0 * M + 8.0 * N;
    const double iter = 4.0 * M * L + simplex + 4.0 * M * L +                       // splat
                        (D + 1) * (8.0 * M * L + 8.0 * M) + simplex + 4.0 * M * L;  // blur, slice
    return build + norm + iterations * iter;
  };
  return 3.0 * N + lattice(2, Mg) + lattice(5, Mb) + 4.0 * N * L +
         iterations * 8.0 * N * L + 4.0 * N;
}

double crf_flops(int64_t N, int L, int64_t Mg, int64_t Mb, int iterations) {
  auto lattice = [&](int D, int64_t M) {
    return 2.0 * N * (D + 1) * L + 3.0 * (D + 1) * M * L + 2.0 * N * (D + 1) * L;
  };
  // Update: 4 flops to combine, ~4 for max, exp, sum, divide per label.
  return iterations * (lattice(2, Mg) + lattice(5, Mb) + 8.0 * N * L);
}

void run_crf(Runner& r, int64_t H, int64_t W, int L) {
  const std::string name = "crf/" + std::to_string(W) + "x" + std::to_string(H) + "_l" + std::to_string(L);
  const int64_t N = H * W;
  const kernels::DenseCrfParams p;
  const Scene scene = make_scene(H, W, L, 61);
  std::vector<float> unary(size_t(N * L));
  kernels::cpu::crf_unary_from_labels(scene.labels.data(), H, W, L, p.gt_prob, unary.data());
  const ContextPtr& ctx = r.ctx();
  const Tensor image_cpu = Tensor::from_vector(scene.rgb, {H, W, 3}, r.cpu_ctx());
  const Tensor unary_cpu = Tensor::from_vector(unary, {L, H, W}, r.cpu_ctx());
  const Tensor image = image_cpu.to(ctx), u = unary_cpu.to(ctx);
  Tensor q = Tensor::empty({L, H, W}, DType::f32, ctx);
  Tensor labels = Tensor::empty({H, W}, DType::i32, ctx);
  const cm::CrfLayout lay = cm::crf_layout(N, L);
  const size_t ws_bytes = kernels::cpu::dense_crf_workspace_bytes(H, W, L);
  Tensor ws = Tensor::empty({int64_t(ws_bytes)}, DType::u8, ctx);
  Tensor q_ref = Tensor::empty({L, H, W}, DType::f32, r.cpu_ctx());
  Tensor labels_ref = Tensor::empty({H, W}, DType::i32, r.cpu_ctx());
  std::vector<char> ws_ref;
  auto counts_of = [&](const char* base, bool device, int64_t* mg, int64_t* mb) {
    int32_t c[2] = {0, 0};
    const size_t at[2] = {lay.gaussian.count, lay.bilateral.count};
    for (int k = 0; k < 2; ++k) {
#if WSVIS_WITH_CUDA
      if (device) {
        CUDA_CHECK(cudaMemcpy(&c[k], base + at[k], sizeof(int32_t), cudaMemcpyDeviceToHost));
        continue;
      }
#endif
      (void)device;
      std::memcpy(&c[k], base + at[k], sizeof(int32_t));
    }
    *mg = c[0];
    *mb = c[1];
  };
  std::function<void()> fn = [&] {
    kernels::cpu::dense_crf(image.data<uint8_t>(), u.data<float>(), H, W, L, p, q.data<float>(),
                            labels.data<int32_t>(), ws.raw_data());
  };
  int64_t Mg = 0, Mb = 0;
#if WSVIS_WITH_CUDA
  if (r.gpu()) {
    fn = [&] {
      kernels::cuda::dense_crf(ctx->stream(), image.data<uint8_t>(), u.data<float>(), H, W, L, p,
                               q.data<float>(), labels.data<int32_t>(), ws.raw_data());
    };
    ws_ref.resize(ws_bytes);
    kernels::cpu::dense_crf(image_cpu.data<uint8_t>(), unary_cpu.data<float>(), H, W, L, p,
                            q_ref.data<float>(), labels_ref.data<int32_t>(), ws_ref.data());
    fn();
    ctx->synchronize();
    // Q: the same lattice, float sums reordered by the atomic splat through 10 iterations.
    bool ok = r.validate(name + " Q", q, q_ref, 1e-3);
    const std::vector<int32_t> a = labels.to_vector<int32_t>(), e = labels_ref.to_vector<int32_t>();
    int64_t flips = 0;
    for (size_t k = 0; k < a.size(); ++k) flips += a[k] != e[k];
    std::printf("  %s: %lld of %lld labels differ from the CPU twin\n", name.c_str(),
                static_cast<long long>(flips), static_cast<long long>(N));
    if (flips > N / 10000) {
      ok = false;
      ++r.entries_failed;
    }
    int64_t rg = 0, rb = 0;
    counts_of(ws_ref.data(), false, &rg, &rb);
    counts_of(static_cast<const char*>(ws.raw_data()), true, &Mg, &Mb);
    if (Mg != rg || Mb != rb) {
      std::printf("  %s: VALIDATION FAILED: lattice sizes %lld/%lld vs CPU %lld/%lld\n", name.c_str(),
                  static_cast<long long>(Mg), static_cast<long long>(Mb), static_cast<long long>(rg),
                  static_cast<long long>(rb));
      ok = false;
      ++r.entries_failed;
    }
    if (!ok) return;
  }
#endif
  if (!r.gpu()) {
    fn();
    counts_of(static_cast<const char*>(ws.raw_data()), false, &Mg, &Mb);
  }
  std::printf("  %s: lattice vertices %lld (Gaussian) and %lld (bilateral) for %lld pixels; %.3g flops per call\n",
              name.c_str(), static_cast<long long>(Mg), static_cast<long long>(Mb),
              static_cast<long long>(N), crf_flops(N, L, Mg, Mb, p.iterations));
  const Measurement m = r.time(fn, r.gpu() ? 3 : 0, r.gpu() ? 20 : 3);
  r.report({name, shapes({{"image", {H, W, 3}}, {"unary", {L, H, W}}}), "fp32", m, 0.0,
            crf_bytes(N, L, Mg, Mb, p.iterations)});
}

const Registrar voc("crf/500x375_l21", [](Runner& r) {
  if (r.gpu())
    run_crf(r, 375, 500, 21);
  else
    run_crf(r, 94, 125, 21);
});
const Registrar video("crf/1280x720_l3", [](Runner& r) {
  if (r.gpu())
    run_crf(r, 720, 1280, 3);
  else
    run_crf(r, 180, 320, 3);
});

}  // namespace
}  // namespace wsvis::bench
