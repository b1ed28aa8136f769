// report.html (pipeline/report.h): the page; the pictures are drawn in report_figures.cpp.
#include "pipeline/report.h"

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>

#include "data/file_util.h"
#include "engine/log.h"
#include "pipeline/run_pipeline.h"
#include "pipeline/run_tables.h"

namespace wsvis::pipeline {

namespace fs = std::filesystem;

namespace {

std::string table_html(const MetricTable& t) {
  std::string h = "<h3>" + escape_markup(t.title) + "</h3>\n<p class=\"note\">" + escape_markup(t.note) +
                  "</p>\n<table>\n<tr><th></th>";
  for (const std::string& c : t.columns) h += "<th>" + escape_markup(c) + "</th>";
  h += "</tr>\n";
  char cell[32];
  for (const MetricTable::Row& r : t.rows) {
    h += "<tr><td title=\"" + escape_markup(r.stage) + "/\">" + escape_markup(r.name) + "</td>";
    for (const std::optional<double>& v : r.values) {
      if (v) std::snprintf(cell, sizeof cell, "%.1f", *v);
      h += std::string("<td>") + (v ? cell : "&ndash;") + "</td>";
    }
    h += "</tr>\n";
  }
  return h + "</table>\n";
}

// Seconds per stage from the run's log: the top-level "finished" lines (a resumed run counts
// the last attempt), and the training loops' own times from their DONE markers.
std::string timing_html(const RunDir& run) {
  std::map<std::string, double> seconds;
  std::vector<std::string> order;
  std::ifstream in(run.root() + "/log.jsonl");
  std::string line;
  while (std::getline(in, line)) {
    const nlohmann::json r = nlohmann::json::parse(line, nullptr, false);
    if (!r.is_object() || r.contains("run") || r.value("event", "") != "finished") continue;
    const std::string stage = r.value("stage", "");
    if (!seconds.count(stage)) order.push_back(stage);
    seconds[stage] = r.value("seconds", 0.0);
  }
  std::string h = "<table>\n<tr><th>stage</th><th>seconds</th></tr>\n";
  char cell[64];
  for (const std::string& s : order) {
    std::snprintf(cell, sizeof cell, "%.1f", seconds[s]);
    h += "<tr><td>" + escape_markup(s) + "</td><td>" + cell + "</td></tr>\n";
  }
  return h + "</table>\n";
}

const char* kStyle =
    "body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
    "table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 8px;"
    "text-align:right}td:first-child{text-align:left}.note{color:#555;font-size:90%}"
    "img{image-rendering:pixelated;display:block;margin:2px 0}figure{margin:0 0 1.5em}"
    "figcaption{font-size:90%;color:#333}.curves img{display:inline-block;margin:4px}"
    "pre{background:#f6f6f6;padding:1em;overflow:auto;font-size:85%}";

}  // namespace

void write_report(const RunConfig& config, const RunDir& run) {
  const nlohmann::json metrics = collect_metrics(run);
  std::string h = std::string("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>wsvis run: ") +
                  escape_markup(config.method) + "</title><style>" + kStyle + "</style></head><body>\n";
  h += "<h1>wsvis run: " + escape_markup(config.method) + "</h1>\n";
  const std::time_t now = std::time(nullptr);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
  h += "<p>Run folder <code>" + escape_markup(run.root()) + "</code>, report written " + stamp +
       ". Every number below is read from the stage folders' <code>metrics.json</code>; the "
       "config as run is at the end.</p>\n";

  h += "<h2>Metrics against the baselines</h2>\n";
  for (const MetricTable& t : metric_tables(metrics, config)) h += table_html(t);

  const std::vector<LossCurve> curves = read_loss_curves(run.root() + "/log.jsonl");
  if (!curves.empty()) {
    h += "<h2>Training loss</h2>\n<div class=\"curves\">\n";
    for (const LossCurve& c : curves) {
      const std::string relative = "report/loss_" + (c.run.empty() ? "" : c.run + "_") + c.stage + ".svg";
      data::write_file_atomic(run.path(relative), loss_curve_svg(c));
      h += "<img src=\"" + escape_markup(relative) + "\" alt=\"" + escape_markup(c.run + " " + c.stage) + " loss\">\n";
    }
    h += "</div>\n";
  }

  const std::vector<VideoFigure> figures = write_video_figures(config, run);
  if (!figures.empty()) {
    h += "<h2>Evaluation videos</h2>\n<p class=\"note\">Frames spread over each video: the ground "
         "truth, the optical flow as colour (hue: direction, saturation: speed), stage 2's "
         "tracked instances (one colour per track along the video) and BoxInst's masks per "
         "frame; detections of score &ge; 0.3.</p>\n";
    for (const VideoFigure& f : figures) {
      h += "<h3>" + escape_markup(f.video) + "</h3>\n";
      for (const auto& [what, png] : f.rows)
        h += "<figure><figcaption>" + escape_markup(what) + "</figcaption><img src=\"" + escape_markup(png) +
             "\" alt=\"" + escape_markup(what) + "\"></figure>\n";
    }
  }

  h += "<h2>Time per stage</h2>\n" + timing_html(run);
  const fs::path config_file = fs::path(run.root()) / "config.json";
  if (fs::is_regular_file(config_file))
    h += "<h2>Config as run</h2>\n<details><summary>config.json</summary><pre>" +
         escape_markup(data::read_file_bytes(config_file.string())) + "</pre></details>\n";
  h += "</body></html>\n";
  data::write_file_atomic(run.path("report.html"), h);
  log::info("report: ", run.root(), "/report.html");
}

}  // namespace wsvis::pipeline
