// CUDA twin of the colour half of kernels/cpu/pairwise.cpp: image downsampling, sRGB -> Lab,
// flow -> colour wheel, and the 8-neighbour similarity. One thread per output pixel (grid-stride
// loops); the per-pixel maths is pairwise_math.h / flow_color_math.h, as on the CPU.
#include "engine/cuda_check.h"
#include "engine/error.h"
#include "kernels/cuda/block_reduce.cuh"
#include "kernels/pairwise.h"

namespace wsvis::kernels::cuda {

namespace {

void check_sizes(const char* what, int64_t a, int64_t b, int64_t H, int64_t W) {
  WSVIS_CHECK(a >= 0 && b >= 0 && H >= 0 && W >= 0, what, ": negative size (", a, ", ", b, ", ",
              H, ", ", W, ")");
}

template <typename V>
__global__ void downsample_kernel(const V* __restrict__ images, int64_t N, int64_t C,
                                  int64_t H_full, int64_t W_full, int stride,
                                  bool reverse_channels, int64_t H, int64_t W, double inv_area,
                                  uint8_t* __restrict__ out) {
  const int64_t total = N * C * H * W;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t x = i % W, y = (i / W) % H, nc = i / (H * W);
    const int64_t n = nc / C, c = nc % C;
    const V* src = images + nc * H_full * W_full;
    double sum = 0;  // same order as the CPU twin: rows, then columns
    for (int dy = 0; dy < stride; ++dy)
      for (int dx = 0; dx < stride; ++dx)
        sum += static_cast<double>(src[(y * stride + dy) * W_full + x * stride + dx]);
    const int64_t c_out = reverse_channels ? C - 1 - c : c;
    out[((n * C + c_out) * H + y) * W + x] = truncate_to_byte(sum * inv_area);
  }
}

template <typename V, typename T>
__global__ void lab_kernel(const V* __restrict__ rgb, int64_t N, int64_t plane,
                           T* __restrict__ lab) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < N * plane;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t n = i / plane, p = i - n * plane;
    const V* src = rgb + n * 3 * plane + p;
    double out[3];
    rgb_to_lab_pixel(unit_colour(src[0]), unit_colour(src[plane]), unit_colour(src[2 * plane]),
                     out);
    for (int c = 0; c < 3; ++c) lab[n * 3 * plane + c * plane + p] = static_cast<T>(out[c]);
  }
}

template <typename V, typename T>
__global__ void similarity_kernel(const V* __restrict__ feat, int64_t N, int64_t C, int64_t H,
                                  int64_t W, const uint8_t* __restrict__ valid, int dilation,
                                  T inv_theta, T* __restrict__ sim) {
  const int64_t plane = H * W;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < N * plane;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t n = i / plane, p = i - n * plane, y = p / W, x = p - y * W;
    const V* f = feat + n * C * plane;
    for (int e = 0; e < kPairwiseNeighbours; ++e) {
      int dy, dx;
      pairwise_offset(e, dilation, &dy, &dx);
      const int64_t ny = y + dy, nx = x + dx;
      T s = T(0);
      if (ny >= 0 && ny < H && nx >= 0 && nx < W &&
          (valid == nullptr || valid[n * plane + ny * W + nx] != 0)) {
        T sq = T(0);
        for (int64_t c = 0; c < C; ++c) {
          const T d = static_cast<T>(f[c * plane + p]) - static_cast<T>(f[c * plane + ny * W + nx]);
          sq += d * d;
        }
        s = similarity_from_sqdist(sq, inv_theta);
      }
      sim[(n * kPairwiseNeighbours + e) * plane + p] = s;
    }
  }
}

// Largest known flow magnitude of each image (grid y = image): a block maximum, then an
// integer atomicMax on the bits of the non-negative double (exact, order-independent).
constexpr int kRadiusThreads = 256;

template <typename T>
__global__ void flow_radius_kernel(const T* __restrict__ flow, int64_t plane,
                                   unsigned long long* __restrict__ rad_bits) {
  __shared__ double scratch[32];
  const int64_t n = blockIdx.y;
  const T* u = flow + n * 2 * plane;
  const T* v = u + plane;
  double m = 0;
  for (int64_t p = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; p < plane;
       p += int64_t(gridDim.x) * blockDim.x)
    if (!flow_is_unknown_value(u[p], v[p])) m = fmax(m, flow_radius(double(u[p]), double(v[p])));
  m = detail::block_max(m, scratch);
  if (threadIdx.x == 0)
    atomicMax(rad_bits + n, static_cast<unsigned long long>(__double_as_longlong(m)));
}

template <typename T>
__global__ void flow_color_kernel(const T* __restrict__ flow, int64_t N, int64_t plane,
                                  FlowWheelVariant variant, double fixed_rad,
                                  const unsigned long long* __restrict__ rad_bits, bool bgr,
                                  uint8_t* __restrict__ out) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < N * plane;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t n = i / plane, p = i - n * plane;
    const T u = flow[n * 2 * plane + p], v = flow[n * 2 * plane + plane + p];
    const double rad =
        rad_bits ? __longlong_as_double(static_cast<long long>(rad_bits[n])) : fixed_rad;
    const double scale = rad + 1e-5;
    uint8_t rgb[3] = {0, 0, 0};
    if (!flow_is_unknown_value(u, v))
      flow_uv_to_rgb(double(u) / scale, double(v) / scale, variant, rgb);
    for (int c = 0; c < 3; ++c) out[n * 3 * plane + (bgr ? 2 - c : c) * plane + p] = rgb[c];
  }
}

}  // namespace

