// Connected-component labelling of 8 random 512x512 masks, 4- and 8-connectivity. The GPU
// labels are validated against the CPU twin (identical canonical labels and counts), then
// timed; without a GPU the CPU twin is timed on 2 masks.
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "bench/harness.h"
#include "kernels/basic.h"
#include "kernels/components.h"

namespace wsvis::bench {
namespace {

void run_components(Runner& r, int64_t N, int64_t H, int64_t W, int connectivity) {
  const std::string name = "components/" + std::to_string(N) + "x" + std::to_string(H) + "x" +
                           std::to_string(W) + "_conn" + std::to_string(connectivity);
  // Density 0.5: near the percolation threshold, so components range from single pixels to
  // image-spanning clusters (the union-find's long chains).
  Generator gen(23);
  const Tensor noise = Tensor::uniform({N, H, W}, 0, 1, gen, r.cpu_ctx(), DType::f32);
  std::vector<uint8_t> bits(size_t(N * H * W));
  const float* u = noise.data<float>();
  for (size_t k = 0; k < bits.size(); ++k) bits[k] = u[k] < 0.5f;
  const ContextPtr& ctx = r.ctx();
  const Tensor mask_cpu = Tensor::from_vector(bits, {N, H, W}, r.cpu_ctx());
  const Tensor mask = mask_cpu.to(ctx);
  Tensor labels = Tensor::empty({N, H, W}, DType::i32, ctx);
  Tensor counts = Tensor::empty({N}, DType::i32, ctx);
  Tensor labels_ref = Tensor::empty({N, H, W}, DType::i32, r.cpu_ctx());
  Tensor counts_ref = Tensor::empty({N}, DType::i32, r.cpu_ctx());
  auto label_cpu = [&](Tensor& l, Tensor& c) {
    kernels::cpu::label_components(mask_cpu.data<uint8_t>(), N, H, W, connectivity,
                                   l.data<int32_t>(), c.data<int32_t>(), nullptr);
  };
  std::function<void()> label = [&] { label_cpu(labels, counts); };
#if WSVIS_WITH_CUDA
  Tensor workspace;
  if (r.gpu()) {
    workspace = Tensor::empty({int64_t(kernels::cuda::components_workspace_bytes(N, H, W)) + 1},
                              DType::u8, ctx);
    label = [&] {
      kernels::cuda::label_components(ctx->stream(), mask.data<uint8_t>(), N, H, W, connectivity,
                                      labels.data<int32_t>(), counts.data<int32_t>(),
                                      workspace.raw_data());
    };
    label_cpu(labels_ref, counts_ref);
    label();
    ctx->synchronize();
    // Canonical numbering: the labels must be identical, not just equivalent.
    const bool ok = r.validate(name + " counts", counts, counts_ref, 0.0) &&
                    r.validate(name + " labels", labels, labels_ref, 0.0);
    if (!ok) return;
  }
#endif
  const Measurement m = r.time(label, r.gpu() ? 5 : 1, r.gpu() ? 50 : 5);
  // Bytes: the mask read and the labels written once (the floor; the passes re-read labels).
  const double bytes = double(N) * H * W * (1 + 4) + double(N) * 4;
  r.report({name, shapes({{"mask", {N, H, W}}}), "u8", m, 0.0, bytes});
}

const Registrar four("components/8x512x512_conn4", [](Runner& r) {
  run_components(r, r.gpu() ? 8 : 2, 512, 512, 4);
});
const Registrar eight("components/8x512x512_conn8", [](Runner& r) {
  run_components(r, r.gpu() ? 8 : 2, 512, 512, 8);
});

}  // namespace
}  // namespace wsvis::bench
