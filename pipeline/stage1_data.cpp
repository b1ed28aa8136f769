#include "pipeline/stage1_data.h"

#include "data/loader.h"
#include "data/weak_labels.h"

namespace wsvis::pipeline {

data::Image Stage1Data::read_image(const FrameRef& f) const {
  const data::YtvisVideo& video = dataset.videos[f.video];
  return data::read_frame(image_root + "/" + video.file_names[static_cast<size_t>(f.t)], video);
}

data::Flow Stage1Data::read_motion_flow(const FrameRef& f) const {
  WSVIS_CHECK(!flow_root.empty(), "read_motion_flow: the config names no flow folder");
  const data::YtvisVideo& video = dataset.videos[f.video];
  const bool last = f.t + 1 >= video.length;
  WSVIS_CHECK(!(last && f.t == 0), "video ", video.id, " has one frame: it has no flow");
  return data::read_flow(flow_root + "/" + f.key + (last ? "_bw.flo" : "_fw.flo"), video);
}

std::vector<float> Stage1Data::multi_hot(const FrameRef& f) const {
  std::vector<float> out(static_cast<size_t>(num_classes), 0.f);
  for (int c : f.classes) out[static_cast<size_t>(c)] = 1.f;
  return out;
}

Stage1Data load_stage1_data(const Stage1Config& config) { return load_stage1_data(config.data); }

Stage1Data load_stage1_data(const DatasetPaths& paths) {
  Stage1Data d;
  d.annotations_path = paths.annotations_path();
  d.image_root = paths.image_root();
  d.flow_root = paths.flow_root();
  d.dataset = data::read_ytvis(d.annotations_path);
  d.num_classes = static_cast<int>(d.dataset.categories.size());
  if (d.num_classes == 0) throw InputError(d.annotations_path + ": has no categories");
  const std::vector<data::VideoWeakLabels> labels = data::weak_labels(d.dataset);
  for (size_t v = 0; v < d.dataset.videos.size(); ++v) {
    const data::YtvisVideo& video = d.dataset.videos[v];
    for (int t = 0; t < video.length; ++t) {
      FrameRef f;
      f.video = v;
      f.t = t;
      f.key = data::strip_extension(video.file_names[static_cast<size_t>(t)]);
      const std::vector<uint8_t>& hot = labels[v].classes[static_cast<size_t>(t)];
      for (size_t c = 0; c < hot.size(); ++c)
        if (hot[c]) f.classes.push_back(static_cast<int>(c));
      d.frames.push_back(std::move(f));
    }
  }
  if (d.frames.empty()) throw InputError(d.annotations_path + ": has no frames");
  return d;
}

Tensor image_tensor(const data::Image& image, const ContextPtr& ctx) {
  std::vector<float> host(static_cast<size_t>(3) * image.height * image.width, 0.f);
  data::normalise_image_into(image, data::PixelNorm::torchvision_rgb, host.data(), image.height,
                             image.width);
  return Tensor::from_vector(host, {1, 3, image.height, image.width}, ctx);
}

void normalised_crop_into(const data::Image& image, const CropBox& box, int crop, float* out) {
  std::vector<float> planes(static_cast<size_t>(3) * image.height * image.width);
  data::normalise_image_into(image, data::PixelNorm::torchvision_rgb, planes.data(), image.height,
                             image.width);
  copy_crop(planes.data(), 3, image.width, image.height, box, crop, out);
}

}  // namespace wsvis::pipeline