template <typename V>
void downsample_image(cudaStream_t stream, const V* images, int64_t N, int64_t C, int64_t H_full,
                      int64_t W_full, int stride, bool reverse_channels, uint8_t* out) {
  check_sizes("downsample_image", N, C, H_full, W_full);
  WSVIS_CHECK(stride >= 1, "downsample_image: stride must be >= 1, got ", stride);
  const int64_t H = H_full / stride, W = W_full / stride, total = N * C * H * W;
  if (total == 0) return;
  downsample_kernel<V><<<elementwise_blocks(total), kElementwiseThreads, 0, stream>>>(
      images, N, C, H_full, W_full, stride, reverse_channels, H, W,
      1.0 / (double(stride) * stride), out);
  WSVIS_LAUNCH_CHECK();
}

template <typename V, typename T>
void rgb_to_lab(cudaStream_t stream, const V* rgb, int64_t N, int64_t H, int64_t W, T* lab) {
  check_sizes("rgb_to_lab", N, 3, H, W);
  if (N * H * W == 0) return;
  lab_kernel<V, T><<<elementwise_blocks(N * H * W), kElementwiseThreads, 0, stream>>>(
      rgb, N, H * W, lab);
  WSVIS_LAUNCH_CHECK();
}

size_t flow_to_color_workspace_bytes(int64_t N) {
  return static_cast<size_t>(N > 0 ? N : 0) * sizeof(unsigned long long);
}

template <typename T>
void flow_to_color(cudaStream_t stream, const T* flow, int64_t N, int64_t H, int64_t W,
                   FlowWheelVariant variant, double rad_max, bool bgr, void* workspace,
                   size_t workspace_bytes, uint8_t* out) {
  check_sizes("flow_to_color", N, 2, H, W);
  const int64_t plane = H * W;
  if (N * plane == 0) return;
  unsigned long long* rad_bits = nullptr;
  if (rad_max <= 0) {
    WSVIS_CHECK(N <= 65535, "flow_to_color: at most 65535 images per call, got ", N);
    WSVIS_CHECK(workspace != nullptr && workspace_bytes >= flow_to_color_workspace_bytes(N),
                "flow_to_color: the per-image radius needs ", flow_to_color_workspace_bytes(N),
                " bytes of workspace, got ", workspace_bytes);
    rad_bits = static_cast<unsigned long long*>(workspace);
    CUDA_CHECK(cudaMemsetAsync(rad_bits, 0, N * sizeof(unsigned long long), stream));
    int64_t bx = ceil_div(plane, kRadiusThreads);
    if (bx > 1024) bx = 1024;
    flow_radius_kernel<T><<<dim3(static_cast<unsigned>(bx), static_cast<unsigned>(N)),
                            kRadiusThreads, 0, stream>>>(flow, plane, rad_bits);
    WSVIS_LAUNCH_CHECK();
  }
  flow_color_kernel<T><<<elementwise_blocks(N * plane), kElementwiseThreads, 0, stream>>>(
      flow, N, plane, variant, rad_max, rad_bits, bgr, out);
  WSVIS_LAUNCH_CHECK();
}

template <typename V, typename T>
void neighbour_similarity(cudaStream_t stream, const V* feat, int64_t N, int64_t C, int64_t H,
                          int64_t W, const uint8_t* valid, int dilation, double value_scale,
                          double theta, T* sim) {
  check_sizes("neighbour_similarity", N, C, H, W);
  WSVIS_CHECK(theta > 0, "neighbour_similarity: theta must be > 0, got ", theta);
  if (N * H * W == 0) return;
  similarity_kernel<V, T><<<elementwise_blocks(N * H * W), kElementwiseThreads, 0, stream>>>(
      feat, N, C, H, W, valid, dilation, static_cast<T>(value_scale / theta), sim);
  WSVIS_LAUNCH_CHECK();
}

template void downsample_image<uint8_t>(cudaStream_t, const uint8_t*, int64_t, int64_t, int64_t,
                                        int64_t, int, bool, uint8_t*);
template void downsample_image<float>(cudaStream_t, const float*, int64_t, int64_t, int64_t,
                                      int64_t, int, bool, uint8_t*);
#define WSVIS_INSTANTIATE_COLOUR_VT(V, T)                                                       \
  template void rgb_to_lab<V, T>(cudaStream_t, const V*, int64_t, int64_t, int64_t, T*);        \
  template void neighbour_similarity<V, T>(cudaStream_t, const V*, int64_t, int64_t, int64_t,   \
                                           int64_t, const uint8_t*, int, double, double, T*);
WSVIS_INSTANTIATE_COLOUR_VT(uint8_t, float)
WSVIS_INSTANTIATE_COLOUR_VT(uint8_t, double)
WSVIS_INSTANTIATE_COLOUR_VT(float, float)
WSVIS_INSTANTIATE_COLOUR_VT(double, double)
template void flow_to_color<float>(cudaStream_t, const float*, int64_t, int64_t, int64_t,
                                   FlowWheelVariant, double, bool, void*, size_t, uint8_t*);
template void flow_to_color<double>(cudaStream_t, const double*, int64_t, int64_t, int64_t,
                                    FlowWheelVariant, double, bool, void*, size_t, uint8_t*);

}  // namespace wsvis::kernels::cuda
