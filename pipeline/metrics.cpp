#include "pipeline/metrics.h"

namespace wsvis::pipeline {

nlohmann::json stats_json(const data::EvalResult& result) {
  nlohmann::json m = nlohmann::json::object();
  for (size_t i = 0; i < result.stats.size(); ++i) m[data::eval_stat_names()[i]] = result.stats[i];
  return m;
}

}  // namespace wsvis::pipeline
