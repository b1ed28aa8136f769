// Connected-component labelling: hand cases, random images against a flood fill written here
// (canonical labels compared exactly), degenerate sizes, and CUDA parity with the CPU twin.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "kernels/components.h"
#include "tests/support/testing.h"

#if WSVIS_WITH_CUDA
#include <cuda_runtime.h>

#include "engine/cuda_check.h"
#endif

namespace wsvis::kernels {
namespace {

struct Labelling {
  std::vector<int32_t> labels, counts;
};

Labelling label_cpu(const std::vector<uint8_t>& mask, int64_t N, int64_t H, int64_t W, int conn) {
  Labelling out{std::vector<int32_t>(size_t(N * H * W), -5), std::vector<int32_t>(size_t(N), -5)};
  cpu::label_components(mask.data(), N, H, W, conn, out.labels.data(), out.counts.data(), nullptr);
  return out;
}

// Reference: scan pixels in raster order; each unlabelled foreground pixel starts a new
// component, filled with an explicit stack over all 4 or 8 neighbours. Numbers therefore follow
// the raster order of each component's first pixel: the canonical numbering.
Labelling flood_fill(const std::vector<uint8_t>& mask, int64_t N, int64_t H, int64_t W, int conn) {
  Labelling out{std::vector<int32_t>(size_t(N * H * W), 0), std::vector<int32_t>(size_t(N), 0)};
  std::vector<int64_t> stack;
  for (int64_t n = 0; n < N; ++n) {
    const uint8_t* m = mask.data() + n * H * W;
    int32_t* lab = out.labels.data() + n * H * W;
    int32_t k = 0;
    for (int64_t s = 0; s < H * W; ++s) {
      if (!m[s] || lab[s]) continue;
      lab[s] = ++k;
      stack.assign(1, s);
      while (!stack.empty()) {
        const int64_t p = stack.back();
        stack.pop_back();
        const int64_t y = p / W, x = p % W;
        for (int64_t dy = -1; dy <= 1; ++dy)
          for (int64_t dx = -1; dx <= 1; ++dx) {
            if ((dy == 0 && dx == 0) || (conn == 4 && dy != 0 && dx != 0)) continue;
            const int64_t ny = y + dy, nx = x + dx;
            if (ny < 0 || ny >= H || nx < 0 || nx >= W) continue;
            const int64_t q = ny * W + nx;
            if (m[q] && !lab[q]) {
              lab[q] = k;
              stack.push_back(q);
            }
          }
      }
    }
    out.counts[size_t(n)] = k;
  }
  return out;
}

std::vector<uint8_t> random_mask(std::mt19937_64& rng, size_t n, double density) {
  std::bernoulli_distribution fg(density);
  std::vector<uint8_t> m(n);
  for (uint8_t& v : m) v = fg(rng) ? uint8_t(1 + rng() % 255) : 0;  // any nonzero is foreground
  return m;
}

TEST(Components, DiagonalTouchDependsOnConnectivity) {
  const std::vector<uint8_t> m = {1, 0, 0, 0, 1, 0, 0, 0, 1};
  Labelling four = label_cpu(m, 1, 3, 3, 4), eight = label_cpu(m, 1, 3, 3, 8);
  EXPECT_EQ(four.counts[0], 3);
  EXPECT_EQ(four.labels, (std::vector<int32_t>{1, 0, 0, 0, 2, 0, 0, 0, 3}));
  EXPECT_EQ(eight.counts[0], 1);
  EXPECT_EQ(eight.labels, (std::vector<int32_t>{1, 0, 0, 0, 1, 0, 0, 0, 1}));
  // Anti-diagonal: the up-right neighbour links it under 8-connectivity.
  const std::vector<uint8_t> a = {0, 0, 1, 0, 1, 0, 1, 0, 0};
  EXPECT_EQ(label_cpu(a, 1, 3, 3, 4).counts[0], 3);
  EXPECT_EQ(label_cpu(a, 1, 3, 3, 8).labels, (std::vector<int32_t>{0, 0, 1, 0, 1, 0, 1, 0, 0}));
}

TEST(Components, LateMergeAndRasterNumbering) {
  // A U: its two arms get separate provisional roots until the bottom row joins them.
  const std::vector<uint8_t> u = {1, 0, 1, 1, 0, 1, 1, 1, 1};
  for (int conn : {4, 8}) {
    Labelling l = label_cpu(u, 1, 3, 3, conn);
    EXPECT_EQ(l.counts[0], 1);
    EXPECT_EQ(l.labels, (std::vector<int32_t>{1, 0, 1, 1, 0, 1, 1, 1, 1}));
  }
  // Numbered by first pixel in raster order: the blob starting at (0, 2) is 1 although the one
  // at (1, 0) extends further left.
  const std::vector<uint8_t> m = {0, 0, 1, 1,  //
                                  1, 0, 0, 0,  //
                                  1, 0, 1, 0};
  for (int conn : {4, 8}) {
    Labelling l = label_cpu(m, 1, 3, 4, conn);
    EXPECT_EQ(l.counts[0], 3);
    EXPECT_EQ(l.labels, (std::vector<int32_t>{0, 0, 1, 1, 2, 0, 0, 0, 2, 0, 3, 0}));
  }
}

TEST(Components, EmptyAllOnesAndDegenerateSizes) {
  const int64_t H = 7, W = 9;
  for (int conn : {4, 8}) {
    Labelling empty = label_cpu(std::vector<uint8_t>(size_t(2 * H * W), 0), 2, H, W, conn);
    EXPECT_EQ(empty.counts, (std::vector<int32_t>{0, 0}));
    for (int32_t v : empty.labels) EXPECT_EQ(v, 0);
    Labelling ones = label_cpu(std::vector<uint8_t>(size_t(2 * H * W), 1), 2, H, W, conn);
    EXPECT_EQ(ones.counts, (std::vector<int32_t>{1, 1}));
    for (int32_t v : ones.labels) EXPECT_EQ(v, 1);
    // N = 0, H = 0, W = 0: nothing to label, counts zero.
    label_cpu({}, 0, H, W, conn);
    EXPECT_EQ(label_cpu({}, 3, 0, W, conn).counts, (std::vector<int32_t>{0, 0, 0}));
    EXPECT_EQ(label_cpu({}, 2, H, 0, conn).counts, (std::vector<int32_t>{0, 0}));
  }
  // Checkerboard: every pixel alone under 4-connectivity, one component under 8.
  std::vector<uint8_t> board(size_t(H * W));
  for (int64_t p = 0; p < H * W; ++p) board[size_t(p)] = ((p / W) + (p % W)) % 2 == 0;
  EXPECT_EQ(label_cpu(board, 1, H, W, 4).counts[0], (H * W + 1) / 2);
  EXPECT_EQ(label_cpu(board, 1, H, W, 8).counts[0], 1);
  EXPECT_THROW(label_cpu(board, 1, H, W, 6), Error);
}

TEST(Components, RandomImagesMatchFloodFill) {
  std::mt19937_64 rng(99);
  struct Case { int64_t N, H, W; };
  for (const Case c : {Case{3, 37, 53}, Case{2, 1, 61}, Case{2, 64, 1}, Case{1, 128, 96}, Case{4, 5, 5}}) {
    for (double density : {0.2, 0.45, 0.6, 0.75, 0.95}) {
      const std::vector<uint8_t> m = random_mask(rng, size_t(c.N * c.H * c.W), density);
      for (int conn : {4, 8}) {
        SCOPED_TRACE(::testing::Message() << c.N << "x" << c.H << "x" << c.W << " density "
                                          << density << " conn " << conn);
        const Labelling got = label_cpu(m, c.N, c.H, c.W, conn), want = flood_fill(m, c.N, c.H, c.W, conn);
        EXPECT_EQ(got.counts, want.counts);
        EXPECT_EQ(got.labels, want.labels);
      }
    }
  }
}

TEST(Components, ManyImagesInParallel) {
  // N large enough for the OpenMP path; images differ so a mix-up between them would show.
  std::mt19937_64 rng(5);
  const int64_t N = 24, H = 33, W = 47;
  const std::vector<uint8_t> m = random_mask(rng, size_t(N * H * W), 0.55);
  for (int conn : {4, 8}) {
    const Labelling got = label_cpu(m, N, H, W, conn), want = flood_fill(m, N, H, W, conn);
    EXPECT_EQ(got.counts, want.counts);
    EXPECT_EQ(got.labels, want.labels);
  }
}

#if WSVIS_WITH_CUDA
Labelling label_cuda(const std::vector<uint8_t>& mask, int64_t N, int64_t H, int64_t W, int conn) {
  const size_t n = size_t(N * H * W);
  uint8_t* d_mask = nullptr;
  int32_t *d_labels = nullptr, *d_counts = nullptr;
  void* d_ws = nullptr;
  CUDA_CHECK(cudaMalloc(&d_mask, n + 1));
  CUDA_CHECK(cudaMalloc(&d_labels, (n + 1) * sizeof(int32_t)));
  CUDA_CHECK(cudaMalloc(&d_counts, (size_t(N) + 1) * sizeof(int32_t)));
  CUDA_CHECK(cudaMalloc(&d_ws, cuda::components_workspace_bytes(N, H, W) + 1));
  CUDA_CHECK(cudaMemcpy(d_mask, mask.data(), n, cudaMemcpyHostToDevice));
  // Poison the outputs: every element must be written.
  CUDA_CHECK(cudaMemset(d_labels, 0x7f, (n + 1) * sizeof(int32_t)));
  CUDA_CHECK(cudaMemset(d_counts, 0x7f, (size_t(N) + 1) * sizeof(int32_t)));
  cuda::label_components(nullptr, d_mask, N, H, W, conn, d_labels, d_counts, d_ws);
  CUDA_CHECK(cudaDeviceSynchronize());
  Labelling out{std::vector<int32_t>(n), std::vector<int32_t>(size_t(N))};
  CUDA_CHECK(cudaMemcpy(out.labels.data(), d_labels, n * sizeof(int32_t), cudaMemcpyDeviceToHost));
  CUDA_CHECK(cudaMemcpy(out.counts.data(), d_counts, size_t(N) * sizeof(int32_t), cudaMemcpyDeviceToHost));
  for (void* p : {static_cast<void*>(d_mask), static_cast<void*>(d_labels),
                  static_cast<void*>(d_counts), d_ws})
    CUDA_CHECK(cudaFree(p));
  return out;
}

TEST(ComponentsCuda, ParityWithCpuTwin) {
  WSVIS_REQUIRE_CUDA();
  std::mt19937_64 rng(314);
  struct Case { int64_t N, H, W; };
  for (const Case c : {Case{0, 4, 4}, Case{3, 0, 5}, Case{1, 1, 1}, Case{2, 1, 1031}, Case{2, 777, 1},
                       Case{3, 37, 53}, Case{8, 512, 512}, Case{2, 513, 1031}}) {
    for (double density : {0.3, 0.59, 0.8}) {
      const std::vector<uint8_t> m = random_mask(rng, size_t(c.N * c.H * c.W), density);
      for (int conn : {4, 8}) {
        SCOPED_TRACE(::testing::Message() << c.N << "x" << c.H << "x" << c.W << " density "
                                          << density << " conn " << conn);
        const Labelling want = label_cpu(m, c.N, c.H, c.W, conn), got = label_cuda(m, c.N, c.H, c.W, conn);
        EXPECT_EQ(got.counts, want.counts);
        EXPECT_TRUE(got.labels == want.labels);  // exact, canonical numbering
      }
    }
  }
}

TEST(ComponentsCuda, AdversarialPatterns) {
  WSVIS_REQUIRE_CUDA();
  const int64_t H = 301, W = 517;
  std::vector<uint8_t> ones(size_t(H * W), 1), board(size_t(H * W)), spiral(size_t(H * W), 0),
      comb(size_t(H * W), 0);
  for (int64_t p = 0; p < H * W; ++p) board[size_t(p)] = ((p / W) + (p % W)) % 2 == 0;
  // Comb: teeth every other column joined by the bottom row, so the first pixels of many
  // provisional components merge late.
  for (int64_t y = 0; y < H; ++y)
    for (int64_t x = 0; x < W; ++x) comb[size_t(y * W + x)] = (x % 2 == 0) || y == H - 1;
  // Square spiral: one long thin component.
  int64_t top = 0, left = 0, bottom = H - 1, right = W - 1;
  while (top <= bottom && left <= right) {
    for (int64_t x = left; x <= right; ++x) spiral[size_t(top * W + x)] = 1;
    for (int64_t y = top; y <= bottom; ++y) spiral[size_t(y * W + right)] = 1;
    for (int64_t x = left; x <= right; ++x) spiral[size_t(bottom * W + x)] = 1;
    for (int64_t y = top + 2; y <= bottom; ++y) spiral[size_t(y * W + left)] = 1;
    top += 2, left += 2, bottom -= 2, right -= 2;
  }
  for (const auto* m : {&ones, &board, &comb, &spiral})
    for (int conn : {4, 8}) {
      const Labelling want = label_cpu(*m, 1, H, W, conn), got = label_cuda(*m, 1, H, W, conn);
      EXPECT_EQ(got.counts, want.counts);
      EXPECT_TRUE(got.labels == want.labels);
    }
}
#else
TEST(ComponentsCuda, ParityWithCpuTwin) { GTEST_SKIP() << "built without CUDA"; }
#endif

}  // namespace
}  // namespace wsvis::kernels
