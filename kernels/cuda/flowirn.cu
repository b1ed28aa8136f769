// CUDA twin of kernels/cpu/flowirn.cpp except select_kth (kernels/cuda/percentile.cu): the flow
// magnitude, f-CAM, the flow gradient and the flow-boundary loss. Elementwise kernels with
// grid-stride loops; the loss forward is a deterministic two-pass reduction (block sums in
// double in a fixed shuffle order, then one block adds the block totals in a fixed order; the
// grid depends only on the sizes, so repeated runs give the same bits).
#include "engine/cuda_check.h"
#include "engine/error.h"
#include "kernels/cuda/block_reduce.cuh"
#include "kernels/flowirn.h"

namespace wsvis::kernels::cuda {

namespace {

namespace fm = flowirn_math;

// The directions of the IrnPairSet travel as a kernel argument (about 310 bytes; the path
// points, which this loss does not need, stay behind).
struct Directions {
  int8_t dy[kIrnMaxDirections];
  int8_t dx[kIrnMaxDirections];
  int D;
  int radius;
};

Directions directions_of(const char* what, int64_t N, int64_t H, int64_t W, const IrnPairSet& set) {
  WSVIS_CHECK(N >= 0 && H >= 0 && W >= 0, what, ": negative size N=", N, " H=", H, " W=", W);
  WSVIS_CHECK(set.num_directions >= 0 && set.num_directions <= kIrnMaxDirections, what,
              ": pair set with ", set.num_directions, " directions");
  WSVIS_CHECK(H * W < (int64_t(1) << 31) - 1, what, ": ", H, "x", W, " grid too large");
  Directions dirs{};
  dirs.D = set.num_directions;
  dirs.radius = set.radius;
  for (int d = 0; d < dirs.D; ++d) {
    dirs.dy[d] = set.dy[d];
    dirs.dx[d] = set.dx[d];
  }
  return dirs;
}

// The loss kernels run on a 2D grid: blockIdx.y walks the (image, direction) planes of alpha
// (grid-stride beyond 65,535 planes), blockIdx.x splits a plane. A plane's direction, image and
// pair rectangle are fixed per block, and the in-plane index is 32-bit (H * W < 2^31 is
// checked), so each element costs one 32-bit division instead of several 64-bit ones.
constexpr int kLossThreads = 256;
constexpr int64_t kMaxPlaneBlocks = 65535;
constexpr int64_t kMaxForwardSplit = 64;  // blocks per plane in the forward (4+ pairs per thread)

struct LossGrid {
  unsigned x, y;
  int64_t blocks() const { return int64_t(x) * int64_t(y); }
};

LossGrid loss_grid(int64_t planes, int64_t P, bool forward) {
  int64_t bx = forward ? ceil_div(P, kLossThreads * 4) : ceil_div(P, kLossThreads);
  if (bx < 1) bx = 1;
  if (forward && bx > kMaxForwardSplit) bx = kMaxForwardSplit;
  if (bx > 65535) bx = 65535;
  int64_t by = planes < 1 ? 1 : (planes > kMaxPlaneBlocks ? kMaxPlaneBlocks : planes);
  return {static_cast<unsigned>(bx), static_cast<unsigned>(by)};
}

template <typename T>
__global__ void flow_magnitude_kernel(const T* __restrict__ flow, int64_t N, int64_t P,
                                      T* __restrict__ magnitude) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < N * P;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t n = i / P, p = i - n * P;
    const T* f = flow + n * 2 * P;
    magnitude[i] = fm::flow_magnitude(f[p], f[P + p]);
  }
}

// blockIdx.y walks the (image, class) planes, blockIdx.x the pixels (32-bit in-plane index).
template <typename T>
__global__ void fcam_kernel(const T* __restrict__ cams, const T* __restrict__ magnitude, int64_t C,
                            int64_t planes, int P, const T* __restrict__ threshold, T amplification,
                            T* __restrict__ out) {
  const T thr = *threshold;
  for (int64_t r = blockIdx.y; r < planes; r += gridDim.y) {
    const T* m = magnitude + (r / C) * int64_t(P);
    const T* cam = cams + r * int64_t(P);
    T* o = out + r * int64_t(P);
    for (int p = blockIdx.x * blockDim.x + threadIdx.x; p < P; p += gridDim.x * blockDim.x)
      o[p] = fm::fcam_value(cam[p], m[p], thr, amplification);
  }
}

template <typename T>
__global__ void flow_gradient_kernel(const T* __restrict__ flow, int64_t N, int64_t H, int64_t W,
                                     T scale, T* __restrict__ flow_grad) {
  const int64_t P = H * W;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < N * P;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t n = i / P, p = i - n * P;
    const T* f = flow + n * 2 * P;
    T g[4];
    fm::flow_gradient_at(f, f + P, H, W, p / W, p % W, scale, g);
    T* o = flow_grad + n * 4 * P;
    for (int c = 0; c < 4; ++c) o[c * P + p] = g[c];
  }
}

