// Linear sum assignment: hand-solved cases, brute force over all assignments up to 7x7, the
// batched entry point against single calls, and CUDA parity against the CPU twin.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <functional>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "kernels/assign.h"
#include "tests/support/testing.h"

#if WSVIS_WITH_CUDA
#include <cuda_runtime.h>

#include "engine/cuda_check.h"
#endif

namespace wsvis::kernels {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

struct Solution {
  AssignStatus status;
  double total;
  std::vector<int32_t> row_to_col;
};

template <typename T>
Solution solve(const std::vector<T>& cost, int64_t R, int64_t C, bool maximize = false) {
  std::vector<char> ws(cpu::assign_workspace_bytes(R, C) + 8);
  Solution s;
  s.row_to_col.assign(static_cast<size_t>(R), -7);
  s.status = cpu::linear_sum_assignment(cost.data(), R, C, maximize, s.row_to_col.data(),
                                        &s.total, ws.data());
  return s;
}

// The assignment is a partial injection covering min(R, C) rows, avoids forbidden pairs, and
// its cost is the reported total.
template <typename T>
::testing::AssertionResult consistent(const std::vector<T>& cost, int64_t R, int64_t C,
                                      bool maximize, const Solution& s) {
  std::vector<int> used(static_cast<size_t>(C), 0);
  int64_t assigned = 0;
  double sum = 0;
  for (int64_t i = 0; i < R; ++i) {
    const int32_t j = s.row_to_col[size_t(i)];
    if (j < 0) continue;
    if (j >= C) return ::testing::AssertionFailure() << "row " << i << " -> column " << j;
    if (used[size_t(j)]++) return ::testing::AssertionFailure() << "column " << j << " used twice";
    const double c = double(cost[size_t(i * C + j)]);
    if (std::isinf(c)) return ::testing::AssertionFailure() << "forbidden pair " << i << "," << j;
    sum += c;
    ++assigned;
  }
  if (assigned != std::min(R, C))
    return ::testing::AssertionFailure() << assigned << " rows assigned of " << std::min(R, C);
  if (sum != s.total) return ::testing::AssertionFailure() << "total " << s.total << " vs sum " << sum;
  (void)maximize;
  return ::testing::AssertionSuccess();
}

TEST(Assign, ScipyDocExample) {
  const std::vector<double> cost = {4, 1, 3, 2, 0, 5, 3, 2, 2};
  Solution s = solve(cost, 3, 3);
  ASSERT_EQ(s.status, kAssignOk);
  EXPECT_EQ(s.total, 5.0);
  EXPECT_EQ(s.row_to_col, (std::vector<int32_t>{1, 0, 2}));
  s = solve(cost, 3, 3, /*maximize=*/true);
  ASSERT_EQ(s.status, kAssignOk);
  EXPECT_EQ(s.total, 11.0);
  EXPECT_EQ(s.row_to_col, (std::vector<int32_t>{0, 2, 1}));
}

TEST(Assign, AllTiesGiveAPermutation) {
  const std::vector<float> cost(16, 7.0f);
  const Solution s = solve(cost, 4, 4);
  ASSERT_EQ(s.status, kAssignOk);
  EXPECT_EQ(s.total, 28.0);
  EXPECT_TRUE(consistent(cost, 4, 4, false, s));
}

TEST(Assign, RectangularBothWays) {
  // 2 x 3: rows take columns 0 and 1, column 2 stays free.
  const std::vector<double> wide = {1, 2, 3, 3, 1, 2};
  Solution s = solve(wide, 2, 3);
  ASSERT_EQ(s.status, kAssignOk);
  EXPECT_EQ(s.total, 2.0);
  EXPECT_EQ(s.row_to_col, (std::vector<int32_t>{0, 1}));
  // 3 x 2: only rows 0 and 2 are assigned (1 + 1); row 1 gets -1.
  const std::vector<double> tall = {5, 1, 2, 9, 1, 1};
  s = solve(tall, 3, 2);
  ASSERT_EQ(s.status, kAssignOk);
  EXPECT_EQ(s.total, 2.0);
  EXPECT_EQ(s.row_to_col, (std::vector<int32_t>{1, -1, 0}));
  // The same, maximised: 9 + 5 by rows 1 and 0 beats any pair through row 2.
  s = solve(tall, 3, 2, true);
  ASSERT_EQ(s.status, kAssignOk);
  EXPECT_EQ(s.total, 14.0);
  EXPECT_EQ(s.row_to_col, (std::vector<int32_t>{0, 1, -1}));
}

TEST(Assign, ForbiddenPairs) {
  // Without the forbidden (1, 1) the optimum is 1 + 0; with it, 2 + 3.
  const std::vector<double> cost = {1, 2, 3, kInf};
  Solution s = solve(cost, 2, 2);
  ASSERT_EQ(s.status, kAssignOk);
  EXPECT_EQ(s.total, 5.0);
  EXPECT_EQ(s.row_to_col, (std::vector<int32_t>{1, 0}));
  // Maximising forbids with -inf: 4 + 3 would win, but (0, 0) is forbidden.
  const std::vector<double> gain = {-kInf, 1, 3, 4};
  s = solve(gain, 2, 2, true);
  ASSERT_EQ(s.status, kAssignOk);
  EXPECT_EQ(s.total, 4.0);
  EXPECT_EQ(s.row_to_col, (std::vector<int32_t>{1, 0}));
  // A tall problem may leave a fully forbidden row out.
  const std::vector<float> tall = {INFINITY, INFINITY, 1, 2, 4, 3};
  s = solve(tall, 3, 2);
  ASSERT_EQ(s.status, kAssignOk);
  EXPECT_EQ(s.total, 4.0);
  EXPECT_EQ(s.row_to_col, (std::vector<int32_t>{-1, 0, 1}));
}

TEST(Assign, InfeasibleIsReported) {
  // A row with every pair forbidden.
  Solution s = solve(std::vector<double>{kInf, kInf, 1, 2}, 2, 2);
  EXPECT_EQ(s.status, kAssignInfeasible);
  EXPECT_TRUE(std::isnan(s.total));
  EXPECT_EQ(s.row_to_col, (std::vector<int32_t>{-1, -1}));
  // Hall's condition fails: rows 0 and 1 can only use column 0.
  s = solve(std::vector<double>{1, kInf, kInf, 2, kInf, kInf, 1, 2, 3}, 3, 3);
  EXPECT_EQ(s.status, kAssignInfeasible);
  // Wide and tall versions.
  s = solve(std::vector<double>{1, kInf, kInf, 1, kInf, kInf}, 2, 3);
  EXPECT_EQ(s.status, kAssignInfeasible);
  s = solve(std::vector<double>{kInf, kInf, kInf, kInf, 1, 2}, 3, 2);
  EXPECT_EQ(s.status, kAssignInfeasible);
  // Maximising: -inf everywhere in a column of a square problem.
  s = solve(std::vector<double>{-kInf, 1, -kInf, 2}, 2, 2, true);
  EXPECT_EQ(s.status, kAssignInfeasible);
}

TEST(Assign, InvalidEntriesAreReported) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(solve(std::vector<double>{1, nan, 2, 3}, 2, 2).status, kAssignInvalid);
  EXPECT_EQ(solve(std::vector<double>{1, -kInf, 2, 3}, 2, 2).status, kAssignInvalid);
  EXPECT_EQ(solve(std::vector<double>{1, kInf, 2, 3}, 2, 2, true).status, kAssignInvalid);
  EXPECT_STREQ(assign_status_name(kAssignInvalid), "invalid");
}

