// Shared by the pairwise-family tests (test_pairwise.cpp, test_pairwise_colour.cpp): the
// reference unfold, and device/host copies for the CUDA parity tests.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/tensor.h"

namespace wsvis::testing {

// Device copy; an empty vector becomes one element so the pointer is valid (never read).
template <typename T>
Tensor dev(std::vector<T> v, const ContextPtr& gpu) {
  if (v.empty()) v.resize(1);
  return Tensor::from_vector(v, {static_cast<int64_t>(v.size())}, gpu);
}
template <typename T>
std::vector<T> host(const Tensor& t, size_t n) {
  std::vector<T> v = t.to_vector<T>();
  v.resize(n);
  return v;
}

// AdelaiDet's unfold_wo_center: (N, C, H, W) -> (N, C, 8, H, W), SAME zero padding.
inline std::vector<double> ref_unfold(const std::vector<double>& x, int64_t N, int64_t C, int64_t H,
                                      int64_t W, int d) {
  std::vector<double> out(N * C * 8 * H * W, 0.0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int ki = 0; ki < 3; ++ki)
        for (int kj = 0; kj < 3; ++kj) {
          const int kk = ki * 3 + kj;
          if (kk == 4) continue;
          const int e = kk < 4 ? kk : kk - 1;
          for (int64_t y = 0; y < H; ++y)
            for (int64_t xx = 0; xx < W; ++xx) {
              const int64_t sy = y - d + ki * d, sx = xx - d + kj * d;
              if (sy < 0 || sy >= H || sx < 0 || sx >= W) continue;
              out[(((n * C + c) * 8 + e) * H + y) * W + xx] = x[((n * C + c) * H + sy) * W + sx];
            }
        }
  return out;
}

}  // namespace wsvis::testing
