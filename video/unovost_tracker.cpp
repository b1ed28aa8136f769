#include "video/unovost_tracker.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

#include "data/rle.h"
#include "kernels/assign.h"
#include "video/mask_ops.h"

namespace wsvis::video {

namespace {

bool any_overlap(const std::vector<int64_t>& kept, const std::vector<float>& iou, int64_t K, double thr) {
  for (size_t i = 0; i < kept.size(); ++i)
    for (size_t j = i + 1; j < kept.size(); ++j)
      if (iou[size_t(kept[i] * K + kept[j])] >= thr) return true;
  return false;
}

// Step 2: the tracklets of a video from its non-overlapping frames.
std::vector<Tracklet> build_tracklets(const std::vector<InstanceSet>& frames,
                                      const std::vector<data::Flow>& backward_flows, double link_iou) {
  std::vector<Tracklet> tracklets;
  std::vector<int64_t> owner;  // tracklet of each proposal of the previous frame
  for (size_t t = 0; t < frames.size(); ++t) {
    const InstanceSet& cur = frames[t];
    std::vector<int64_t> cur_owner(size_t(cur.size()), -1);
    if (t > 0 && frames[t - 1].size() > 0 && cur.size() > 0) {
      const InstanceSet carried = warp_instances(frames[t - 1], backward_flows[t]);
      std::vector<float> s;
      mask_overlaps(carried, cur, &s, nullptr);
      const int64_t R = carried.size(), C = cur.size();
      for (int64_t a = 0; a < R; ++a)
        for (int64_t b = 0; b < C; ++b)
          if (carried.category_ids[size_t(a)] != cur.category_ids[size_t(b)]) s[size_t(a * C + b)] = 0.f;
      std::vector<int32_t> row_to_col(static_cast<size_t>(R));
      double total = 0;
      std::vector<uint8_t> workspace(kernels::cpu::assign_workspace_bytes(R, C));
      const kernels::AssignStatus status = kernels::cpu::linear_sum_assignment<float>(
          s.data(), R, C, /*maximize=*/true, row_to_col.data(), &total, workspace.data());
      WSVIS_CHECK(status == kernels::kAssignOk, "tracker: the assignment failed (",
                  kernels::assign_status_name(status), ")");
      for (int64_t a = 0; a < R; ++a) {
        const int32_t b = row_to_col[size_t(a)];
        if (b < 0 || !(s[size_t(a * C + b)] > link_iou)) continue;
        Tracklet& tr = tracklets[size_t(owner[size_t(a)])];
        tr.proposals.push_back(b);
        tr.end = int64_t(t);
        cur_owner[size_t(b)] = owner[size_t(a)];
      }
    }
    for (int64_t b = 0; b < cur.size(); ++b) {
      if (cur_owner[size_t(b)] >= 0) continue;
      Tracklet tr;
      tr.start = tr.end = int64_t(t);
      tr.proposals = {b};
      tr.category_id = cur.category_ids[size_t(b)];
      cur_owner[size_t(b)] = int64_t(tracklets.size());
      tracklets.push_back(std::move(tr));
    }
    owner = std::move(cur_owner);
  }
  return tracklets;
}

// Mean score and mean ReID of each tracklet.
void summarise(std::vector<Tracklet>& tracklets, const std::vector<InstanceSet>& frames,
               const std::vector<std::vector<std::vector<float>>>& reid) {
  for (Tracklet& tr : tracklets) {
    double score = 0;
    for (size_t i = 0; i < tr.proposals.size(); ++i) {
      const size_t t = size_t(tr.start) + i;
      score += frames[t].scores[size_t(tr.proposals[i])];
      if (reid.empty()) continue;
      const std::vector<float>& v = reid[t][size_t(tr.proposals[i])];
      if (tr.mean_reid.empty()) tr.mean_reid.assign(v.size(), 0.f);
      WSVIS_CHECK(v.size() == tr.mean_reid.size(), "tracker: ReID vectors of different lengths");
      for (size_t d = 0; d < v.size(); ++d) tr.mean_reid[d] += v[d] / float(tr.proposals.size());
    }
    tr.mean_score = score / double(tr.proposals.size());
  }
}

// (N, N) ReID distances divided by the largest; all 0 without ReID.
std::vector<double> normalised_distances(const std::vector<Tracklet>& tracklets) {
  const size_t n = tracklets.size();
  std::vector<double> d(n * n, 0.0);
  double largest = 0;
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < n; ++j) {
      const auto& a = tracklets[i].mean_reid;
      const auto& b = tracklets[j].mean_reid;
      double sum = 0;
      for (size_t k = 0; k < std::min(a.size(), b.size()); ++k) sum += double(a[k] - b[k]) * (a[k] - b[k]);
      d[i * n + j] = std::sqrt(sum);
      largest = std::max(largest, d[i * n + j]);
    }
  if (largest > 0)
    for (double& v : d) v /= largest;
  return d;
}

// Step 3's choice among candidates (with the chain rule), -1 when there is none.
int64_t choose_parent(int64_t s, std::vector<int64_t> cands, const std::vector<Tracklet>& tr,
                      const std::vector<double>& dist) {
  const size_t n = tr.size();
  std::stable_sort(cands.begin(), cands.end(), [&](int64_t a, int64_t b) {
    const double da = dist[size_t(s) * n + size_t(a)], db = dist[size_t(s) * n + size_t(b)];
    if (da != db) return da < db;
    if (tr[size_t(a)].end != tr[size_t(b)].end) return tr[size_t(a)].end > tr[size_t(b)].end;
    return a < b;
  });
  if (cands.empty()) return -1;
  if (cands.size() < 2 || tr[size_t(cands[1])].parent != cands[0]) return cands[0];
  // The best is the second-best's parent: choose again among the second-best and the
  // candidates it is the parent of, so the link goes to the end of the chain. (The spec also
  // asks that those start before the second-best's end; a child always starts after its
  // parent's end, so that condition is read as "are candidates".)
  const int64_t second = cands[1];
  std::vector<int64_t> chain{second};
  for (int64_t c : cands)
    if (tr[size_t(c)].parent == second) chain.push_back(c);
  return chain.size() == 1 ? second : choose_parent(s, chain, tr, dist);
}

struct Path {
  std::vector<int64_t> tracklets;  // root first
};

double path_score(const Path& p, const std::vector<Tracklet>& tr, const std::vector<double>& dist,
                  int64_t frames, const TrackerOptions& o) {
  const size_t n = tr.size();
  double coverage = 0, similarity = 0;
  for (int64_t i : p.tracklets) coverage += double(tr[size_t(i)].end - tr[size_t(i)].start);
  coverage /= double(std::max<int64_t>(frames, 1));
  for (size_t a = 0; a < p.tracklets.size(); ++a)
    for (size_t b = a + 1; b < p.tracklets.size(); ++b) {
      const double sim = 1.0 - dist[size_t(p.tracklets[a]) * n + size_t(p.tracklets[b])];
      similarity = std::max(similarity, std::isnan(sim) ? 0.0 : sim);
    }
  return o.coverage_weight * coverage + o.similarity_weight * similarity;
}

// Step 4: tracks (as tracklet lists) from the forest.
std::vector<std::vector<int64_t>> cut_paths(const std::vector<Tracklet>& tr, const std::vector<double>& dist,
                                            int64_t frames, const TrackerOptions& o) {
  std::vector<Path> paths;
  std::vector<bool> visited(tr.size(), false);
  for (int64_t i = int64_t(tr.size()) - 1; i >= 0; --i) {
    if (visited[size_t(i)]) continue;
    Path p;
    for (int64_t k = i; k >= 0; k = tr[size_t(k)].parent) {
      p.tracklets.push_back(k);
      visited[size_t(k)] = true;
    }
    std::reverse(p.tracklets.begin(), p.tracklets.end());
    paths.push_back(std::move(p));
  }
  std::vector<std::vector<int64_t>> tracks;
  while (!paths.empty()) {
    std::map<int64_t, std::vector<Path>> groups;  // by root
    for (Path& p : paths) groups[p.tracklets.front()].push_back(std::move(p));
    paths.clear();
    for (auto& [root, group] : groups) {
      size_t best = 0;
      double best_score = -1;
      for (size_t g = 0; g < group.size(); ++g) {
        const double sc = path_score(group[g], tr, dist, frames, o);
        const int64_t end = tr[size_t(group[g].tracklets.back())].end;
        if (sc > best_score || (sc == best_score && end > tr[size_t(group[best].tracklets.back())].end))
          best = g, best_score = sc;
      }
      const std::vector<int64_t>& emitted = group[best].tracklets;
      tracks.push_back(emitted);
      for (size_t g = 0; g < group.size(); ++g) {
        if (g == best) continue;
        std::vector<int64_t>& rest = group[g].tracklets;
        size_t shared = 0;
        while (shared < rest.size() && shared < emitted.size() && rest[shared] == emitted[shared]) ++shared;
        rest.erase(rest.begin(), rest.begin() + long(shared));
        if (!rest.empty()) paths.push_back(std::move(group[g]));
      }
    }
  }
  return tracks;
}

}  // namespace

