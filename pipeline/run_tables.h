// The metric tables of a `wsvis run`: each method against its baselines, from the run's
// metrics.json (pipeline/run_pipeline.h collect_metrics). One source for what the terminal
// prints at the end of a run and what report.html shows.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pipeline/run_config.h"

namespace wsvis::pipeline {

struct MetricTable {
  std::string title;
  std::string note;  // what the rows are measured on
  std::vector<std::string> columns;
  struct Row {
    std::string name;
    std::string stage;                         // the run folder the numbers come from
    std::vector<std::optional<double>> values;  // percent; nullopt: not measured
  };
  std::vector<Row> rows;
};

// The tables for the stages present in `metrics` (rows whose stage is missing are left out,
// tables without rows too).
std::vector<MetricTable> metric_tables(const nlohmann::json& metrics, const RunConfig& config);

// Fixed-width text, one table after another ("-" where a value is missing).
std::string tables_as_text(const std::vector<MetricTable>& tables);

}  // namespace wsvis::pipeline
