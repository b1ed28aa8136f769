// COCO instances JSON: the real coco_dummy file (counts, polygons, the crowd RLE, rasterised
// areas as pycocotools computes them), round trips, bad input and results files.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "data/coco.h"
#include "data/image_io.h"
#include "data/rle.h"
#include "engine/error.h"
#include "tests/data/data_paths.h"

namespace wsvis::data {
namespace {

using nlohmann::json;
using testing::ScratchDir;

json sample() {
  return json{
      {"images",
       {{{"id", 5}, {"width", 4}, {"height", 3}, {"file_name", "a.jpg"}},
        {{"id", 7}, {"width", 2}, {"height", 2}, {"file_name", "b.jpg"}}}},
      {"categories", {{{"id", 1}, {"name", "person"}, {"supercategory", "person"}}}},
      {"annotations",
       {{{"id", 1}, {"image_id", 5}, {"category_id", 1}, {"iscrowd", 0},
         {"segmentation", {{0, 0, 2, 0, 2, 2, 0, 2}}}, {"bbox", {0, 0, 2, 2}}, {"area", 4.0}},
        {{"id", 2}, {"image_id", 7}, {"category_id", 1}, {"iscrowd", 1},
         {"segmentation", {{"size", {2, 2}}, {"counts", {1, 3}}}}, {"bbox", {0, 0, 2, 2}}, {"area", 3}},
        {{"id", 3}, {"image_id", 7}, {"category_id", 1},
         {"segmentation", {{"size", {2, 2}}, {"counts", "13"}}}}}}};
}

std::string put(const ScratchDir& dir, const std::string& name, const json& j) {
  return dir.write(name, j.dump());
}

const CocoAnnotation* find_ann(const CocoDataset& ds, int64_t id) {
  for (const auto& a : ds.annotations)
    if (a.id == id) return &a;
  return nullptr;
}

TEST(Coco, RealDummySet) {
  WSVIS_REQUIRE_SHARED_DATA(data);
  const std::string path = data + "/coco_dummy/annotations/instances_val2017.json";
  const CocoDataset ds = read_coco(path);
  ASSERT_EQ(ds.images.size(), 2u);
  EXPECT_EQ(ds.annotations.size(), 37u);
  EXPECT_EQ(ds.categories.size(), 80u);
  int on_139 = 0, polygons = 0, crowds = 0;
  for (const auto& a : ds.annotations) {
    on_139 += a.image_id == 139;
    ASSERT_TRUE(a.segmentation);
    polygons += a.segmentation->kind == Segmentation::Kind::polygons;
    crowds += a.iscrowd;
  }
  EXPECT_EQ(on_139, 20);
  EXPECT_EQ(polygons, 36);
  EXPECT_EQ(crowds, 1);

  // The 3-part polygon; area and box of its rasterisation as pycocotools annToRLE gives them.
  const CocoAnnotation* multi = find_ann(ds, 2204286);
  ASSERT_NE(multi, nullptr);
  EXPECT_EQ(multi->category_id, 67);
  ASSERT_EQ(multi->segmentation->polygons.size(), 3u);
  const CocoImage& im139 = ds.images[static_cast<size_t>(ds.image_index(139))];
  const Rle multi_rle = multi->segmentation->to_rle(im139.height, im139.width);
  EXPECT_EQ(rle_area(multi_rle), 2372);
  EXPECT_EQ(rle_to_bbox(multi_rle), (BoxXywh{321, 231, 126, 89}));
  EXPECT_EQ(rle_to_string(multi_rle).substr(0, 30), "ahU42X=8H4L00000000001O0000000");
  EXPECT_NEAR(multi->area, 2362.48975, 1e-6);  // stored area kept as is

  // The crowd annotation: uncompressed RLE, stored area 4015 != 3386 decoded pixels.
  const CocoAnnotation* crowd = find_ann(ds, 900300255917);
  ASSERT_NE(crowd, nullptr);
  EXPECT_EQ(crowd->iscrowd, 1);
  EXPECT_EQ(crowd->category_id, 3);
  ASSERT_EQ(crowd->segmentation->kind, Segmentation::Kind::rle);
  EXPECT_FALSE(crowd->segmentation->compressed);
  EXPECT_EQ(crowd->segmentation->rle.h, 427);
  EXPECT_EQ(crowd->segmentation->rle.w, 640);
  EXPECT_EQ(rle_area(crowd->segmentation->rle), 3386);
  EXPECT_EQ(crowd->area, 4015);
  EXPECT_EQ(crowd->bbox, (BoxXywh{59, 253, 252, 84}));
  EXPECT_EQ(rle_to_bbox(crowd->segmentation->rle), (BoxXywh{59, 253, 253, 85}));

  // Every polygon mask lies inside its stored box (rounded outwards by a pixel); the total
  // rasterised area matches pycocotools.
  int64_t total = 0;
  for (const auto& a : ds.annotations) {
    if (a.iscrowd) continue;
    const CocoImage& im = ds.images[static_cast<size_t>(ds.image_index(a.image_id))];
    const Rle r = a.segmentation->to_rle(im.height, im.width);
    total += rle_area(r);
    const BoxXywh b = rle_to_bbox(r);
    EXPECT_GE(b[0], std::floor(a.bbox[0]) - 1) << "annotation " << a.id;
    EXPECT_GE(b[1], std::floor(a.bbox[1]) - 1) << "annotation " << a.id;
    EXPECT_LE(b[0] + b[2], std::ceil(a.bbox[0] + a.bbox[2]) + 1) << "annotation " << a.id;
    EXPECT_LE(b[1] + b[3], std::ceil(a.bbox[1] + a.bbox[3]) + 1) << "annotation " << a.id;
  }
  EXPECT_EQ(total, 54849);

  // Image sizes agree with the JPEG files.
  for (const auto& im : ds.images) {
    const auto info = image_info(data + "/coco_dummy/val2017/" + im.file_name);
    EXPECT_EQ(info[0], im.width);
    EXPECT_EQ(info[1], im.height);
  }
}

TEST(Coco, SampleDefaultsAndRoundTrip) {
  ScratchDir dir;
  const CocoDataset ds = read_coco(put(dir, "in.json", sample()));
  ASSERT_EQ(ds.annotations.size(), 3u);
  // No bbox/area/iscrowd in the file: derived from the RLE, iscrowd 0.
  EXPECT_EQ(ds.annotations[2].bbox, (BoxXywh{0, 0, 2, 2}));  // one run wrapping columns 0-1
  EXPECT_EQ(ds.annotations[2].area, 3);
  EXPECT_EQ(ds.annotations[2].iscrowd, 0);
  EXPECT_TRUE(ds.annotations[2].segmentation->compressed);
  write_coco(ds, dir.file("out.json"));
  EXPECT_EQ(dir.list(), (std::vector<std::string>{"in.json", "out.json"}));
  const CocoDataset back = read_coco(dir.file("out.json"));
  ASSERT_EQ(back.annotations.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(back.annotations[i].bbox, ds.annotations[i].bbox);
    EXPECT_EQ(back.annotations[i].area, ds.annotations[i].area);
    EXPECT_EQ(back.annotations[i].iscrowd, ds.annotations[i].iscrowd);
    EXPECT_EQ(back.annotations[i].segmentation->rle, ds.annotations[i].segmentation->rle);
    EXPECT_EQ(back.annotations[i].segmentation->polygons, ds.annotations[i].segmentation->polygons);
  }
  EXPECT_EQ(back.images[1].file_name, "b.jpg");
}

TEST(Coco, RealDummySetRoundTrip) {
  WSVIS_REQUIRE_SHARED_DATA(data);
  const CocoDataset ds = read_coco(data + "/coco_dummy/annotations/instances_val2017.json");
  ScratchDir dir;
  write_coco(ds, dir.file("copy.json"));
  const CocoDataset back = read_coco(dir.file("copy.json"));
  ASSERT_EQ(back.annotations.size(), ds.annotations.size());
  for (size_t i = 0; i < ds.annotations.size(); ++i) {
    EXPECT_EQ(back.annotations[i].segmentation->polygons, ds.annotations[i].segmentation->polygons);
    EXPECT_EQ(back.annotations[i].segmentation->rle, ds.annotations[i].segmentation->rle);
    EXPECT_EQ(back.annotations[i].area, ds.annotations[i].area);
  }
}

TEST(CocoErrors, EachKind) {
  ScratchDir dir;
  EXPECT_INPUT_ERROR(read_coco(dir.file("missing.json")), dir.file("missing.json"), "cannot open");
  const std::string bad = dir.write("bad.json", "{\"images\": [}");
  EXPECT_INPUT_ERROR(read_coco(bad), bad, "malformed JSON");

  json j = sample();
  j.erase("images");
  const std::string p1 = put(dir, "p1.json", j);
  EXPECT_INPUT_ERROR(read_coco(p1), p1 + ": images is missing");
  j = sample();
  j["images"][0].erase("file_name");
  EXPECT_INPUT_ERROR(read_coco(put(dir, "p2.json", j)), "p2.json: images[0].file_name is missing");
  j = sample();
  j["images"][1]["height"] = 0;
  EXPECT_INPUT_ERROR(read_coco(put(dir, "p3.json", j)), "p3.json: images[1].height must be positive");
  j = sample();
  j["annotations"][0]["image_id"] = 12;
  EXPECT_INPUT_ERROR(read_coco(put(dir, "p4.json", j)), "p4.json: annotations[0].image_id is 12, which no image has");
  j = sample();
  j["annotations"][1]["category_id"] = 2;
  EXPECT_INPUT_ERROR(read_coco(put(dir, "p5.json", j)), "p5.json: annotations[1].category_id is 2, which no category has");
  j = sample();
  j["annotations"][1]["segmentation"]["size"] = {3, 4};
  EXPECT_INPUT_ERROR(read_coco(put(dir, "p6.json", j)),
                     "annotations[1].segmentation.size is [3, 4] but image 7 is [2, 2]");
  j = sample();
  j["annotations"][0]["bbox"] = {0, 0, "2", 2};
  EXPECT_INPUT_ERROR(read_coco(put(dir, "p7.json", j)), "p7.json: annotations[0].bbox[2] must be a number");
  j = sample();
  j["annotations"][0]["segmentation"] = {{0, 0, 2}};
  EXPECT_INPUT_ERROR(read_coco(put(dir, "p8.json", j)), "p8.json: annotations[0].segmentation[0] has 3 coordinates");
  j = sample();
  j["annotations"][2]["id"] = 1;
  EXPECT_INPUT_ERROR(read_coco(put(dir, "p9.json", j)), "p9.json: annotations[2].id is 1, already used by annotations[0]");
  j = sample();
  j["annotations"][2].erase("segmentation");
  EXPECT_INPUT_ERROR(read_coco(put(dir, "p10.json", j)), "p10.json: annotations[2] has neither a segmentation nor a bbox");
  j = sample();
  j["annotations"][2]["segmentation"]["counts"] = "1";
  EXPECT_INPUT_ERROR(read_coco(put(dir, "p11.json", j)),
                     "annotations[2].segmentation.counts sum to 1 pixels but size [2, 2] has 4");
  j = sample();
  j["annotations"][0]["area"] = nullptr;
  EXPECT_INPUT_ERROR(read_coco(put(dir, "p12.json", j)), "p12.json: annotations[0].area must be a number, got null");
}

TEST(CocoResults, RoundTripAndErrors) {
  ScratchDir dir;
  const CocoDataset gt = read_coco(put(dir, "gt.json", sample()));
  std::vector<CocoResult> results(2);
  results[0].image_id = 5;
  results[0].category_id = 1;
  results[0].score = 0.9;
  results[0].segmentation = rle_from_bbox({1, 0, 2, 3}, 3, 4);
  results[0].bbox = BoxXywh{1, 0, 2, 3};
  results[1].image_id = 7;
  results[1].category_id = 1;
  results[1].score = 0.25;
  results[1].bbox = BoxXywh{0.5, 0.5, 1, 1};
  const std::string path = dir.file("res.json");
  write_coco_results(results, path);
  for (const CocoDataset* g : {static_cast<const CocoDataset*>(nullptr), &gt}) {
    const auto back = read_coco_results(path, g);
    ASSERT_EQ(back.size(), 2u);
    EXPECT_EQ(back[0].segmentation, results[0].segmentation);
    EXPECT_EQ(back[0].bbox, results[0].bbox);
    EXPECT_FALSE(back[1].segmentation);
    EXPECT_EQ(back[1].score, 0.25);
  }
  json j = json::parse(testing::read_all(path));
  j[1].erase("bbox");
  const std::string p1 = put(dir, "r1.json", j);
  EXPECT_INPUT_ERROR(read_coco_results(p1), p1 + ": [1] has neither a segmentation nor a bbox");
  j = json::parse(testing::read_all(path));
  j[0]["image_id"] = 8;
  EXPECT_INPUT_ERROR(read_coco_results(put(dir, "r2.json", j), &gt), "r2.json: [0].image_id is 8, which no image has");
  j = json::parse(testing::read_all(path));
  j[0]["segmentation"]["size"] = {2, 2};
  EXPECT_INPUT_ERROR(read_coco_results(put(dir, "r3.json", j), &gt), "r3.json: [0].segmentation.size is [2, 2] but image 5 is [3, 4]");
  EXPECT_INPUT_ERROR(read_coco_results(put(dir, "r4.json", json::object())), "must hold a JSON list of results");
}

}  // namespace
}  // namespace wsvis::data
