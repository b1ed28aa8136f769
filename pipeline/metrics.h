// The 12 COCO summary numbers of an evaluation as a JSON object named as pycocotools prints
// them (AP, AP50, ..., ARl), the form every metrics.json and `wsvis eval --out` use.
#pragma once

#include <nlohmann/json.hpp>

#include "data/eval_common.h"

namespace wsvis::pipeline {

nlohmann::json stats_json(const data::EvalResult& result);

}  // namespace wsvis::pipeline
