#include "pipeline/boxinst_config.h"

namespace wsvis::pipeline {

void BoxInstConfig::bind_settings(ConfigSchema& s) {
  s.choice("model.variant", &model.variant, {"boxinst", "motion_boxinst", "condinst"});
  s.integer("model.depth", &model.depth, 18, 152);
  s.path("model.pretrained", &model.pretrained, PathKind::file);
  s.integer("model.freeze_at", &model.freeze_at, -1, 5);
  s.integer("model.fpn_channels", &model.fpn_channels, 8, 1024);
  s.integer("model.head_convs", &model.head_convs, 0, 8);
  s.integer("model.head_norm_groups", &model.head_norm_groups, 0, 256);
  s.integer("model.mask_branch_channels", &model.mask_branch_channels, 4, 1024);
  s.integer("model.mask_branch_convs", &model.mask_branch_convs, 0, 8);
  s.integer("model.mask_channels", &model.mask_channels, -1, 256);
  s.boolean("model.motion_detection", &model.motion_detection);
  s.boolean("model.motion_segmentation", &model.motion_segmentation);
  s.boolean("model.flow_pairwise", &model.flow_pairwise);
  s.choice("model.detection_fusion", &model.detection_fusion, {"sum", "max", "concat"});
  s.choice("model.mask_fusion", &model.mask_fusion, {"concat", "sum", "max"});
  s.number("model.color_threshold", &model.color_threshold, 0.0, 1.0);
  s.number("model.flow_threshold", &model.flow_threshold, 0.0, 1.0);
  s.integer("model.pairwise_warmup", &model.pairwise_warmup, 0);
  s.integer("model.bottom_pixels_removed", &model.bottom_pixels_removed, 0);
  s.integer("model.topk_per_image", &model.topk_per_image, 1);

  bind_detector_settings(s, &train, &test);
}

std::string BoxInstConfig::problem() const {
  if (motion() && (model.motion_detection || model.motion_segmentation) && data.flow.empty())
    return "model.variant motion_boxinst with motion features needs data.flow";
  if (motion() && model.flow_pairwise && data.flow.empty())
    return "model.flow_pairwise needs data.flow";
  return "";
}

void BoxInstConfig::bind(ConfigSchema& s) {
  bind_dataset_paths(s, "data", &data);
  bind_dataset_paths(s, "val", &val, /*required=*/false);
  s.string("val.attributes", &val_attributes);
  bind_settings(s);
  s.integer("seed", &seed, 0);
  s.choice("device", &device, {"auto", "cpu", "cuda"});
  s.check([this] { return problem(); });
}

BoxInstConfig read_boxinst_config(const std::string& path, const std::vector<std::string>& overrides,
                                  std::string* dumped) {
  return read_run_config<BoxInstConfig>(path, overrides, dumped);
}

}  // namespace wsvis::pipeline
