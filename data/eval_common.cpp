// COCOeval's evaluateImg / accumulate / summarize (see eval_common.h). The floating-point
// expressions are written in the same order as numpy evaluates them, so the sampled precision
// and recall values are the same doubles pycocotools computes, not only close.
#include "data/eval_common.h"

#include <algorithm>
#include <limits>
#include <numeric>

#include "engine/error.h"

namespace wsvis::data {

std::vector<double> np_linspace(double start, double stop, int num) {
  std::vector<double> y(static_cast<size_t>(std::max(num, 0)));
  if (num <= 0) return y;
  if (num == 1) {
    y[0] = start;
    return y;
  }
  const double step = (stop - start) / static_cast<double>(num - 1);
  for (int i = 0; i < num; ++i) {
    const double scaled = static_cast<double>(i) * step;  // numpy: arange * step, then += start
    y[static_cast<size_t>(i)] = scaled + start;
  }
  y.back() = stop;
  return y;
}

namespace {

EvalParams det_params(double small, double large) {
  EvalParams p;
  // int(np.round((0.95 - .5) / .05)) + 1 = 10 and int(np.round(1.0 / .01)) + 1 = 101.
  p.iou_thrs = np_linspace(0.5, 0.95, 10);
  p.rec_thrs = np_linspace(0.0, 1.0, 101);
  p.max_dets = {1, 10, 100};
  const double big = 1e5 * 1e5;
  p.area_rngs = {
      {0.0, big}, {0.0, small * small}, {small * small, large * large}, {large * large, big}};
  p.area_labels = {"all", "small", "medium", "large"};
  return p;
}

}  // namespace

EvalParams EvalParams::coco() { return det_params(32, 96); }
EvalParams EvalParams::ytvis() { return det_params(128, 256); }

std::vector<size_t> order_by_score(const std::vector<double>& scores, size_t max_keep) {
  std::vector<size_t> order(scores.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return scores[a] > scores[b]; });
  if (order.size() > max_keep) order.resize(max_keep);
  return order;
}

UnitMatch match_unit(const EvalUnit& unit, const EvalParams& params,
                     const std::array<double, 2>& area_rng, int max_det) {
  UnitMatch out;
  const size_t G = unit.gt.size();
  const size_t D_all = unit.dt.size();
  if (G == 0 && D_all == 0) return out;
  WSVIS_CHECK(unit.iou.empty() || unit.iou.size() == D_all * G, "match_unit: iou has ",
              unit.iou.size(), " entries for ", D_all, " detections x ", G, " ground truths");
  out.valid = true;
  const size_t T = params.iou_thrs.size();
  const size_t D = std::min(D_all, static_cast<size_t>(std::max(max_det, 0)));
  out.num_dt = D;
  out.num_gt = G;

  // _ignore: crowd or area outside [lo, hi]; ground truths sorted ignored-last (stable).
  std::vector<uint8_t> ignore(G);
  for (size_t g = 0; g < G; ++g) {
    const EvalGt& gt = unit.gt[g];
    ignore[g] = gt.iscrowd || gt.area < area_rng[0] || gt.area > area_rng[1];
  }
  std::vector<size_t> gtind(G);
  std::iota(gtind.begin(), gtind.end(), size_t{0});
  std::stable_sort(gtind.begin(), gtind.end(),
                   [&](size_t a, size_t b) { return ignore[a] < ignore[b]; });
  out.gt_ids.resize(G);
  out.gt_ignore.resize(G);
  std::vector<uint8_t> crowd(G);
  for (size_t j = 0; j < G; ++j) {
    out.gt_ids[j] = unit.gt[gtind[j]].id;
    out.gt_ignore[j] = ignore[gtind[j]];
    crowd[j] = unit.gt[gtind[j]].iscrowd;
  }
  // The caller sorted detections already; evaluateImg re-sorts stably, which is a no-op.
  out.dt_scores.resize(D);
  for (size_t d = 0; d < D; ++d) out.dt_scores[d] = unit.dt[d].score;

  out.dt_matches.assign(T * D, 0);
  out.dt_ignore.assign(T * D, 0);
  out.gt_matches.assign(T * G, 0);
  std::vector<uint8_t> gt_taken(T * G, 0);
  if (D > 0 && G > 0 && !unit.iou.empty()) {
    for (size_t t = 0; t < T; ++t) {
      for (size_t d = 0; d < D; ++d) {
        double best = std::min(params.iou_thrs[t], 1 - 1e-10);
        ptrdiff_t m = -1;
        for (size_t j = 0; j < G; ++j) {
          if (gt_taken[t * G + j] && !crowd[j]) continue;
          // Holding a regular match, stop at the first ignored ground truth (they are last).
          if (m > -1 && !out.gt_ignore[static_cast<size_t>(m)] && out.gt_ignore[j]) break;
          const double v = unit.iou[d * G + gtind[j]];
          if (v < best) continue;
          best = v;
          m = static_cast<ptrdiff_t>(j);
        }
        if (m == -1) continue;
        const size_t mj = static_cast<size_t>(m);
        out.dt_ignore[t * D + d] = out.gt_ignore[mj];
        out.dt_matches[t * D + d] = out.gt_ids[mj];
        out.gt_matches[t * G + mj] = unit.dt[d].id;
        gt_taken[t * G + mj] = 1;
      }
    }
  }
  // Unmatched detections (dtMatches == 0) outside the area range are ignored.
  for (size_t d = 0; d < D; ++d) {
    const double a = unit.dt[d].area;
    if (!(a < area_rng[0] || a > area_rng[1])) continue;
    for (size_t t = 0; t < T; ++t)
      if (out.dt_matches[t * D + d] == 0) out.dt_ignore[t * D + d] = 1;
  }
  return out;
}

