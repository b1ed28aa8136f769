// Checks and small helpers shared by every op in engine/ops/. Each check throws wsvis::Error
// naming the op and the offending tensors, so misuse is reported where it happens.
#pragma once

#include <string>
#include <vector>

#include "engine/tensor.h"

namespace wsvis::ops::detail {

inline void check_defined(const Tensor& t, const char* op, const char* what) {
  WSVIS_CHECK(t.defined(), op, ": ", what, " is an undefined tensor");
}

// All tensors on one context (one device, one stream).
inline void check_same_context(const char* op, std::initializer_list<const Tensor*> tensors) {
  const Tensor* first = nullptr;
  for (const Tensor* t : tensors) {
    if (!t || !t->defined()) continue;
    if (!first) {
      first = t;
      continue;
    }
    WSVIS_CHECK(&t->context() == &first->context(), op, ": tensors on different devices or ",
                "contexts: ", first->describe(), " and ", t->describe());
  }
}

inline void check_floating(const Tensor& t, const char* op, const char* what) {
  WSVIS_CHECK(is_floating(t.dtype()), op, ": ", what, " must be f32 or f64, got ", t.describe());
  WSVIS_CHECK(t.device().is_cpu() || t.dtype() == DType::f32, op, ": ", what,
              " is f64 on ", t.device().str(), "; the CUDA backend computes in f32 (f64 is for "
              "CPU gradient checks)");
}

inline void check_same_dtype(const char* op, const Tensor& a, const Tensor& b) {
  WSVIS_CHECK(a.dtype() == b.dtype(), op, ": dtype mismatch: ", a.describe(), " and ",
              b.describe());
}

inline void check_dim(const Tensor& t, int dim, const char* op, const char* what,
                      const char* letters) {
  WSVIS_CHECK(t.dim() == dim, op, ": ", what, " must be ", letters, ", got shape ",
              t.shape_str());
}

inline void check_nonempty(const Tensor& t, const char* op, const char* what) {
  WSVIS_CHECK(t.numel() > 0, op, ": ", what, " is empty (shape ", t.shape_str(), ")");
}

// Normalises a possibly negative dimension index.
inline int wrap_dim(int d, int ndim, const char* op) {
  const int axis = d < 0 ? d + ndim : d;
  WSVIS_CHECK(axis >= 0 && axis < ndim, op, ": dimension ", d, " out of range for ", ndim,
              "-d tensor");
  return axis;
}

inline bool on_cpu(const Tensor& t) { return t.device().is_cpu(); }

}  // namespace wsvis::ops::detail

// Calls kernels::cpu::fn<scalar_t>(args...) for a CPU tensor or kernels::cuda::fn<scalar_t> on the
// tensor's context stream for a CUDA one; the kernel families declare both twins with the same
// arguments, so an op names its kernel once. Used inside WSVIS_DISPATCH_FLOATING (binds scalar_t).
#if WSVIS_WITH_CUDA
#define WSVIS_KERNEL_CALL(tensor, fn, ...)                                           \
  do {                                                                               \
    if (::wsvis::ops::detail::on_cpu(tensor))                                        \
      ::wsvis::kernels::cpu::fn<scalar_t>(__VA_ARGS__);                              \
    else                                                                             \
      ::wsvis::kernels::cuda::fn<scalar_t>((tensor).context().stream(), __VA_ARGS__); \
  } while (0)
#else
#define WSVIS_KERNEL_CALL(tensor, fn, ...) ::wsvis::kernels::cpu::fn<scalar_t>(__VA_ARGS__)
#endif

namespace wsvis::ops::detail {

}  // namespace wsvis::ops::detail
