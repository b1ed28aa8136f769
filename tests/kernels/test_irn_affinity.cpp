// Tests of the irn family's pairs, path affinity and IRN losses (kernels/irn.h).
//  - Pair sets: the counts and path lengths the spec quotes (152 / 34 directions, 2,134 path
//    points, (2,1) -> 6, (3,4) -> 10, (6,-7) -> 20, (0,9) -> 10), one path spelt out in IRN's
//    order, every path against the geometric definition, each unordered pair once.
//  - Affinity forward against an independent reference (bounding-box scan, distance test, max),
//    radius 5 and 10, float and double; backward by central differences in double on boundary
//    maps whose values are at least 1e-3 apart (away from arg-max ties); the tie rule (first
//    path point, the destination) on a constant map.
//  - Losses against a naive reference that materialises IRN's pair-label tensors
//    (dataloader-style) and applies train_irn.py's formulas; gradients by central differences.
//  - CUDA parity against the CPU twin on odd and empty sizes (skipped without a GPU).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <set>
#include <vector>

#include "kernels/irn.h"
#include "tests/support/testing.h"

namespace wsvis {
namespace {

namespace kc = kernels::cpu;
using kernels::IrnPairSet;

std::vector<double> uniform(size_t n, double lo, double hi, std::mt19937& rng) {
  std::uniform_real_distribution<double> d(lo, hi);
  std::vector<double> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// Values k / n for a random permutation of k: distinct, at least 1/n apart.
std::vector<double> distinct_values(size_t n, std::mt19937& rng) {
  std::vector<double> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = (double(i) + 0.5) / double(n);
  std::shuffle(v.begin(), v.end(), rng);
  return v;
}

std::vector<uint8_t> random_labels(size_t n, int classes, double ignore_p, std::mt19937& rng) {
  std::uniform_int_distribution<int> c(0, classes);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<uint8_t> v(n);
  // Blobs rather than noise would be more realistic; noise exercises every pair kind.
  for (auto& x : v) x = u(rng) < ignore_p ? 255 : static_cast<uint8_t>(c(rng));
  return v;
}

// ---- pair sets -----------------------------------------------------------------------------

int path_length(const IrnPairSet& s, int dy, int dx) {
  for (int d = 0; d < s.num_directions; ++d)
    if (s.dy[d] == dy && s.dx[d] == dx) return s.path_begin[d + 1] - s.path_begin[d];
  return -1;
}

TEST(IrnPairSet, CountsAndLengthsFromTheSpec) {
  const IrnPairSet s10 = kernels::irn_pair_set(10), s5 = kernels::irn_pair_set(5);
  EXPECT_EQ(s10.num_directions, 152);
  EXPECT_EQ(s5.num_directions, 34);
  EXPECT_EQ(2 * s5.num_directions + 1, 69);  // stencil: 68 neighbours + self
  EXPECT_EQ(s10.num_points, 2134);
  EXPECT_EQ(path_length(s10, 2, 1), 6);
  EXPECT_EQ(path_length(s10, 3, 4), 10);
  EXPECT_EQ(path_length(s10, 6, -7), 20);
  EXPECT_EQ(path_length(s10, 0, 9), 10);
  auto range = [](const IrnPairSet& s) {
    int lo = 1 << 20, hi = 0;
    for (int d = 0; d < s.num_directions; ++d) {
      const int len = s.path_begin[d + 1] - s.path_begin[d];
      lo = std::min(lo, len);
      hi = std::max(hi, len);
    }
    return std::make_pair(lo, hi);
  };
  EXPECT_EQ(range(s10), std::make_pair(2, 22));
  EXPECT_EQ(range(s5), std::make_pair(2, 11));
}

TEST(IrnPairSet, PathOrderAsIrn) {
  const IrnPairSet s = kernels::irn_pair_set(10);
  int d = 0;
  while (!(s.dy[d] == 2 && s.dx[d] == 1)) ++d;
  // Row-major box scan, stable-sorted by decreasing |y| + |x|.
  const std::vector<std::pair<int, int>> expected = {{2, 1}, {1, 1}, {2, 0},
                                                     {0, 1}, {1, 0}, {0, 0}};
  std::vector<std::pair<int, int>> got;
  for (int k = s.path_begin[d]; k < s.path_begin[d + 1]; ++k) got.push_back({s.py[k], s.px[k]});
  EXPECT_EQ(got, expected);
  // The first directions are the two of path length 2, (0, 1) and (1, 0), in scan order.
  EXPECT_EQ(s.dy[0], 0);
  EXPECT_EQ(s.dx[0], 1);
  EXPECT_EQ(s.dy[1], 1);
  EXPECT_EQ(s.dx[1], 0);
}

TEST(IrnPairSet, PathsMatchGeometryAndPairsAreUnique) {
  for (int r : {1, 2, 3, 5, 7, 10}) {
    SCOPED_TRACE(r);
    const IrnPairSet s = kernels::irn_pair_set(r);
    std::set<std::pair<int, int>> seen;
    int prev_len = 0, total = 0;
    for (int d = 0; d < s.num_directions; ++d) {
      const int dy = s.dy[d], dx = s.dx[d];
      EXPECT_LT(dy * dy + dx * dx, r * r);
      EXPECT_TRUE(dy > 0 || (dy == 0 && dx > 0)) << "lower half-plane";
      EXPECT_TRUE(seen.insert({dy, dx}).second);
      EXPECT_EQ(seen.count({-dy, -dx}), 0u);
      std::set<std::pair<int, int>> ref;
      for (int y = std::min(0, dy); y <= std::max(0, dy); ++y)
        for (int x = std::min(0, dx); x <= std::max(0, dx); ++x) {
          const double dist_sq = std::pow(double(dy * x - dx * y), 2) / double(dy * dy + dx * dx);
          if (dist_sq < 1) ref.insert({y, x});
        }
      std::set<std::pair<int, int>> got;
      int prev_key = 1 << 20;
      for (int k = s.path_begin[d]; k < s.path_begin[d + 1]; ++k) {
        got.insert({s.py[k], s.px[k]});
        const int key = std::abs(s.py[k]) + std::abs(s.px[k]);
        EXPECT_LE(key, prev_key);
        prev_key = key;
      }
      EXPECT_EQ(got, ref) << "direction (" << dy << ", " << dx << ")";
      const int len = s.path_begin[d + 1] - s.path_begin[d];
      EXPECT_GE(len, prev_len) << "grouped by increasing length";
      prev_len = len;
      total += len;
      EXPECT_EQ(s.py[s.path_begin[d]], dy);
      EXPECT_EQ(s.px[s.path_begin[d]], dx);
    }
    int expected_dirs = 0;  // count of the half-plane directions inside the radius
    for (int y = 0; y < r; ++y)
      for (int x = -r + 1; x < r; ++x)
        if ((y > 0 || x > 0) && x * x + y * y < r * r) ++expected_dirs;
    EXPECT_EQ(s.num_directions, expected_dirs);
    EXPECT_EQ(s.num_points, total);
  }
  EXPECT_THROW(kernels::irn_pair_set(0), Error);
  EXPECT_THROW(kernels::irn_pair_set(11), Error);
}

// ---- affinity --------------------------------------------------------------------------------

// Independent reference: 1 - max over the geometric path (no table, no order).
std::vector<double> ref_affinity(const std::vector<double>& b, const IrnPairSet& s, int64_t N,
                                 int64_t H, int64_t W) {
  const int64_t D = s.num_directions;
  std::vector<double> out(static_cast<size_t>(N * D * H * W), 0.0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t d = 0; d < D; ++d) {
      const int dy = s.dy[d], dx = s.dx[d];
      for (int64_t y = 0; y < H; ++y)
        for (int64_t x = 0; x < W; ++x) {
          if (y + dy < 0 || y + dy >= H || x + dx < 0 || x + dx >= W) continue;
          double m = -1;
          for (int py = std::min(0, dy); py <= std::max(0, dy); ++py)
            for (int px = std::min(0, dx); px <= std::max(0, dx); ++px)
              if ((dy * px - dx * py) * (dy * px - dx * py) < dy * dy + dx * dx)
                m = std::max(m, b[static_cast<size_t>(n * H * W + (y + py) * W + x + px)]);
          out[static_cast<size_t>(((n * D + d) * H + y) * W + x)] = 1 - m;
        }
    }
  return out;
}

TEST(IrnAffinity, ForwardMatchesReference) {
  std::mt19937 rng(3);
  for (int r : {5, 10}) {
    const IrnPairSet s = kernels::irn_pair_set(r);
    const int64_t N = 2, H = 13, W = 17, D = s.num_directions;
    const auto b = uniform(size_t(N * H * W), 0, 1, rng);
    const auto ref = ref_affinity(b, s, N, H, W);
    std::vector<double> out(ref.size(), -7);
    kc::irn_affinity_forward(b.data(), N, H, W, s, out.data());
    for (size_t i = 0; i < ref.size(); ++i) ASSERT_EQ(out[i], ref[i]) << "r " << r << " at " << i;
    std::vector<float> bf(b.begin(), b.end()), of(ref.size());
    kc::irn_affinity_forward(bf.data(), N, H, W, s, of.data());
    for (size_t i = 0; i < ref.size(); ++i) ASSERT_NEAR(of[i], ref[i], 1e-7);
    EXPECT_EQ(D * N * H * W, static_cast<int64_t>(ref.size()));
  }
}

TEST(IrnAffinity, BackwardGradcheck) {
  std::mt19937 rng(5);
  for (int r : {5, 10}) {
    SCOPED_TRACE(r);
    const IrnPairSet s = kernels::irn_pair_set(r);
    const int64_t N = 2, H = 11, W = 12, D = s.num_directions;
    auto b = distinct_values(size_t(N * H * W), rng);
    const auto R = uniform(size_t(N * D * H * W), -1, 1, rng);
    std::vector<double> grad(b.size(), 5.0), aff(R.size());
    kc::irn_affinity_backward(R.data(), b.data(), N, H, W, s, grad.data());
    auto objective = [&]() {
      kc::irn_affinity_forward(b.data(), N, H, W, s, aff.data());
      return std::inner_product(aff.begin(), aff.end(), R.begin(), 0.0);
    };
    const double eps = 1e-6;  // values are >= 1e-3 apart: no arg-max changes within +-eps
    for (size_t i = 0; i < b.size(); ++i) {
      const double saved = b[i];
      b[i] = saved + eps;
      const double plus = objective();
      b[i] = saved - eps;
      const double minus = objective();
      b[i] = saved;
      // L is piecewise linear in b: central differences are exact up to rounding (~1e-9).
      ASSERT_NEAR(grad[i], (plus - minus) / (2 * eps), 1e-7) << "pixel " << i;
    }
  }
}

TEST(IrnAffinity, TiesGoToTheFirstPathPoint) {
  const IrnPairSet s = kernels::irn_pair_set(5);
  const int64_t H = 9, W = 10, D = s.num_directions;
  std::vector<double> b(size_t(H * W), 0.3), ga(size_t(D * H * W), 1.0), g(b.size());
  kc::irn_affinity_backward(ga.data(), b.data(), 1, H, W, s, g.data());
  // Constant map: every pair's arg-max is its destination (IRN's first path point).
  std::vector<double> expected(b.size(), 0.0);
  for (int64_t d = 0; d < D; ++d)
    for (int64_t y = 0; y < H; ++y)
      for (int64_t x = 0; x < W; ++x)
        if (y + s.dy[d] < H && x + s.dx[d] >= 0 && x + s.dx[d] < W)
          expected[size_t((y + s.dy[d]) * W + x + s.dx[d])] -= 1.0;
  EXPECT_EQ(g, expected);
}

// ---- losses ----------------------------------------------------------------------------------

// train_irn.py's formulas over pair-label tensors materialised the dataloader way.
std::vector<double> ref_loss(const std::vector<double>& aff, const std::vector<double>& disp,
                             const std::vector<uint8_t>& lab, const IrnPairSet& s, int64_t N,
                             int64_t H, int64_t W, bool crop) {
  const int64_t D = s.num_directions, rf = s.radius - 1;
  std::vector<double> bg_lab, fg_lab, neg_lab, a, ey, ex, ty, tx;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t d = 0; d < D; ++d)
      for (int64_t y = 0; y < H; ++y)
        for (int64_t x = 0; x < W; ++x) {
          const int64_t yy = y + s.dy[d], xx = x + s.dx[d];
          if (yy >= H || xx < 0 || xx >= W) continue;
          if (crop && !(y < H - rf && x >= rf && x < W - rf)) continue;
          const int li = lab[size_t(n * H * W + y * W + x)],
                    lj = lab[size_t(n * H * W + yy * W + xx)];
          const bool valid = li < 255 && lj < 255;
          bg_lab.push_back(valid && li == lj && li == 0);
          fg_lab.push_back(valid && li == lj && li > 0);
          neg_lab.push_back(valid && li != lj);
          a.push_back(aff[size_t(((n * D + d) * H + y) * W + x)]);
          const size_t i0 = size_t(n * 2 * H * W + y * W + x),
                       j0 = size_t(n * 2 * H * W + yy * W + xx);
          ey.push_back(disp[i0] - disp[j0]);
          ex.push_back(disp[i0 + H * W] - disp[j0 + H * W]);
          ty.push_back(double(s.dy[d]));
          tx.push_back(double(s.dx[d]));
        }
  double sb = 0, sf = 0, sn = 0, cb = 0, cf = 0, cn = 0, dfg = 0, dbg = 0;
  for (size_t p = 0; p < a.size(); ++p) {
    const double pos = -std::log(a[p] + 1e-5), neg = -std::log(1. + 1e-5 - a[p]);
    sb += bg_lab[p] * pos;
    sf += fg_lab[p] * pos;
    sn += neg_lab[p] * neg;
    cb += bg_lab[p];
    cf += fg_lab[p];
    cn += neg_lab[p];
    dfg += fg_lab[p] * (std::fabs(ey[p] - ty[p]) + std::fabs(ex[p] - tx[p]));
    dbg += bg_lab[p] * (std::fabs(ey[p]) + std::fabs(ex[p]));
  }
  const double bg = sb / (cb + 1e-5), fg = sf / (cf + 1e-5), ng = sn / (cn + 1e-5);
  const double dpf = dfg / (2 * cf + 1e-5), dpb = dbg / (2 * cb + 1e-5);
  const double total = (bg / 2 + fg / 2 + ng) / 2 + (dpf + dpb) / 2;
  return {bg, fg, ng, dpf, dpb, total, cb, cf, cn};
}

struct LossCase {
  int radius;
  int64_t N, H, W;
  bool crop;
};

TEST(IrnLoss, ForwardMatchesNaiveReference) {
  std::mt19937 rng(8);
  for (const LossCase c :
       {LossCase{10, 2, 24, 27, true}, LossCase{10, 1, 15, 13, false}, LossCase{5, 3, 9, 11, true},
        LossCase{5, 1, 3, 2, false}, LossCase{10, 1, 5, 30, true}}) {
    SCOPED_TRACE(::testing::Message() << c.radius << " " << c.N << "x" << c.H << "x" << c.W);
    const IrnPairSet s = kernels::irn_pair_set(c.radius);
    const int64_t plane = c.H * c.W, D = s.num_directions;
    const auto aff = uniform(size_t(c.N * D * plane), 0.02, 0.98, rng);
    const auto disp = uniform(size_t(c.N * 2 * plane), -6, 6, rng);
    const auto lab = random_labels(size_t(c.N * plane), 3, 0.15, rng);
    const auto ref = ref_loss(aff, disp, lab, s, c.N, c.H, c.W, c.crop);
    std::vector<double> stats(kernels::kIrnLossStats, -1);
    kc::irn_loss_forward(aff.data(), disp.data(), lab.data(), c.N, c.H, c.W, s, c.crop,
                         stats.data(), nullptr, 0);
    for (int k = 0; k < kernels::kIrnLossStats; ++k)
      EXPECT_NEAR(stats[size_t(k)], ref[size_t(k)], 1e-10 * (1 + std::fabs(ref[size_t(k)]))) << k;
    std::vector<float> af(aff.begin(), aff.end()), df(disp.begin(), disp.end()), sf(9);
    kc::irn_loss_forward(af.data(), df.data(), lab.data(), c.N, c.H, c.W, s, c.crop, sf.data(),
                         nullptr, 0);
    for (int k = 0; k < kernels::kIrnLossStats; ++k)
      EXPECT_NEAR(sf[size_t(k)], ref[size_t(k)], 1e-5 * (1 + std::fabs(ref[size_t(k)]))) << k;
  }
}

TEST(IrnLoss, BackwardGradcheck) {
  std::mt19937 rng(9);
  for (const LossCase c : {LossCase{10, 1, 16, 22, true}, LossCase{10, 1, 11, 12, false},
                           LossCase{5, 2, 8, 9, false}}) {
    SCOPED_TRACE(c.radius);
    const IrnPairSet s = kernels::irn_pair_set(c.radius);
    const int64_t plane = c.H * c.W, D = s.num_directions;
    auto aff = uniform(size_t(c.N * D * plane), 0.05, 0.95, rng);
    // Displacements with fractional parts in [0.1, 0.9]: differences of two such values, and
    // those minus an integer target, stay >= ~1e-3 from zero for almost all pairs; the check
    // below skips elements whose pairs come within 1e-4 of an L1 kink.
    auto disp = uniform(size_t(c.N * 2 * plane), -5, 5, rng);
    const auto lab = random_labels(size_t(c.N * plane), 2, 0.1, rng);
    const auto gs = uniform(6, -1, 1, rng);
    std::vector<double> stats(9), ga(aff.size()), gd(disp.size());
    kc::irn_loss_forward(aff.data(), disp.data(), lab.data(), c.N, c.H, c.W, s, c.crop,
                         stats.data(), nullptr, 0);
    kc::irn_loss_backward(gs.data(), stats.data(), aff.data(), disp.data(), lab.data(), c.N, c.H,
                          c.W, s, c.crop, ga.data(), gd.data());
    auto objective = [&]() {
      std::vector<double> st(9);
      kc::irn_loss_forward(aff.data(), disp.data(), lab.data(), c.N, c.H, c.W, s, c.crop, st.data(),
                           nullptr, 0);
      double v = 0;
      for (int k = 0; k < 6; ++k) v += gs[size_t(k)] * st[size_t(k)];
      return v;
    };
    const double eps = 1e-6;
    auto check = [&](std::vector<double>& x, const std::vector<double>& g, const char* what,
                     int stride) {
      for (size_t i = 0; i < x.size(); i += size_t(stride)) {
        const double saved = x[i];
        x[i] = saved + eps;
        const double plus = objective();
        x[i] = saved - eps;
        const double minus = objective();
        x[i] = saved;
        const double num = (plus - minus) / (2 * eps);
        ASSERT_NEAR(g[i], num, 1e-6 + 1e-5 * std::fabs(num)) << what << " " << i;
      }
    };
    // Every 5th affinity (each is one pair's own term: the rest add nothing but time) and
    // every displacement (each is shared by up to 2D pairs).
    check(aff, ga, "affinity", 5);
    check(disp, gd, "displacement", 1);
  }
}

// ---- CUDA parity -----------------------------------------------------------------------------

#if WSVIS_WITH_CUDA
template <typename T>
Tensor dev(const std::vector<T>& v, const ContextPtr& gpu) {
  return Tensor::from_vector(v, {static_cast<int64_t>(v.size())}, gpu);
}
template <typename T>
Tensor dev_empty(size_t n, const ContextPtr& gpu) {
  return Tensor::zeros({static_cast<int64_t>(n) + 1}, dtype_of<T>::value, gpu);
}

template <typename T>
void expect_close(const std::vector<T>& got, const std::vector<T>& ref, double atol, double rtol,
                  const char* what) {
  ASSERT_GE(got.size(), ref.size());
  for (size_t i = 0; i < ref.size(); ++i)
    ASSERT_LE(std::fabs(double(got[i]) - double(ref[i])), atol + rtol * std::fabs(double(ref[i])))
        << what << " element " << i << ": " << got[i] << " vs " << ref[i];
}

TEST(IrnCuda, AffinityAndLossParity) {
  WSVIS_REQUIRE_CUDA();
  const ContextPtr gpu = Context::create(Device::cuda(0));
  const cudaStream_t st = gpu->stream();
  std::mt19937 rng(12);
  for (const LossCase c : {LossCase{10, 2, 37, 41, true}, LossCase{5, 1, 1, 1, false},
                           LossCase{5, 3, 17, 9, false}, LossCase{10, 1, 128, 128, true},
                           LossCase{10, 0, 5, 5, true}, LossCase{5, 2, 0, 7, false}}) {
    SCOPED_TRACE(::testing::Message() << c.radius << " " << c.N << "x" << c.H << "x" << c.W);
    const IrnPairSet s = kernels::irn_pair_set(c.radius);
    const int64_t plane = c.H * c.W, D = s.num_directions;
    const size_t na = size_t(c.N * D * plane), np = size_t(c.N * plane);
    std::vector<float> b(np), disp(2 * np), gaff(na);
    for (auto& v : b) v = std::uniform_real_distribution<float>(0, 1)(rng);
    for (auto& v : disp) v = std::uniform_real_distribution<float>(-5, 5)(rng);
    for (auto& v : gaff) v = std::uniform_real_distribution<float>(-1, 1)(rng);
    const auto lab = random_labels(np, 3, 0.1, rng);
    const std::vector<float> gs = {0.3f, -0.2f, 0.5f, 0.1f, 0.7f, 1.0f};
    // CPU reference.
    std::vector<float> aff(na), gb(np), stats(9), ga(na), gd(2 * np);
    kc::irn_affinity_forward(b.data(), c.N, c.H, c.W, s, aff.data());
    kc::irn_affinity_backward(gaff.data(), b.data(), c.N, c.H, c.W, s, gb.data());
    kc::irn_loss_forward(aff.data(), disp.data(), lab.data(), c.N, c.H, c.W, s, c.crop,
                         stats.data(), nullptr, 0);
    kc::irn_loss_backward(gs.data(), stats.data(), aff.data(), disp.data(), lab.data(), c.N, c.H,
                          c.W, s, c.crop, ga.data(), gd.data());
    // GPU.
    Tensor db = dev(b, gpu), ddisp = dev(disp, gpu), dgaff = dev(gaff, gpu), dlab = dev(lab, gpu);
    Tensor dgs = dev(gs, gpu);
    Tensor daff = dev_empty<float>(na, gpu), dgb = dev_empty<float>(np, gpu);
    Tensor dstats = dev_empty<float>(9, gpu), dga = dev_empty<float>(na, gpu);
    Tensor dgd = dev_empty<float>(2 * np, gpu);
    const size_t wsb = kernels::cuda::irn_loss_workspace_bytes(c.N, c.H, c.W);
    Tensor ws = Tensor::zeros({int64_t(wsb) + 1}, DType::u8, gpu);
    namespace kg = kernels::cuda;
    kg::irn_affinity_forward(st, db.data<float>(), c.N, c.H, c.W, s, daff.data<float>());
    kg::irn_affinity_backward(st, dgaff.data<float>(), db.data<float>(), c.N, c.H, c.W, s,
                              dgb.data<float>());
    kg::irn_loss_forward(st, daff.data<float>(), ddisp.data<float>(), dlab.data<uint8_t>(), c.N,
                         c.H, c.W, s, c.crop, dstats.data<float>(), ws.raw_data(), wsb);
    kg::irn_loss_backward(st, dgs.data<float>(), dstats.data<float>(), daff.data<float>(),
                          ddisp.data<float>(), dlab.data<uint8_t>(), c.N, c.H, c.W, s, c.crop,
                          dga.data<float>(), dgd.data<float>());
    gpu->synchronize();
    // Forward: the same float max and subtraction: exact. Backward: atomics add the up to
    // ~2,000 terms in [-1, 1] that reach a pixel (radius 10) in another order; float rounding of
    // partial sums of size ~10-40 gives a few 1e-6 typically, 1e-4 bounds it. Loss: double sums
    // of float inputs rounded once to float (1e-5).
    expect_close(daff.to_vector<float>(), aff, 0.0, 0.0, "affinity");
    expect_close(dgb.to_vector<float>(), gb, 1e-4, 1e-5, "grad boundary");
    expect_close(dstats.to_vector<float>(), stats, 1e-6, 1e-5, "stats");
    expect_close(dga.to_vector<float>(), ga, 1e-6, 1e-5, "grad affinity");
    expect_close(dgd.to_vector<float>(), gd, 1e-6, 1e-5, "grad displacement");
  }
}
#endif

}  // namespace
}  // namespace wsvis