namespace {

// accumulate() for one category k over all its units' matches for area range a.
void accumulate_category(const std::vector<UnitMatch>& matches, size_t k, size_t a,
                         EvalResult& res) {
  const EvalParams& p = res.params;
  const size_t T = res.T(), R = res.R(), K = res.K(), A = res.A(), M = res.M();
  const double eps = std::numeric_limits<double>::epsilon();  // np.spacing(1)
  bool any = false;
  for (const UnitMatch& u : matches) any = any || u.valid;
  if (!any) return;
  for (size_t m = 0; m < M; ++m) {
    const size_t max_det = static_cast<size_t>(std::max(p.max_dets[m], 0));
    std::vector<double> scores;
    std::vector<const UnitMatch*> src;  // per concatenated detection: its unit and index
    std::vector<size_t> src_idx;
    size_t npig = 0;
    for (const UnitMatch& u : matches) {
      if (!u.valid) continue;
      const size_t n = std::min(u.num_dt, max_det);
      for (size_t d = 0; d < n; ++d) {
        scores.push_back(u.dt_scores[d]);
        src.push_back(&u);
        src_idx.push_back(d);
      }
      for (uint8_t ig : u.gt_ignore) npig += ig == 0;
    }
    if (npig == 0) continue;
    const std::vector<size_t> inds = order_by_score(scores, scores.size());
    const size_t nd = inds.size();
    std::vector<double> rc(nd), pr(nd);
    for (size_t t = 0; t < T; ++t) {
      double tp = 0, fp = 0;  // cumulative sums, exact integers in double
      for (size_t i = 0; i < nd; ++i) {
        const UnitMatch& u = *src[inds[i]];
        const size_t d = src_idx[inds[i]];
        const bool matched = u.dt_matches[t * u.num_dt + d] != 0;
        const bool ignored = u.dt_ignore[t * u.num_dt + d] != 0;
        if (!ignored) (matched ? tp : fp) += 1;
        rc[i] = tp / static_cast<double>(npig);
        pr[i] = tp / (fp + tp + eps);
      }
      res.recall[((t * K + k) * A + a) * M + m] = nd ? rc[nd - 1] : 0.0;
      for (size_t i = nd; i-- > 1;)
        if (pr[i] > pr[i - 1]) pr[i - 1] = pr[i];
      for (size_t r = 0; r < R; ++r) {
        // searchsorted(rc, recThr, side='left'): the first i with rc[i] >= recThr.
        const size_t pi =
            static_cast<size_t>(std::lower_bound(rc.begin(), rc.end(), p.rec_thrs[r]) - rc.begin());
        const size_t at = (((t * R + r) * K + k) * A + a) * M + m;
        if (pi < nd) {
          res.precision[at] = pr[pi];
          res.scores[at] = scores[inds[pi]];
        } else {
          // pycocotools stops at the first index out of range: the rest stay 0.
          for (size_t r2 = r; r2 < R; ++r2) {
            const size_t at2 = (((t * R + r2) * K + k) * A + a) * M + m;
            res.precision[at2] = 0;
            res.scores[at2] = 0;
          }
          break;
        }
      }
    }
  }
}

double mean_valid(const std::vector<double>& v) {
  double sum = 0;
  size_t n = 0;
  for (double x : v)
    if (x > -1) {
      sum += x;
      ++n;
    }
  return n ? sum / static_cast<double>(n) : -1.0;
}

}  // namespace

