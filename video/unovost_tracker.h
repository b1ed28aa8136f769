// Linking per-frame instance predictions into video instances, as UnOVOST (Luiten et al.,
// WACV 2020; spec irn_flowirn_maskconsist.md section 7b) with the VIS adaptation the seed
// paper needs: links only between instances of one class, no cap on the number of tracks.
//
//   1. Non-overlapping proposals per frame: proposals are scanned in their stored order (the
//      detector's: by score); one whose largest mask IoU with a kept proposal is >= overlap_iou
//      replaces that proposal when its score is higher and is dropped otherwise; the scan is
//      repeated on the kept set until no kept pair overlaps that much.
//   2. Tracklets (consecutive frames only): S[a, b] = IoU(mask a of frame t carried into t+1 by
//      the flow, mask b of t+1), 0 across classes; the Hungarian method maximises sum S; a pair
//      with S > link_iou extends a's tracklet with b; every other proposal of t+1 starts a
//      tracklet. Tracklets have no gaps.
//   3. Forest: per tracklet its start, end, mean ReID vector and mean score; distances between
//      mean ReIDs divided by the largest one. Tracklets are visited by start; for one that
//      starts at t > 0 the candidates are the same-class tracklets that end before t, ranked by
//      distance (ties: the later end, then the lower index); the parent is the best, except
//      that when the best is already the parent of the second-best the choice is made again
//      among the second-best and the candidates starting before its end whose parent it is
//      (the link goes to the latest tracklet of a chain). At most one parent each: a forest.
//   4. Path cutting: from each unvisited tracklet (highest index first) the parent links give a
//      path to a root; paths are grouped by root; in each group the path maximising
//      coverage_weight * coverage + similarity_weight * similarity wins (coverage = sum of
//      (end - start) over its tracklets / frames; similarity = the largest 1 - distance over its
//      tracklet pairs, 0 for one tracklet; ties: the later end) and becomes a track; its
//      tracklets are stripped from the front of the group's other paths, which are grouped
//      again by their new roots, until no path is left.
//   5. Track score: the mean of its tracklets' mean scores weighted by their lengths (UnOVOST
//      weighs by the length; the spec's "cumulative length" is read as this [UNPINNED]); tracks
//      sorted by score, descending.
//
// Flow convention (kernels/warp.h samples the source at p + flow(p)): frame t's masks are
// carried into t+1 with the flow OF FRAME t+1 pointing back to t (the stored backward flow).
//
// ReID: UnOVOST uses a re-identification network. wsvis has none; appearance_reid gives each
// proposal a colour descriptor instead (the mean colour inside the mask and a normalised
// 4 x 4 x 4 RGB histogram of it). Without ReID vectors every distance is 0: links then go to
// the latest-ending candidate.
#pragma once

#include <cstdint>
#include <vector>

#include "data/flow_io.h"
#include "data/ytvis.h"
#include "video/instance_set.h"

namespace wsvis::video {

struct TrackerOptions {
  double overlap_iou = 0.2;       // step 1
  double link_iou = 0.05;         // step 2
  double coverage_weight = 0.9;   // step 4
  double similarity_weight = 0.1;
};

struct Tracklet {
  int64_t start = 0, end = 0;      // first and last frame (inclusive)
  std::vector<int64_t> proposals;  // per frame start..end: index into that frame's set
  int64_t category_id = 0;
  double mean_score = 0;
  std::vector<float> mean_reid;
  int64_t parent = -1;             // step 3
};

struct Track {
  int64_t category_id = 0;
  double score = 0;
  std::vector<int64_t> proposal;   // per frame: index into that frame's set, or -1
};

struct TrackerResult {
  std::vector<InstanceSet> frames;  // after step 1
  std::vector<Tracklet> tracklets;  // after step 3
  std::vector<Track> tracks;        // by score, descending
};

// frames: T sets of one video (same size); backward_flows: T flows, [t] for t >= 1 the flow of
// frame t pointing into t - 1 ([0] unused, may be empty); reid: per frame per proposal a
// vector (all of one length), or empty for none.
TrackerResult track_video(const std::vector<InstanceSet>& frames, const std::vector<data::Flow>& backward_flows,
                          const std::vector<std::vector<std::vector<float>>>& reid,
                          const TrackerOptions& options);

// One YouTube-VIS result per track (masks RLE-encoded, nullopt where the track is absent).
std::vector<data::YtvisResult> tracks_to_results(const TrackerResult& result, int64_t video_id);

// Per proposal of `frame`: the mean RGB inside its mask (/255) and the 64-bin RGB histogram of
// its pixels (4 levels per channel), summing to 1. rgb: (H, W, 3) u8.
std::vector<std::vector<float>> appearance_reid(const InstanceSet& frame, const uint8_t* rgb);

// Step 1 alone: indices of the kept proposals of one frame, in scan order.
std::vector<int64_t> non_overlapping(const InstanceSet& frame, double overlap_iou);

}  // namespace wsvis::video
