#include "engine/optim/clip.h"

#include <cmath>

#include "kernels/optim.h"

namespace wsvis::optim {

namespace {

// The gradients as ranges: one context and one dtype, as the optimizer requires.
struct Grads {
  std::vector<Tensor> tensors;
  ContextPtr ctx;
  DType dtype = DType::f32;
};

Grads collect(const std::vector<Tensor>& params, const char* op) {
  Grads out;
  for (size_t i = 0; i < params.size(); ++i) {
    WSVIS_CHECK(params[i].defined(), op, ": parameter ", i, " is undefined");
    const Tensor& g = params[i].grad();
    if (!g.defined() || g.numel() == 0) continue;
    WSVIS_CHECK(is_floating(g.dtype()), op, ": gradient of parameter ", i, " is ", g.describe());
    if (!out.ctx) {
      out.ctx = g.context_ptr();
      out.dtype = g.dtype();
    }
    WSVIS_CHECK(&g.context() == out.ctx.get() && g.dtype() == out.dtype, op,
                ": gradients on several devices or dtypes (", g.describe(), " and ",
                dtype_name(out.dtype), " on ", out.ctx->device().str(), ")");
    out.tensors.push_back(g);
  }
  return out;
}

template <typename T>
std::vector<kernels::GradSegment<T>> segments(const Grads& grads) {
  std::vector<kernels::GradSegment<T>> segs(grads.tensors.size());
  for (size_t k = 0; k < segs.size(); ++k) {
    segs[k].data = grads.tensors[k].data<T>();
    segs[k].n = grads.tensors[k].numel();
  }
  kernels::plan_chunks(segs.data(), int64_t(segs.size()));
  return segs;
}

template <typename T>
int64_t chunk_count(const std::vector<kernels::GradSegment<T>>& segs) {
  return segs.empty()
             ? 0
             : segs.back().first_chunk + kernels::ceil_div(segs.back().n, kernels::kOptimChunk);
}

double sum_squares(const Grads& grads) {
  if (grads.tensors.empty()) return 0.0;
  return WSVIS_DISPATCH_FLOATING(grads.dtype, "grad_norm", [&]() -> double {
    const auto segs = segments<scalar_t>(grads);
    const int64_t chunks = chunk_count(segs);
    Context& ctx = *grads.ctx;
    if (ctx.device().is_cpu()) {
      std::vector<double> partials(static_cast<size_t>(chunks));
      return kernels::cpu::sum_squares(segs.data(), int64_t(segs.size()), partials.data());
    }
#if WSVIS_WITH_CUDA
    DeviceGuard guard(ctx);
    const size_t bytes = kernels::cuda::grad_scratch_bytes(int64_t(segs.size()), chunks);
    char* scratch = static_cast<char*>(ctx.workspace(bytes + sizeof(double)));
    double* device_total = reinterpret_cast<double*>(scratch + bytes);
    kernels::cuda::sum_squares(ctx.stream(), segs.data(), int64_t(segs.size()), scratch,
                               device_total);
    double total = 0;
    detail::copy_to_host(&total, device_total, ctx, sizeof(double));
    return total;
#else
    WSVIS_FAIL("grad_norm: CUDA gradients in a build without the CUDA backend");
#endif
  });
}

void scale_all(const Grads& grads, double factor) {
  if (grads.tensors.empty()) return;
  WSVIS_DISPATCH_FLOATING(grads.dtype, "clip_grad_norm", [&] {
    const auto segs = segments<scalar_t>(grads);
    Context& ctx = *grads.ctx;
    if (ctx.device().is_cpu()) {
      kernels::cpu::scale(segs.data(), int64_t(segs.size()), static_cast<scalar_t>(factor));
      return;
    }
#if WSVIS_WITH_CUDA
    DeviceGuard guard(ctx);
    void* scratch = ctx.workspace(kernels::cuda::grad_scratch_bytes(int64_t(segs.size()), 0));
    kernels::cuda::scale(ctx.stream(), segs.data(), int64_t(segs.size()), scratch,
                         static_cast<scalar_t>(factor));
#endif
  });
}

}  // namespace

double grad_norm(const std::vector<Tensor>& params) {
  NoGradGuard no_grad;
  return std::sqrt(sum_squares(collect(params, "grad_norm")));
}

double clip_grad_norm(const std::vector<Tensor>& params, double max_norm, bool error_if_nonfinite) {
  NoGradGuard no_grad;
  WSVIS_CHECK(max_norm >= 0, "clip_grad_norm: max_norm must be >= 0, got ", max_norm);
  const Grads grads = collect(params, "clip_grad_norm");
  if (grads.tensors.empty()) return 0.0;
  const double total = std::sqrt(sum_squares(grads));
  WSVIS_CHECK(!error_if_nonfinite || std::isfinite(total), "clip_grad_norm: the total norm of ",
              grads.tensors.size(), " gradients is ", total,
              " (non-finite); with error_if_nonfinite=false it would scale them by NaN");
  // torch: clip_coef = max_norm / (total + 1e-6), clamped to 1, applied even when it is 1.
  // Multiplying by exactly 1 changes nothing, so skip the launch then.
  const double coef = std::min(max_norm / (total + 1e-6), 1.0);
  if (!(coef == 1.0)) scale_all(grads, coef);
  return total;
}

void clip_grad_value(const std::vector<Tensor>& params, double clip_value) {
  NoGradGuard no_grad;
  WSVIS_CHECK(clip_value >= 0, "clip_grad_value: clip_value must be >= 0, got ", clip_value);
  const Grads grads = collect(params, "clip_grad_value");
  if (grads.tensors.empty()) return;
  WSVIS_DISPATCH_FLOATING(grads.dtype, "clip_grad_value", [&] {
    const auto segs = segments<scalar_t>(grads);
    const scalar_t hi = static_cast<scalar_t>(clip_value);
    Context& ctx = *grads.ctx;
    if (ctx.device().is_cpu()) {
      kernels::cpu::clamp(segs.data(), int64_t(segs.size()), -hi, hi);
      return;
    }
#if WSVIS_WITH_CUDA
    DeviceGuard guard(ctx);
    void* scratch = ctx.workspace(kernels::cuda::grad_scratch_bytes(int64_t(segs.size()), 0));
    kernels::cuda::clamp(ctx.stream(), segs.data(), int64_t(segs.size()), scratch, -hi, hi);
#endif
  });
}

}  // namespace wsvis::optim
