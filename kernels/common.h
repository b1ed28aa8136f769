// Shared by every kernel family: the host-device qualifier and small launch helpers.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define WSVIS_HD __host__ __device__
#else
#define WSVIS_HD
#endif

namespace wsvis::kernels {

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
