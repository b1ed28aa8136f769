// CUDA twin of the dense CRF (kernels/crf.h): features, both lattices built once per image
// (kernels/cuda/permutohedral.cu), then per mean-field iteration a splat and D+1 blurs per
// lattice and one fused kernel that slices both lattices, adds the unary and normalises Q in
// place; argmax at the end. Mirrors cpu::dense_crf step for step.
#include <cstdint>

#include "engine/cuda_check.h"
#include "engine/error.h"
#include "kernels/crf.h"
#include "kernels/cuda/permutohedral.cuh"

namespace wsvis::kernels::cuda {

namespace {

namespace cm = crf_math;
using lattice::DeviceLattice;

__global__ void unary_kernel(const int32_t* __restrict__ labels, int64_t N, int L, float pos,
                             float neg, float* __restrict__ unary) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < N * L;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t l = e / N, i = e - l * N;
    unary[e] = labels[i] == l ? pos : neg;
  }
}

// Gaussian (x/sxy, y/sxy) and bilateral (x/sxy, y/sxy, r/srgb, g/srgb, b/srgb) features,
// IEEE float divisions as on the host.
__global__ void features_kernel(const uint8_t* __restrict__ image, int64_t H, int64_t W, float gs,
                                float bs, float cs, float* __restrict__ fg,
                                float* __restrict__ fb) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < H * W;
       i += int64_t(gridDim.x) * blockDim.x) {
    const float x = float(i % W), y = float(i / W);
    fg[i * 2] = x / gs;
    fg[i * 2 + 1] = y / gs;
    fb[i * 5] = x / bs;
    fb[i * 5 + 1] = y / bs;
    for (int c = 0; c < 3; ++c) fb[i * 5 + 2 + c] = float(image[i * 3 + c]) / cs;
  }
}

// In place over the L planes of pixel i: Q <- softmax(x) (densecrf's expAndNormalize).
__device__ inline void softmax_planes(float* q, int64_t N, int L, int64_t i) {
  float mx = q[i];
  for (int l = 1; l < L; ++l) mx = fmaxf(mx, q[l * N + i]);
  float sum = 0.f;
  for (int l = 0; l < L; ++l) {
    const float e = expf(q[l * N + i] - mx);
    q[l * N + i] = e;
    sum += e;
  }
  for (int l = 0; l < L; ++l) q[l * N + i] /= sum;
}

__global__ void init_kernel(const float* __restrict__ unary, int64_t N, int L, float* q) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < N;
       i += int64_t(gridDim.x) * blockDim.x) {
    for (int l = 0; l < L; ++l) q[l * N + i] = -unary[l * N + i];
    softmax_planes(q, N, L, i);
  }
}

// Q_i <- softmax(-U_i + wg n^g_i alpha_g S_g^T vg + wb n^b_i alpha_b S_b^T vb).
__global__ void update_kernel(const float* __restrict__ unary, int64_t N, int L,
                              const float* __restrict__ vg, const int32_t* __restrict__ og,
                              const float* __restrict__ wgt_g, const float* __restrict__ norm_g,
                              float scale_g, const float* __restrict__ vb,
                              const int32_t* __restrict__ ob, const float* __restrict__ wgt_b,
                              const float* __restrict__ norm_b, float scale_b, float* q) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < N;
       i += int64_t(gridDim.x) * blockDim.x) {
    int32_t g_off[3], b_off[6];
    float g_w[3], b_w[6];
    for (int r = 0; r < 3; ++r) {
      g_off[r] = og[i * 3 + r];
      g_w[r] = wgt_g[i * 3 + r];
    }
    for (int r = 0; r < 6; ++r) {
      b_off[r] = ob[i * 6 + r];
      b_w[r] = wgt_b[i * 6 + r];
    }
    const float sg = scale_g * norm_g[i], sb = scale_b * norm_b[i];
    for (int l = 0; l < L; ++l) {
      float ag = 0.f, ab = 0.f;
      for (int r = 0; r < 3; ++r) ag += g_w[r] * vg[int64_t(g_off[r]) * L + l];
      for (int r = 0; r < 6; ++r) ab += b_w[r] * vb[int64_t(b_off[r]) * L + l];
      q[l * N + i] = -unary[l * N + i] + sg * ag + sb * ab;
    }
    softmax_planes(q, N, L, i);
  }
}

__global__ void argmax_kernel(const float* __restrict__ q, int64_t N, int L,
                              int32_t* __restrict__ labels) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < N;
       i += int64_t(gridDim.x) * blockDim.x) {
    int best = 0;
    float top = q[i];
    for (int l = 1; l < L; ++l) {
      const float v = q[l * N + i];
      if (v > top) {
        top = v;
        best = l;
      }
    }
    labels[i] = best;
  }
}

