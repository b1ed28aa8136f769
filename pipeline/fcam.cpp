#include "pipeline/fcam.h"

#include <filesystem>

#include "data/file_util.h"
#include "data/loader.h"
#include "engine/log.h"
#include "engine/ops.h"
#include "engine/ops/irn.h"
#include "engine/ops/irn_inference.h"
#include "pipeline/tensor_util.h"

namespace wsvis::pipeline {

namespace {

Tensor flow_tensor(const data::Flow& flow, const ContextPtr& ctx) {
  std::vector<float> planes(static_cast<size_t>(2) * flow.width * flow.height);
  data::flow_planes_into(flow, planes.data(), flow.height, flow.width);
  return Tensor::from_vector(planes, {1, 2, flow.height, flow.width}, ctx);
}

}  // namespace

double flow_threshold(const Stage1Config& config, const Stage1Data& data, const RunDir& run) {
  const std::string path = run.path("flow_threshold.json");
  if (std::filesystem::exists(path)) {
    const nlohmann::json j = nlohmann::json::parse(data::read_file_bytes(path));
    if (j.value("percentile", -1.0) == config.flowirn.percentile) return j.at("threshold").get<double>();
  }
  int64_t total = 0;
  for (const FrameRef& f : data.frames) {
    const data::YtvisVideo& v = data.dataset.videos[f.video];
    total += static_cast<int64_t>(v.width) * v.height;
  }
  const int64_t stride = ceil_div(total, kMaxPercentileSamples);
  std::vector<float> samples;
  samples.reserve(static_cast<size_t>(total / stride + 1));
  auto cpu = Context::create(Device::cpu());
  Progress progress("flow percentile", static_cast<int64_t>(data.frames.size()));
  int64_t index = 0;
  for (const FrameRef& f : data.frames) {
    const std::vector<float> m =
        ops::flow_magnitude(flow_tensor(data.read_motion_flow(f), cpu)).to_vector<float>();
    for (float v : m) {
      if (index % stride == 0) samples.push_back(v);
      ++index;
    }
    progress.advance();
  }
  progress.finish();
  const Tensor values = Tensor::from_vector(samples, {static_cast<int64_t>(samples.size())}, cpu);
  const double threshold = ops::percentile(values, config.flowirn.percentile).item<double>();
  data::write_file_atomic(path, nlohmann::json{{"percentile", config.flowirn.percentile},
                                               {"threshold", threshold},
                                               {"pixels", total},
                                               {"sample_stride", stride}}
                                        .dump(2) + "\n");
  log::info("f-CAM: flow magnitude percentile ", config.flowirn.percentile, " = ", threshold,
            " px over ", total, " pixels");
  return threshold;
}

Tensor motion_magnitude(const Stage1Data& data, const FrameRef& frame, int64_t h, int64_t w,
                        const ContextPtr& ctx) {
  const data::Flow flow = data.read_motion_flow(frame);
  Tensor m = ops::flow_magnitude(flow_tensor(flow, ctx));  // (1, H, W)
  if (m.size(1) != h || m.size(2) != w)
    m = ops::upsample_bilinear2d(m.view({1, 1, m.size(1), m.size(2)}), static_cast<int>(h),
                                 static_cast<int>(w));
  return m.view({h, w});
}

Tensor flow_amplified_cams(const Tensor& cams, const Tensor& magnitude, double threshold,
                           double amplification) {
  const int64_t C = cams.size(0), h = cams.size(1), w = cams.size(2);
  const Tensor t = Tensor::full({1}, threshold, DType::f32, cams.context_ptr());
  const Tensor amplified = ops::fcam_amplify(cams.view({1, C, h, w}), magnitude.view({1, h, w}), t,
                                             amplification);
  return normalise_planes_by_max(amplified.view({C, h, w}));
}

}  // namespace wsvis::pipeline
