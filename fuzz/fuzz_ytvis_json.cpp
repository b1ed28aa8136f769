// libFuzzer target: YouTube-VIS annotation and results JSON (data/ytvis.h).
//
// Each input is read as a dataset (read_ytvis), as a results file without ground truth and
// as a results file checked against a small fixed ground truth (read_ytvis_results).
// wsvis::Error is the correct answer to bad input. A dataset that reads must write and read
// back to the same videos, annotations and categories.
#include <cstdint>
#include <string>

#include "data/ytvis.h"
#include "engine/error.h"
#include "fuzz/fuzz_common.h"

namespace {

using namespace wsvis::data;

// Two videos (3x2 with 2 frames, 1x1 with 1 frame), two categories: the ground truth that
// results are checked against.
constexpr const char* kGroundTruth = R"({
  "videos": [{"id": 1, "width": 2, "height": 3, "length": 2, "file_names": ["a/0.jpg", "a/1.jpg"]},
             {"id": 5, "width": 1, "height": 1, "file_names": ["b/0.jpg"]}],
  "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog", "supercategory": "animal"}],
  "annotations": [{"id": 1, "video_id": 1, "category_id": 2, "iscrowd": 0,
                   "segmentations": [{"size": [3, 2], "counts": [1, 2, 3]}, null]}]
})";

const YtvisDataset& ground_truth() {
  static const YtvisDataset gt = [] {
    wsvis::fuzz::ScratchFile f("ytvis_gt.json");
    wsvis::fuzz::write_bytes(f.path(), kGroundTruth);
    return read_ytvis(f.path());
  }();
  return gt;
}

bool same_rle(const Segmentation& a, const Segmentation& b) {
  if (a.kind != b.kind) return false;
  return a.kind == Segmentation::Kind::rle ? a.rle == b.rle && a.compressed == b.compressed
                                           : a.polygons == b.polygons;
}

void check_round_trip(const YtvisDataset& ds) {
  wsvis::fuzz::ScratchFile out("ytvis_rt.json");
  write_ytvis(ds, out.path());
  YtvisDataset back;
  try {
    back = read_ytvis(out.path());
  } catch (const wsvis::Error& e) {
    std::fprintf(stderr, "re-reading a written dataset failed: %s\n", e.what());
    FUZZ_CHECK(false, "write_ytvis output must read back");
  }
  FUZZ_CHECK(back.videos.size() == ds.videos.size(), "video count");
  FUZZ_CHECK(back.categories.size() == ds.categories.size(), "category count");
  FUZZ_CHECK(back.annotations.size() == ds.annotations.size(), "annotation count");
  for (size_t i = 0; i < ds.videos.size(); ++i) {
    const YtvisVideo &a = ds.videos[i], &b = back.videos[i];
    FUZZ_CHECK(a.id == b.id && a.width == b.width && a.height == b.height &&
                   a.length == b.length && a.file_names == b.file_names,
               "video fields");
  }
  for (size_t i = 0; i < ds.categories.size(); ++i)
    FUZZ_CHECK(ds.categories[i].id == back.categories[i].id &&
                   ds.categories[i].name == back.categories[i].name,
               "category fields");
  for (size_t i = 0; i < ds.annotations.size(); ++i) {
    const YtvisAnnotation &a = ds.annotations[i], &b = back.annotations[i];
    FUZZ_CHECK(a.id == b.id && a.video_id == b.video_id && a.category_id == b.category_id &&
                   a.iscrowd == b.iscrowd,
               "annotation fields");
    FUZZ_CHECK(a.segmentations.size() == b.segmentations.size(), "segmentation count");
    for (size_t t = 0; t < a.segmentations.size(); ++t) {
      FUZZ_CHECK(a.segmentations[t].has_value() == b.segmentations[t].has_value(), "null frames");
      if (a.segmentations[t]) FUZZ_CHECK(same_rle(*a.segmentations[t], *b.segmentations[t]), "segmentation");
    }
    FUZZ_CHECK(a.bboxes == b.bboxes, "bboxes");
    FUZZ_CHECK(a.areas == b.areas, "areas");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const YtvisDataset& gt = ground_truth();
  wsvis::fuzz::ScratchFile in("ytvis.json");
  wsvis::fuzz::write_bytes(in.path(), data, size);

  wsvis::fuzz::run_reader(data, size, [&] {
    const YtvisDataset ds = read_ytvis(in.path());
    // Every annotation points at a known video and category and has one entry per frame.
    for (const YtvisAnnotation& a : ds.annotations) {
      const int64_t vi = ds.video_index(a.video_id);
      FUZZ_CHECK(vi >= 0 && ds.category_index(a.category_id) >= 0, "annotation ids resolve");
      const size_t n = static_cast<size_t>(ds.videos[static_cast<size_t>(vi)].length);
      FUZZ_CHECK(a.segmentations.size() == n && a.bboxes.size() == n && a.areas.size() == n,
                 "per-frame lists");
    }
    check_round_trip(ds);
  });

  wsvis::fuzz::run_reader(data, size, [&] {
    read_ytvis_results(in.path(), nullptr);
  });

  wsvis::fuzz::run_reader(data, size, [&] {
    const auto results = read_ytvis_results(in.path(), &gt);
    for (const YtvisResult& r : results) {
      const int64_t vi = gt.video_index(r.video_id);
      FUZZ_CHECK(vi >= 0, "result video id resolves");
      const YtvisVideo& v = gt.videos[static_cast<size_t>(vi)];
      FUZZ_CHECK(r.segmentations.size() == static_cast<size_t>(v.length), "one per frame");
      for (const auto& s : r.segmentations)
        if (s) FUZZ_CHECK(s->h == v.height && s->w == v.width, "result RLE has the video size");
    }
  });
  return 0;
}