// Forward: each plane visits only its pair rectangle (rows [0, y_end), columns
// [x_begin, x_end)); every block writes one partial sum (its planes in a fixed order).
template <typename T>
__global__ void flow_boundary_forward_kernel(const T* __restrict__ flow_grad,
                                             const T* __restrict__ alpha, Directions dirs,
                                             int64_t planes, int H, int W, bool crop, T lambda,
                                             double* __restrict__ partial) {
  __shared__ double scratch[32];
  const int P = H * W;
  double sum = 0;
  for (int64_t r = blockIdx.y; r < planes; r += gridDim.y) {
    const int64_t n = r / dirs.D;
    const int d = static_cast<int>(r - n * dirs.D);
    const int dy = dirs.dy[d], dx = dirs.dx[d];
    const fm::PairRange range = fm::pair_range(H, W, dy, dx, dirs.radius, crop);
    const int count = static_cast<int>(range.count());
    const int cols = static_cast<int>(range.x_end - range.x_begin), x0 = int(range.x_begin);
    const int off = dy * W + dx;
    const T* g = flow_grad + n * 4 * int64_t(P);
    const T* a = alpha + r * int64_t(P);
    for (int t = blockIdx.x * blockDim.x + threadIdx.x; t < count; t += gridDim.x * blockDim.x) {
      const int y = t / cols;
      const int i = y * W + x0 + (t - y * cols);
      const T dist = fm::gradient_distance(g, int64_t(P), int64_t(i), int64_t(i + off));
      sum += static_cast<double>(fm::flow_boundary_term(dist, a[i], lambda));
    }
  }
  sum = detail::block_sum(sum, scratch);
  if (threadIdx.x == 0) partial[blockIdx.y * int64_t(gridDim.x) + blockIdx.x] = sum;
}

// One block adds the partial sums: each thread a fixed strided subset, then a fixed tree.
template <typename T>
__global__ void flow_boundary_finish_kernel(const double* __restrict__ partial, int64_t blocks,
                                            double inv_pairs, T* __restrict__ loss) {
  __shared__ double scratch[32];
  double sum = 0;
  for (int64_t b = threadIdx.x; b < blocks; b += blockDim.x) sum += partial[b];
  sum = detail::block_sum(sum, scratch);
  if (threadIdx.x == 0) *loss = static_cast<T>(sum * inv_pairs);
}

// Backward: every element of every plane is written (0 off the pair rectangle).
template <typename T>
__global__ void flow_boundary_backward_kernel(const T* __restrict__ flow_grad,
                                              const T* __restrict__ alpha, Directions dirs,
                                              int64_t planes, int H, int W, bool crop, T lambda,
                                              const T* __restrict__ grad_loss, double inv_pairs,
                                              T* __restrict__ grad_alpha) {
  const int P = H * W;
  const T scale = static_cast<T>(static_cast<double>(*grad_loss) * inv_pairs);
  for (int64_t r = blockIdx.y; r < planes; r += gridDim.y) {
    const int64_t n = r / dirs.D;
    const int d = static_cast<int>(r - n * dirs.D);
    const int dy = dirs.dy[d], dx = dirs.dx[d];
    const fm::PairRange range = fm::pair_range(H, W, dy, dx, dirs.radius, crop);
    const int off = dy * W + dx;
    const T* g = flow_grad + n * 4 * int64_t(P);
    const T* a = alpha + r * int64_t(P);
    T* ga = grad_alpha + r * int64_t(P);
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < P; i += gridDim.x * blockDim.x) {
      const int y = i / W, x = i - y * W;
      T v = T(0);
      if (range.contains(y, x)) {
        const T dist = fm::gradient_distance(g, int64_t(P), int64_t(i), int64_t(i + off));
        v = scale * fm::flow_boundary_dterm(dist, a[i], lambda);
      }
      ga[i] = v;
    }
  }
}

}  // namespace

template <typename T>
void flow_magnitude(cudaStream_t stream, const T* flow, int64_t N, int64_t H, int64_t W,
                    T* magnitude) {
  WSVIS_CHECK(N >= 0 && H >= 0 && W >= 0, "flow_magnitude: negative size N=", N, " H=", H,
              " W=", W);
  const int64_t total = N * H * W;
  if (total == 0) return;
  flow_magnitude_kernel<T>
      <<<elementwise_blocks(total), kElementwiseThreads, 0, stream>>>(flow, N, H * W, magnitude);
  WSVIS_LAUNCH_CHECK();
}

template <typename T>
void fcam_amplify(cudaStream_t stream, const T* cams, const T* magnitude, int64_t N, int64_t C,
                  int64_t H, int64_t W, const T* threshold, T amplification, T* out) {
  WSVIS_CHECK(N >= 0 && C >= 0 && H >= 0 && W >= 0, "fcam_amplify: negative size N=", N, " C=", C,
              " H=", H, " W=", W);
  const int64_t planes = N * C, P = H * W;
  if (planes * P == 0) return;
  WSVIS_CHECK(P < (int64_t(1) << 31) - 1, "fcam_amplify: ", H, "x", W, " plane too large");
  const LossGrid grid = loss_grid(planes, P, false);
  fcam_kernel<T><<<dim3(grid.x, grid.y), kLossThreads, 0, stream>>>(
      cams, magnitude, C, planes, static_cast<int>(P), threshold, amplification, out);
  WSVIS_LAUNCH_CHECK();
}

