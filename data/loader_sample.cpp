// Building one augmented pair sample: file paths, reading, flow composition, augmentation.
#include <algorithm>
#include <cmath>

#include "data/loader.h"
#include "engine/error.h"

namespace wsvis::data {

namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

float bilinear(const Flow& f, float x, float y, int c) {
  x = std::min(std::max(x, 0.f), static_cast<float>(f.width - 1));
  y = std::min(std::max(y, 0.f), static_cast<float>(f.height - 1));
  const int x0 = static_cast<int>(x), y0 = static_cast<int>(y);
  const int x1 = std::min(x0 + 1, f.width - 1), y1 = std::min(y0 + 1, f.height - 1);
  const float wx = x - x0, wy = y - y0;
  auto at = [&](int xx, int yy) { return f.uv[2 * (static_cast<size_t>(yy) * f.width + xx) + c]; };
  const float top = at(x0, y0) + wx * (at(x1, y0) - at(x0, y0));
  const float bot = at(x0, y1) + wx * (at(x1, y1) - at(x0, y1));
  return top + wy * (bot - top);
}

}  // namespace

std::string strip_extension(const std::string& name) {
  const size_t dot = name.find_last_of('.');
  const size_t slash = name.find_last_of('/');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return name;
  return name.substr(0, dot);
}

Image read_frame(const std::string& path, const YtvisVideo& video) {
  Image image = read_image(path, 3);
  if (image.width != video.width || image.height != video.height)
    throw InputError(path + ": image is " + std::to_string(image.width) + "x" +
                     std::to_string(image.height) + " but its video " + std::to_string(video.id) +
                     " is " + std::to_string(video.width) + "x" + std::to_string(video.height));
  return image;
}

Flow read_flow(const std::string& path, const YtvisVideo& video) {
  Flow flow = read_flo(path);
  check_flow_size(flow, video.width, video.height, path);
  return flow;
}

uint64_t sample_seed(uint64_t seed, int64_t epoch, int64_t index) {
  return splitmix64(splitmix64(splitmix64(seed) ^ static_cast<uint64_t>(epoch)) ^
                    static_cast<uint64_t>(index));
}

std::vector<PairRef> enumerate_pairs(const YtvisDataset& dataset, int delta) {
  WSVIS_CHECK(delta >= 1, "enumerate_pairs: delta must be >= 1, got ", delta);
  std::vector<PairRef> pairs;
  for (size_t v = 0; v < dataset.videos.size(); ++v)
    for (int t = 0; t + delta < dataset.videos[v].length; ++t) pairs.push_back({v, t});
  return pairs;
}

Flow compose_flow(const Flow& ab, const Flow& bc) {
  WSVIS_CHECK(ab.width == bc.width && ab.height == bc.height, "compose_flow: sizes differ (",
              ab.width, "x", ab.height, " vs ", bc.width, "x", bc.height, ")");
  Flow out(ab.width, ab.height);
  for (int y = 0; y < ab.height; ++y)
    for (int x = 0; x < ab.width; ++x) {
      const float u = ab.u(x, y), v = ab.v(x, y);
      const float qx = static_cast<float>(x) + u, qy = static_cast<float>(y) + v;
      out.u(x, y) = u + bilinear(bc, qx, qy, 0);
      out.v(x, y) = v + bilinear(bc, qx, qy, 1);
    }
  return out;
}

PairSample load_pair_sample(const YtvisDataset& dataset, const std::vector<VideoWeakLabels>& labels,
                            const LoaderConfig& config, const PairRef& ref, Generator& gen) {
  const YtvisVideo& video = dataset.videos[ref.video_index];
  const int a = ref.t, b = ref.t + config.delta;
  WSVIS_CHECK(a >= 0 && b < video.length, "pair (", a, ", ", b, ") outside video ", video.id);
  auto frame_path = [&](int t) {
    return config.image_root + "/" + video.file_names[static_cast<size_t>(t)];
  };
  auto flow_path = [&](int t, const char* dir) {
    return config.flow_root + "/" + strip_extension(video.file_names[static_cast<size_t>(t)]) +
           "_" + dir + ".flo";
  };
  PairSample s;
  s.ref = ref;
  const Image image_a = read_frame(frame_path(a), video);
  const Image image_b = read_frame(frame_path(b), video);
  Flow fw, bw;
  if (!config.flow_root.empty()) {
    fw = read_flow(flow_path(a, "fw"), video);
    for (int k = a + 1; k < b; ++k) fw = compose_flow(fw, read_flow(flow_path(k, "fw"), video));
    bw = read_flow(flow_path(b, "bw"), video);
    for (int k = b - 1; k > a; --k) bw = compose_flow(bw, read_flow(flow_path(k, "bw"), video));
  }
  s.params = sample_augment(config.augment, video.width, video.height, gen);
  s.frame_a = augment_image(image_a, s.params);
  s.frame_b = augment_image(image_b, s.params);
  if (!config.flow_root.empty()) {
    s.flow_fw = augment_flow(fw, s.params);
    s.flow_bw = augment_flow(bw, s.params);
  }
  const VideoWeakLabels& vl = labels[ref.video_index];
  s.class_labels = vl.classes[static_cast<size_t>(a)];
  if (config.with_boxes) {
    s.boxes_a = augment_boxes(vl.boxes[static_cast<size_t>(a)], s.params);
    s.boxes_b = augment_boxes(vl.boxes[static_cast<size_t>(b)], s.params);
  }
  return s;
}

}  // namespace wsvis::data
