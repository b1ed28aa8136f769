#include "pipeline/detector_config.h"

namespace wsvis::pipeline {

void bind_detector_settings(ConfigSchema& s, DetectorTrain* train, DetectorTest* test) {
  s.integer("train.batch", &train->batch, 1);
  s.integer("train.steps", &train->steps, 1);
  s.number("train.lr", &train->lr, 0.0);
  s.number("train.momentum", &train->momentum, 0.0, 1.0);
  s.number("train.weight_decay", &train->weight_decay, 0.0);
  s.integer("train.warmup_iters", &train->warmup_iters, 0);
  s.number("train.warmup_factor", &train->warmup_factor, 0.0, 1.0);
  s.numbers("train.decay_at", &train->decay_at, 0, 8, 0.0);
  s.integers("train.short_sizes", &train->short_sizes, 1, 32, 32);
  s.integer("train.max_long", &train->max_long, 0);
  s.number("train.flip", &train->flip, 0.0, 1.0);
  s.integer("train.checkpoint_every", &train->checkpoint_every, 1);
  s.integer("train.workers", &train->workers, 0, 64);

  s.integer("test.short_size", &test->short_size, 32);
  s.integer("test.max_long", &test->max_long, 0);
  s.number("test.score_threshold", &test->score_threshold, 0.0, 1.0);
  s.number("test.nms", &test->nms, 0.0, 1.0);
  s.integer("test.max_detections", &test->max_detections, 1);

  s.check([train] {
    const std::vector<double>& d = train->decay_at;
    for (size_t i = 0; i < d.size(); ++i)
      if (d[i] > 1 || (i > 0 && d[i] <= d[i - 1]))
        return std::string("train.decay_at must be ascending fractions of train.steps in (0, 1]");
    return std::string();
  });
}

}  // namespace wsvis::pipeline
