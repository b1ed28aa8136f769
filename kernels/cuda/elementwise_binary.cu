// CUDA twin of the binary and broadcast kernels in kernels/cpu/elementwise.cpp.
#include "engine/cuda_check.h"
#include "kernels/elementwise.h"
#include "kernels/elementwise_math.h"

namespace wsvis::kernels::cuda {

namespace {

template <BinaryOp Op, typename T>
__global__ void binary_kernel(T* out, const T* a, const T* b, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    out[i] = binary_apply(Op, a[i], b[i]);
}

// The geometry travels by value in the kernel's parameter space (well under the 4 KiB limit).
template <BinaryOp Op, typename T>
__global__ void binary_broadcast_kernel(T* out, const T* a, const T* b, BroadcastGeometry geo,
                                        int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    int64_t off_a, off_b;
    broadcast_offsets(geo, i, &off_a, &off_b);
    out[i] = binary_apply(Op, a[off_a], b[off_b]);
  }
}

template <typename T>
__global__ void broadcast_scaled_kernel(T* out, const T* in, BroadcastGeometry geo, T scale,
                                        int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    int64_t off_in, unused;
    broadcast_offsets(geo, i, &off_in, &unused);
    out[i] = scale * in[off_in];
  }
}

template <BinaryOp Op, typename T>
void launch_binary(cudaStream_t stream, T* out, const T* a, const T* b, int64_t n) {
  binary_kernel<Op><<<elementwise_blocks(n), kElementwiseThreads, 0, stream>>>(out, a, b, n);
  WSVIS_LAUNCH_CHECK();
}

template <BinaryOp Op, typename T>
void launch_binary_broadcast(cudaStream_t stream, T* out, const T* a, const T* b,
                             const BroadcastGeometry& geo, int64_t n) {
  binary_broadcast_kernel<Op><<<elementwise_blocks(n), kElementwiseThreads, 0, stream>>>(
      out, a, b, geo, n);
  WSVIS_LAUNCH_CHECK();
}

}  // namespace

template <typename T>
void binary(cudaStream_t stream, BinaryOp op, T* out, const T* a, const T* b, int64_t n) {
  if (n == 0) return;
  switch (op) {
    case BinaryOp::add: return launch_binary<BinaryOp::add>(stream, out, a, b, n);
    case BinaryOp::sub: return launch_binary<BinaryOp::sub>(stream, out, a, b, n);
    case BinaryOp::mul: return launch_binary<BinaryOp::mul>(stream, out, a, b, n);
    case BinaryOp::div: return launch_binary<BinaryOp::div>(stream, out, a, b, n);
  }
}

template <typename T>
void binary_broadcast(cudaStream_t stream, BinaryOp op, T* out, const T* a, const T* b,
                      const BroadcastGeometry& geo) {
  const int64_t n = broadcast_numel(geo);
  if (n == 0) return;
  switch (op) {
    case BinaryOp::add: return launch_binary_broadcast<BinaryOp::add>(stream, out, a, b, geo, n);
    case BinaryOp::sub: return launch_binary_broadcast<BinaryOp::sub>(stream, out, a, b, geo, n);
    case BinaryOp::mul: return launch_binary_broadcast<BinaryOp::mul>(stream, out, a, b, geo, n);
    case BinaryOp::div: return launch_binary_broadcast<BinaryOp::div>(stream, out, a, b, geo, n);
  }
}

template <typename T>
void broadcast_scaled(cudaStream_t stream, T* out, const T* in, const BroadcastGeometry& geo,
                      T scale) {
  const int64_t n = broadcast_numel(geo);
  if (n == 0) return;
  broadcast_scaled_kernel<<<elementwise_blocks(n), kElementwiseThreads, 0, stream>>>(
      out, in, geo, scale, n);
  WSVIS_LAUNCH_CHECK();
}

#define WSVIS_INSTANTIATE_BINARY(T)                                                          \
  template void binary<T>(cudaStream_t, BinaryOp, T*, const T*, const T*, int64_t);          \
  template void binary_broadcast<T>(cudaStream_t, BinaryOp, T*, const T*, const T*,          \
                                    const BroadcastGeometry&);                               \
  template void broadcast_scaled<T>(cudaStream_t, T*, const T*, const BroadcastGeometry&, T);
WSVIS_INSTANTIATE_BINARY(float)
WSVIS_INSTANTIATE_BINARY(double)

}  // namespace wsvis::kernels::cuda
