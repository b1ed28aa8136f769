// NMS (torchvision semantics) and batched NMS (torchvision batched_nms + detectron2's per-image
// cap): the CPU twin against a naive O(n^2) greedy reference written here, on random boxes
// over many seeds, compared by kept list, or by edit distance where some IoU lies within 1e-6
// of the threshold (where float and double IoU may fall on different sides). The CUDA twin
// against the CPU twin (skipped without a GPU).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

#include "kernels/boxes.h"
#include "tests/kernels/boxes_testing.h"
#include "tests/support/testing.h"

namespace wsvis {
namespace {

namespace kc = kernels::cpu;
using kernels::NmsOptions;
using testing::boxes::edit_distance;
using testing::boxes::random_boxes;
using testing::boxes::random_scores;
using testing::boxes::Workspace;

// IoU in double straight from the definition (torchvision box_iou), independent of the kernel
// header.
template <typename T>
double naive_iou(const T* p, const T* q) {
  const double w = std::max(0.0, std::min<double>(p[2], q[2]) - std::max<double>(p[0], q[0]));
  const double h = std::max(0.0, std::min<double>(p[3], q[3]) - std::max<double>(p[1], q[1]));
  const double inter = w * h;
  if (inter <= 0) return 0;
  const double u = (double(p[2]) - p[0]) * (double(p[3]) - p[1]) +
                   (double(q[2]) - q[0]) * (double(q[3]) - q[1]) - inter;
  return inter / u;
}

// The naive reference: order the candidates by score descending (stable: ties by index), then
// keep a box unless some already-kept box of the same label overlaps it with IoU > thr.
template <typename T>
std::vector<int32_t> naive_nms(const std::vector<T>& boxes, const std::vector<T>& scores,
                               const std::vector<int32_t>& labels, double thr,
                               double score_thr = -std::numeric_limits<double>::infinity(),
                               int64_t limit = -1, int64_t max_keep = -1) {
  std::vector<int32_t> order;
  for (size_t i = 0; i < scores.size(); ++i)
    if (double(scores[i]) > score_thr) order.push_back(int32_t(i));
  std::stable_sort(order.begin(), order.end(),
                   [&](int32_t a, int32_t b) { return scores[a] > scores[b]; });
  if (limit >= 0 && int64_t(order.size()) > limit) order.resize(size_t(limit));
  std::vector<int32_t> kept;
  for (int32_t i : order) {
    if (max_keep >= 0 && int64_t(kept.size()) >= max_keep) break;
    bool suppressed = false;
    for (int32_t k : kept)
      if ((labels.empty() || labels[k] == labels[i]) && naive_iou(&boxes[4 * k], &boxes[4 * i]) > thr)
        suppressed = true;
    if (!suppressed) kept.push_back(i);
  }
  return kept;
}

// Number of same-label pairs whose IoU lies within 1e-6 of the threshold.
template <typename T>
int near_threshold_pairs(const std::vector<T>& boxes, const std::vector<int32_t>& labels,
                         double thr) {
  const size_t n = boxes.size() / 4;
  int near = 0;
  for (size_t i = 0; i < n; ++i)
    for (size_t j = i + 1; j < n; ++j)
      if ((labels.empty() || labels[i] == labels[j]) &&
          std::fabs(naive_iou(&boxes[4 * i], &boxes[4 * j]) - thr) < 1e-6)
        ++near;
  return near;
}

template <typename T>
std::vector<int32_t> run_cpu_nms(const std::vector<T>& boxes, const std::vector<T>& scores,
                                 double thr) {
  const int64_t n = int64_t(scores.size());
  Workspace ws(kc::nms_workspace_bytes(n));
  std::vector<int32_t> keep(size_t(n), 7777);
  int32_t count = -1;
  kc::nms(boxes.data(), scores.data(), n, thr, keep.data(), &count, ws.data(), ws.bytes());
  for (int64_t i = count; i < n; ++i) EXPECT_EQ(keep[size_t(i)], -1) << "tail not -1 at " << i;
  keep.resize(size_t(count));
  return keep;
}

// Kept lists agree exactly, or within the edit distance that near-threshold pairs allow.
::testing::AssertionResult keeps_agree(const std::vector<int32_t>& got,
                                       const std::vector<int32_t>& ref, int near) {
  const int ed = edit_distance(got, ref);
  if (ed == 0 || ed <= 2 * near) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "edit distance " << ed << " with " << near
                                       << " near-threshold pairs (kept " << got.size()
                                       << " vs reference " << ref.size() << ")";
}

TEST(Nms, ExactThresholdIsNotSuppressed) {
  // IoU((0,0,4,1), (0,0,2,1)) = 2 / 4 = 0.5 exactly: "> threshold" keeps both at 0.5.
  const std::vector<float> boxes = {0, 0, 4, 1, 0, 0, 2, 1};
  const std::vector<float> scores = {0.9f, 0.8f};
  EXPECT_EQ(run_cpu_nms(boxes, scores, 0.5), (std::vector<int32_t>{0, 1}));
  EXPECT_EQ(run_cpu_nms(boxes, scores, 0.49), (std::vector<int32_t>{0}));
}

TEST(Nms, TiesKeepTheLowerIndexAndOrderIsByScore) {
  // Three identical boxes, equal scores: index 0 wins. A disjoint box with a higher score
  // comes first in the output. -0.0 and +0.0 are equal scores.
  const std::vector<double> boxes = {0, 0, 10, 10, 0, 0, 10, 10, 0, 0, 10, 10, 50, 50, 60, 60};
  EXPECT_EQ(run_cpu_nms(boxes, std::vector<double>{0.5, 0.5, 0.5, 0.7}, 0.5),
            (std::vector<int32_t>{3, 0}));
  EXPECT_EQ(run_cpu_nms(boxes, std::vector<double>{0.5, 0.5, 0.6, 0.1}, 0.5),
            (std::vector<int32_t>{2, 3}));
  EXPECT_EQ(run_cpu_nms(boxes, std::vector<double>{-0.0, 0.0, -0.0, -1.0}, 0.5),
            (std::vector<int32_t>{0, 3}));
}

TEST(Nms, EmptyAndSingle) {
  EXPECT_TRUE(run_cpu_nms(std::vector<float>{}, std::vector<float>{}, 0.5).empty());
  EXPECT_EQ(run_cpu_nms(std::vector<float>{1, 1, 2, 2}, std::vector<float>{0.3f}, 0.5),
            (std::vector<int32_t>{0}));
}

TEST(Nms, MatchesNaiveGreedyOnRandomBoxes) {
  int checked = 0, with_suppression = 0;
  for (uint32_t seed = 0; seed < 300; ++seed) {
    std::mt19937 rng(seed);
    const int64_t n = std::uniform_int_distribution<int64_t>(0, 250)(rng);
    const double thr = std::vector<double>{0.3, 0.5, 0.7}[seed % 3];
    auto boxes = random_boxes<float>(rng, n);
    auto scores = random_scores<float>(rng, n, seed % 2 ? 20 : 0);  // ties on odd seeds
    if (seed % 7 == 0 && n > 4) {  // exact duplicates and a degenerate box
      for (int q = 0; q < 4; ++q) boxes[4 + q] = boxes[q];
      boxes[8] = boxes[10];
    }
    const auto got = run_cpu_nms(boxes, scores, thr);
    const auto ref = naive_nms(boxes, scores, {}, thr);
    EXPECT_TRUE(keeps_agree(got, ref, near_threshold_pairs(boxes, {}, thr))) << "seed " << seed;
    ++checked;
    with_suppression += int64_t(got.size()) < n;
  }
  EXPECT_GT(with_suppression, 200) << "random boxes should overlap enough to suppress";
  EXPECT_EQ(checked, 300);
}

TEST(Nms, DoubleMatchesNaive) {
  for (uint32_t seed = 0; seed < 50; ++seed) {
    std::mt19937 rng(1000 + seed);
    const auto boxes = random_boxes<double>(rng, 120);
    const auto scores = random_scores<double>(rng, 120, 10);
    EXPECT_TRUE(keeps_agree(run_cpu_nms(boxes, scores, 0.5), naive_nms(boxes, scores, {}, 0.5),
                            near_threshold_pairs(boxes, {}, 0.5)))
        << "seed " << seed;
  }
}

struct BatchResult {
  std::vector<std::vector<int32_t>> keep;  // per image
  std::vector<uint8_t> mask;
};

template <typename T>
BatchResult run_cpu_batched(const std::vector<T>& boxes, const std::vector<T>& scores,
                            const std::vector<int32_t>& labels, int64_t batch, int64_t capacity,
                            const NmsOptions& opt) {
  Workspace ws(kc::batched_nms_workspace_bytes(batch, capacity, opt));
  std::vector<int32_t> keep(size_t(batch * capacity), 7777), count(size_t(batch), -1);
  BatchResult r;
  r.mask.assign(size_t(batch * capacity), 9);
  kc::batched_nms(boxes.data(), scores.data(), labels.empty() ? nullptr : labels.data(), batch,
                  capacity, opt, keep.data(), count.data(), r.mask.data(), ws.data(), ws.bytes());
  for (int64_t b = 0; b < batch; ++b) {
    const auto first = keep.begin() + b * capacity;
    r.keep.emplace_back(first, first + count[size_t(b)]);
    for (int64_t s = count[size_t(b)]; s < capacity; ++s) EXPECT_EQ(first[s], -1);
  }
  return r;
}

// Slices image b's boxes, scores and labels out of a (B, M) batch.
template <typename T>
void slice(const std::vector<T>& v, int64_t b, int64_t per, std::vector<T>& out) {
  out.assign(v.begin() + b * per, v.begin() + (b + 1) * per);
}

TEST(BatchedNms, GroupsNeverInteract) {
  // Images x labels: the batched result of each image equals running plain NMS on every
  // (image, label) group separately and merging the kept boxes by score (ties by slot).
  for (uint32_t seed = 0; seed < 60; ++seed) {
    std::mt19937 rng(500 + seed);
    const int64_t batch = 1 + seed % 4, capacity = 1 + int64_t(rng() % 300);
    const int labels_n = 1 + int(seed % 5);
    const auto boxes = random_boxes<float>(rng, batch * capacity, 60.0);  // dense: many overlaps
    const auto scores = random_scores<float>(rng, batch * capacity, seed % 2 ? 15 : 0);
    std::vector<int32_t> labels(size_t(batch * capacity));
    for (auto& l : labels) l = int32_t(rng() % labels_n);
    NmsOptions opt;
    opt.iou_threshold = 0.5;
    const BatchResult got = run_cpu_batched(boxes, scores, labels, batch, capacity, opt);
    for (int64_t b = 0; b < batch; ++b) {
      std::vector<float> bb, bs;
      std::vector<int32_t> bl;
      slice(boxes, b, capacity * 4, bb);
      slice(scores, b, capacity, bs);
      slice(labels, b, capacity, bl);
      std::vector<int32_t> merged;
      for (int g = 0; g < labels_n; ++g) {
        std::vector<float> gb, gs;
        std::vector<int32_t> gidx;
        for (int64_t s = 0; s < capacity; ++s)
          if (bl[size_t(s)] == g) {
            gidx.push_back(int32_t(s));
            gs.push_back(bs[size_t(s)]);
            for (int q = 0; q < 4; ++q) gb.push_back(bb[size_t(4 * s + q)]);
          }
        for (int32_t k : run_cpu_nms(gb, gs, 0.5)) merged.push_back(gidx[size_t(k)]);
      }
      std::stable_sort(merged.begin(), merged.end(), [&](int32_t x, int32_t y) {
        return bs[size_t(x)] > bs[size_t(y)] || (!(bs[size_t(y)] > bs[size_t(x)]) && x < y);
      });
      EXPECT_EQ(got.keep[size_t(b)], merged) << "seed " << seed << " image " << b;
      // The naive reference with labels agrees as well, and the keep mask marks the same slots.
      EXPECT_TRUE(keeps_agree(got.keep[size_t(b)], naive_nms(bb, bs, bl, 0.5),
                              near_threshold_pairs(bb, bl, 0.5)));
      std::vector<int32_t> from_mask;
      for (int64_t s = 0; s < capacity; ++s) {
        const uint8_t m = got.mask[size_t(b * capacity + s)];
        ASSERT_TRUE(m == 0 || m == 1);
        if (m) from_mask.push_back(int32_t(s));
      }
      std::vector<int32_t> sorted = got.keep[size_t(b)];
      std::sort(sorted.begin(), sorted.end());
      EXPECT_EQ(from_mask, sorted);
    }
  }
}

TEST(BatchedNms, ScoreThresholdCandidateLimitAndCap) {
  for (uint32_t seed = 0; seed < 40; ++seed) {
    std::mt19937 rng(900 + seed);
    const int64_t batch = 3, capacity = 200;
    const auto boxes = random_boxes<double>(rng, batch * capacity, 80.0);
    auto scores = random_scores<double>(rng, batch * capacity, 25);
    scores[5] = std::numeric_limits<double>::quiet_NaN();  // never takes part
    scores[6] = -std::numeric_limits<double>::infinity();  // padding: never takes part
    NmsOptions opt;
    opt.iou_threshold = 0.6;
    opt.score_threshold = seed % 2 ? 0.3 : opt.score_threshold;
    opt.candidate_limit = seed % 3 == 0 ? 50 : -1;
    opt.max_keep = seed % 4 == 0 ? 7 : -1;
    const BatchResult got = run_cpu_batched(boxes, scores, {}, batch, capacity, opt);
    for (int64_t b = 0; b < batch; ++b) {
      std::vector<double> bb, bs;
      slice(boxes, b, capacity * 4, bb);
      slice(scores, b, capacity, bs);
      const auto ref = naive_nms(bb, bs, {}, opt.iou_threshold, opt.score_threshold,
                                 opt.candidate_limit, opt.max_keep);
      EXPECT_TRUE(keeps_agree(got.keep[size_t(b)], ref, near_threshold_pairs(bb, {}, 0.6)))
          << "seed " << seed << " image " << b;
      if (opt.max_keep >= 0) {
        EXPECT_LE(int64_t(got.keep[size_t(b)].size()), opt.max_keep);
      }
      for (int32_t s : got.keep[size_t(b)]) EXPECT_TRUE(bs[size_t(s)] > opt.score_threshold);
    }
  }
}

TEST(BatchedNms, EmptyBatchesAndCapZero) {
  NmsOptions opt;
  const BatchResult none = run_cpu_batched(std::vector<float>{}, std::vector<float>{}, {}, 4, 0, opt);
  ASSERT_EQ(none.keep.size(), 4u);
  for (const auto& k : none.keep) EXPECT_TRUE(k.empty());
  opt.max_keep = 0;
  const BatchResult capped =
      run_cpu_batched(std::vector<float>{0, 0, 1, 1}, std::vector<float>{1}, {}, 1, 1, opt);
  EXPECT_TRUE(capped.keep[0].empty());
}

// ---- CUDA parity ------------------------------------------------------------------------------

TEST(NmsCuda, BatchedParityWithCpuTwin) {
  WSVIS_REQUIRE_CUDA();
#if WSVIS_WITH_CUDA
  namespace kg = kernels::cuda;
  using testing::boxes::DeviceBuffer;
  struct Case {
    int64_t batch, capacity;
    int labels;
    int64_t limit, max_keep;
  };
  const Case cases[] = {{1, 0, 1, -1, -1},   {3, 0, 1, -1, -1},    {1, 1, 1, -1, -1},
                        {1, 63, 1, -1, -1},  {1, 64, 2, -1, -1},   {2, 65, 3, -1, -1},
                        {5, 777, 80, -1, 100}, {8, 5000, 5, 1000, 1000}, {8, 5000, 1, -1, -1},
                        {3, 300, 4, 0, -1}};
  uint32_t seed = 77;
  for (const Case& c : cases) {
    std::mt19937 rng(seed++);
    const int64_t total = c.batch * c.capacity;
    const auto boxes = random_boxes<float>(rng, total, 400.0, 2.0, 60.0);
    auto scores = random_scores<float>(rng, total, 50);
    for (int64_t i = 0; i < total; i += 97) scores[size_t(i)] = -INFINITY;  // padding slots
    std::vector<int32_t> labels(static_cast<size_t>(total));
    for (auto& l : labels) l = int32_t(rng() % c.labels);
    NmsOptions opt;
    opt.iou_threshold = 0.5;
    opt.candidate_limit = c.limit;
    opt.max_keep = c.max_keep;
    const BatchResult ref = run_cpu_batched(boxes, scores, labels, c.batch, c.capacity, opt);

    DeviceBuffer<float> db(boxes), ds(scores);
    DeviceBuffer<int32_t> dl(labels), dkeep(static_cast<size_t>(total)),
        dcount(static_cast<size_t>(c.batch));
    DeviceBuffer<uint8_t> dmask(static_cast<size_t>(total));
    dkeep.poison();
    dcount.poison();
    dmask.poison();
    const size_t bytes = kg::batched_nms_workspace_bytes(c.batch, c.capacity, opt);
    DeviceBuffer<uint8_t> ws(bytes);
    kg::batched_nms<float>(nullptr, db.get(), ds.get(), dl.get(), c.batch, c.capacity, opt,
                           dkeep.get(), dcount.get(), dmask.get(), ws.get(), bytes);
    const auto keep = dkeep.host();
    const auto count = dcount.host();
    const auto mask = dmask.host();
    for (int64_t b = 0; b < c.batch; ++b) {
      ASSERT_GE(count[size_t(b)], 0);
      const auto first = keep.begin() + b * c.capacity;
      const std::vector<int32_t> got(first, first + count[size_t(b)]);
      for (int64_t s = count[size_t(b)]; s < c.capacity; ++s) ASSERT_EQ(first[s], -1);
      std::vector<float> bb;
      std::vector<int32_t> bl;
      slice(boxes, b, c.capacity * 4, bb);
      slice(labels, b, c.capacity, bl);
      // Same float IoU on both twins (no FMA contraction): exact unless a pair is at the edge.
      const int near = c.capacity <= 1000 ? near_threshold_pairs(bb, bl, 0.5) : 0;
      EXPECT_TRUE(keeps_agree(got, ref.keep[size_t(b)], near))
          << "B=" << c.batch << " M=" << c.capacity << " image " << b;
      if (got == ref.keep[size_t(b)]) {
        EXPECT_TRUE(std::equal(mask.begin() + b * c.capacity, mask.begin() + (b + 1) * c.capacity,
                               ref.mask.begin() + b * c.capacity))
            << "keep mask of image " << b;
      }
    }
  }
  CUDA_CHECK(cudaDeviceSynchronize());
#endif
}

}  // namespace
}  // namespace wsvis
