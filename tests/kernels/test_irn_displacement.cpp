// IRN displacement-field inference: centroid refinement against a transcription of IRN's
// numpy loop written here (compared exactly), hand cases (a field converging on one pixel gives
// one instance, two blobs give two), the clustering against a flood fill written here, the
// seeds, degenerate sizes, and CUDA parity with the CPU twin (exact: the twins perform the same
// IEEE operations in the same order).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <random>
#include <vector>

#include "kernels/irn_displacement.h"
#include "tests/support/testing.h"

#if WSVIS_WITH_CUDA
#include <cuda_runtime.h>

#include "engine/cuda_check.h"
#endif

namespace wsvis::kernels {
namespace {

// ---- references written from IRN's python ---------------------------------------------------

// find_centroids_with_refinement, written as numpy evaluates it: positions in float32 (T), the
// floor/ceil in int, `centroid - floor` promoted to float64, the sum of the four terms left to
// right in float64, `+=` computed in float64 and stored back, np.clip, np.round (half to even).
template <typename T>
std::vector<int32_t> centroids_reference(const std::vector<T>& D, int64_t H, int64_t W, int iters) {
  const int64_t P = H * W;
  std::vector<T> cy(static_cast<size_t>(P)), cx(static_cast<size_t>(P));
  for (int64_t p = 0; p < P; ++p) {
    cy[size_t(p)] = T(p / W);
    cx[size_t(p)] = T(p % W);
  }
  auto at = [&](int c, int64_t y, int64_t x) { return double(D[size_t(c * P + y * W + x)]); };
  for (int it = 0; it < iters; ++it) {
    std::vector<T> ny(cy), nx(cx);
    for (int64_t p = 0; p < P; ++p) {
      const int64_t uy = int64_t(std::ceil(cy[size_t(p)])), dy = int64_t(std::floor(cy[size_t(p)]));
      const int64_t ux = int64_t(std::ceil(cx[size_t(p)])), dx = int64_t(std::floor(cx[size_t(p)]));
      const double y_c = double(cy[size_t(p)]) - double(dy),
                   x_c = double(cx[size_t(p)]) - double(dx);
      const double my = at(0, uy, ux) * y_c * x_c + at(0, dy, ux) * (1 - y_c) * x_c +
                        at(0, uy, dx) * y_c * (1 - x_c) + at(0, dy, dx) * (1 - y_c) * (1 - x_c);
      const double mx = at(1, uy, ux) * y_c * x_c + at(1, dy, ux) * (1 - y_c) * x_c +
                        at(1, uy, dx) * y_c * (1 - x_c) + at(1, dy, dx) * (1 - y_c) * (1 - x_c);
      ny[size_t(p)] = T(double(cy[size_t(p)]) + my);
      nx[size_t(p)] = T(double(cx[size_t(p)]) + mx);
    }
    for (int64_t p = 0; p < P; ++p) {
      cy[size_t(p)] = std::min(std::max(ny[size_t(p)], T(0)), T(H - 1));
      cx[size_t(p)] = std::min(std::max(nx[size_t(p)], T(0)), T(W - 1));
    }
  }
  std::vector<int32_t> out(size_t(2 * P));
  for (int64_t p = 0; p < P; ++p) {
    out[size_t(p)] = int32_t(std::nearbyint(cy[size_t(p)]));
    out[size_t(P + p)] = int32_t(std::nearbyint(cx[size_t(p)]));
  }
  return out;
}

// 4-connected flood fill numbering components by the raster order of their first pixel
// (skimage.measure.label(connectivity=1)).
std::vector<int32_t> flood_fill4(const std::vector<uint8_t>& m, int64_t H, int64_t W,
                                 int32_t* count) {
  std::vector<int32_t> lab(size_t(H * W), 0);
  std::vector<int64_t> stack;
  int32_t k = 0;
  for (int64_t s = 0; s < H * W; ++s) {
    if (!m[size_t(s)] || lab[size_t(s)]) continue;
    lab[size_t(s)] = ++k;
    stack.assign(1, s);
    while (!stack.empty()) {
      const int64_t p = stack.back();
      stack.pop_back();
      const int64_t y = p / W, x = p % W;
      const int64_t ny[4] = {y - 1, y + 1, y, y}, nx[4] = {x, x, x - 1, x + 1};
      for (int i = 0; i < 4; ++i) {
        if (ny[i] < 0 || ny[i] >= H || nx[i] < 0 || nx[i] >= W) continue;
        const int64_t q = ny[i] * W + nx[i];
        if (m[size_t(q)] && !lab[size_t(q)]) {
          lab[size_t(q)] = k;
          stack.push_back(q);
        }
      }
    }
  }
  *count = k;
  return lab;
}

// cluster_centroids + compress_range.
template <typename T>
std::vector<int32_t> cluster_reference(const std::vector<T>& D, const std::vector<int32_t>& c,
                                       int64_t H, int64_t W, double thres, int32_t* n) {
  const int64_t P = H * W;
  std::vector<uint8_t> weak(static_cast<size_t>(P));
  for (int64_t p = 0; p < P; ++p) {
    const T dy = D[size_t(p)], dx = D[size_t(P + p)];
    weak[size_t(p)] = std::sqrt(T(dx * dx + dy * dy)) < T(thres);
  }
  int32_t k = 0;
  const std::vector<int32_t> lab = flood_fill4(weak, H, W, &k);
  std::vector<int32_t> v(static_cast<size_t>(P));
  for (int64_t p = 0; p < P; ++p) v[size_t(p)] = lab[size_t(c[size_t(p)] * W + c[size_t(P + p)])];
  std::map<int32_t, int32_t> rank;
  for (int32_t x : v) rank[x] = 0;
  int32_t r = 0;
  for (auto& kv : rank) kv.second = r++;
  for (int32_t& x : v) x = rank[x];
  *n = r;
  return v;
}

// ---- CPU twin wrappers -----------------------------------------------------------------------

template <typename T>
std::vector<int32_t> centroids_cpu(const std::vector<T>& D, int64_t H, int64_t W, int iters) {
  std::vector<int32_t> out(size_t(2 * H * W) + 1, -7);
  cpu::find_centroids(D.data(), H, W, iters, out.data());
  out.pop_back();
  return out;
}

template <typename T>
std::vector<int32_t> cluster_cpu(const std::vector<T>& D, const std::vector<int32_t>& c, int64_t H,
                                 int64_t W, int32_t* n) {
  std::vector<char> ws(cpu::cluster_centroids_workspace_bytes(H, W));
  std::vector<int32_t> map(size_t(H * W) + 1, -7);
  cpu::cluster_centroids(D.data(), c.data(), H, W, kIrnWeakDisplacementThreshold, map.data(), n,
                         ws.data());
  map.pop_back();
  return map;
}

template <typename T>
std::vector<T> random_field(std::mt19937_64& rng, int64_t H, int64_t W, double scale) {
  std::uniform_real_distribution<double> u(-scale, scale);
  std::vector<T> D(size_t(2 * H * W));
  for (T& v : D) v = T(u(rng));
  return D;
}

// Displacements pointing at the nearest of `centres` (ties to the earlier centre).
std::vector<float> field_towards(const std::vector<std::pair<int, int>>& centres, int64_t H,
                                 int64_t W, std::vector<int>* nearest) {
  const int64_t P = H * W;
  std::vector<float> D(size_t(2 * P));
  nearest->assign(size_t(P), 0);
  for (int64_t p = 0; p < P; ++p) {
    const int64_t y = p / W, x = p % W;
    int best = 0;
    int64_t bd = -1;
    for (size_t c = 0; c < centres.size(); ++c) {
      const int64_t dy = centres[c].first - y, dx = centres[c].second - x;
      if (bd < 0 || dy * dy + dx * dx < bd) {
        bd = dy * dy + dx * dx;
        best = int(c);
      }
    }
    (*nearest)[size_t(p)] = best;
    D[size_t(p)] = float(centres[size_t(best)].first - y);
    D[size_t(P + p)] = float(centres[size_t(best)].second - x);
  }
  return D;
}

// ---- tests -----------------------------------------------------------------------------------

TEST(IrnDisplacement, CentroidsMatchIrnLoopExactly) {
  std::mt19937_64 rng(5);
  for (auto [H, W] : {std::pair<int64_t, int64_t>{1, 1}, {1, 9}, {7, 1}, {13, 17}, {24, 31}}) {
    for (double scale : {0.4, 1.5, 4.0}) {
      SCOPED_TRACE(::testing::Message() << H << "x" << W << " scale " << scale);
      const std::vector<float> Df = random_field<float>(rng, H, W, scale);
      EXPECT_EQ(centroids_cpu(Df, H, W, 300), centroids_reference(Df, H, W, 300));
      const std::vector<double> Dd = random_field<double>(rng, H, W, scale);
      EXPECT_EQ(centroids_cpu(Dd, H, W, 300), centroids_reference(Dd, H, W, 300));
      EXPECT_EQ(centroids_cpu(Dd, H, W, 3), centroids_reference(Dd, H, W, 3));
    }
  }
}

TEST(IrnDisplacement, ZeroIterationsAndHalfwayRounding) {
  // No step: every pixel is its own centroid.
  const int64_t H = 4, W = 5, P = H * W;
  std::vector<float> D(size_t(2 * P), 0.5f);
  const std::vector<int32_t> c0 = centroids_cpu(D, H, W, 0);
  for (int64_t p = 0; p < P; ++p) {
    EXPECT_EQ(c0[size_t(p)], p / W);
    EXPECT_EQ(c0[size_t(P + p)], p % W);
  }
  // One step of +0.5 lands every pixel on a half: np.round goes to the even neighbour;
  // the last row/column is clamped back to H-1 / W-1.
  const std::vector<int32_t> c1 = centroids_cpu(D, H, W, 1);
  for (int64_t p = 0; p < P; ++p) {
    const int64_t y = p / W, x = p % W;
    const int64_t ey = y == H - 1 ? y : (y % 2 == 0 ? y : y + 1);
    const int64_t ex = x == W - 1 ? x : (x % 2 == 0 ? x : x + 1);
    EXPECT_EQ(c1[size_t(p)], ey) << p;
    EXPECT_EQ(c1[size_t(P + p)], ex) << p;
  }
}

TEST(IrnDisplacement, FieldConvergingOnOnePixelGivesOneInstance) {
  const int64_t H = 15, W = 21, P = H * W;
  std::vector<int> nearest;
  const std::vector<float> D = field_towards({{7, 10}}, H, W, &nearest);
  const std::vector<int32_t> c = centroids_cpu(D, H, W, kIrnCentroidIterations);
  for (int64_t p = 0; p < P; ++p) {
    EXPECT_EQ(c[size_t(p)], 7);
    EXPECT_EQ(c[size_t(P + p)], 10);
  }
  int32_t n = -1;
  const std::vector<int32_t> map = cluster_cpu(D, c, H, W, &n);
  EXPECT_EQ(n, 1);
  EXPECT_EQ(map, std::vector<int32_t>(size_t(P), 0));
}

TEST(IrnDisplacement, ConstantFields) {
  const int64_t H = 9, W = 12, P = H * W;
  // Weak constant field (|D| < 2.5): everything drifts to the bottom-left corner, the whole
  // grid is one weak component: one instance.
  std::vector<float> D(size_t(2 * P));
  std::fill(D.begin(), D.begin() + P, 1.5f);
  std::fill(D.begin() + P, D.end(), -0.75f);
  std::vector<int32_t> c = centroids_cpu(D, H, W, kIrnCentroidIterations);
  for (int64_t p = 0; p < P; ++p) {
    EXPECT_EQ(c[size_t(p)], H - 1);
    EXPECT_EQ(c[size_t(P + p)], 0);
  }
  int32_t n = -1;
  EXPECT_EQ(cluster_cpu(D, c, H, W, &n), std::vector<int32_t>(size_t(P), 0));
  EXPECT_EQ(n, 1);
  // Strong constant field: no weak region, every centroid lands on label 0: one group.
  std::fill(D.begin(), D.begin() + P, 3.0f);
  std::fill(D.begin() + P, D.end(), 0.0f);
  c = centroids_cpu(D, H, W, kIrnCentroidIterations);
  EXPECT_EQ(cluster_cpu(D, c, H, W, &n), std::vector<int32_t>(size_t(P), 0));
  EXPECT_EQ(n, 1);
}

TEST(IrnDisplacement, TwoBlobsGiveTwoInstances) {
  const int64_t H = 20, W = 40, P = H * W;
  std::vector<int> nearest;
  // Blob A centred at (10, 10), blob B at (9, 29): B's weak disc starts on row 7, A's on row 8,
  // so B's component is labelled first and becomes instance 0.
  const std::vector<float> D = field_towards({{10, 10}, {9, 29}}, H, W, &nearest);
  const std::vector<int32_t> c = centroids_cpu(D, H, W, kIrnCentroidIterations);
  int32_t n = -1;
  const std::vector<int32_t> map = cluster_cpu(D, c, H, W, &n);
  EXPECT_EQ(n, 2);
  for (int64_t p = 0; p < P; ++p) EXPECT_EQ(map[size_t(p)], nearest[size_t(p)] == 0 ? 1 : 0) << p;
}

TEST(IrnDisplacement, CentroidOutsideWeakRegionFormsItsOwnGroup) {
  const int64_t H = 3, W = 6, P = H * W;
  // Weak region: columns 0-1 (component 1) and column 4 (component 2); column 2, 3, 5 strong.
  std::vector<float> D(size_t(2 * P), 0.0f);
  for (int64_t p = 0; p < P; ++p) {
    const int64_t x = p % W;
    if (x == 2 || x == 3 || x == 5) D[size_t(p)] = 3.0f;
  }
  // Centroids: row 0 -> (0, 0) [label 1], row 1 -> (1, 3) [label 0], row 2 -> (2, 4) [label 2].
  std::vector<int32_t> c(size_t(2 * P));
  for (int64_t p = 0; p < P; ++p) {
    const int64_t y = p / W;
    c[size_t(p)] = int32_t(y);
    c[size_t(P + p)] = y == 0 ? 0 : (y == 1 ? 3 : 4);
  }
  int32_t n = -1;
  const std::vector<int32_t> map = cluster_cpu(D, c, H, W, &n);
  EXPECT_EQ(n, 3);
  for (int64_t p = 0; p < P; ++p) EXPECT_EQ(map[size_t(p)], p / W == 0 ? 1 : (p / W == 1 ? 0 : 2));
  // Without the strong-centroid row the used labels {1, 2} become {0, 1}.
  for (int64_t x = 0; x < W; ++x) c[size_t(P + W + x)] = 0;
  const std::vector<int32_t> map2 = cluster_cpu(D, c, H, W, &n);
  EXPECT_EQ(n, 2);
  for (int64_t p = 0; p < P; ++p) EXPECT_EQ(map2[size_t(p)], p / W == 2 ? 1 : 0);
}

TEST(IrnDisplacement, ClusteringMatchesFloodFillReference) {
  std::mt19937_64 rng(17);
  for (auto [H, W] : {std::pair<int64_t, int64_t>{1, 1}, {1, 23}, {29, 1}, {31, 47}, {64, 80}}) {
    const int64_t P = H * W;
    const std::vector<float> D = random_field<float>(rng, H, W, 3.0);
    std::vector<int32_t> c(size_t(2 * P));
    for (int64_t p = 0; p < P; ++p) {
      c[size_t(p)] = int32_t(rng() % uint64_t(H));
      c[size_t(P + p)] = int32_t(rng() % uint64_t(W));
    }
    int32_t n = -1, n_ref = -2;
    const std::vector<int32_t> got = cluster_cpu(D, c, H, W, &n);
    EXPECT_EQ(got, cluster_reference(D, c, H, W, kIrnWeakDisplacementThreshold, &n_ref));
    EXPECT_EQ(n, n_ref);
  }
  // Empty grid: no instance.
  int32_t n = -1;
  std::vector<float> none;
  std::vector<int32_t> nc;
  cpu::cluster_centroids(none.data(), nc.data(), 0, 5, 2.5, nullptr, &n, nullptr);
  EXPECT_EQ(n, 0);
}

TEST(IrnDisplacement, InstanceSeedsAreCamTimesMask) {
  const int64_t C = 2, K = 3, H = 4, W = 5, P = H * W;
  std::mt19937_64 rng(3);
  std::vector<double> cams(size_t(C * P));
  for (double& v : cams) v = double(rng() % 1000) / 1000.0;
  std::vector<int32_t> map(static_cast<size_t>(P));
  for (int32_t& v : map) v = int32_t(rng() % K);
  std::vector<double> seeds(size_t(C * K * P), -1.0);
  cpu::instance_seeds(cams.data(), C, map.data(), K, H, W, seeds.data());
  for (int64_t c = 0; c < C; ++c)
    for (int64_t k = 0; k < K; ++k)
      for (int64_t p = 0; p < P; ++p)
        EXPECT_EQ(seeds[size_t((c * K + k) * P + p)],
                  map[size_t(p)] == k ? cams[size_t(c * P + p)] : 0.0);
}

// ---- CUDA parity -----------------------------------------------------------------------------

#if WSVIS_WITH_CUDA
// Device buffer for the parity tests.
template <typename U>
struct DeviceArray {
  U* ptr = nullptr;
  size_t n = 0;
  explicit DeviceArray(size_t count) : n(count) {
    CUDA_CHECK(cudaMalloc(&ptr, sizeof(U) * (n + 1)));
  }
  explicit DeviceArray(const std::vector<U>& host) : DeviceArray(host.size()) {
    if (n) CUDA_CHECK(cudaMemcpy(ptr, host.data(), sizeof(U) * n, cudaMemcpyHostToDevice));
  }
  ~DeviceArray() { CUDA_CHECK_PRINT(cudaFree(ptr)); }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  std::vector<U> host(size_t count) const {
    std::vector<U> out(count);
    if (count) CUDA_CHECK(cudaMemcpy(out.data(), ptr, sizeof(U) * count, cudaMemcpyDeviceToHost));
    return out;
  }
};

TEST(IrnDisplacementCuda, CentroidsAndClustersEqualCpuTwin) {
  WSVIS_REQUIRE_CUDA();
  std::mt19937_64 rng(71);
  for (auto [H, W] :
       {std::pair<int64_t, int64_t>{0, 5}, {1, 1}, {1, 37}, {37, 53}, {94, 125}, {180, 320}}) {
    for (double scale : {0.8, 3.0}) {
      SCOPED_TRACE(::testing::Message() << H << "x" << W << " scale " << scale);
      const int64_t P = H * W;
      std::vector<float> D = random_field<float>(rng, H, W, scale);
      // Add two attracting blobs so that real clusters form.
      std::vector<int> nearest;
      if (P > 0) {
        const std::vector<float> blobs = field_towards(
            {{int(H / 3), int(W / 4)}, {int(2 * H / 3), int(3 * W / 4)}}, H, W, &nearest);
        for (size_t i = 0; i < D.size(); ++i) D[i] = 0.3f * D[i] + 0.5f * blobs[i];
      }
      const std::vector<int32_t> c_cpu = centroids_cpu(D, H, W, kIrnCentroidIterations);
      int32_t n_cpu = -1;
      const std::vector<int32_t> map_cpu = cluster_cpu(D, c_cpu, H, W, &n_cpu);

      DeviceArray<float> d_D(D);
      DeviceArray<int32_t> d_c(static_cast<size_t>(2 * P)), d_map(static_cast<size_t>(P)), d_n(1);
      DeviceArray<char> ws(cuda::cluster_centroids_workspace_bytes(H, W));
      cuda::find_centroids(nullptr, d_D.ptr, H, W, kIrnCentroidIterations, d_c.ptr);
      cuda::cluster_centroids(nullptr, d_D.ptr, d_c.ptr, H, W, kIrnWeakDisplacementThreshold,
                              d_map.ptr, d_n.ptr, ws.ptr);
      CUDA_CHECK(cudaDeviceSynchronize());
      EXPECT_EQ(d_c.host(size_t(2 * P)), c_cpu);
      EXPECT_EQ(d_map.host(size_t(P)), map_cpu);
      EXPECT_EQ(d_n.host(1)[0], n_cpu);

      // Seeds for 2 classes.
      const int64_t C = 2, K = n_cpu;
      std::vector<float> cams(size_t(C * P));
      for (float& v : cams) v = float(rng() % 1000) / 1000.0f;
      std::vector<float> seeds(size_t(C * K * P));
      cpu::instance_seeds(cams.data(), C, map_cpu.data(), K, H, W, seeds.data());
      DeviceArray<float> d_cams(cams), d_seeds(seeds.size());
      cuda::instance_seeds(nullptr, d_cams.ptr, C, d_map.ptr, K, H, W, d_seeds.ptr);
      CUDA_CHECK(cudaDeviceSynchronize());
      EXPECT_EQ(d_seeds.host(seeds.size()), seeds);
    }
  }
}

#else
TEST(IrnDisplacementCuda, CentroidsAndClustersEqualCpuTwin) {
  GTEST_SKIP() << "built without CUDA";
}
#endif

}  // namespace
}  // namespace wsvis::kernels