TEST(Assign, EmptyProblems) {
  for (auto [R, C] : {std::pair<int64_t, int64_t>{0, 0}, {0, 3}, {3, 0}}) {
    const Solution s = solve(std::vector<double>{}, R, C);
    EXPECT_EQ(s.status, kAssignOk);
    EXPECT_EQ(s.total, 0.0);
    for (int32_t j : s.row_to_col) EXPECT_EQ(j, -1);
  }
}

// Best total over every assignment of min(R, C) pairs; +inf/-inf when none avoids the
// forbidden pairs. Enumerates injections from the smaller side into the larger.
double brute_force(const std::vector<double>& cost, int64_t R, int64_t C, bool maximize) {
  const bool tall = R > C;
  const int64_t n = tall ? C : R, m = tall ? R : C;
  auto at = [&](int64_t a, int64_t b) { return tall ? cost[size_t(b * C + a)] : cost[size_t(a * C + b)]; };
  const double forbidden = maximize ? -kInf : kInf;
  double best = forbidden;
  std::vector<int> used(size_t(m), 0);
  std::function<void(int64_t, double)> rec = [&](int64_t a, double sum) {
    if (a == n) {
      if (maximize ? sum > best : sum < best) best = sum;
      return;
    }
    for (int64_t b = 0; b < m; ++b) {
      if (used[size_t(b)] || at(a, b) == forbidden) continue;
      used[size_t(b)] = 1;
      rec(a + 1, sum + at(a, b));
      used[size_t(b)] = 0;
    }
  };
  rec(0, 0.0);
  return best;
}

