#include "data/davis_import.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <map>
#include <set>

#include "data/file_util.h"
#include "data/image_io.h"
#include "data/rle.h"
#include "engine/error.h"

namespace wsvis::data {

namespace {

namespace fs = std::filesystem;

// Frame formats stb_image decodes (compute_flow.py reads these and a few more).
const std::set<std::string> kFrameExtensions = {".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm"};

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// stem -> file path of the regular files in `dir` whose lower-cased extension is in
// `extensions`; `what` ("frame", "mask") names them in errors.
std::map<std::string, std::string> list_by_stem(const std::string& dir,
                                                const std::set<std::string>& extensions,
                                                const char* what) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw InputError(dir + ": " + (fs::exists(dir, ec) ? "not a directory" : "no such directory") +
                     " (the " + what + " folder)");
  std::map<std::string, std::string> by_stem;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir, ec)) {
    const fs::path& p = entry.path();
    if (!entry.is_regular_file(ec) || extensions.count(lower(p.extension().string())) == 0)
      continue;
    const std::string stem = p.stem().string();
    const auto [it, fresh] = by_stem.emplace(stem, p.string());
    if (!fresh) {
      const std::string here = p.string();
      const std::string& first = std::min(it->second, here);
      const std::string& second = std::max(it->second, here);
      throw InputError(second + ": two " + what + " files share the name stem '" + stem + "' (" +
                       first + ")");
    }
  }
  if (ec) throw InputError(dir + ": cannot list (" + ec.message() + ")");
  if (by_stem.empty()) {
    std::string list;
    for (const std::string& e : extensions) list += (list.empty() ? "" : " ") + e;
    throw InputError(dir + ": no " + what + " files (" + list + ") in it");
  }
  return by_stem;
}

// The video name: given, or the frames folder's own name ("car-shadow" for
// JPEGImages/480p/car-shadow/). Must be usable as one folder name.
std::string video_name(const DavisImportOptions& o) {
  std::string name = o.video;
  if (name.empty()) {
    fs::path p = fs::path(o.frames_dir).lexically_normal();
    if (!p.has_filename()) p = p.parent_path();  // "dir/" -> "dir"
    if (p.filename() == "." || p.filename() == ".." || p.empty())
      p = fs::absolute(p).lexically_normal();
    name = p.filename().string();
  }
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos)
    throw InputError("import-davis: video name '" + name +
                     "' is not a folder name (give one with --video)");
  return name;
}

// Per-frame object masks of one annotation file: object id -> RLE of its pixels.
std::map<int, Rle> frame_objects(const IndexMap& map, const std::string& path, bool binary) {
  std::map<int, Rle> objects;
  if (binary) {
    if (!map.palette.empty())
      throw InputError(path + ": a palette (index) PNG, but --binary expects DAVIS 2016 "
                              "greyscale 0/255 masks; read index masks without --binary");
    std::vector<uint8_t> mask(map.index.size());
    for (size_t i = 0; i < mask.size(); ++i) mask[i] = map.index[i] > 127 ? 1 : 0;
    Rle rle = rle_encode(mask, map.height, map.width);
    if (rle_area(rle) > 0) objects.emplace(1, std::move(rle));
    return objects;
  }
  for (int id : object_ids(map, /*void_index=*/255))
    objects.emplace(id, rle_encode(index_mask(map, static_cast<uint8_t>(id)), map.height,
                                   map.width));
  return objects;
}

void make_dir(const std::string& path) {
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec || !fs::is_directory(path))
    throw InputError(path + ": cannot create directory" + (ec ? " (" + ec.message() + ")" : ""));
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

