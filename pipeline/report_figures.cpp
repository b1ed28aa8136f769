// The pictures of report.html (pipeline/report.h): loss curves as SVG, strips as PNG.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include "data/draw.h"
#include "data/flow_color.h"
#include "data/font.h"
#include "data/loader.h"
#include "data/ytvis_eval.h"
#include "pipeline/report.h"

namespace wsvis::pipeline {

namespace fs = std::filesystem;

namespace {

// Detections drawn in the strips: the weak models' scores are low, so lower than `wsvis
// draw`'s 0.5 [UNPINNED].
constexpr double kDrawScore = 0.3;
constexpr int kStripHeight = 128;

// 1, 2 or 5 times a power of ten, about span / 5: tick spacing.
double tick_step(double span) {
  if (!(span > 0)) return 1;
  const double raw = span / 5, power = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0})
    if (raw <= m * power) return m * power;
  return 10 * power;
}

std::string number_text(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", std::fabs(v) < 1e-12 ? 0.0 : v);
  return text;
}

// A white image with `text` in black, `width` wide: the label column of summary.png.
data::Image label_image(const std::string& text, int width, int height) {
  data::Image im(width, height, 3);
  std::fill(im.data.begin(), im.data.end(), 255);
  data::draw_text(im, 4, height / 2 - 4, text, {0, 0, 0}, 1);
  return im;
}

}  // namespace

std::string escape_markup(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '&') out += "&amp;";
    else if (c == '"') out += "&quot;";
    else out += c;
  }
  return out;
}

std::vector<LossCurve> read_loss_curves(const std::string& log_path) {
  std::map<std::pair<std::string, std::string>, std::map<int64_t, double>> by_run;
  std::ifstream in(log_path);
  std::string line;
  while (std::getline(in, line)) {
    const nlohmann::json record = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!record.is_object() || !record.contains("loss") || !record.contains("step")) continue;
    if (!record["loss"].is_number() || !record["step"].is_number_integer()) continue;
    const std::string run = record.value("run", ""), stage = record.value("stage", "");
    by_run[{run, stage}][record["step"].get<int64_t>()] = record["loss"].get<double>();
  }
  std::vector<LossCurve> curves;
  for (const auto& [key, points] : by_run)
    curves.push_back(LossCurve{key.first, key.second, {points.begin(), points.end()}});
  return curves;
}

std::string loss_curve_svg(const LossCurve& curve, int width, int height) {
  const double left = 48, right = 12, top = 24, bottom = 32;
  const double plot_w = width - left - right, plot_h = height - top - bottom;
  double x_max = 1, y_min = 0, y_max = 1;
  if (!curve.points.empty()) {
    x_max = std::max<double>(1, double(curve.points.back().first));
    y_min = y_max = curve.points.front().second;
    for (const auto& [step, loss] : curve.points) {
      y_min = std::min(y_min, loss);
      y_max = std::max(y_max, loss);
    }
    y_min = std::min(0.0, y_min);
    if (y_max <= y_min) y_max = y_min + 1;
  }
  auto px = [&](double x) { return left + plot_w * x / x_max; };
  auto py = [&](double y) { return top + plot_h * (1 - (y - y_min) / (y_max - y_min)); };
  char buf[160];
  std::string svg;
  std::snprintf(buf, sizeof buf,
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"10\">\n",
                width, height, width, height);
  svg += buf;
  svg += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  const std::string title = curve.run.empty() ? curve.stage : curve.run + ": " + curve.stage;
  std::snprintf(buf, sizeof buf, "<text x=\"%g\" y=\"14\" font-size=\"12\">", left);
  svg += buf + escape_markup(title) + " loss</text>\n";
  // Axes with ticks: steps below, loss on the left.
  std::snprintf(buf, sizeof buf, "<path d=\"M%g %gV%gH%g\" stroke=\"black\" fill=\"none\"/>\n", left, top,
                top + plot_h, left + plot_w);
  svg += buf;
  const double xs = tick_step(x_max), ys = tick_step(y_max - y_min);
  for (double x = 0; x <= x_max + 1e-9; x += xs) {
    std::snprintf(buf, sizeof buf,
                  "<line x1=\"%.1f\" y1=\"%g\" x2=\"%.1f\" y2=\"%g\" stroke=\"black\"/>"
                  "<text x=\"%.1f\" y=\"%g\" text-anchor=\"middle\">",
                  px(x), top + plot_h, px(x), top + plot_h + 4, px(x), top + plot_h + 15);
    svg += buf + number_text(x) + "</text>\n";
  }
  for (double y = std::ceil(y_min / ys) * ys; y <= y_max + 1e-9; y += ys) {
    std::snprintf(buf, sizeof buf,
                  "<line x1=\"%g\" y1=\"%.1f\" x2=\"%g\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                  "<text x=\"%g\" y=\"%.1f\" text-anchor=\"end\">",
                  left, py(y), left + plot_w, py(y), left - 4, py(y) + 3);
    svg += buf + number_text(y) + "</text>\n";
  }
  std::snprintf(buf, sizeof buf, "<text x=\"%g\" y=\"%d\" text-anchor=\"middle\">step</text>\n",
                left + plot_w / 2, height - 4);
  svg += buf;
  if (!curve.points.empty()) {
    svg += "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.5\" points=\"";
    for (const auto& [step, loss] : curve.points) {
      std::snprintf(buf, sizeof buf, "%.1f,%.1f ", px(double(step)), py(loss));
      svg += buf;
    }
    svg += "\"/>\n";
  }
  svg += "</svg>\n";
  return svg;
}

