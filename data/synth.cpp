// Synthetic videos, part 3: YouTube-VIS annotations of rendered frames and the writer of the
// whole set (frames, flow, JSON, README). See data/synth.h for the layout.
#include "data/synth.h"

#include <time.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>
#include <utility>

#include <nlohmann/json.hpp>

#include "data/file_util.h"
#include "engine/error.h"

namespace wsvis::data {

namespace {

std::string frame_stem(int t) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%05d", t);
  return buf;
}

// Starts the video and one annotation per instance (all frames null until filled).
void begin_annotations(const SynthScene& scene, int64_t first_id, YtvisVideo* video,
                       std::vector<YtvisAnnotation>* anns) {
  video->id = scene.id;
  video->width = scene.width;
  video->height = scene.height;
  video->length = scene.frames;
  video->file_names.clear();
  for (int t = 0; t < scene.frames; ++t)
    video->file_names.push_back(scene.name + "/" + frame_stem(t) + ".png");
  for (size_t k = 0; k < scene.instances.size(); ++k) {
    YtvisAnnotation a;
    a.id = first_id + static_cast<int64_t>(k);
    a.video_id = scene.id;
    a.category_id = scene.instances[k].class_id + 1;
    a.iscrowd = 0;
    a.segmentations.resize(static_cast<size_t>(scene.frames));
    a.bboxes.resize(static_cast<size_t>(scene.frames));
    a.areas.resize(static_cast<size_t>(scene.frames));
    anns->push_back(std::move(a));
  }
}

// Frame t's visible masks as uncompressed RLE (as YTVIS train GT); null where empty.
void annotate_frame(const SynthScene& scene, const SynthFrame& frame, int t,
                    YtvisAnnotation* first) {
  for (size_t k = 0; k < scene.instances.size(); ++k) {
    const std::vector<uint8_t> mask = synth_instance_mask(frame, static_cast<int>(k));
    Rle rle = rle_encode(mask, scene.height, scene.width);
    const int64_t area = rle_area(rle);
    if (area == 0) continue;
    YtvisAnnotation& a = first[k];
    a.bboxes[static_cast<size_t>(t)] = rle_to_bbox(rle);
    a.areas[static_cast<size_t>(t)] = static_cast<double>(area);
    a.segmentations[static_cast<size_t>(t)] = Segmentation::from_rle(std::move(rle), false);
  }
}

void make_dir(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec || !std::filesystem::is_directory(path))
    throw InputError(path + ": cannot create directory" + (ec ? " (" + ec.message() + ")" : ""));
}

std::string readme(const SynthConfig& c, const SynthWriteStats& s) {
  std::ostringstream os;
  os << "wsvis synthetic video set (wsvis synth)\n\n"
     << s.videos << " videos of " << c.frames << " frames, " << c.width << "x" << c.height
     << ", seed " << c.seed << "; " << s.instances << " instances (" << s.camouflaged
     << " camouflaged), " << s.touching_pairs << " touching same-class pairs.\n"
     << "Classes (category id: shape, texture): ";
  const char* textures[kSynthClasses] = {"stripes",      "checker", "dots",
                                         "fine stripes", "checker", "value noise"};
  for (int k = 0; k < c.classes; ++k)
    os << (k ? ", " : "") << k + 1 << ": " << synth_class_name(k) << " (" << textures[k] << ")";
  os << ".\n\n"
     << "Each video: a value-noise background that pans and zooms slightly, 1-4 textured\n"
     << "instances with smooth random similarity motion (translation, rotation, scale) in a\n"
     << "fixed depth order. Touching pairs share one rigid motion and overlap by one\n"
     << "pixels, so their masks are adjacent. Camouflaged instances carry the background's\n"
     << "texture and colours: only their motion reveals them.\n\n"
     << "Layout:\n"
     << "  JPEGImages/<video>/<frame>.png   RGB frames (PNG, lossless), frame = 00000, 00001, ...\n"
     << "  flow/<video>/<frame>_fw.flo      Middlebury flow from frame t to t+1, stored at t\n"
     << "                                   (t = 0 .. T-2)\n"
     << "  flow/<video>/<frame>_bw.flo      flow from frame t to t-1, stored at t (t = 1 .. T-1)\n"
     << "  train.json                       YouTube-VIS 2019 annotations: uncompressed RLE masks,\n"
     << "                                   boxes [x, y, w, h], areas; null where not visible\n"
     << "  synth_config.json                the configuration (wsvis synth --config reads it)\n\n"
     << "Ground truth is exact. Pixel (x, y) samples the image point (x, y); its colour, mask and\n"
     << "flow all come from the front-most surface there. Flow is the exact motion of that\n"
     << "surface point (u = right, v = down, pixels), also where the point is hidden in the\n"
     << "other frame: warping frame t's masks by the target frame's flow (sampling the source\n"
     << "at p + flow(p)) gives the target's masks except at (dis)occlusions and within a pixel\n"
     << "of a boundary. Colours carry mild noise (sigma " << c.noise_sigma
     << " grey levels); masks and flow do not.\n";
  return os.str();
}

