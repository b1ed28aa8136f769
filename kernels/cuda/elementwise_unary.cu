// CUDA twin of the unary kernels in kernels/cpu/elementwise.cpp.
#include "engine/cuda_check.h"
#include "kernels/elementwise.h"
#include "kernels/elementwise_math.h"

namespace wsvis::kernels::cuda {

namespace {

template <UnaryOp Op, typename T>
__global__ void unary_kernel(T* out, const T* x, int64_t n, T p0, T p1) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    out[i] = unary_apply(Op, x[i], p0, p1);
}

// `saved` may be null for ops whose derivative is constant (unary_saved(op) == none).
template <UnaryOp Op, typename T>
__global__ void unary_backward_kernel(T* grad_x, const T* grad_y, const T* saved, int64_t n, T p0,
                                      T p1) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    grad_x[i] = unary_grad(Op, grad_y[i], saved ? saved[i] : T(0), p0, p1);
}

template <UnaryOp Op, typename T>
void launch_unary(cudaStream_t stream, T* out, const T* x, int64_t n, T p0, T p1) {
  unary_kernel<Op><<<elementwise_blocks(n), kElementwiseThreads, 0, stream>>>(out, x, n, p0, p1);
  WSVIS_LAUNCH_CHECK();
}

template <UnaryOp Op, typename T>
void launch_unary_backward(cudaStream_t stream, T* grad_x, const T* grad_y, const T* saved,
                           int64_t n, T p0, T p1) {
  unary_backward_kernel<Op><<<elementwise_blocks(n), kElementwiseThreads, 0, stream>>>(
      grad_x, grad_y, saved, n, p0, p1);
  WSVIS_LAUNCH_CHECK();
}

}  // namespace

#define WSVIS_UNARY_CASE(name, fn, ...) \
  case UnaryOp::name: return fn<UnaryOp::name>(__VA_ARGS__);

#define WSVIS_UNARY_SWITCH(op, fn, ...)            \
  switch (op) {                                    \
    WSVIS_UNARY_CASE(neg, fn, __VA_ARGS__)         \
    WSVIS_UNARY_CASE(exp, fn, __VA_ARGS__)         \
    WSVIS_UNARY_CASE(log, fn, __VA_ARGS__)         \
    WSVIS_UNARY_CASE(sqrt, fn, __VA_ARGS__)        \
    WSVIS_UNARY_CASE(abs, fn, __VA_ARGS__)         \
    WSVIS_UNARY_CASE(relu, fn, __VA_ARGS__)        \
    WSVIS_UNARY_CASE(sigmoid, fn, __VA_ARGS__)     \
    WSVIS_UNARY_CASE(pow, fn, __VA_ARGS__)         \
    WSVIS_UNARY_CASE(clamp, fn, __VA_ARGS__)       \
    WSVIS_UNARY_CASE(add_scalar, fn, __VA_ARGS__)  \
    WSVIS_UNARY_CASE(mul_scalar, fn, __VA_ARGS__)  \
    WSVIS_UNARY_CASE(div_scalar, fn, __VA_ARGS__)  \
    WSVIS_UNARY_CASE(rsub_scalar, fn, __VA_ARGS__) \
    WSVIS_UNARY_CASE(rdiv_scalar, fn, __VA_ARGS__) \
  }

template <typename T>
void unary(cudaStream_t stream, UnaryOp op, T* out, const T* x, int64_t n, T p0, T p1) {
  if (n == 0) return;
  WSVIS_UNARY_SWITCH(op, launch_unary, stream, out, x, n, p0, p1)
}

template <typename T>
void unary_backward(cudaStream_t stream, UnaryOp op, T* grad_x, const T* grad_y, const T* saved,
                    int64_t n, T p0, T p1) {
  if (n == 0) return;
  WSVIS_UNARY_SWITCH(op, launch_unary_backward, stream, grad_x, grad_y, saved, n, p0, p1)
}

#define WSVIS_INSTANTIATE_UNARY(T)                                                           \
  template void unary<T>(cudaStream_t, UnaryOp, T*, const T*, int64_t, T, T);                \
  template void unary_backward<T>(cudaStream_t, UnaryOp, T*, const T*, const T*, int64_t, T, \
                                  T);
WSVIS_INSTANTIATE_UNARY(float)
WSVIS_INSTANTIATE_UNARY(double)

}  // namespace wsvis::kernels::cuda