template <typename T>
void flow_gradient(cudaStream_t stream, const T* flow, int64_t N, int64_t H, int64_t W, T scale,
                   T* flow_grad) {
  WSVIS_CHECK(N >= 0 && H >= 0 && W >= 0, "flow_gradient: negative size N=", N, " H=", H, " W=", W);
  const int64_t total = N * H * W;
  if (total == 0) return;
  flow_gradient_kernel<T><<<elementwise_blocks(total), kElementwiseThreads, 0, stream>>>(
      flow, N, H, W, scale, flow_grad);
  WSVIS_LAUNCH_CHECK();
}

size_t flow_boundary_loss_workspace_bytes(int64_t N, int64_t H, int64_t W, const IrnPairSet& set) {
  const int64_t planes = (N < 0 ? 0 : N) * set.num_directions;
  const int64_t P = (H < 0 ? 0 : H) * (W < 0 ? 0 : W);
  return sizeof(double) * static_cast<size_t>(loss_grid(planes, P, true).blocks());
}

template <typename T>
void flow_boundary_loss_forward(cudaStream_t stream, const T* flow_grad, const T* alpha, int64_t N,
                                int64_t H, int64_t W, const IrnPairSet& set, bool irn_source_crop,
                                T lambda, T* loss, void* workspace) {
  const Directions dirs = directions_of("flow_boundary_loss_forward", N, H, W, set);
  const int64_t pairs = N * flow_boundary_pair_count(H, W, set, irn_source_crop);
  if (pairs == 0) {
    CUDA_CHECK(cudaMemsetAsync(loss, 0, sizeof(T), stream));
    return;
  }
  WSVIS_CHECK(workspace != nullptr, "flow_boundary_loss_forward: no workspace");
  const int64_t planes = N * dirs.D;
  const LossGrid grid = loss_grid(planes, H * W, true);
  double* partial = static_cast<double*>(workspace);
  flow_boundary_forward_kernel<T><<<dim3(grid.x, grid.y), kLossThreads, 0, stream>>>(
      flow_grad, alpha, dirs, planes, static_cast<int>(H), static_cast<int>(W), irn_source_crop,
      lambda, partial);
  WSVIS_LAUNCH_CHECK();
  flow_boundary_finish_kernel<T>
      <<<1, 1024, 0, stream>>>(partial, grid.blocks(), 1.0 / static_cast<double>(pairs), loss);
  WSVIS_LAUNCH_CHECK();
}

template <typename T>
void flow_boundary_loss_backward(cudaStream_t stream, const T* flow_grad, const T* alpha, int64_t N,
                                 int64_t H, int64_t W, const IrnPairSet& set, bool irn_source_crop,
                                 T lambda, const T* grad_loss, T* grad_alpha) {
  const Directions dirs = directions_of("flow_boundary_loss_backward", N, H, W, set);
  const int64_t planes = N * dirs.D, total = planes * H * W;
  if (total == 0) return;
  const int64_t pairs = N * flow_boundary_pair_count(H, W, set, irn_source_crop);
  if (pairs == 0) {
    CUDA_CHECK(cudaMemsetAsync(grad_alpha, 0, sizeof(T) * static_cast<size_t>(total), stream));
    return;
  }
  const LossGrid grid = loss_grid(planes, H * W, false);
  flow_boundary_backward_kernel<T><<<dim3(grid.x, grid.y), kLossThreads, 0, stream>>>(
      flow_grad, alpha, dirs, planes, static_cast<int>(H), static_cast<int>(W), irn_source_crop,
      lambda, grad_loss, 1.0 / static_cast<double>(pairs), grad_alpha);
  WSVIS_LAUNCH_CHECK();
}

#define WSVIS_INSTANTIATE(T)                                                                       \
  template void flow_magnitude<T>(cudaStream_t, const T*, int64_t, int64_t, int64_t, T*);          \
  template void fcam_amplify<T>(cudaStream_t, const T*, const T*, int64_t, int64_t, int64_t,       \
                                int64_t, const T*, T, T*);                                         \
  template void flow_gradient<T>(cudaStream_t, const T*, int64_t, int64_t, int64_t, T, T*);        \
  template void flow_boundary_loss_forward<T>(cudaStream_t, const T*, const T*, int64_t, int64_t,  \
                                              int64_t, const IrnPairSet&, bool, T, T*, void*);     \
  template void flow_boundary_loss_backward<T>(cudaStream_t, const T*, const T*, int64_t, int64_t, \
                                               int64_t, const IrnPairSet&, bool, T, const T*, T*);
WSVIS_INSTANTIATE(float)
WSVIS_INSTANTIATE(double)
#undef WSVIS_INSTANTIATE

}  // namespace wsvis::kernels::cuda