// Encodes and writes files on a few threads. Every file goes through write_file_atomic, which
// ends with an fsync; written one after another, that wait (several ms a file on a disk)
// dominates the run. Tasks are independent files, so the bytes do not depend on the order.
// The first error stops further work and is rethrown by finish().
class ParallelWriter {
 public:
  explicit ParallelWriter(int threads) {
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { work(); });
  }
  ~ParallelWriter() {
    try {
      finish();
    } catch (...) {  // finish() was not called: an exception is already on its way
    }
  }
  // Blocks while too many tasks are pending (bounds the frames held in memory).
  void submit(std::function<void()> task) {
    std::unique_lock<std::mutex> lock(mutex_);
    space_.wait(lock, [&] { return queue_.size() < 4 * threads_.size() || error_; });
    if (error_) return;
    queue_.push_back(std::move(task));
    ready_.notify_one();
  }
  bool failed() {
    std::lock_guard<std::mutex> lock(mutex_);
    return error_ != nullptr;
  }
  // Waits for every task and the threads; rethrows the first error.
  void finish() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      closing_ = true;
    }
    ready_.notify_all();
    for (std::thread& t : threads_)
      if (t.joinable()) t.join();
    if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
  }

 private:
  void work() {
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        ready_.wait(lock, [&] { return !queue_.empty() || closing_; });
        if (queue_.empty()) return;
        task = std::move(queue_.front());
        queue_.pop_front();
        space_.notify_one();
        if (error_) continue;
      }
      try {
        task();
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!error_) error_ = std::current_exception();
        space_.notify_all();
      }
    }
  }

  std::vector<std::thread> threads_;
  std::deque<std::function<void()>> queue_;
  std::mutex mutex_;
  std::condition_variable ready_, space_;
  bool closing_ = false;
  std::exception_ptr error_;
};

// CPU time of the calling thread: generation speed per core, whatever the writer threads do.
double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// ---- arguments of `wsvis synth` ------------------------------------------------------------
[[noreturn]] void bad_arg(const std::string& what) { throw InputError("synth: " + what); }

long long parse_integer(const std::string& flag, const std::string& v, long long lo, long long hi) {
  char* end = nullptr;
  errno = 0;
  const long long n = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || errno != 0 || n < lo || n > hi)
    bad_arg(detail::concat(flag, " expects an integer in [", lo, ", ", hi, "], got '", v, "'"));
  return n;
}

double parse_fraction(const std::string& flag, const std::string& v) {
  char* end = nullptr;
  const double x = std::strtod(v.c_str(), &end);
  if (v.empty() || *end != '\0' || !(x >= 0 && x <= 1))
    bad_arg(detail::concat(flag, " expects a fraction in [0, 1], got '", v, "'"));
  return x;
}

}  // namespace

SynthArgs parse_synth_args(const std::vector<std::string>& args) {
  std::optional<std::string> out, config_file;
  std::vector<std::pair<std::string, std::string>> overrides;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& flag = args[i];
    const bool known = flag == "--out" || flag == "--videos" || flag == "--frames" ||
                       flag == "--size" || flag == "--seed" || flag == "--camouflage" ||
                       flag == "--touching" || flag == "--config";
    if (!known) bad_arg("unknown option '" + flag + "'");
    if (i + 1 >= args.size()) bad_arg(flag + " needs a value");
    const std::string& value = args[++i];
    if (flag == "--out")
      out = value;
    else if (flag == "--config")
      config_file = value;
    else
      overrides.emplace_back(flag, value);
  }
  if (!out || out->empty()) bad_arg("--out DIR is required");
  SynthArgs o;
  o.out = *out;
  if (config_file) o.config = read_synth_config(*config_file);
  for (const auto& [flag, value] : overrides) {
    SynthConfig& c = o.config;
    if (flag == "--videos")
      c.videos = static_cast<int>(parse_integer(flag, value, 1, 100000));
    else if (flag == "--frames")
      c.frames = static_cast<int>(parse_integer(flag, value, 1, 10000));
    else if (flag == "--seed")
      c.seed = static_cast<uint64_t>(parse_integer(flag, value, 0, INT64_MAX));
    else if (flag == "--camouflage")
      c.camouflage = parse_fraction(flag, value);
    else if (flag == "--touching")
      c.touching = parse_fraction(flag, value);
    else if (flag == "--size") {
      const size_t x = value.find('x');
      if (x == std::string::npos) bad_arg("--size expects WxH (e.g. 128x128), got '" + value + "'");
      c.width = static_cast<int>(parse_integer("--size width", value.substr(0, x), 16, 4096));
      c.height = static_cast<int>(parse_integer("--size height", value.substr(x + 1), 16, 4096));
    }
  }
  validate_synth_config(o.config, "synth options");
  return o;
}

