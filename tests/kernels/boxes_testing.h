// Helpers shared by the boxes-family tests (test_boxes, test_nms, test_mask_overlap): random
// boxes and masks, a byte workspace, Levenshtein distance for NMS keep lists, and a small
// RAII device buffer for the CUDA parity tests (kernels take raw pointers).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "engine/device.h"

#if WSVIS_WITH_CUDA
#include <cuda_runtime.h>

#include "engine/cuda_check.h"
#endif

namespace wsvis::testing::boxes {

// Boxes with centres in [0, extent)^2 and sides in [min_side, max_side): overlapping often
// enough for NMS to matter at extent ~ 100 and sides up to 40.
template <typename T>
std::vector<T> random_boxes(std::mt19937& rng, int64_t n, double extent = 100.0,
                            double min_side = 1.0, double max_side = 40.0) {
  std::uniform_real_distribution<double> c(0.0, extent), s(min_side, max_side);
  std::vector<T> out(static_cast<size_t>(4 * n));
  for (int64_t i = 0; i < n; ++i) {
    const double cx = c(rng), cy = c(rng), w = s(rng), h = s(rng);
    out[4 * i + 0] = static_cast<T>(cx - w / 2);
    out[4 * i + 1] = static_cast<T>(cy - h / 2);
    out[4 * i + 2] = static_cast<T>(cx + w / 2);
    out[4 * i + 3] = static_cast<T>(cy + h / 2);
  }
  return out;
}

// Scores on a coarse grid of `levels` values so equal scores (ties) are common.
template <typename T>
std::vector<T> random_scores(std::mt19937& rng, int64_t n, int levels = 0) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<T> out(static_cast<size_t>(n));
  for (auto& v : out) {
    const double x = u(rng);
    v = static_cast<T>(levels > 0 ? std::floor(x * levels) / levels : x);
  }
  return out;
}

// Masks (n, h, w): a random filled rectangle per mask (sometimes empty), foreground bytes
// drawn from {1, 7, 255} since any non-zero byte is foreground.
inline std::vector<uint8_t> random_masks(std::mt19937& rng, int64_t n, int64_t h, int64_t w,
                                         double empty_fraction = 0.1) {
  std::vector<uint8_t> m(static_cast<size_t>(n * h * w), 0);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  const uint8_t values[3] = {1, 7, 255};
  for (int64_t k = 0; k < n; ++k) {
    if (u(rng) < empty_fraction) continue;
    const int64_t y0 = static_cast<int64_t>(u(rng) * h), x0 = static_cast<int64_t>(u(rng) * w);
    const int64_t y1 = std::min<int64_t>(h, y0 + 1 + static_cast<int64_t>(u(rng) * h * 0.7));
    const int64_t x1 = std::min<int64_t>(w, x0 + 1 + static_cast<int64_t>(u(rng) * w * 0.7));
    for (int64_t y = y0; y < y1; ++y)
      for (int64_t x = x0; x < x1; ++x)
        if (u(rng) < 0.9) m[static_cast<size_t>((k * h + y) * w + x)] = values[(x + y) % 3];
  }
  return m;
}

// Levenshtein distance between two keep lists.
inline int edit_distance(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  std::vector<int> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = static_cast<int>(j);
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = static_cast<int>(i);
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

struct Workspace {
  std::vector<uint64_t> storage;  // 8-byte aligned
  explicit Workspace(size_t bytes) : storage((bytes + 7) / 8 + 1) {}
  void* data() { return storage.data(); }
  size_t bytes() const { return storage.size() * 8; }
};

#if WSVIS_WITH_CUDA
// Device memory for one test; freed at scope exit (never at static destruction).
template <typename T>
class DeviceBuffer {
 public:
  explicit DeviceBuffer(size_t count) : count_(count) {
    if (count_) CUDA_CHECK(cudaMalloc(&ptr_, count_ * sizeof(T)));
  }
  explicit DeviceBuffer(const std::vector<T>& host) : DeviceBuffer(host.size()) {
    if (count_)
      CUDA_CHECK(cudaMemcpy(ptr_, host.data(), count_ * sizeof(T), cudaMemcpyHostToDevice));
  }
  ~DeviceBuffer() {
    if (ptr_) CUDA_CHECK_PRINT(cudaFree(ptr_));
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  T* get() const { return static_cast<T*>(ptr_); }
  std::vector<T> host() const {
    std::vector<T> out(count_);
    if (count_) CUDA_CHECK(cudaMemcpy(out.data(), ptr_, count_ * sizeof(T), cudaMemcpyDeviceToHost));
    return out;
  }
  // Poisons the buffer so a kernel that forgets to write an output is caught.
  void poison() {
    if (count_) CUDA_CHECK(cudaMemset(ptr_, 0x5A, count_ * sizeof(T)));
  }

 private:
  void* ptr_ = nullptr;
  size_t count_ = 0;
};
#endif

}  // namespace wsvis::testing::boxes