std::vector<VideoFigure> write_video_figures(const RunConfig& config, const RunDir& run) {
  const DatasetPaths val = config.val_paths(run.root());
  if (val.root.empty() || config.report.videos == 0) return {};
  const data::YtvisDataset dataset = data::read_ytvis(val.annotations_path());
  const data::CocoDataset frames = data::ytvis_frames_as_coco(dataset);
  std::map<std::string, int64_t> image_ids;
  for (const data::CocoImage& im : frames.images) image_ids[im.file_name] = im.id;

  // Stage 2's predictions are video tracks; BoxInst's are per frame.
  struct Tracks { std::string what, stage; std::vector<data::YtvisResult> results; };
  struct Detections { std::string what, stage; std::vector<data::CocoResult> results; };
  std::vector<Tracks> tracks;
  std::vector<Detections> detections;
  auto predictions = [&](const std::string& stage) { return fs::path(run.root()) / stage / "predictions.json"; };
  for (const auto& [stage, what] : std::vector<std::pair<std::string, std::string>>{
           {"stage2", "tracks: MaskConsist"}, {"baseline_maskrcnn", "tracks: Mask R-CNN"}})
    if (fs::is_regular_file(predictions(stage)))
      tracks.push_back({what, stage, data::read_ytvis_results(predictions(stage).string(), &dataset)});
  for (const auto& [stage, what] : std::vector<std::pair<std::string, std::string>>{
           {"boxinst", "motion-aided BoxInst"}, {"baseline_boxinst", "BoxInst"}})
    if (fs::is_regular_file(predictions(stage)))
      detections.push_back({what, stage, data::read_coco_results(predictions(stage).string(), &frames)});

  data::StripOptions strip;
  strip.height = kStripHeight;
  std::vector<VideoFigure> figures;
  const size_t videos = std::min<size_t>(dataset.videos.size(), size_t(config.report.videos));
  for (size_t vi = 0; vi < videos; ++vi) {
    const data::YtvisVideo& video = dataset.videos[vi];
    const std::string name = fs::path(video.file_names.at(0)).parent_path().string();
    const std::vector<int> picks = data::strip_frame_indices(video.length, config.report.frames);
    std::vector<data::Image> images, flows;
    std::vector<data::Flow> fields;
    for (int t : picks) {
      const std::string file = video.file_names[size_t(t)];
      images.push_back(data::read_image(val.image_root() + "/" + file, 3));
      if (!val.flow.empty() && video.length > 1) {
        const std::string stem = val.flow_root() + "/" + data::strip_extension(file);
        if (t + 1 < video.length) {
          fields.push_back(data::read_flow(stem + "_fw.flo", video));
        } else {
          // The last frame has only its backward flow (t -> t-1); negated it shows the same
          // motion in the forward direction, so its colours match the frames before it.
          fields.push_back(data::read_flow(stem + "_bw.flo", video));
          for (float& component : fields.back().uv) component = -component;
        }
      }
    }
    // One scale for the whole strip: a slow frame looks slow next to a fast one.
    double rad_max = 0;
    for (const data::Flow& field : fields) rad_max = std::max(rad_max, data::flow_max_radius(field));
    for (const data::Flow& field : fields) flows.push_back(data::flow_to_color(field, data::FlowWheel::flow_vis, rad_max));
    VideoFigure figure{name, {}};
    std::vector<std::pair<std::string, data::Image>> rows;
    auto add = [&](const std::string& what, const std::string& tag,
                   const std::vector<std::vector<data::DrawInstance>>& instances, const std::vector<data::Image>& base) {
      data::Image image = data::draw_strip(base, instances, strip);
      const std::string relative = "report/" + name + "_" + tag + ".png";
      data::write_png(run.path(relative), image);
      figure.rows.push_back({what, relative});
      rows.push_back({what, std::move(image)});
    };
    std::vector<std::vector<data::DrawInstance>> gt;
    for (int t : picks) gt.push_back(data::ytvis_frame_instances(dataset, vi, t));
    add("ground truth", "gt", gt, images);
    if (!flows.empty()) add("optical flow", "flow", std::vector<std::vector<data::DrawInstance>>(flows.size()), flows);
    for (const Tracks& p : tracks) {
      std::vector<std::vector<data::DrawInstance>> drawn;
      for (int t : picks)
        drawn.push_back(data::result_frame_instances(p.results, dataset.categories, video.id, t, kDrawScore));
      add(p.what, p.stage, drawn, images);
    }
    for (const Detections& p : detections) {
      std::vector<std::vector<data::DrawInstance>> drawn;
      for (int t : picks)
        drawn.push_back(data::coco_frame_instances(p.results, dataset.categories,
                                                   image_ids.at(video.file_names[size_t(t)]), kDrawScore));
      add(p.what, p.stage, drawn, images);
    }
    if (vi == 0) {
      std::vector<data::Image> labelled;
      for (const auto& [what, image] : rows)
        labelled.push_back(data::hconcat({label_image(what, 132, image.height), image}));
      data::write_png(run.path("report/summary.png"), data::vconcat(labelled, 4));
    }
    figures.push_back(std::move(figure));
  }
  return figures;
}

}  // namespace wsvis::pipeline
