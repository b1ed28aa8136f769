#include "pipeline/maskrcnn_config.h"

namespace wsvis::pipeline {

void MaskRcnnConfig::bind_settings(ConfigSchema& s) {

  s.integer("model.depth", &model.depth, 18, 152);
  s.path("model.pretrained", &model.pretrained, PathKind::file);
  s.integer("model.freeze_at", &model.freeze_at, -1, 5);
  s.integer("model.fpn_channels", &model.fpn_channels, 8, 1024);
  s.integer("model.box_fc_dim", &model.box_fc_dim, 8, 4096);
  s.integer("model.mask_conv_dim", &model.mask_conv_dim, 8, 1024);
  s.integer("model.roi_batch_per_image", &model.roi_batch_per_image, 1);
  s.integer("model.rpn_batch_per_image", &model.rpn_batch_per_image, 1);
  s.integer("model.rpn_post_nms_train", &model.rpn_post_nms_train, 1);
  s.integer("model.rpn_post_nms_test", &model.rpn_post_nms_test, 1);
  s.numbers("model.anchor_sizes", &model.anchor_sizes, 5, 5, 1.0);

  s.boolean("maskconsist.enabled", &maskconsist.enabled);
  s.integer("maskconsist.delta", &maskconsist.delta, 1, 100);
  s.boolean("maskconsist.intra_frame", &maskconsist.intra_frame);
  s.boolean("maskconsist.inter_frame", &maskconsist.inter_frame);
  s.boolean("maskconsist.iom_nms", &maskconsist.iom_nms);
  s.integer("maskconsist.top_k", &maskconsist.top_k, 1);
  s.number("maskconsist.match_box_iou", &maskconsist.match_box_iou, 0.0, 1.0);
  s.number("maskconsist.iom_threshold", &maskconsist.iom_threshold, 0.0, 1.0);
  s.integer("self_training_rounds", &self_training_rounds, 0, 1);

  bind_detector_settings(s, &train, &test);

  s.number("tracker.overlap_iou", &tracker.overlap_iou, 0.0, 1.0);
  s.number("tracker.link_iou", &tracker.link_iou, 0.0, 1.0);
  s.number("tracker.min_score", &tracker.min_score, 0.0, 1.0);

}

std::string MaskRcnnConfig::problem() const {
  if (train.batch % 2 != 0) return "train.batch must be even (frame pairs)";
  if (maskconsist.enabled && data.flow.empty())
    return "maskconsist.enabled needs data.flow (predictions are warped by flow)";
  return "";
}

void MaskRcnnConfig::bind(ConfigSchema& s) {
  bind_dataset_paths(s, "data", &data);
  s.path("labels", &labels, PathKind::file);
  bind_dataset_paths(s, "val", &val, /*required=*/false);
  bind_settings(s);
  s.integer("seed", &seed, 0);
  s.choice("device", &device, {"auto", "cpu", "cuda"});
  s.check([this] { return problem(); });
}

MaskRcnnConfig read_maskrcnn_config(const std::string& path, const std::vector<std::string>& overrides,
                                    std::string* dumped) {
  return read_run_config<MaskRcnnConfig>(path, overrides, dumped);
}

}  // namespace wsvis::pipeline
