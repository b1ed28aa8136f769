// report.html of a `wsvis run` (pipeline/run_pipeline.h): one self-contained page beside the
// run's files, with pictures in <run>/report/:
//   - the metric tables, each method against its baselines (pipeline/run_tables.h);
//   - each training loop's loss curve (SVG, from the run's log.jsonl);
//   - per evaluation video, strips of frames: the ground truth, the optical flow as colour,
//     stage 2's tracked instances (one colour per track along the video) and BoxInst's masks,
//     the baselines' below theirs (PNG);
//   - the time each stage took and the config as run.
// report/summary.png stacks the strips of the first video: the picture the README shows.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "pipeline/run_config.h"
#include "pipeline/run_dir.h"

namespace wsvis::pipeline {

void write_report(const RunConfig& config, const RunDir& run);

// ---- the parts, for tests --------------------------------------------------------------------
// Text for HTML or SVG: < > & " as entities.
std::string escape_markup(const std::string& text);

struct LossCurve {
  std::string run, stage;                       // "stage2", "maskrcnn"
  std::vector<std::pair<int64_t, double>> points;  // (step, loss), steps ascending
};
// The curves in a log.jsonl: every line with "loss" and "step", grouped by ("run", "stage");
// a step logged twice (a resumed run repeats the steps after its last checkpoint) keeps its
// last value. Unreadable lines are skipped: the log is a record, not an input.
std::vector<LossCurve> read_loss_curves(const std::string& log_path);
// An SVG line chart of one curve (axes with ticks, the loss on a linear scale).
std::string loss_curve_svg(const LossCurve& curve, int width = 360, int height = 200);

// The strips of one evaluation video: rows of (what, PNG path relative to the run folder).
struct VideoFigure {
  std::string video;
  std::vector<std::pair<std::string, std::string>> rows;
};
// Draws the first config.report.videos evaluation videos into <run>/report/ and stacks the
// first one's rows, labelled, into <run>/report/summary.png. None without evaluation videos.
std::vector<VideoFigure> write_video_figures(const RunConfig& config, const RunDir& run);

}  // namespace wsvis::pipeline