EvalResult evaluate_units(const std::vector<EvalUnit>& units,
                          const std::vector<int64_t>& category_ids, size_t num_units,
                          const EvalParams& params) {
  WSVIS_CHECK(units.size() == category_ids.size() * num_units, "evaluate_units: ", units.size(),
              " units for ", category_ids.size(), " categories x ", num_units, " images/videos");
  WSVIS_CHECK(
      params.max_dets.size() == 3 && std::is_sorted(params.max_dets.begin(), params.max_dets.end()),
      "evaluate_units: max_dets must hold 3 ascending values");
  WSVIS_CHECK(params.area_rngs.size() == params.area_labels.size(),
              "evaluate_units: area ranges and labels differ in number");
  EvalResult res;
  res.params = params;
  res.category_ids = category_ids;
  res.num_units = num_units;
  const size_t T = res.T(), R = res.R(), K = res.K(), A = res.A(), M = res.M();
  res.precision.assign(T * R * K * A * M, -1.0);
  res.recall.assign(T * K * A * M, -1.0);
  res.scores.assign(T * R * K * A * M, -1.0);
  const int max_det = params.max_dets.back();
  std::vector<UnitMatch> matches(num_units);
  for (size_t k = 0; k < K; ++k) {
    for (size_t a = 0; a < A; ++a) {
      for (size_t i = 0; i < num_units; ++i)
        matches[i] = match_unit(units[k * num_units + i], params, params.area_rngs[a], max_det);
      accumulate_category(matches, k, a, res);
    }
  }
  res.stats = summarize(res);
  return res;
}

std::array<double, 12> summarize(const EvalResult& res) {
  const EvalParams& p = res.params;
  WSVIS_CHECK(p.max_dets.size() == 3, "summarize: needs 3 max_dets, got ", p.max_dets.size());
  const size_t T = res.T(), R = res.R(), K = res.K(), A = res.A(), M = res.M();
  // ap: precision or recall; iou_thr < 0: all thresholds; otherwise those equal to it.
  auto value = [&](bool ap, double iou_thr, const std::string& area, int max_dets) {
    std::vector<double> s;
    for (size_t a = 0; a < A; ++a) {
      if (p.area_labels[a] != area) continue;
      for (size_t m = 0; m < M; ++m) {
        if (p.max_dets[m] != max_dets) continue;
        for (size_t t = 0; t < T; ++t) {
          if (iou_thr >= 0 && !(p.iou_thrs[t] == iou_thr)) continue;
          for (size_t k = 0; k < K; ++k) {
            if (ap) {
              for (size_t r = 0; r < R; ++r) s.push_back(res.precision_at(t, r, k, a, m));
            } else {
              s.push_back(res.recall_at(t, k, a, m));
            }
          }
        }
      }
    }
    return mean_valid(s);
  };
  const int m0 = p.max_dets[0], m1 = p.max_dets[1], m2 = p.max_dets[2];
  return {
      value(true, -1, "all", m2),    value(true, 0.5, "all", m2),    value(true, 0.75, "all", m2),
      value(true, -1, "small", m2),  value(true, -1, "medium", m2),  value(true, -1, "large", m2),
      value(false, -1, "all", m0),   value(false, -1, "all", m1),    value(false, -1, "all", m2),
      value(false, -1, "small", m2), value(false, -1, "medium", m2), value(false, -1, "large", m2)};
}

double EvalResult::category_ap(size_t k) const {
  std::vector<double> s;
  const size_t m = M() - 1;
  size_t a_all = 0;
  for (size_t a = 0; a < A(); ++a)
    if (params.area_labels[a] == "all") a_all = a;
  for (size_t t = 0; t < T(); ++t)
    for (size_t r = 0; r < R(); ++r) s.push_back(precision_at(t, r, k, a_all, m));
  return mean_valid(s);
}

const std::array<const char*, 12>& eval_stat_names() {
  static const std::array<const char*, 12> names = {"AP",  "AP50", "AP75",  "APs", "APm", "APl",
                                                    "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"};
  return names;
}

}  // namespace wsvis::data