std::vector<int64_t> non_overlapping(const InstanceSet& frame, double overlap_iou) {
  std::vector<float> iou;
  mask_overlaps(frame, frame, &iou, nullptr);
  const int64_t K = frame.size();
  std::vector<int64_t> order(static_cast<size_t>(K));
  std::iota(order.begin(), order.end(), 0);
  while (true) {
    std::vector<int64_t> kept;
    for (int64_t i : order) {
      int64_t j_best = -1;
      float best = -1.f;
      for (size_t j = 0; j < kept.size(); ++j)
        if (iou[size_t(i * K + kept[j])] > best) best = iou[size_t(i * K + kept[j])], j_best = int64_t(j);
      if (j_best >= 0 && best >= overlap_iou) {
        if (frame.scores[size_t(i)] > frame.scores[size_t(kept[size_t(j_best)])]) kept[size_t(j_best)] = i;
      } else {
        kept.push_back(i);
      }
    }
    // Each pass over a set with an overlapping pair keeps fewer proposals, so this ends.
    if (!any_overlap(kept, iou, K, overlap_iou)) return kept;
    order = kept;
  }
}

TrackerResult track_video(const std::vector<InstanceSet>& frames, const std::vector<data::Flow>& backward_flows,
                          const std::vector<std::vector<std::vector<float>>>& reid,
                          const TrackerOptions& o) {
  WSVIS_CHECK(backward_flows.size() == frames.size(), "tracker: ", frames.size(), " frames but ",
              backward_flows.size(), " backward flows");
  WSVIS_CHECK(reid.empty() || reid.size() == frames.size(), "tracker: ReID for ", reid.size(), " of ",
              frames.size(), " frames");
  TrackerResult r;
  std::vector<std::vector<std::vector<float>>> kept_reid;
  for (size_t t = 0; t < frames.size(); ++t) {
    frames[t].check();
    const std::vector<int64_t> keep = non_overlapping(frames[t], o.overlap_iou);
    r.frames.push_back(select(frames[t], keep));
    if (reid.empty()) continue;
    WSVIS_CHECK(int64_t(reid[t].size()) == frames[t].size(), "tracker: frame ", t, " has ",
                frames[t].size(), " proposals and ", reid[t].size(), " ReID vectors");
    kept_reid.emplace_back();
    for (int64_t k : keep) kept_reid.back().push_back(reid[t][size_t(k)]);
  }
  r.tracklets = build_tracklets(r.frames, backward_flows, o.link_iou);
  summarise(r.tracklets, r.frames, kept_reid);
  const std::vector<double> dist = normalised_distances(r.tracklets);
  // Step 3, tracklets by start (they were created in that order).
  for (size_t s = 0; s < r.tracklets.size(); ++s) {
    if (r.tracklets[s].start == 0) continue;
    std::vector<int64_t> cands;
    for (size_t c = 0; c < r.tracklets.size(); ++c)
      if (r.tracklets[c].end < r.tracklets[s].start &&
          r.tracklets[c].category_id == r.tracklets[s].category_id)
        cands.push_back(int64_t(c));
    r.tracklets[s].parent = choose_parent(int64_t(s), cands, r.tracklets, dist);
  }
  for (const std::vector<int64_t>& members : cut_paths(r.tracklets, dist, int64_t(frames.size()), o)) {
    Track track;
    track.proposal.assign(frames.size(), -1);
    double weighted = 0, length = 0;
    for (int64_t i : members) {
      const Tracklet& tr = r.tracklets[size_t(i)];
      track.category_id = tr.category_id;
      for (size_t k = 0; k < tr.proposals.size(); ++k) track.proposal[size_t(tr.start) + k] = tr.proposals[k];
      weighted += tr.mean_score * double(tr.proposals.size());
      length += double(tr.proposals.size());
    }
    track.score = weighted / length;
    r.tracks.push_back(std::move(track));
  }
  std::stable_sort(r.tracks.begin(), r.tracks.end(), [](const Track& a, const Track& b) { return a.score > b.score; });
  return r;
}