std::vector<Category> synth_categories(int classes) {
  WSVIS_CHECK(classes >= 1 && classes <= kSynthClasses, "synth_categories: ", classes, " classes");
  std::vector<Category> cats;
  for (int k = 0; k < classes; ++k) cats.push_back({k + 1, synth_class_name(k), "shape"});
  return cats;
}

void synth_annotate(const SynthScene& scene, const std::vector<SynthFrame>& frames,
                    int64_t first_annotation_id, YtvisVideo* video,
                    std::vector<YtvisAnnotation>* annotations) {
  WSVIS_CHECK(frames.size() == static_cast<size_t>(scene.frames), "synth_annotate: ", frames.size(),
              " frames for a video of ", scene.frames);
  const size_t first = annotations->size();
  begin_annotations(scene, first_annotation_id, video, annotations);
  for (int t = 0; t < scene.frames; ++t)
    annotate_frame(scene, frames[static_cast<size_t>(t)], t, annotations->data() + first);
}

SynthWriteStats write_synth_dataset(const SynthConfig& config, const std::string& out_dir) {
  validate_synth_config(config, "synth config");
  using Clock = std::chrono::steady_clock;
  auto seconds = [](Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double>(b - a).count();
  };
  if (std::filesystem::exists(out_dir) && !std::filesystem::is_directory(out_dir))
    throw InputError(out_dir + ": exists and is not a directory");
  make_dir(out_dir);

  SynthWriteStats stats;
  const Clock::time_point start = Clock::now();
  YtvisDataset ds;
  ds.categories = synth_categories(config.classes);
  int64_t next_annotation_id = 1;
  ParallelWriter writer(8);
  // Annotation ids by attribute, for evaluating a subset (camouflaged instances alone).
  nlohmann::json attributes = {{"camouflaged", nlohmann::json::array()},
                               {"touching", nlohmann::json::array()}};
  for (int i = 0; i < config.videos && !writer.failed(); ++i) {
    double t0 = thread_cpu_seconds();
    const SynthScene scene = make_synth_scene(config, i);
    stats.render_seconds += thread_cpu_seconds() - t0;
    const std::string image_dir = out_dir + "/JPEGImages/" + scene.name;
    const std::string flow_dir = out_dir + "/flow/" + scene.name;
    make_dir(image_dir);
    if (config.write_flow) make_dir(flow_dir);

    YtvisVideo video;
    const size_t first = ds.annotations.size();
    begin_annotations(scene, next_annotation_id, &video, &ds.annotations);
    next_annotation_id += static_cast<int64_t>(scene.instances.size());
    for (int t = 0; t < scene.frames; ++t) {
      t0 = thread_cpu_seconds();
      auto frame =
          std::make_shared<const SynthFrame>(render_synth_frame(scene, t, config.write_flow));
      annotate_frame(scene, *frame, t, ds.annotations.data() + first);
      stats.render_seconds += thread_cpu_seconds() - t0;
      const std::string stem = frame_stem(t);
      writer.submit(
          [frame, path = image_dir + "/" + stem + ".png"] { write_png(path, frame->image); });
      if (frame->forward.width > 0)
        writer.submit(
            [frame, path = flow_dir + "/" + stem + "_fw.flo"] { write_flo(path, frame->forward); });
      if (frame->backward.width > 0)
        writer.submit([frame, path = flow_dir + "/" + stem + "_bw.flo"] {
          write_flo(path, frame->backward);
        });
      ++stats.frames;
    }
    ds.videos.push_back(std::move(video));
    ++stats.videos;
    for (size_t k = 0; k < scene.instances.size(); ++k) {
      const int64_t annotation_id = ds.annotations[first + k].id;
      if (scene.instances[k].camouflaged) attributes["camouflaged"].push_back(annotation_id);
      if (scene.instances[k].touching >= 0) attributes["touching"].push_back(annotation_id);
      ++stats.instances;
      stats.camouflaged += scene.instances[k].camouflaged ? 1 : 0;
      stats.touching_pairs += scene.instances[k].touching > static_cast<int>(k) ? 1 : 0;
    }
  }
  writer.finish();  // every frame and flow file is in place (or the first error is thrown)
  write_file_atomic(out_dir + "/synth_config.json", synth_config_to_json(config));
  write_file_atomic(out_dir + "/README.txt", readme(config, stats));
  write_file_atomic(out_dir + "/attributes.json", attributes.dump(1) + "\n");
  ds.reindex();
  write_ytvis(ds, out_dir + "/train.json");  // last: its presence marks a complete set
  stats.total_seconds = seconds(start, Clock::now());
  return stats;
}

}  // namespace wsvis::data