TEST(Assign, MatchesBruteForceUpTo7x7) {
  std::mt19937_64 rng(1234);
  int infeasible = 0, checked = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    const int64_t R = 1 + int64_t(rng() % 7), C = 1 + int64_t(rng() % 7);
    const bool maximize = rng() % 2;
    const int mode = int(rng() % 3);  // 0: few integer values (ties), 1: continuous, 2: + forbidden
    std::vector<double> cost(size_t(R * C));
    std::uniform_real_distribution<double> unit(-1.0, 1.0);
    for (double& c : cost) {
      c = mode == 1 ? unit(rng) : double(rng() % 4);
      if (mode == 2 && rng() % 2 == 0) c = maximize ? -kInf : kInf;
    }
    const Solution s = solve(cost, R, C, maximize);
    const double best = brute_force(cost, R, C, maximize);
    ++checked;
    if (std::isinf(best)) {
      ++infeasible;
      EXPECT_EQ(s.status, kAssignInfeasible) << "trial " << trial << " " << R << "x" << C;
      continue;
    }
    ASSERT_EQ(s.status, kAssignOk) << "trial " << trial << " " << R << "x" << C;
    ASSERT_TRUE(consistent(cost, R, C, maximize, s)) << "trial " << trial;
    // Integer costs sum exactly; continuous ones may differ in the last bits by summation order.
    EXPECT_NEAR(s.total, best, mode == 1 ? 1e-12 : 0.0)
        << "trial " << trial << " " << R << "x" << C << (maximize ? " max" : " min");
  }
  EXPECT_GT(infeasible, 100);  // the forbidden mode must actually exercise infeasibility
  EXPECT_EQ(checked, 3000);
}

TEST(Assign, FloatAndDoubleAgreeOnIntegerCosts) {
  std::mt19937_64 rng(5);
  const int64_t R = 37, C = 53;
  std::vector<float> f(size_t(R * C));
  std::vector<double> d(f.size());
  for (size_t k = 0; k < f.size(); ++k) d[k] = f[k] = float(rng() % 10);
  for (bool maximize : {false, true}) {
    const Solution a = solve(f, R, C, maximize), b = solve(d, R, C, maximize);
    EXPECT_EQ(a.total, b.total);
    EXPECT_EQ(a.row_to_col, b.row_to_col);  // same arithmetic in double, same tie-break
  }
}

// A ragged batch: random slot sizes, some problems with forbidden and infeasible patterns.
struct Batch {
  int64_t B, R, C;
  std::vector<double> cost;
  std::vector<int32_t> rows, cols;
};

