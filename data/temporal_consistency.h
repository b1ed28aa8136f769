// The temporal-consistency (TC) metric of the seed paper, option (a) of
// specs/irn_flowirn_maskconsist.md section 8, after ETC's tool/eval_tc.py:
//
//   1. each frame's instance predictions are rendered into a class-id map (H, W): 0 is
//      background, an instance paints its category id, the higher score on top (equal scores:
//      the earlier instance in the list stays on top);
//   2. for each pair (t, t+1), the map of t+1 is warped back onto frame t with the forward flow
//      F_t (frame t -> t+1): W(x) = P_{t+1} sampled at x + F_t(x), coordinates clamped to the
//      frame (flownet2's Resample2d, which ETC uses, clamps the same way);
//        TcWarp::nearest            the label at the nearest pixel (round half up) - default;
//        TcWarp::bilinear_truncate  ETC's artefact: labels blended bilinearly as Resample2d
//                                   does it (float32 sum of the four terms), then truncated
//                                   to an integer (ETC casts to uint8; no wrap here). Boundary
//                                   pixels become other classes, and a blend of four equal
//                                   labels may land just under the label and truncate to
//                                   label - 1, so this mode reads far lower than nearest;
//                                   it is there to reproduce ETC's numbers, not as a default;
//      pixels whose flow is "unknown" (|u| or |v| > 1e9, Middlebury) are left out of the counts;
//   3. per class c over all pairs: I_c += |P_t == c and W == c|, U_c += |P_t == c or W == c|;
//   4. TC = mean over classes of I_c / U_c.
// Differences from ETC, on purpose: the classes are the object categories that occur (U_c > 0)
// in some evaluated pair, not a fixed list where an absent class would count as 0; the
// background (0) is a class only with include_background (Cityscapes has no background class).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "data/flow_io.h"
#include "data/rle.h"
#include "data/ytvis.h"

namespace wsvis::data {

struct FrameInstance {
  const Rle* mask = nullptr;  // (h, w) of the frame
  int32_t category_id = 0;    // > 0
  double score = 0;
};

// (h, w) row-major class ids, as step 1 above. Throws wsvis::Error for a mask of another size
// or a category id <= 0.
std::vector<int32_t> render_class_map(const std::vector<FrameInstance>& instances, int h, int w);

enum class TcWarp { nearest, bilinear_truncate };

// Step 2: `next` (flow.height, flow.width) warped onto frame t; -1 where the flow is unknown.
std::vector<int32_t> warp_class_map(const std::vector<int32_t>& next, const Flow& flow_t_to_next,
                                    TcWarp mode = TcWarp::nearest);

class TemporalConsistency {
 public:
  explicit TemporalConsistency(TcWarp mode = TcWarp::nearest, bool include_background = false)
      : mode_(mode), include_background_(include_background) {}

  // Adds the pair (t, t+1): maps (h, w) and the forward flow of frame t (w x h).
  void add_pair(const std::vector<int32_t>& map_t, const std::vector<int32_t>& map_next,
                const Flow& flow_t_to_next);
  // Adds every consecutive pair of one video: per frame its instances, flows[t] = F_t
  // (frames.size() - 1 of them).
  void add_video(const std::vector<std::vector<FrameInstance>>& frames, const std::vector<Flow>& flows,
                 int h, int w);

  struct ClassCounts {
    int64_t intersection = 0;
    int64_t union_ = 0;
  };
  const std::map<int32_t, ClassCounts>& per_class() const { return counts_; }
  int64_t pairs() const { return pairs_; }
  // Mean over classes with union > 0 of intersection / union; nullopt when there is none.
  std::optional<double> value() const;

 private:
  TcWarp mode_;
  bool include_background_;
  std::map<int32_t, ClassCounts> counts_;
  int64_t pairs_ = 0;
};

// The per-frame instances of one video from video-level predictions (YTVIS results): every
// result of that video contributes its mask in each frame where it has one. The pointers
// refer into `results`.
std::vector<std::vector<FrameInstance>> frame_instances(const std::vector<YtvisResult>& results,
                                                        int64_t video_id, int num_frames);

}  // namespace wsvis::data
