#include <cstdint>

#include "kernels/elementwise.h"
#include "kernels/elementwise_math.h"

namespace wsvis::kernels::cpu {

namespace {

// Parallelise only where the work outweighs waking the thread team.
constexpr int64_t kParallelThreshold = 1 << 15;

// One loop per op value: `Op` is a compile-time constant, so the switch in the math header
// folds and the loop vectorises.
template <BinaryOp Op, typename T>
void binary_loop(T* out, const T* a, const T* b, int64_t n) {
#pragma omp parallel for if (n > kParallelThreshold)
  for (int64_t i = 0; i < n; ++i) out[i] = binary_apply(Op, a[i], b[i]);
}

template <BinaryOp Op, typename T>
void binary_broadcast_loop(T* out, const T* a, const T* b, const BroadcastGeometry& geo) {
  const int64_t n = broadcast_numel(geo);
#pragma omp parallel for if (n > kParallelThreshold)
  for (int64_t i = 0; i < n; ++i) {
    int64_t off_a, off_b;
    broadcast_offsets(geo, i, &off_a, &off_b);
    out[i] = binary_apply(Op, a[off_a], b[off_b]);
  }
}

template <UnaryOp Op, typename T>
void unary_loop(T* out, const T* x, int64_t n, T p0, T p1) {
#pragma omp parallel for if (n > kParallelThreshold)
  for (int64_t i = 0; i < n; ++i) out[i] = unary_apply(Op, x[i], p0, p1);
}

template <UnaryOp Op, typename T>
void unary_backward_loop(T* grad_x, const T* grad_y, const T* saved, int64_t n, T p0, T p1) {
  if (saved == nullptr) {
#pragma omp parallel for if (n > kParallelThreshold)
    for (int64_t i = 0; i < n; ++i) grad_x[i] = unary_grad(Op, grad_y[i], T(0), p0, p1);
  } else {
#pragma omp parallel for if (n > kParallelThreshold)
    for (int64_t i = 0; i < n; ++i) grad_x[i] = unary_grad(Op, grad_y[i], saved[i], p0, p1);
  }
}

}  // namespace

template <typename T>
void binary(BinaryOp op, T* out, const T* a, const T* b, int64_t n) {
  switch (op) {
    case BinaryOp::add: return binary_loop<BinaryOp::add>(out, a, b, n);
    case BinaryOp::sub: return binary_loop<BinaryOp::sub>(out, a, b, n);
    case BinaryOp::mul: return binary_loop<BinaryOp::mul>(out, a, b, n);
    case BinaryOp::div: return binary_loop<BinaryOp::div>(out, a, b, n);
  }
}

template <typename T>
void binary_broadcast(BinaryOp op, T* out, const T* a, const T* b, const BroadcastGeometry& geo) {
  switch (op) {
    case BinaryOp::add: return binary_broadcast_loop<BinaryOp::add>(out, a, b, geo);
    case BinaryOp::sub: return binary_broadcast_loop<BinaryOp::sub>(out, a, b, geo);
    case BinaryOp::mul: return binary_broadcast_loop<BinaryOp::mul>(out, a, b, geo);
    case BinaryOp::div: return binary_broadcast_loop<BinaryOp::div>(out, a, b, geo);
  }
}

#define WSVIS_UNARY_CASE(name, fn, ...) \
  case UnaryOp::name: return fn<UnaryOp::name>(__VA_ARGS__);

#define WSVIS_UNARY_SWITCH(op, fn, ...)                     \
  switch (op) {                                             \
    WSVIS_UNARY_CASE(neg, fn, __VA_ARGS__)                  \
    WSVIS_UNARY_CASE(exp, fn, __VA_ARGS__)                  \
    WSVIS_UNARY_CASE(log, fn, __VA_ARGS__)                  \
    WSVIS_UNARY_CASE(sqrt, fn, __VA_ARGS__)                 \
    WSVIS_UNARY_CASE(abs, fn, __VA_ARGS__)                  \
    WSVIS_UNARY_CASE(relu, fn, __VA_ARGS__)                 \
    WSVIS_UNARY_CASE(sigmoid, fn, __VA_ARGS__)              \
    WSVIS_UNARY_CASE(pow, fn, __VA_ARGS__)                  \
    WSVIS_UNARY_CASE(clamp, fn, __VA_ARGS__)                \
    WSVIS_UNARY_CASE(add_scalar, fn, __VA_ARGS__)           \
    WSVIS_UNARY_CASE(mul_scalar, fn, __VA_ARGS__)           \
    WSVIS_UNARY_CASE(div_scalar, fn, __VA_ARGS__)           \
    WSVIS_UNARY_CASE(rsub_scalar, fn, __VA_ARGS__)          \
    WSVIS_UNARY_CASE(rdiv_scalar, fn, __VA_ARGS__)          \
  }

template <typename T>
void unary(UnaryOp op, T* out, const T* x, int64_t n, T p0, T p1) {
  WSVIS_UNARY_SWITCH(op, unary_loop, out, x, n, p0, p1)
}

template <typename T>
void unary_backward(UnaryOp op, T* grad_x, const T* grad_y, const T* saved, int64_t n, T p0,
                    T p1) {
  WSVIS_UNARY_SWITCH(op, unary_backward_loop, grad_x, grad_y, saved, n, p0, p1)
}

template <typename T>
void broadcast_scaled(T* out, const T* in, const BroadcastGeometry& geo, T scale) {
  const int64_t n = broadcast_numel(geo);
#pragma omp parallel for if (n > kParallelThreshold)
  for (int64_t i = 0; i < n; ++i) {
    int64_t off_in, unused;
    broadcast_offsets(geo, i, &off_in, &unused);
    out[i] = scale * in[off_in];
  }
}

#define WSVIS_INSTANTIATE_ELEMENTWISE(T)                                                      \
  template void binary<T>(BinaryOp, T*, const T*, const T*, int64_t);                         \
  template void binary_broadcast<T>(BinaryOp, T*, const T*, const T*,                         \
                                    const BroadcastGeometry&);                                \
  template void unary<T>(UnaryOp, T*, const T*, int64_t, T, T);                               \
  template void unary_backward<T>(UnaryOp, T*, const T*, const T*, int64_t, T, T);            \
  template void broadcast_scaled<T>(T*, const T*, const BroadcastGeometry&, T);
WSVIS_INSTANTIATE_ELEMENTWISE(float)
WSVIS_INSTANTIATE_ELEMENTWISE(double)

}  // namespace wsvis::kernels::cpu
