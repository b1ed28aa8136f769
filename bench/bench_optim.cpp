// The fused SGD update (momentum 0.9, weight decay 1e-4, kernels/optim.h) over 25.6M f32
// parameters, the size of ResNet-50: once as one packed range (Module::pack_parameters: one
// segment), once as ResNet-50's 161 separate tensors in one launch, and the same 161 tensors
// with one launch each (the unfused baseline). Each is validated against the CPU twin after one
// step, then timed. Bytes: parameter, gradient and momentum read, parameter and momentum
// written: 20 bytes per f32 element (the floor; the segment table is a few KB).
// Without a GPU the CPU twin runs on 2M elements.
#include <cstdio>
#include <string>
#include <vector>

#include "bench/harness.h"
#include "engine/optim/sgd.h"
#include "models/resnet.h"

namespace wsvis::bench {
namespace {

// ResNet-50's parameter shapes (torchvision order), from the model itself.
std::vector<Shape> resnet50_shapes(const ContextPtr& cpu) {
  models::ResNetOptions o;
  o.depth = 50;
  Generator gen(1);
  models::ResNet net(o, gen, cpu);
  std::vector<Shape> shapes;
  for (const auto& [name, p] : net.named_parameters()) shapes.push_back(p.shape());
  return shapes;
}

struct Problem {
  std::vector<Tensor> params;  // on the timed context
  std::vector<Tensor> ref;     // CPU copies for validation
  int64_t elements = 0;
};

// `shapes` as separate tensors, or (packed) as views into one flat buffer like a packed model.
Problem make_problem(Runner& r, const std::vector<Shape>& shapes, bool packed) {
  Problem pb;
  for (const Shape& s : shapes) pb.elements += shape_numel(s);
  Generator gen(5);
  const Tensor flat_p = Tensor::uniform({pb.elements}, -1, 1, gen, r.cpu_ctx());
  const Tensor flat_g = Tensor::uniform({pb.elements}, -1, 1, gen, r.cpu_ctx());
  Tensor dev_p = flat_p.to(r.ctx()), dev_g = flat_g.to(r.ctx());
  int64_t offset = 0;
  for (const Shape& s : shapes) {
    const int64_t n = shape_numel(s);
    Tensor p = packed ? dev_p.narrow0(offset, n).view(s) : dev_p.narrow0(offset, n).view(s).clone();
    Tensor g = packed ? dev_g.narrow0(offset, n).view(s) : dev_g.narrow0(offset, n).view(s).clone();
    p.set_requires_grad(true);
    p.set_grad(g);
    Tensor rp = flat_p.narrow0(offset, n).view(s).clone();
    rp.set_requires_grad(true);
    rp.set_grad(flat_g.narrow0(offset, n).view(s).clone());
    pb.params.push_back(p);
    pb.ref.push_back(rp);
    offset += n;
  }
  return pb;
}

optim::SgdOptions options() {
  optim::SgdOptions o;
  o.lr = 1e-3;
  o.momentum = 0.9;
  o.weight_decay = 1e-4;
  return o;
}

void run_sgd(Runner& r, const std::string& name, const std::vector<Shape>& shapes, bool packed,
             bool fused) {
  Problem pb = make_problem(r, shapes, packed);
  optim::SGD opt(pb.params, options());
  opt.set_fused(fused);
  if (r.gpu()) {
    // One step on both twins. nvcc contracts the update's multiply-adds into FMAs (one rounding
    // instead of two): a few ulps of O(1) values, so 1e-6 of the largest |parameter|.
    optim::SGD ref(pb.ref, options());
    opt.step();
    ref.step();
    bool ok = true;
    for (size_t i = 0; i < pb.params.size() && ok; i += std::max<size_t>(1, pb.params.size() / 8))
      ok = r.validate(name + " param " + std::to_string(i), pb.params[i], pb.ref[i], 1e-6);
    if (!ok) return;
  }
  const Measurement m = r.time([&] { opt.step(); }, r.gpu() ? 5 : 1, r.gpu() ? 50 : 5);
  const double bytes = 20.0 * double(pb.elements);
  std::printf("  %s: %lld elements in %lld segment(s), %lld launch(es): %.1f GB/s\n", name.c_str(),
              (long long)pb.elements, (long long)opt.last_step_stats().segments,
              (long long)opt.last_step_stats().launches, bytes / (m.median_ms * 1e-3) / 1e9);
  const std::string shape = shapes.size() == 1 ? shape_str(shapes.front())
                                               : std::to_string(shapes.size()) + " tensors, " +
                                                     std::to_string(pb.elements) + " elements";
  r.report({name, shape, "fp32", m, 0.0, bytes});
}

const Registrar flat("optim/sgd_packed_25m", [](Runner& r) {
  const int64_t n = r.gpu() ? 25557032 : 2000000;
  run_sgd(r, "sgd_fused/packed_" + std::to_string(n), {{n}}, true, true);
});
const Registrar resnet("optim/sgd_resnet50_tensors", [](Runner& r) {
  if (!r.gpu()) {
    std::printf("  skipped on the CPU: the per-tensor layout only matters for launch counts\n");
    return;
  }
  const auto shapes = resnet50_shapes(r.cpu_ctx());
  run_sgd(r, "sgd_fused/resnet50_161_tensors", shapes, false, true);
  run_sgd(r, "sgd_per_tensor/resnet50_161_tensors", shapes, false, false);
});

}  // namespace
}  // namespace wsvis::bench
