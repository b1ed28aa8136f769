// Shared by the dense-CRF tests (test_crf.cpp: mean field and CUDA parity;
// test_crf_lattice.cpp: the permutohedral lattice): test images and features, the exact and the
// lattice kernels as dense matrices, a brute-force mean field and the CRF energy in double.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "kernels/crf.h"

namespace wsvis::kernels::crf_testing {

namespace cm = crf_math;
using Dense = std::vector<double>;  // row-major N x N

struct Image {
  int64_t H, W;
  std::vector<uint8_t> rgb;  // (H, W, 3)
};

// Two colour regions (left: dark red, right: light blue, boundary at column `split`) plus noise.
inline Image two_region_image(int64_t H, int64_t W, int64_t split, double noise, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> n(0, noise);
  Image im{H, W, std::vector<uint8_t>(size_t(H * W * 3))};
  for (int64_t y = 0; y < H; ++y)
    for (int64_t x = 0; x < W; ++x)
      for (int c = 0; c < 3; ++c) {
        const double base = x < split ? (c == 0 ? 150 : 40) : (c == 2 ? 200 : 110);
        im.rgb[size_t((y * W + x) * 3 + c)] = uint8_t(std::clamp(base + n(rng), 0.0, 255.0));
      }
  return im;
}

// The CRF's features as densecrf forms them (float divisions), (N, D).
inline std::vector<float> gaussian_features(int64_t H, int64_t W, double sxy) {
  std::vector<float> f(static_cast<size_t>(H * W * 2));
  for (int64_t y = 0; y < H; ++y)
    for (int64_t x = 0; x < W; ++x) {
      f[size_t((y * W + x) * 2)] = float(x) / float(sxy);
      f[size_t((y * W + x) * 2 + 1)] = float(y) / float(sxy);
    }
  return f;
}
inline std::vector<float> bilateral_features(const Image& im, double sxy, double srgb) {
  std::vector<float> f(static_cast<size_t>(im.H * im.W * 5));
  for (int64_t y = 0; y < im.H; ++y)
    for (int64_t x = 0; x < im.W; ++x) {
      const int64_t i = y * im.W + x;
      f[size_t(i * 5)] = float(x) / float(sxy);
      f[size_t(i * 5 + 1)] = float(y) / float(sxy);
      for (int c = 0; c < 3; ++c)
        f[size_t(i * 5 + 2 + c)] = float(im.rgb[size_t(i * 3 + c)]) / float(srgb);
    }
  return f;
}

// Exact Gaussian kernel matrix exp(-|f_i - f_j|^2 / 2), j = i included.
inline Dense exact_kernel(const std::vector<float>& f, int64_t N, int D) {
  Dense K(size_t(N * N));
  for (int64_t i = 0; i < N; ++i)
    for (int64_t j = 0; j < N; ++j) {
      double d2 = 0;
      for (int k = 0; k < D; ++k) {
        const double d = double(f[size_t(i * D + k)]) - f[size_t(j * D + k)];
        d2 += d * d;
      }
      K[size_t(i * N + j)] = std::exp(-0.5 * d2);
    }
  return K;
}

// The lattice operator as a dense matrix: the CPU lattice filter applied to the identity.
inline Dense lattice_kernel(const std::vector<float>& f, int64_t N, int D) {
  std::vector<float> eye(size_t(N * N), 0.f), out(size_t(N * N));
  for (int64_t i = 0; i < N; ++i) eye[size_t(i * N + i)] = 1.f;
  std::vector<char> ws(cpu::permutohedral_workspace_bytes(N, D, N));
  cpu::permutohedral_filter(f.data(), N, D, eye.data(), N, out.data(), ws.data());
  // out is (C = N, N): out[c * N + i] = (K e_c)_i = K[i][c].
  Dense K(size_t(N * N));
  for (int64_t c = 0; c < N; ++c)
    for (int64_t i = 0; i < N; ++i) K[size_t(i * N + c)] = out[size_t(c * N + i)];
  return K;
}

// Symmetric normalisation of a kernel matrix: n_i K_ij n_j with n_i = 1 / sqrt(sum_j K_ij).
inline Dense normalised(const Dense& K, int64_t N) {
  std::vector<double> n(static_cast<size_t>(N));
  for (int64_t i = 0; i < N; ++i) {
    double s = 0;
    for (int64_t j = 0; j < N; ++j) s += K[size_t(i * N + j)];
    n[size_t(i)] = 1.0 / std::sqrt(s + 1e-20);
  }
  Dense A(K.size());
  for (int64_t i = 0; i < N; ++i)
    for (int64_t j = 0; j < N; ++j)
      A[size_t(i * N + j)] = n[size_t(i)] * K[size_t(i * N + j)] * n[size_t(j)];
  return A;
}

// Brute-force mean field in double with dense normalised kernels Ag, Ab (N x N):
// Q0 = softmax(-U), Q = softmax(-U + wg Ag Q + wb Ab Q) per label plane. Returns Q (L, N).
inline std::vector<double> brute_mean_field(const std::vector<float>& unary, int64_t N, int L,
                                            const Dense& Ag, const Dense& Ab, double wg, double wb,
                                            int iterations) {
  std::vector<double> Q(size_t(L * N)), x(static_cast<size_t>(L * N));
  auto softmax = [&] {
    for (int64_t i = 0; i < N; ++i) {
      double mx = -1e300;
      for (int l = 0; l < L; ++l) mx = std::max(mx, x[size_t(l * N + i)]);
      double s = 0;
      for (int l = 0; l < L; ++l) s += std::exp(x[size_t(l * N + i)] - mx);
      for (int l = 0; l < L; ++l) Q[size_t(l * N + i)] = std::exp(x[size_t(l * N + i)] - mx) / s;
    }
  };
  for (size_t k = 0; k < x.size(); ++k) x[k] = -double(unary[k]);
  softmax();
  for (int it = 0; it < iterations; ++it) {
    for (int l = 0; l < L; ++l)
      for (int64_t i = 0; i < N; ++i) {
        double mg = 0, mb = 0;
        for (int64_t j = 0; j < N; ++j) {
          mg += Ag[size_t(i * N + j)] * Q[size_t(l * N + j)];
          mb += Ab[size_t(i * N + j)] * Q[size_t(l * N + j)];
        }
        x[size_t(l * N + i)] = -double(unary[size_t(l * N + i)]) + wg * mg + wb * mb;
      }
    softmax();
  }
  return Q;
}

// CRF energy of a labelling with exact normalised kernels, Potts penalty on unequal pairs:
// E = sum_i U_i(x_i) + sum_{i<j} (wg Ag_ij + wb Ab_ij) [x_i != x_j].
inline double crf_energy(const std::vector<int32_t>& x, const std::vector<float>& unary, int64_t N,
                         const Dense& Ag, const Dense& Ab, double wg, double wb) {
  double e = 0;
  for (int64_t i = 0; i < N; ++i) e += unary[size_t(x[size_t(i)] * N + i)];
  for (int64_t i = 0; i < N; ++i)
    for (int64_t j = i + 1; j < N; ++j)
      if (x[size_t(i)] != x[size_t(j)])
        e += wg * Ag[size_t(i * N + j)] + wb * Ab[size_t(i * N + j)];
  return e;
}

struct CrfRun {
  std::vector<float> Q;
  std::vector<int32_t> labels;
};
inline CrfRun run_cpu(const Image& im, const std::vector<float>& unary, int L,
                      const DenseCrfParams& p) {
  CrfRun r{std::vector<float>(size_t(L * im.H * im.W), -7.f),
           std::vector<int32_t>(size_t(im.H * im.W), -7)};
  std::vector<char> ws(cpu::dense_crf_workspace_bytes(im.H, im.W, L));
  cpu::dense_crf(im.rgb.data(), unary.data(), im.H, im.W, L, p, r.Q.data(), r.labels.data(),
                 ws.data());
  return r;
}

inline std::vector<float> unary_of(const std::vector<int32_t>& labels, int64_t H, int64_t W, int L,
                                   double gt = 0.7) {
  std::vector<float> u(static_cast<size_t>(L * H * W));
  cpu::crf_unary_from_labels(labels.data(), H, W, L, gt, u.data());
  return u;
}

inline std::vector<int32_t> argmax_planes(const std::vector<double>& Q, int64_t N, int L) {
  std::vector<int32_t> x(static_cast<size_t>(N));
  for (int64_t i = 0; i < N; ++i) {
    int best = 0;
    for (int l = 1; l < L; ++l)
      if (Q[size_t(l * N + i)] > Q[size_t(best * N + i)]) best = l;
    x[size_t(i)] = best;
  }
  return x;
}

}  // namespace wsvis::kernels::crf_testing
