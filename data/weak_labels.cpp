#include "data/weak_labels.h"

#include "engine/error.h"

namespace wsvis::data {

std::vector<VideoWeakLabels> weak_labels(const YtvisDataset& dataset) {
  const size_t K = dataset.categories.size();
  std::vector<VideoWeakLabels> out(dataset.videos.size());
  for (size_t v = 0; v < dataset.videos.size(); ++v) {
    const size_t T = static_cast<size_t>(dataset.videos[v].length);
    out[v].classes.assign(T, std::vector<uint8_t>(K, 0));
    out[v].boxes.assign(T, {});
  }
  for (const YtvisAnnotation& a : dataset.annotations) {
    const int64_t v = dataset.video_index(a.video_id);
    const int64_t k = dataset.category_index(a.category_id);
    WSVIS_CHECK(v >= 0 && k >= 0, "annotation ", a.id, " names an unknown video or category");
    VideoWeakLabels& labels = out[static_cast<size_t>(v)];
    for (size_t t = 0; t < a.segmentations.size() && t < labels.classes.size(); ++t) {
      if (!a.segmentations[t] || t >= a.bboxes.size() || !a.bboxes[t]) continue;
      const BoxXywh& b = *a.bboxes[t];
      if (!(b[2] > 0 && b[3] > 0)) continue;
      labels.classes[t][static_cast<size_t>(k)] = 1;
      if (a.iscrowd) continue;
      WeakBox box;
      box.x1 = static_cast<float>(b[0]);
      box.y1 = static_cast<float>(b[1]);
      box.x2 = static_cast<float>(b[0] + b[2]);
      box.y2 = static_cast<float>(b[1] + b[3]);
      box.category_index = static_cast<int>(k);
      box.category_id = a.category_id;
      box.annotation_id = a.id;
      labels.boxes[t].push_back(box);
    }
  }
  return out;
}

}  // namespace wsvis::data