bool range_ok(int64_t H, int64_t W, const DenseCrfParams& p) {
  const double g[2] = {double(W) / p.gaussian_sxy, double(H) / p.gaussian_sxy};
  const double b[5] = {double(W) / p.bilateral_sxy, double(H) / p.bilateral_sxy,
                       255.0 / p.bilateral_srgb, 255.0 / p.bilateral_srgb,
                       255.0 / p.bilateral_srgb};
  return cm::lattice_range_ok<2>(g) && cm::lattice_range_ok<5>(b);
}

}  // namespace

void crf_unary_from_labels(cudaStream_t stream, const int32_t* labels, int64_t H, int64_t W,
                           int L, double gt_prob, float* unary) {
  WSVIS_CHECK(L >= 1 && H >= 0 && W >= 0, "cuda::crf_unary_from_labels: L=", L, " H=", H, " W=", W);
  WSVIS_CHECK(gt_prob > 0 && gt_prob < 1, "cuda::crf_unary_from_labels: gt_prob ", gt_prob,
              " not in (0, 1)");
  const int64_t N = H * W;
  if (N == 0) return;
  const cm::UnaryFromLabels e = cm::unary_from_labels_energies(L, gt_prob);
  // Labels outside [0, L) are not checked on the device: such a pixel gets no positive energy.
  unary_kernel<<<lattice::loop_blocks(N * L), kElementwiseThreads, 0, stream>>>(
      labels, N, L, e.positive, e.negative, unary);
  WSVIS_LAUNCH_CHECK();
}

size_t dense_crf_workspace_bytes(int64_t H, int64_t W, int L) {
  return cm::crf_layout(H * W, L).end;
}

void dense_crf(cudaStream_t stream, const uint8_t* image, const float* unary, int64_t H,
               int64_t W, int L, const DenseCrfParams& p, float* Q, int32_t* labels,
               void* workspace) {
  WSVIS_CHECK(H >= 0 && W >= 0 && L >= 1, "cuda::dense_crf: H=", H, " W=", W, " L=", L);
  WSVIS_CHECK(p.iterations >= 0, "cuda::dense_crf: iterations ", p.iterations);
  WSVIS_CHECK(p.gaussian_sxy > 0 && p.bilateral_sxy > 0 && p.bilateral_srgb > 0,
              "cuda::dense_crf: kernel widths must be positive");
  const int64_t N = H * W;
  WSVIS_CHECK(N * 12 <= (int64_t(1) << 30), "cuda::dense_crf: image too large, ", H, "x", W);
  if (N == 0) return;
  WSVIS_CHECK(range_ok(H, W, p), "cuda::dense_crf: ", H, "x", W,
              " is too large for the lattice keys at these kernel widths");
  const cm::CrfLayout lay = cm::crf_layout(N, L);
  const DeviceLattice g = lattice::carve(lay.gaussian, workspace);
  const DeviceLattice b = lattice::carve(lay.bilateral, workspace);
  float* q = Q ? Q : reinterpret_cast<float*>(static_cast<char*>(workspace) + lay.q);
  const unsigned pixel_blocks = lattice::loop_blocks(N);

  features_kernel<<<pixel_blocks, kElementwiseThreads, 0, stream>>>(
      image, H, W, float(p.gaussian_sxy), float(p.bilateral_sxy), float(p.bilateral_srgb),
      g.features, b.features);
  WSVIS_LAUNCH_CHECK();
  lattice::build(stream, g);
  lattice::build(stream, b);
  lattice::normalise(stream, g);
  lattice::normalise(stream, b);
  init_kernel<<<pixel_blocks, kElementwiseThreads, 0, stream>>>(unary, N, L, q);
  WSVIS_LAUNCH_CHECK();
  const float scale_g = float(p.gaussian_compat) * cm::lattice_alpha<2>();
  const float scale_b = float(p.bilateral_compat) * cm::lattice_alpha<5>();
  for (int it = 0; it < p.iterations; ++it) {
    lattice::splat(stream, g, q, g.norm, L);
    lattice::splat(stream, b, q, b.norm, L);
    const float* vg = lattice::blur(stream, g, L);
    const float* vb = lattice::blur(stream, b, L);
    update_kernel<<<pixel_blocks, kElementwiseThreads, 0, stream>>>(
        unary, N, L, vg, g.offsets, g.weights, g.norm, scale_g, vb, b.offsets, b.weights, b.norm,
        scale_b, q);
    WSVIS_LAUNCH_CHECK();
  }
  if (labels) {
    argmax_kernel<<<pixel_blocks, kElementwiseThreads, 0, stream>>>(q, N, L, labels);
    WSVIS_LAUNCH_CHECK();
  }
}

}  // namespace wsvis::kernels::cuda
