#include "pipeline/stage1_config.h"

#include "engine/error.h"
#include "kernels/irn.h"

namespace wsvis::pipeline {

void Stage1Config::bind_settings(ConfigSchema& s) {

  s.integer("cam.depth", &cam.depth, 18, 152);
  s.choice("cam.norm", &cam.norm, {"fixed", "batch"});
  s.integer("cam.frozen_stages", &cam.frozen_stages, 0, 2);
  s.path("cam.pretrained", &cam.pretrained, PathKind::file);
  s.integer("cam.batch", &cam.batch, 1);
  s.integer("cam.epochs", &cam.epochs, 1);
  s.number("cam.lr", &cam.lr, 0.0);
  s.number("cam.weight_decay", &cam.weight_decay, 0.0);
  s.number("cam.classifier_lr_mult", &cam.classifier_lr_mult, 0.0);
  s.boolean("cam.momentum_quirk", &cam.momentum_quirk);
  s.number("cam.momentum", &cam.momentum, 0.0, 1.0);
  s.integers("cam.resize_long", &cam.resize_long, 2, 2, 16);
  s.integer("cam.crop", &cam.crop, 16);
  s.numbers("cam.scales", &cam.scales, 1, 8, 0.0625);
  s.integer("cam.checkpoint_every", &cam.checkpoint_every, 1);

  s.number("ir_label.fg_threshold", &ir_label.fg_threshold, 0.0, 1.0);
  s.number("ir_label.bg_threshold", &ir_label.bg_threshold, 0.0, 1.0);
  s.number("ir_label.gt_prob", &ir_label.gt_prob, 0.0, 1.0);
  s.number("ir_label.gaussian_sxy", &ir_label.gaussian_sxy, 1e-6);
  s.number("ir_label.gaussian_compat", &ir_label.gaussian_compat, 0.0);
  s.number("ir_label.bilateral_sxy", &ir_label.bilateral_sxy, 1e-6);
  s.number("ir_label.bilateral_srgb", &ir_label.bilateral_srgb, 1e-6);
  s.number("ir_label.bilateral_compat", &ir_label.bilateral_compat, 0.0);
  s.integer("ir_label.crf_iterations", &ir_label.crf_iterations, 0, 1000);

  s.path("irn.pretrained", &irn.pretrained, PathKind::file);
  s.integer("irn.batch", &irn.batch, 1);
  s.integer("irn.epochs", &irn.epochs, 1);
  s.number("irn.lr", &irn.lr, 0.0);
  s.number("irn.weight_decay", &irn.weight_decay, 0.0);
  s.number("irn.displacement_lr_mult", &irn.displacement_lr_mult, 0.0);
  s.boolean("irn.momentum_quirk", &irn.momentum_quirk);
  s.number("irn.momentum", &irn.momentum, 0.0, 1.0);
  s.numbers("irn.scale_range", &irn.scale_range, 2, 2, 0.05);
  s.integer("irn.crop", &irn.crop, 32);
  s.integer("irn.checkpoint_every", &irn.checkpoint_every, 1);

  s.boolean("flowirn.fcam", &flowirn.fcam);
  s.number("flowirn.amplification", &flowirn.amplification, 1.0);
  s.number("flowirn.percentile", &flowirn.percentile, 0.0, 1.0);
  s.boolean("flowirn.flow_boundary", &flowirn.flow_boundary);
  s.number("flowirn.lambda", &flowirn.lambda, 0.0);
  s.number("flowirn.weight", &flowirn.weight, 0.0);
  s.number("flowirn.flow_scale", &flowirn.flow_scale, 0.0);

  s.number("inference.beta", &inference.beta, 0.0);
  s.integer("inference.exp_times", &inference.exp_times, 0, 16);
  s.number("inference.bg_threshold", &inference.bg_threshold, 0.0);
  s.number("inference.min_area", &inference.min_area, 0.0, 1.0);
  s.number("inference.min_score", &inference.min_score, 0.0);

  s.integer("workers", &workers, 0, 64);
}

std::string Stage1Config::problem() const {
  if (cam.resize_long[0] > cam.resize_long[1]) return "cam.resize_long must be [min, max]";
  if (irn.scale_range[0] > irn.scale_range[1]) return "irn.scale_range must be [min, max]";
  if (irn.crop % 4 != 0) return "irn.crop must be a multiple of 4 (the stride-4 grid)";
  // IRN's training pairs start only in its source crop: columns r-1 <= x < W-r+1 of the
  // stride-4 grid (W = crop/4, r = the pair radius). A narrower grid has no pair at all, so
  // the loss would be exactly 0 and IRN would learn nothing.
  if (irn.crop / 4 <= 2 * (kernels::kIrnTrainRadius - 1))
    return detail::concat("irn.crop must be at least ", 4 * (2 * kernels::kIrnTrainRadius - 1),
                          ": IRN's radius-", kernels::kIrnTrainRadius,
                          " pairs need a stride-4 grid wider than ", 2 * (kernels::kIrnTrainRadius - 1),
                          " cells, or no pair is labelled");
  if (flowirn.fcam && data.flow.empty()) return "flowirn.fcam needs data.flow";
  if (flowirn.flow_boundary && data.flow.empty()) return "flowirn.flow_boundary needs data.flow";
  return "";
}

void Stage1Config::bind(ConfigSchema& s) {
  bind_dataset_paths(s, "data", &data);
  bind_settings(s);
  s.integer("seed", &seed, 0);
  s.choice("device", &device, {"auto", "cpu", "cuda"});
  s.check([this] { return problem(); });
}

Stage1Config read_stage1_config(const std::string& path, const std::vector<std::string>& overrides,
                                std::string* dumped) {
  return read_run_config<Stage1Config>(path, overrides, dumped);
}

}  // namespace wsvis::pipeline
