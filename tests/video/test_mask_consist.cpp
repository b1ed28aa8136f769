// MaskConsist on hand-made 32 x 32 frames: squares that move 4 px to the right from frame t to
// frame u (constant flow), with pseudo-labels and predictions placed to exercise each step and
// each switch of the seed paper's Table 5.
#include <gtest/gtest.h>

#include "video/mask_consist.h"
#include "video/mask_ops.h"

namespace wsvis::video {
namespace {

constexpr int kSize = 32;
constexpr int kShift = 4;  // objects move +4 px in x from t to u

std::vector<uint8_t> rect(int x0, int y0, int x1, int y1) {  // [x0, x1) x [y0, y1)
  std::vector<uint8_t> m(kSize * kSize, 0);
  for (int y = y0; y < y1; ++y)
    for (int x = x0; x < x1; ++x) m[size_t(y * kSize + x)] = 1;
  return m;
}

InstanceSet set_of(const std::vector<std::tuple<std::vector<uint8_t>, int64_t, float>>& items) {
  InstanceSet s(kSize, kSize);
  for (const auto& [m, c, score] : items) s.add(m.data(), c, score);
  return s;
}

data::Flow constant_flow(float u) {
  data::Flow f(kSize, kSize);
  for (int y = 0; y < kSize; ++y)
    for (int x = 0; x < kSize; ++x) f.u(x, y) = u;
  return f;
}

// Frame u's flow points back into t (-4), frame t's into u (+4).
MaskConsistResult run(const InstanceSet& pt, const InstanceSet& pu, const InstanceSet& qt,
                      const InstanceSet& qu, const MaskConsistOptions& o = {}) {
  return mask_consist(pt, pu, qt, qu, constant_flow(-kShift), constant_flow(kShift), o);
}

bool has_mask(const InstanceSet& s, const std::vector<uint8_t>& m, int64_t category) {
  for (int64_t k = 0; k < s.size(); ++k)
    if (s.category_ids[size_t(k)] == category && std::equal(m.begin(), m.end(), s.mask(k))) return true;
  return false;
}

// Object A (class 1) at x 4..14 in t, 8..18 in u. The pseudo-labels know it in t only.
// The model predicts it whole in both frames.
TEST(MaskConsist, TransfersABackedStablePredictionIntoTheFrameThatMissesIt) {
  const auto a_t = rect(4, 4, 14, 14), a_u = rect(8, 4, 18, 14);
  const InstanceSet pseudo_t = set_of({{a_t, 1, 1.f}}), pseudo_u(kSize, kSize);
  const InstanceSet pred_t = set_of({{a_t, 1, 0.9f}}), pred_u = set_of({{a_u, 1, 0.8f}});
  const MaskConsistResult r = run(pseudo_t, pseudo_u, pred_t, pred_u);
  EXPECT_EQ(r.stats.matched, 1);
  EXPECT_EQ(r.stats.transferred_to_u, 1);
  EXPECT_EQ(r.stats.transferred_to_t, 0);  // u's prediction has no pseudo-label in u
  ASSERT_EQ(r.labels_u.size(), 1);
  EXPECT_TRUE(has_mask(r.labels_u, a_u, 1));  // warp(a_t) united with its partner = a_u
  ASSERT_EQ(r.labels_t.size(), 1);             // t keeps its pseudo-label
  EXPECT_TRUE(has_mask(r.labels_t, a_t, 1));
}

TEST(MaskConsist, IntraFrameMergesFragmentsBeforeMatching) {
  // The model predicts A in t as two overlapping fragments, each with box IoU 0.6 to the
  // pseudo-label: merged, they are the whole object.
  const auto a_t = rect(4, 4, 14, 14), a_u = rect(8, 4, 18, 14);
  const InstanceSet pseudo_t = set_of({{a_t, 1, 1.f}}), pseudo_u(kSize, kSize);
  const InstanceSet pred_t = set_of({{rect(4, 4, 10, 14), 1, 0.7f}, {rect(8, 4, 14, 14), 1, 0.6f}});
  const InstanceSet pred_u = set_of({{a_u, 1, 0.8f}});
  const InstanceSet expanded = expand_predictions(pseudo_t, pred_t, {});
  ASSERT_EQ(expanded.size(), 3);
  EXPECT_TRUE(has_mask(expanded, a_t, 1));
  EXPECT_FLOAT_EQ(expanded.scores[2], 0.7f);
  const MaskConsistResult r = run(pseudo_t, pseudo_u, pred_t, pred_u);
  EXPECT_TRUE(has_mask(r.labels_u, a_u, 1));
  MaskConsistOptions no_intra;
  no_intra.intra_frame = false;
  EXPECT_EQ(expand_predictions(pseudo_t, pred_t, no_intra).size(), 2);
}

TEST(MaskConsist, TransfersFromUIntoTWhenUsPseudoLabelsBackIt) {
  // The mirror case: u's pseudo-labels know A, t's do not; u's prediction comes back into t.
  const auto a_t = rect(4, 4, 14, 14), a_u = rect(8, 4, 18, 14);
  const MaskConsistResult r = run(InstanceSet(kSize, kSize), set_of({{a_u, 1, 1.f}}),
                                  set_of({{rect(4, 4, 12, 14), 1, 0.9f}}), set_of({{a_u, 1, 0.8f}}));
  EXPECT_EQ(r.stats.transferred_to_t, 1);
  EXPECT_EQ(r.stats.transferred_to_u, 0);
  ASSERT_EQ(r.labels_t.size(), 1);
  EXPECT_TRUE(has_mask(r.labels_t, a_t, 1));  // warp(a_u) = a_t united with t's partial mask
  EXPECT_EQ(r.labels_t.scores[0], 1.f);       // labels come out with score 1
}

TEST(MaskConsist, TheMergedFragmentsWinTheMatchAndCompleteTheTransferredMask) {
  // t: A (x 4..14) predicted as a left and a right fragment (box IoU 0.6 each with the
  // pseudo-label). u: one prediction of A's middle (x 10..16), no pseudo-label. Warped into u
  // the fragments (x 8..14, 12..18) have mask IoU 4/8 = 0.5 with it, their union (x 8..18)
  // 6/10 = 0.6, so the merge is matched and u gets the whole object (x 8..18).
  const auto a_t = rect(4, 4, 14, 14), a_u = rect(8, 4, 18, 14);
  const InstanceSet pseudo_t = set_of({{a_t, 1, 1.f}}), pseudo_u(kSize, kSize);
  const InstanceSet pred_t = set_of({{rect(4, 4, 10, 14), 1, 0.7f}, {rect(8, 4, 14, 14), 1, 0.6f}});
  const InstanceSet pred_u = set_of({{rect(10, 4, 16, 14), 1, 0.5f}});
  MaskConsistResult r = run(pseudo_t, pseudo_u, pred_t, pred_u);
  EXPECT_EQ(r.stats.expanded_t, 3);
  EXPECT_EQ(r.stats.matched, 1);
  ASSERT_EQ(r.labels_u.size(), 1);
  EXPECT_TRUE(has_mask(r.labels_u, a_u, 1));
  // Without intra-frame matching a fragment is matched (IoU 0.5) and u gets only part of A.
  MaskConsistOptions no_intra;
  no_intra.intra_frame = false;
  r = run(pseudo_t, pseudo_u, pred_t, pred_u, no_intra);
  EXPECT_EQ(r.stats.expanded_t, 2);
  EXPECT_EQ(r.stats.matched, 1);
  ASSERT_EQ(r.labels_u.size(), 1);
  EXPECT_FALSE(has_mask(r.labels_u, a_u, 1));
  EXPECT_TRUE(has_mask(r.labels_u, rect(8, 4, 16, 14), 1) || has_mask(r.labels_u, rect(10, 4, 18, 14), 1));
}

TEST(MaskConsist, MergesNeverRepeatAPredictionOrAnEarlierMerge) {
  const InstanceSet left_right = set_of({{rect(4, 4, 10, 14), 1, 0.7f}, {rect(8, 4, 14, 14), 1, 0.6f}});
  // Two pseudo-labels (the same box twice) gather the same two fragments: one merge.
  const InstanceSet twice = set_of({{rect(4, 4, 14, 14), 1, 1.f}, {rect(4, 4, 14, 14), 1, 1.f}});
  EXPECT_EQ(expand_predictions(twice, left_right, {}).size(), 3);
  // One prediction inside another: their union is the larger one, already in P.
  const InstanceSet nested = set_of({{rect(4, 4, 14, 14), 1, 0.4f}, {rect(4, 4, 12, 14), 1, 0.9f}});
  const InstanceSet expanded = expand_predictions(set_of({{rect(4, 4, 14, 14), 1, 1.f}}), nested, {});
  EXPECT_EQ(expanded.size(), 2);
  // top_k keeps the best-scoring predictions only, in score order.
  MaskConsistOptions top1;
  top1.top_k = 1;
  const InstanceSet best = expand_predictions(InstanceSet(kSize, kSize), nested, top1);
  ASSERT_EQ(best.size(), 1);
  EXPECT_FLOAT_EQ(best.scores[0], 0.9f);
}

TEST(MaskConsist, MatchesTheSameClassPartnerOverABetterOverlapOfAnotherClass) {
  // u has A exactly as class 2 and, as class 1, a mask reaching past A (x 14..20): t's class-1
  // prediction (warped: x 8..18) pairs with the latter (IoU 4/12), never with the exact
  // other-class mask (IoU 1), so u's new label is their union x 8..20.
  const auto a_t = rect(4, 4, 14, 14), a_u = rect(8, 4, 18, 14);
  const MaskConsistResult r = run(set_of({{a_t, 1, 1.f}}), InstanceSet(kSize, kSize), set_of({{a_t, 1, 0.9f}}),
                                  set_of({{a_u, 2, 0.9f}, {rect(14, 4, 20, 14), 1, 0.3f}}));
  EXPECT_EQ(r.stats.matched, 1);
  ASSERT_EQ(r.labels_u.size(), 1);
  EXPECT_TRUE(has_mask(r.labels_u, rect(8, 4, 20, 14), 1));
}

TEST(MaskConsist, BackingNeedsTheSameClassAndABoxIouAboveTheThreshold) {
  const auto a_t = rect(4, 4, 14, 14), a_u = rect(8, 4, 18, 14);
  const InstanceSet pred_t = set_of({{a_t, 1, 0.9f}}), pred_u = set_of({{a_u, 1, 0.9f}});
  const InstanceSet none(kSize, kSize);
  // A pseudo-label of another class on the very box: not backed.
  EXPECT_EQ(run(set_of({{a_t, 2, 1.f}}), none, pred_t, pred_u).stats.transferred_to_u, 0);
  // Box IoU exactly 0.5 (x 4..9 against x 4..14): not backed (strictly greater needed) ...
  EXPECT_EQ(run(set_of({{rect(4, 4, 9, 14), 1, 1.f}}), none, pred_t, pred_u).stats.transferred_to_u, 0);
  // ... 0.6 is.
  EXPECT_EQ(run(set_of({{rect(4, 4, 10, 14), 1, 1.f}}), none, pred_t, pred_u).stats.transferred_to_u, 1);
}

TEST(MaskConsist, NeverMatchesAcrossClassesNorTransfersUnbackedPredictions) {
  const auto a_t = rect(4, 4, 14, 14), a_u = rect(8, 4, 18, 14);
  // Class differs between the frames' predictions: no pair.
  MaskConsistResult r = run(set_of({{a_t, 1, 1.f}}), InstanceSet(kSize, kSize), set_of({{a_t, 1, 0.9f}}),
                            set_of({{a_u, 2, 0.9f}}));
  EXPECT_EQ(r.stats.matched, 0);
  EXPECT_EQ(r.labels_u.size(), 0);
  // A stable prediction with no pseudo-label behind it (b in t) is not transferred.
  const auto b_t = rect(18, 18, 26, 26), b_u = rect(22, 18, 30, 26);
  r = run(InstanceSet(kSize, kSize), InstanceSet(kSize, kSize), set_of({{b_t, 3, 0.9f}}),
          set_of({{b_u, 3, 0.9f}}));
  EXPECT_EQ(r.stats.matched, 1);
  EXPECT_EQ(r.labels_t.size() + r.labels_u.size(), 0);
}

TEST(MaskConsist, IomNmsDropsAPartialPseudoLabelInsideATransferredLabel) {
  const auto a_t = rect(4, 4, 14, 14), a_u = rect(8, 4, 18, 14);
  const auto part_u = rect(8, 4, 12, 14);  // flowIRN found only a piece of A in u
  const InstanceSet pseudo_t = set_of({{a_t, 1, 1.f}}), pseudo_u = set_of({{part_u, 1, 1.f}});
  const InstanceSet pred_t = set_of({{a_t, 1, 0.9f}}), pred_u = set_of({{a_u, 1, 0.8f}});
  MaskConsistResult r = run(pseudo_t, pseudo_u, pred_t, pred_u);
  ASSERT_EQ(r.labels_u.size(), 1);
  EXPECT_TRUE(has_mask(r.labels_u, a_u, 1));
  MaskConsistOptions no_nms;
  no_nms.iom_nms_on = false;
  r = run(pseudo_t, pseudo_u, pred_t, pred_u, no_nms);
  ASSERT_EQ(r.labels_u.size(), 2);
  EXPECT_TRUE(has_mask(r.labels_u, a_u, 1));
  EXPECT_TRUE(has_mask(r.labels_u, part_u, 1));
}

TEST(MaskConsist, WithoutInterFrameMatchingBackedCandidatesTransferAlone) {
  // A is predicted in t only (unstable); with matching nothing moves, without it the warped
  // prediction becomes a label of u on its own.
  const auto a_t = rect(4, 4, 14, 14), a_u = rect(8, 4, 18, 14);
  const InstanceSet pseudo_t = set_of({{a_t, 1, 1.f}}), none(kSize, kSize);
  const InstanceSet pred_t = set_of({{a_t, 1, 0.9f}});
  EXPECT_EQ(run(pseudo_t, none, pred_t, none).labels_u.size(), 0);
  MaskConsistOptions no_inter;
  no_inter.inter_frame = false;
  const MaskConsistResult r = run(pseudo_t, none, pred_t, none, no_inter);
  EXPECT_EQ(r.stats.matched, 0);
  ASSERT_EQ(r.labels_u.size(), 1);
  EXPECT_TRUE(has_mask(r.labels_u, a_u, 1));
}

TEST(MaskConsist, EmptyInputsGiveThePseudoLabelsBack) {
  const InstanceSet none(kSize, kSize);
  const InstanceSet pseudo = set_of({{rect(2, 2, 6, 6), 2, 1.f}, {rect(20, 20, 30, 30), 1, 1.f}});
  const MaskConsistResult r = run(pseudo, none, none, none);
  EXPECT_EQ(r.labels_t.masks, pseudo.masks);
  EXPECT_EQ(r.labels_t.category_ids, pseudo.category_ids);
  EXPECT_EQ(r.labels_u.size(), 0);
  // The same with pseudo-labels on both frames and the switches off.
  MaskConsistOptions all_off;
  all_off.intra_frame = all_off.inter_frame = all_off.iom_nms_on = false;
  const MaskConsistResult off = run(pseudo, pseudo, none, none, all_off);
  EXPECT_EQ(off.labels_t.masks, pseudo.masks);
  EXPECT_EQ(off.labels_u.masks, pseudo.masks);
  EXPECT_EQ(r.stats.expanded_t + r.stats.expanded_u + r.stats.matched, 0);
  // A set of another size is a programming error with both sizes in the message.
  InstanceSet small(8, 8);
  EXPECT_THROW(run(pseudo, small, none, none), Error);
}

TEST(MaskOps, WarpMovesMasksAlongTheFlow) {
  const InstanceSet s = set_of({{rect(4, 4, 14, 14), 1, 1.f}});
  const InstanceSet moved = warp_instances(s, constant_flow(-kShift));
  EXPECT_TRUE(has_mask(moved, rect(8, 4, 18, 14), 1));
  // Off the right edge the mask is cut: what leaves the frame is background.
  const InstanceSet out = warp_instances(set_of({{rect(26, 4, 32, 14), 1, 1.f}}), constant_flow(-kShift));
  EXPECT_TRUE(has_mask(out, rect(30, 4, 32, 14), 1));
  EXPECT_THROW(warp_instances(s, data::Flow(8, 8)), InputError);
}

}  // namespace
}  // namespace wsvis::video