Batch random_batch(std::mt19937_64& rng, int64_t B, int64_t R, int64_t C, int levels) {
  Batch b{B, R, C, std::vector<double>(size_t(B * R * C)), std::vector<int32_t>(size_t(B)),
          std::vector<int32_t>(size_t(B))};
  for (int64_t k = 0; k < B; ++k) {
    b.rows[size_t(k)] = int32_t(rng() % uint64_t(R + 1));
    b.cols[size_t(k)] = int32_t(rng() % uint64_t(C + 1));
    const bool forbid = k % 5 == 4;
    for (int64_t e = 0; e < R * C; ++e) {
      double& c = b.cost[size_t(k * R * C + e)];
      c = double(rng() % uint64_t(levels));
      if (forbid && rng() % 4 == 0) c = kInf;
    }
  }
  return b;
}

TEST(Assign, BatchedMatchesSingleCalls) {
  std::mt19937_64 rng(77);
  const Batch b = random_batch(rng, 40, 13, 9, 5);
  const size_t per = cpu::assign_workspace_bytes(b.R, b.C);
  for (size_t slots : {size_t(1), size_t(3), size_t(64)}) {
    std::vector<char> ws(per * slots);
    std::vector<int32_t> r2c(size_t(b.B * b.R), -7), status(size_t(b.B), -7);
    std::vector<double> total(size_t(b.B));
    cpu::linear_sum_assignment_batched(b.cost.data(), b.B, b.R, b.C, b.rows.data(), b.cols.data(),
                                       false, r2c.data(), total.data(), status.data(), ws.data(),
                                       ws.size());
    for (int64_t k = 0; k < b.B; ++k) {
      const int64_t r = b.rows[size_t(k)], c = b.cols[size_t(k)];
      std::vector<double> sub(size_t(r * c));
      for (int64_t i = 0; i < r; ++i)
        for (int64_t j = 0; j < c; ++j) sub[size_t(i * c + j)] = b.cost[size_t((k * b.R + i) * b.C + j)];
      const Solution s = solve(sub, r, c);
      ASSERT_EQ(status[size_t(k)], s.status) << "problem " << k;
      if (s.status == kAssignOk) {
        EXPECT_EQ(total[size_t(k)], s.total) << "problem " << k;
      }
      for (int64_t i = 0; i < b.R; ++i)
        EXPECT_EQ(r2c[size_t(k * b.R + i)], i < r ? s.row_to_col[size_t(i)] : -1);
    }
  }
}

TEST(Assign, BatchedRejectsOutOfRangeSizes) {
  const std::vector<double> cost(2 * 2 * 2, 1.0);
  const std::vector<int32_t> rows = {2, 3}, cols = {2, 2};
  std::vector<char> ws(cpu::assign_workspace_bytes(2, 2));
  std::vector<int32_t> r2c(4), status(2);
  std::vector<double> total(2);
  cpu::linear_sum_assignment_batched(cost.data(), 2, 2, 2, rows.data(), cols.data(), false,
                                     r2c.data(), total.data(), status.data(), ws.data(), ws.size());
  EXPECT_EQ(status[0], kAssignOk);
  EXPECT_EQ(total[0], 2.0);
  EXPECT_EQ(status[1], kAssignInvalid);
  EXPECT_EQ(r2c[2], -1);
  EXPECT_EQ(r2c[3], -1);
}

#if WSVIS_WITH_CUDA
template <typename T>
struct DeviceBuffer {
  T* ptr = nullptr;
  explicit DeviceBuffer(size_t n) { CUDA_CHECK(cudaMalloc(&ptr, std::max<size_t>(n, 1) * sizeof(T))); }
  ~DeviceBuffer() { CUDA_CHECK_PRINT(cudaFree(ptr)); }
  void upload(const std::vector<T>& v) {
    CUDA_CHECK(cudaMemcpy(ptr, v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice));
  }
  std::vector<T> download(size_t n) const {
    std::vector<T> v(n);
    CUDA_CHECK(cudaMemcpy(v.data(), ptr, n * sizeof(T), cudaMemcpyDeviceToHost));
    return v;
  }
};