DavisSequence read_davis_sequence(const DavisImportOptions& o) {
  if (o.category.empty()) throw InputError("import-davis: the category name is empty");
  const std::string video = video_name(o);
  const std::map<std::string, std::string> frames =
      list_by_stem(o.frames_dir, kFrameExtensions, "frame");
  const std::map<std::string, std::string> masks = list_by_stem(o.masks_dir, {".png"}, "mask");
  // Both maps are sorted by stem, so the first unpaired name in order is found directly.
  for (const auto& [stem, path] : frames)
    if (masks.count(stem) == 0)
      throw InputError(path + ": no mask " + stem + ".png for this frame in " + o.masks_dir);
  for (const auto& [stem, path] : masks)
    if (frames.count(stem) == 0)
      throw InputError(path + ": no frame named '" + stem + ".*' for this mask in " +
                       o.frames_dir);

  DavisSequence seq;
  YtvisVideo v;
  v.id = 1;
  std::vector<std::map<int, Rle>> per_frame;  // T entries: object id -> mask
  std::set<int> ids;
  for (const auto& [stem, frame_path] : frames) {
    // Decoded in full (not just the header) so a truncated frame is caught here, not later.
    const Image image = read_image(frame_path, 3);
    if (v.file_names.empty()) {
      v.width = image.width;
      v.height = image.height;
    } else if (image.width != v.width || image.height != v.height) {
      throw InputError(frame_path + ": frame is " + std::to_string(image.width) + "x" +
                       std::to_string(image.height) + " but " + seq.frame_paths.front() +
                       " is " + std::to_string(v.width) + "x" + std::to_string(v.height));
    }
    const std::string& mask_path = masks.at(stem);
    const IndexMap map = read_index_png(mask_path);
    if (map.width != v.width || map.height != v.height)
      throw InputError(mask_path + ": mask is " + std::to_string(map.width) + "x" +
                       std::to_string(map.height) + " but its frame " + frame_path + " is " +
                       std::to_string(v.width) + "x" + std::to_string(v.height));
    per_frame.push_back(frame_objects(map, mask_path, o.binary));
    for (const auto& entry : per_frame.back()) ids.insert(entry.first);
    v.file_names.push_back(video + "/" + fs::path(frame_path).filename().string());
    seq.frame_paths.push_back(frame_path);
  }
  if (ids.empty())
    throw InputError(o.masks_dir + ": no object in any of the " + std::to_string(masks.size()) +
                     " masks" +
                     (o.binary ? "" : " (DAVIS 2016 greyscale 0/255 masks need --binary)"));
  v.length = static_cast<int>(per_frame.size());

  const size_t T = per_frame.size();
  for (int id : ids) {
    YtvisAnnotation a;
    a.id = id;
    a.video_id = v.id;
    a.category_id = 1;
    a.segmentations.resize(T);
    a.bboxes.resize(T);
    a.areas.resize(T);
    for (size_t t = 0; t < T; ++t) {
      auto it = per_frame[t].find(id);
      if (it == per_frame[t].end()) continue;
      a.bboxes[t] = rle_to_bbox(it->second);
      a.areas[t] = static_cast<double>(rle_area(it->second));
      a.segmentations[t] = Segmentation::from_rle(std::move(it->second), /*compressed_form=*/false);
    }
    seq.dataset.annotations.push_back(std::move(a));
    seq.object_ids.push_back(id);
  }
  seq.dataset.videos.push_back(std::move(v));
  seq.dataset.categories.push_back(Category{1, o.category, o.category});
  seq.dataset.reindex();
  return seq;
}

DavisImportStats import_davis(const DavisImportOptions& o) {
  if (o.out_dir.empty()) throw InputError("import-davis: the output folder name is empty");
  std::error_code ec;
  if (fs::exists(o.out_dir, ec) && !fs::is_directory(o.out_dir, ec))
    throw InputError(o.out_dir + ": exists and is not a directory");

  const auto start = std::chrono::steady_clock::now();
  const DavisSequence seq = read_davis_sequence(o);
  const YtvisVideo& v = seq.dataset.videos.front();
  DavisImportStats stats;
  stats.video = fs::path(v.file_names.front()).parent_path().string();
  stats.frames = v.length;
  stats.width = v.width;
  stats.height = v.height;
  stats.objects = static_cast<int>(seq.object_ids.size());
  stats.read_seconds = seconds_since(start);

  const auto write_start = std::chrono::steady_clock::now();
  make_dir(o.out_dir + "/JPEGImages/" + stats.video);
  for (size_t t = 0; t < seq.frame_paths.size(); ++t) {
    const std::string bytes = read_file_bytes(seq.frame_paths[t]);
    write_file_atomic(o.out_dir + "/JPEGImages/" + v.file_names[t], bytes);
    stats.bytes_copied += static_cast<int64_t>(bytes.size());
  }
  write_ytvis(seq.dataset, o.out_dir + "/train.json");  // last: marks a complete dataset
  stats.write_seconds = seconds_since(write_start);
  return stats;
}

}  // namespace wsvis::data
