// Internal helpers shared by the IRN / flowIRN / CRF ops (engine/ops/irn.cpp,
// engine/ops/irn_inference.cpp): kernel scratch as a u8 tensor, calls to the kernel twins that
// are not templated on the element type, and the input checks those ops repeat.
#pragma once

#include <cstddef>
#include <cstdint>

#include "engine/ops/op_utils.h"
#include "engine/tensor.h"
#include "kernels/irn_math.h"

// Non-templated twin call: kernels::cpu::fn(args...) for a CPU tensor, kernels::cuda::fn on the
// tensor's stream for a CUDA one (WSVIS_KERNEL_CALL's counterpart without <scalar_t>).
#if WSVIS_WITH_CUDA
#define WSVIS_TWIN_CALL(tensor, fn, ...)                                             \
  do {                                                                               \
    if (::wsvis::ops::detail::on_cpu(tensor))                                        \
      ::wsvis::kernels::cpu::fn(__VA_ARGS__);                                        \
    else                                                                             \
      ::wsvis::kernels::cuda::fn((tensor).context().stream(), __VA_ARGS__);          \
  } while (0)
// A twin's host-side query (workspace sizes): no stream argument.
#define WSVIS_TWIN_VALUE(tensor, fn, ...)                                              \
  (::wsvis::ops::detail::on_cpu(tensor) ? ::wsvis::kernels::cpu::fn(__VA_ARGS__)       \
                                        : ::wsvis::kernels::cuda::fn(__VA_ARGS__))
#else
#define WSVIS_TWIN_CALL(tensor, fn, ...) ::wsvis::kernels::cpu::fn(__VA_ARGS__)
#define WSVIS_TWIN_VALUE(tensor, fn, ...) ::wsvis::kernels::cpu::fn(__VA_ARGS__)
#endif

namespace wsvis::ops::detail {

// Kernel scratch of `bytes` on ref's context, from its allocator (freed when the tensor goes;
// on CUDA the caching allocator reuses it stream-ordered). At least one byte so kernels that
// check for a non-null workspace accept an empty problem.
inline Tensor scratch_like(const Tensor& ref, size_t bytes) {
  return Tensor::empty({static_cast<int64_t>(bytes > 0 ? bytes : 1)}, DType::u8,
                       ref.context_ptr());
}

inline void check_dtype(const Tensor& t, DType dtype, const char* op, const char* what) {
  WSVIS_CHECK(t.dtype() == dtype, op, ": ", what, " must be ", dtype_name(dtype), ", got ",
              t.describe());
}

// Checks t's shape is exactly `shape`; `letters` names the expected layout, e.g. "(N, H, W)".
inline void check_shape(const Tensor& t, const Shape& shape, const char* op, const char* what,
                        const char* letters) {
  WSVIS_CHECK(t.shape() == shape, op, ": ", what, " must be ", letters, " = ",
              wsvis::shape_str(shape), ", got ", t.shape_str());
}

// A pair set made by kernels::irn_pair_set (a default-constructed one has no directions).
inline void check_pair_set(const kernels::IrnPairSet& set, const char* op) {
  WSVIS_CHECK(set.radius >= 1 && set.radius <= kernels::kIrnMaxRadius &&
                  set.num_directions >= 1 && set.num_directions <= kernels::kIrnMaxDirections,
              op, ": pair set with radius ", set.radius, " and ", set.num_directions,
              " directions; build it with kernels::irn_pair_set(radius)");
}

// A constant input of a differentiable op: passing one that requires grad is an error rather
// than a silently missing gradient.
inline void check_no_grad(const Tensor& t, const char* op, const char* what) {
  WSVIS_CHECK(!t.requires_grad(), op, ": ", what, " ", t.describe(), " requires grad, but ", op,
              " treats it as data (no gradient to it is computed); pass ", what, ".detach()");
}

}  // namespace wsvis::ops::detail
