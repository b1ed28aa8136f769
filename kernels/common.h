// Shared by every kernel family: the host-device qualifier and small launch helpers.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define WSVIS_HD __host__ __device__
#else
#define WSVIS_HD
#endif

namespace wsvis::kernels {

// Products, sums and differences rounded once each, never contracted into an FMA. The host
// computes them with two roundings (x86-64 without -mfma); nvcc contracts a * b + c by default,
// which can move a result by an ulp. Twins that must agree bit for bit (a pixel picked by a
// floor, a simplex chosen by a comparison, an IoU at a threshold) use these on both sides.
#if defined(__CUDA_ARCH__)
__device__ inline float mul_rn(float a, float b) { return __fmul_rn(a, b); }
__device__ inline double mul_rn(double a, double b) { return __dmul_rn(a, b); }
__device__ inline float add_rn(float a, float b) { return __fadd_rn(a, b); }
__device__ inline double add_rn(double a, double b) { return __dadd_rn(a, b); }
__device__ inline float sub_rn(float a, float b) { return __fsub_rn(a, b); }
__device__ inline double sub_rn(double a, double b) { return __dsub_rn(a, b); }
#else
inline float mul_rn(float a, float b) { return a * b; }
inline double mul_rn(double a, double b) { return a * b; }
inline float add_rn(float a, float b) { return a + b; }
inline double add_rn(double a, double b) { return a + b; }
inline float sub_rn(float a, float b) { return a - b; }
inline double sub_rn(double a, double b) { return a - b; }
#endif

// Threads per block for simple elementwise launches: a multiple of the warp size that keeps
// enough blocks in flight on 132 SMs for tensors of a few thousand elements and up.
constexpr int kElementwiseThreads = 256;

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Grid size for an elementwise launch over n items: grid-stride loops cover anything beyond.
inline unsigned elementwise_blocks(int64_t n) {
  const int64_t kMaxBlocks = 65535LL * 8;
  int64_t blocks = ceil_div(n, kElementwiseThreads);
  if (blocks < 1) blocks = 1;
  return static_cast<unsigned>(blocks < kMaxBlocks ? blocks : kMaxBlocks);
}

}  // namespace wsvis::kernels
