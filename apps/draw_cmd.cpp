#include "apps/draw_cmd.h"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

#include "data/draw.h"
#include "data/flow_io.h"
#include "data/image_io.h"
#include "data/ytvis.h"
#include "engine/error.h"

namespace wsvis::apps {

namespace {

using namespace wsvis::data;

constexpr const char* kUsage =
    "usage: wsvis draw --gt FILE --frames DIR [--results FILE] [--video ID] [--out DIR] "
    "[--strip N] [--strip-height H] [--score-thr T] [--flow DIR]";

struct DrawOptions {
  std::string gt, frames, results, out = "vis", flow;
  std::optional<int64_t> video;
  int strip = 8;
  int strip_height = 128;
  double score_thr = 0.5;
};

[[noreturn]] void bad(const std::string& what) {
  throw InputError("draw: " + what + " (" + kUsage + ")");
}

int64_t parse_int(const std::string& flag, const std::string& v, int64_t lo, int64_t hi) {
  char* end = nullptr;
  errno = 0;
  const long long x = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || errno != 0 || x < lo || x > hi)
    bad(flag + " must be an integer in " + std::to_string(lo) + ".." + std::to_string(hi) +
        ", got '" + v + "'");
  return x;
}

DrawOptions parse(const std::vector<std::string>& args) {
  DrawOptions o;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> const std::string& {
      if (i + 1 >= args.size()) bad(a + " needs a value");
      return args[++i];
    };
    if (a == "--gt") o.gt = value();
    else if (a == "--frames") o.frames = value();
    else if (a == "--results") o.results = value();
    else if (a == "--out") o.out = value();
    else if (a == "--flow") o.flow = value();
    else if (a == "--video") o.video = parse_int(a, value(), INT64_MIN, INT64_MAX);
    else if (a == "--strip") o.strip = static_cast<int>(parse_int(a, value(), 0, 1000));
    else if (a == "--strip-height") o.strip_height = static_cast<int>(parse_int(a, value(), 8, 4096));
    else if (a == "--score-thr") {
      const std::string& v = value();
      char* end = nullptr;
      o.score_thr = std::strtod(v.c_str(), &end);
      if (v.empty() || *end != '\0' || !(o.score_thr >= 0 && o.score_thr <= 1))
        bad("--score-thr must be a number in [0, 1], got '" + v + "'");
    } else {
      bad("unknown option '" + a + "'");
    }
  }
  if (o.gt.empty()) bad("--gt FILE is required");
  if (o.frames.empty()) bad("--frames DIR is required");
  if (o.out.empty()) bad("--out must not be empty");
  return o;
}

void make_dir(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec || !std::filesystem::is_directory(path))
    throw InputError(path + ": cannot create directory" + (ec ? " (" + ec.message() + ")" : ""));
}

// "synth0001/00000.png" -> ("synth0001", "00000").
std::string video_folder(const YtvisVideo& v) {
  const std::filesystem::path p(v.file_names.empty() ? "" : v.file_names[0]);
  const std::string parent = p.parent_path().string();
  return parent.empty() ? "video" + std::to_string(v.id) : parent;
}
std::string frame_stem(const std::string& file_name) {
  return std::filesystem::path(file_name).stem().string();
}

}  // namespace

int run_draw(const std::vector<std::string>& args) {
  const DrawOptions o = parse(args);
  const YtvisDataset gt = read_ytvis(o.gt);
  std::vector<YtvisResult> results;
  const bool predictions = !o.results.empty();
  if (predictions) results = read_ytvis_results(o.results, &gt);

  std::vector<size_t> videos;
  for (size_t i = 0; i < gt.videos.size(); ++i)
    if (!o.video || gt.videos[i].id == *o.video) videos.push_back(i);
  if (o.video && videos.empty())
    throw InputError(o.gt + ": no video with id " + std::to_string(*o.video) + " (--video)");

  const DrawStyle style;
  int frames_written = 0, strips = 0, flows = 0;
  for (size_t vi : videos) {
    const YtvisVideo& video = gt.videos[vi];
    const std::string folder = video_folder(video);
    make_dir(o.out + "/" + folder);
    const std::vector<int> picks = strip_frame_indices(video.length, o.strip);
    std::vector<Image> strip_frames;
    std::vector<std::vector<DrawInstance>> strip_instances;
    for (int t = 0; t < video.length; ++t) {
      const std::string& name = video.file_names[static_cast<size_t>(t)];
      const std::string path = o.frames + "/" + name;
      Image frame = read_image(path, 3);
      if (frame.width != video.width || frame.height != video.height)
        throw InputError(path + ": frame is " + std::to_string(frame.width) + "x" +
                         std::to_string(frame.height) + " but " + o.gt + " gives video " +
                         std::to_string(video.id) + " as " + std::to_string(video.width) + "x" +
                         std::to_string(video.height));
      std::vector<DrawInstance> instances =
          predictions ? result_frame_instances(results, gt.categories, video.id, t, o.score_thr)
                      : ytvis_frame_instances(gt, vi, t);
      const bool in_strip = std::find(picks.begin(), picks.end(), t) != picks.end();
      if (in_strip) strip_frames.push_back(frame);  // undrawn: the strip draws at its own size
      Image drawn = std::move(frame);
      draw_instances(drawn, instances, style);
      write_png(o.out + "/" + folder + "/" + frame_stem(name) + ".png", drawn);
      ++frames_written;
      if (in_strip) strip_instances.push_back(std::move(instances));
      if (!o.flow.empty() && t + 1 < video.length) {
        const std::string stem = std::filesystem::path(name).replace_extension().string();
        const std::string flo = o.flow + "/" + stem + "_fw.flo";
        const Flow flow = read_flo(flo);
        check_flow_size(flow, video.width, video.height, flo);
        write_flow_png(o.out + "/" + folder + "/" + frame_stem(name) + "_flow.png", flow);
        ++flows;
      }
    }
    if (!strip_frames.empty()) {
      StripOptions so;
      so.height = o.strip_height;
      write_png(o.out + "/" + folder + "_strip.png",
                draw_strip(strip_frames, strip_instances, so, style));
      ++strips;
    }
  }
  char what[64] = "ground truth";
  if (predictions) std::snprintf(what, sizeof(what), "predictions of score >= %g", o.score_thr);
  std::printf("wsvis draw: %zu video(s), %d frame(s) with %s, %d strip(s), %d flow image(s) in %s\n",
              videos.size(), frames_written, what, strips, flows, o.out.c_str());
  return 0;
}

}  // namespace wsvis::apps
