// Temporal consistency, option (a) (see temporal_consistency.h).
#include "data/temporal_consistency.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>

#include "engine/error.h"

namespace wsvis::data {

std::vector<int32_t> render_class_map(const std::vector<FrameInstance>& instances, int h, int w) {
  WSVIS_CHECK(h >= 0 && w >= 0, "render_class_map: bad size ", h, "x", w);
  std::vector<int32_t> map(static_cast<size_t>(h) * w, 0);
  std::vector<size_t> order(instances.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return instances[a].score > instances[b].score; });
  // Highest score first; a pixel keeps the first label painted on it.
  std::vector<uint8_t> mask(map.size());
  for (size_t o : order) {
    const FrameInstance& in = instances[o];
    WSVIS_CHECK(in.mask != nullptr, "render_class_map: instance ", o, " has no mask");
    WSVIS_CHECK(in.mask->h == h && in.mask->w == w, "render_class_map: instance ", o, " mask is ",
                in.mask->h, "x", in.mask->w, " (h x w), the frame ", h, "x", w);
    WSVIS_CHECK(in.category_id > 0, "render_class_map: instance ", o, " has category id ",
                in.category_id, " (0 is the background)");
    rle_decode(*in.mask, mask.data());
    for (size_t p = 0; p < map.size(); ++p)
      if (mask[p] && map[p] == 0) map[p] = in.category_id;
  }
  return map;
}

std::vector<int32_t> warp_class_map(const std::vector<int32_t>& next, const Flow& flow,
                                    TcWarp mode) {
  const int h = flow.height, w = flow.width;
  WSVIS_CHECK(next.size() == static_cast<size_t>(h) * w, "warp_class_map: map has ", next.size(),
              " pixels, the flow is ", w, "x", h);
  std::vector<int32_t> out(next.size(), -1);
  auto clampi = [](int v, int hi) { return std::max(std::min(v, hi - 1), 0); };
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      const float u = flow.u(x, y), v = flow.v(x, y);
      if (flow_is_unknown(u, v)) continue;
      // float, as Resample2d computes it
      const float xf = static_cast<float>(x) + u;
      const float yf = static_cast<float>(y) + v;
      int32_t label;
      if (mode == TcWarp::nearest) {
        const int xs = clampi(static_cast<int>(std::floor(xf + 0.5f)), w);
        const int ys = clampi(static_cast<int>(std::floor(yf + 0.5f)), h);
        label = next[static_cast<size_t>(ys) * w + xs];
      } else {
        const float fx = std::floor(xf), fy = std::floor(yf);
        const float alpha = xf - fx, beta = yf - fy;
        const int xl = clampi(static_cast<int>(fx), w), xr = clampi(static_cast<int>(fx) + 1, w);
        const int yt = clampi(static_cast<int>(fy), h), yb = clampi(static_cast<int>(fy) + 1, h);
        auto at = [&](int yy, int xx) {
          return static_cast<float>(next[static_cast<size_t>(yy) * w + xx]);
        };
        // As Resample2d: each term in double (1. - alpha), cast to float, summed in float.
        const double a = alpha, b = beta;
        float val = 0.f;
        val += static_cast<float>((1. - a) * (1. - b) * at(yt, xl));
        val += static_cast<float>(a * (1. - b) * at(yt, xr));
        val += static_cast<float>((1. - a) * b * at(yb, xl));
        val += static_cast<float>(a * b * at(yb, xr));
        label = static_cast<int32_t>(val);  // truncation, as numpy's astype(uint8)
      }
      out[static_cast<size_t>(y) * w + x] = label;
    }
  }
  return out;
}

void TemporalConsistency::add_pair(const std::vector<int32_t>& map_t,
                                   const std::vector<int32_t>& map_next, const Flow& flow) {
  WSVIS_CHECK(map_t.size() == map_next.size(), "TemporalConsistency: maps of ", map_t.size(),
              " and ", map_next.size(), " pixels");
  const std::vector<int32_t> warped = warp_class_map(map_next, flow, mode_);
  // Per-label pixel counts of P_t, of W and of their agreement.
  std::map<int32_t, std::array<int64_t, 3>> c;  // {|P == l|, |W == l|, |P == W == l|}
  for (size_t p = 0; p < map_t.size(); ++p) {
    const int32_t wv = warped[p];
    if (wv < 0) continue;  // unknown flow
    const int32_t pv = map_t[p];
    ++c[pv][0];
    ++c[wv][1];
    if (pv == wv) ++c[pv][2];
  }
  for (const auto& [label, n] : c) {
    if (label == 0 && !include_background_) continue;
    ClassCounts& acc = counts_[label];
    acc.intersection += n[2];
    acc.union_ += n[0] + n[1] - n[2];
  }
  ++pairs_;
}

void TemporalConsistency::add_video(const std::vector<std::vector<FrameInstance>>& frames,
                                    const std::vector<Flow>& flows, int h, int w) {
  if (frames.size() < 2) return;
  WSVIS_CHECK(flows.size() + 1 == frames.size(), "TemporalConsistency: ", frames.size(),
              " frames need ", frames.size() - 1, " flows, got ", flows.size());
  std::vector<int32_t> cur = render_class_map(frames[0], h, w);
  for (size_t t = 0; t + 1 < frames.size(); ++t) {
    WSVIS_CHECK(flows[t].width == w && flows[t].height == h, "TemporalConsistency: flow ", t,
                " is ", flows[t].width, "x", flows[t].height, ", the frames ", w, "x", h);
    std::vector<int32_t> nxt = render_class_map(frames[t + 1], h, w);
    add_pair(cur, nxt, flows[t]);
    cur = std::move(nxt);
  }
}

std::optional<double> TemporalConsistency::value() const {
  double sum = 0;
  size_t n = 0;
  for (const auto& [label, c] : counts_) {
    if (c.union_ <= 0) continue;
    sum += static_cast<double>(c.intersection) / static_cast<double>(c.union_);
    ++n;
  }
  if (n == 0) return std::nullopt;
  return sum / static_cast<double>(n);
}

std::vector<std::vector<FrameInstance>> frame_instances(const std::vector<YtvisResult>& results,
                                                        int64_t video_id, int num_frames) {
  std::vector<std::vector<FrameInstance>> frames(static_cast<size_t>(std::max(num_frames, 0)));
  for (const YtvisResult& r : results) {
    if (r.video_id != video_id) continue;
    const size_t n = std::min(frames.size(), r.segmentations.size());
    for (size_t t = 0; t < n; ++t)
      if (r.segmentations[t])
        frames[t].push_back({&*r.segmentations[t], static_cast<int32_t>(r.category_id), r.score});
  }
  return frames;
}

}  // namespace wsvis::data
