// The solver and test settings every detector run shares (BoxInst / CondInst and Mask R-CNN),
// under the keys train.* and test.*, with detectron2's defaults (SOLVER.*, INPUT.*, TEST.*;
// spec boxinst_maskrcnn_ytvis.md A.5 and part B). A method's config changes what differs (the
// seed paper's MaskConsist lr 0.002 and decay at 75% / 88%; FCOS's NMS 0.6).
#pragma once

#include <string>
#include <vector>

#include "pipeline/config_schema.h"

namespace wsvis::pipeline {

struct DetectorTrain {
  int batch = 16;              // images per step
  int steps = 90000;
  double lr = 0.01;
  double momentum = 0.9;
  double weight_decay = 1e-4;  // 0 on norm parameters (detectron2_param_groups)
  int warmup_iters = 1000;
  double warmup_factor = 0.001;
  std::vector<double> decay_at{0.6667, 0.8889};  // fractions of steps (60k, 80k of 90k)
  std::vector<int> short_sizes{640, 672, 704, 736, 768, 800};
  int max_long = 1333;
  double flip = 0.5;
  int checkpoint_every = 1000;
  int workers = 2;             // data-loading threads
};

struct DetectorTest {
  int short_size = 800;
  int max_long = 1333;
  double score_threshold = 0.05;
  double nms = 0.5;
  int max_detections = 100;
};

// Binds train.* and test.*, with a check that train.decay_at is ascending within (0, 1].
void bind_detector_settings(ConfigSchema& schema, DetectorTrain* train, DetectorTest* test);

}  // namespace wsvis::pipeline
