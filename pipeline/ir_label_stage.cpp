#include "pipeline/ir_label_stage.h"


#include "data/image_io.h"
#include "engine/log.h"
#include "engine/ops.h"
#include "kernels/crf.h"
#include "pipeline/cam_stage.h"
#include "pipeline/fcam.h"
#include "pipeline/per_frame.h"

namespace wsvis::pipeline {

std::string ir_label_path(const RunDir& run, const FrameRef& frame) {
  return run.path("ir_labels/" + frame.key + ".png");
}

Tensor argmax_with_background(const Tensor& planes, double threshold) {
  const int64_t H = planes.size(1), W = planes.size(2);
  const Tensor bg = Tensor::full({1, H, W}, threshold, planes.dtype(), planes.context_ptr());
  return ops::max(ops::concat({bg, planes}, 0), 0).indices.to_dtype(DType::i32);
}

std::vector<uint8_t> ir_label_from_cams(const Tensor& cams, const std::vector<int>& classes,
                                        const data::Image& image,
                                        const Stage1Config::IrLabel& o) {
  const int64_t H = image.height, W = image.width;
  std::vector<uint8_t> label(static_cast<size_t>(H * W), 0);
  if (classes.empty()) return label;
  kernels::DenseCrfParams p;
  p.iterations = o.crf_iterations;
  p.gt_prob = o.gt_prob;
  p.gaussian_sxy = o.gaussian_sxy;
  p.gaussian_compat = o.gaussian_compat;
  p.bilateral_sxy = o.bilateral_sxy;
  p.bilateral_srgb = o.bilateral_srgb;
  p.bilateral_compat = o.bilateral_compat;
  const Tensor rgb = Tensor::from_vector(image.data, {H, W, 3}, cams.context_ptr());
  const int L = static_cast<int>(classes.size()) + 1;
  const std::vector<int32_t> fg =
      ops::dense_crf_labels(rgb, argmax_with_background(cams, o.fg_threshold), L, p).to_vector<int32_t>();
  const std::vector<int32_t> bg =
      ops::dense_crf_labels(rgb, argmax_with_background(cams, o.bg_threshold), L, p).to_vector<int32_t>();
  for (size_t i = 0; i < label.size(); ++i) {
    if (fg[i] > 0)
      label[i] = static_cast<uint8_t>(classes[static_cast<size_t>(fg[i] - 1)] + 1);
    else
      label[i] = bg[i] == 0 ? 0 : 255;
  }
  return label;
}

void make_ir_labels(const Stage1Config& config, const Stage1Data& data, const RunDir& run,
                    const ContextPtr& ctx) {
  if (run.stage_done("ir_labels")) {
    log::info("ir_labels: done already");
    return;
  }
  WSVIS_CHECK(data.num_classes < 255, "IR labels are 8-bit: at most 254 classes, got ",
              data.num_classes);
  const double threshold = config.flowirn.fcam ? flow_threshold(config, data, run) : 0.0;
  const PerFrameStats stats = for_each_missing_output(
      data.frames, "ir labels", [&](const FrameRef& f) { return ir_label_path(run, f); },
      [&](const FrameRef& f, const std::string& out) {
        const data::Image image = data.read_image(f);
        const FrameCams cams = read_cams(cam_path(run, f), ctx);
        Tensor maps = cams.highres;
        if (maps.defined() && config.flowirn.fcam)
          maps = flow_amplified_cams(maps, motion_magnitude(data, f, image.height, image.width, ctx),
                                     threshold, config.flowirn.amplification);
        data::Image png(image.width, image.height, 1);
        png.data = ir_label_from_cams(maps, cams.classes, image, config.ir_label);
        data::write_png(out, png);
      });
  nlohmann::json summary = stats.summary();
  summary["fcam"] = config.flowirn.fcam;
  run.mark_done("ir_labels", summary);
}

}  // namespace wsvis::pipeline
