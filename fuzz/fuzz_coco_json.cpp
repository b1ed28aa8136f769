// libFuzzer target: COCO instances and results JSON (data/coco.h).
//
// Each input is read as a dataset (read_coco), as a results file without ground truth and
// as a results file checked against a small fixed ground truth (read_coco_results).
// wsvis::Error is the correct answer to bad input. A dataset that reads must write and read
// back to the same images, annotations and categories.
#include <cstdint>
#include <string>

#include "data/coco.h"
#include "engine/error.h"
#include "fuzz/fuzz_common.h"

namespace {

using namespace wsvis::data;

// Two images (5x4 and 1x1) and two categories: the ground truth results are checked against.
constexpr const char* kGroundTruth = R"({
  "images": [{"id": 1, "width": 5, "height": 4, "file_name": "a.jpg"},
             {"id": 7, "width": 1, "height": 1, "file_name": "b.jpg"}],
  "categories": [{"id": 1, "name": "cat"}, {"id": 3, "name": "dog", "supercategory": "animal"}],
  "annotations": [{"id": 1, "image_id": 1, "category_id": 3, "iscrowd": 0,
                   "segmentation": [[0.5, 0.5, 3.5, 0.5, 3.5, 2.5]], "bbox": [0.5, 0.5, 3, 2],
                   "area": 3.0}]
})";

const CocoDataset& ground_truth() {
  static const CocoDataset gt = [] {
    wsvis::fuzz::ScratchFile f("coco_gt.json");
    wsvis::fuzz::write_bytes(f.path(), kGroundTruth);
    return read_coco(f.path());
  }();
  return gt;
}

bool same_segmentation(const std::optional<Segmentation>& a, const std::optional<Segmentation>& b) {
  if (a.has_value() != b.has_value()) return false;
  if (!a) return true;
  if (a->kind != b->kind) return false;
  return a->kind == Segmentation::Kind::rle ? a->rle == b->rle && a->compressed == b->compressed
                                            : a->polygons == b->polygons;
}

void check_round_trip(const CocoDataset& ds) {
  wsvis::fuzz::ScratchFile out("coco_rt.json");
  write_coco(ds, out.path());
  CocoDataset back;
  try {
    back = read_coco(out.path());
  } catch (const wsvis::Error& e) {
    std::fprintf(stderr, "re-reading a written dataset failed: %s\n", e.what());
    FUZZ_CHECK(false, "write_coco output must read back");
  }
  FUZZ_CHECK(back.images.size() == ds.images.size(), "image count");
  FUZZ_CHECK(back.categories.size() == ds.categories.size(), "category count");
  FUZZ_CHECK(back.annotations.size() == ds.annotations.size(), "annotation count");
  for (size_t i = 0; i < ds.images.size(); ++i) {
    const CocoImage &a = ds.images[i], &b = back.images[i];
    FUZZ_CHECK(a.id == b.id && a.width == b.width && a.height == b.height &&
                   a.file_name == b.file_name,
               "image fields");
  }
  for (size_t i = 0; i < ds.categories.size(); ++i)
    FUZZ_CHECK(ds.categories[i].id == back.categories[i].id &&
                   ds.categories[i].name == back.categories[i].name,
               "category fields");
  for (size_t i = 0; i < ds.annotations.size(); ++i) {
    const CocoAnnotation &a = ds.annotations[i], &b = back.annotations[i];
    FUZZ_CHECK(a.id == b.id && a.image_id == b.image_id && a.category_id == b.category_id &&
                   a.iscrowd == b.iscrowd,
               "annotation fields");
    FUZZ_CHECK(same_segmentation(a.segmentation, b.segmentation), "segmentation");
    FUZZ_CHECK(a.bbox == b.bbox, "bbox");
    FUZZ_CHECK(a.area == b.area, "area");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const CocoDataset& gt = ground_truth();
  wsvis::fuzz::ScratchFile in("coco.json");
  wsvis::fuzz::write_bytes(in.path(), data, size);

  wsvis::fuzz::run_reader(data, size, [&] {
    const CocoDataset ds = read_coco(in.path());
    for (const CocoAnnotation& a : ds.annotations) {
      const int64_t ii = ds.image_index(a.image_id);
      FUZZ_CHECK(ii >= 0 && ds.category_index(a.category_id) >= 0, "annotation ids resolve");
      if (a.segmentation && a.segmentation->kind == Segmentation::Kind::rle) {
        const CocoImage& im = ds.images[static_cast<size_t>(ii)];
        FUZZ_CHECK(a.segmentation->rle.h == im.height && a.segmentation->rle.w == im.width,
                   "RLE has the image size");
      }
    }
    check_round_trip(ds);
  });

  wsvis::fuzz::run_reader(data, size, [&] {
    read_coco_results(in.path(), nullptr);
  });

  wsvis::fuzz::run_reader(data, size, [&] {
    const auto results = read_coco_results(in.path(), &gt);
    for (const CocoResult& r : results) {
      const int64_t ii = gt.image_index(r.image_id);
      FUZZ_CHECK(ii >= 0, "result image id resolves");
      FUZZ_CHECK(r.segmentation || r.bbox, "segmentation or bbox");
      const CocoImage& im = gt.images[static_cast<size_t>(ii)];
      if (r.segmentation)
        FUZZ_CHECK(r.segmentation->h == im.height && r.segmentation->w == im.width,
                   "result RLE has the image size");
    }
  });
  return 0;
}