template <typename T>
void check_cuda_parity(const Batch& b, bool maximize, bool ragged) {
  std::vector<T> cost(b.cost.size());
  for (size_t k = 0; k < cost.size(); ++k)
    cost[k] = T(maximize && std::isinf(b.cost[k]) ? -b.cost[k] : b.cost[k]);
  const size_t nb = size_t(b.B), nr = size_t(b.B * b.R);
  // CPU reference, batch against batch.
  std::vector<int32_t> r2c_cpu(nr), st_cpu(nb);
  std::vector<double> tot_cpu(nb);
  std::vector<char> ws(cpu::assign_workspace_bytes(b.R, b.C) * 4);
  cpu::linear_sum_assignment_batched(cost.data(), b.B, b.R, b.C, ragged ? b.rows.data() : nullptr,
                                     ragged ? b.cols.data() : nullptr, maximize, r2c_cpu.data(),
                                     tot_cpu.data(), st_cpu.data(), ws.data(), ws.size());
  DeviceBuffer<T> d_cost(cost.size());
  DeviceBuffer<int32_t> d_rows(nb), d_cols(nb), d_r2c(nr), d_st(nb);
  DeviceBuffer<double> d_tot(nb);
  d_cost.upload(cost);
  d_rows.upload(b.rows);
  d_cols.upload(b.cols);
  cuda::linear_sum_assignment_batched<T>(nullptr, d_cost.ptr, b.B, b.R, b.C,
                                         ragged ? d_rows.ptr : nullptr, ragged ? d_cols.ptr : nullptr,
                                         maximize, d_r2c.ptr, d_tot.ptr, d_st.ptr);
  CUDA_CHECK(cudaDeviceSynchronize());
  const std::vector<int32_t> r2c = d_r2c.download(nr), st = d_st.download(nb);
  const std::vector<double> tot = d_tot.download(nb);
  int differing_assignments = 0;
  for (size_t k = 0; k < nb; ++k) {
    ASSERT_EQ(st[k], st_cpu[k]) << "problem " << k << " of " << b.R << "x" << b.C;
    if (st[k] != kAssignOk) {
      EXPECT_TRUE(std::isnan(tot[k]));
      continue;
    }
    EXPECT_EQ(tot[k], tot_cpu[k]) << "problem " << k << " of " << b.R << "x" << b.C;
    differing_assignments +=
        !std::equal(r2c.begin() + long(k * b.R), r2c.begin() + long((k + 1) * b.R), r2c_cpu.begin() + long(k * b.R));
  }
  // Same arithmetic and the same tie-break: the assignments themselves agree.
  EXPECT_EQ(differing_assignments, 0);
}

TEST(AssignCuda, ParityWithCpuTwin) {
  WSVIS_REQUIRE_CUDA();
  std::mt19937_64 rng(2024);
  const std::vector<std::array<int64_t, 3>> shapes = {
      {0, 5, 5}, {1, 1, 1}, {3, 0, 4}, {7, 1, 9}, {9, 9, 1}, {33, 17, 31}, {20, 31, 17},
      {64, 100, 100}, {5, 257, 129}, {3, 300, 511}, {2, 512, 512}, {2, 1024, 700}};
  for (const auto& s : shapes) {
    for (int levels : {3, 1000}) {
      const Batch b = random_batch(rng, s[0], s[1], s[2], levels);
      for (bool maximize : {false, true}) {
        SCOPED_TRACE(::testing::Message() << s[0] << "x" << s[1] << "x" << s[2] << " levels "
                                          << levels << (maximize ? " max" : " min"));
        check_cuda_parity<float>(b, maximize, false);
        check_cuda_parity<double>(b, maximize, true);
      }
    }
  }
}

TEST(AssignCuda, InvalidEntriesAndSizes) {
  WSVIS_REQUIRE_CUDA();
  std::mt19937_64 rng(3);
  Batch b = random_batch(rng, 6, 4, 4, 3);
  b.cost[1 * 16 + 5] = std::numeric_limits<double>::quiet_NaN();
  b.cost[2 * 16 + 0] = -kInf;
  b.rows[3] = 5;  // outside [0, R]
  check_cuda_parity<double>(b, false, true);
}
#else
TEST(AssignCuda, ParityWithCpuTwin) { GTEST_SKIP() << "built without CUDA"; }
#endif

}  // namespace
}  // namespace wsvis::kernels