std::vector<data::YtvisResult> tracks_to_results(const TrackerResult& r, int64_t video_id) {
  std::vector<data::YtvisResult> out;
  for (const Track& track : r.tracks) {
    data::YtvisResult res;
    res.video_id = video_id;
    res.category_id = track.category_id;
    res.score = track.score;
    for (size_t t = 0; t < track.proposal.size(); ++t) {
      if (track.proposal[t] < 0) {
        res.segmentations.push_back(std::nullopt);
        continue;
      }
      const InstanceSet& f = r.frames[t];
      res.segmentations.push_back(data::rle_encode(f.mask(track.proposal[t]), int(f.height), int(f.width)));
    }
    out.push_back(std::move(res));
  }
  return out;
}

std::vector<std::vector<float>> appearance_reid(const InstanceSet& frame, const uint8_t* rgb) {
  std::vector<std::vector<float>> out;
  for (int64_t k = 0; k < frame.size(); ++k) {
    std::vector<float> v(3 + 64, 0.f);
    double count = 0;
    const uint8_t* m = frame.mask(k);
    for (int64_t p = 0; p < frame.pixels(); ++p) {
      if (!m[p]) continue;
      const uint8_t* c = rgb + 3 * p;
      for (int ch = 0; ch < 3; ++ch) v[size_t(ch)] += float(c[ch]) / 255.f;
      v[size_t(3 + (c[0] >> 6) * 16 + (c[1] >> 6) * 4 + (c[2] >> 6))] += 1.f;
      count += 1;
    }
    if (count > 0)
      for (float& x : v) x = float(x / count);
    out.push_back(std::move(v));
  }
  return out;
}

}  // namespace wsvis::video
