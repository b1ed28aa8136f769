// YouTube-VIS JSON: reading, writing, round trips, every kind of bad input (the message must
// name the file and the field), results files, and a real clip (DAVIS car-shadow masks) taken
// through the format.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "data/image_io.h"
#include "data/rle.h"
#include "data/ytvis.h"
#include "engine/error.h"
#include "tests/data/data_paths.h"

namespace wsvis::data {
namespace {

using nlohmann::json;
using testing::ScratchDir;

// A small valid file: two videos (3 frames 4x3, 2 frames 2x2), two categories, three tracks
// using compressed RLE, uncompressed RLE, polygons and nulls.
json sample() {
  const std::vector<uint8_t> m0 = {0, 1, 1, 0, 1, 1, 0, 0, 0, 0, 0, 0};  // (3, 4)
  const Rle r0 = rle_encode(m0, 3, 4);
  return json{
      {"info", {{"description", "test"}}},
      {"videos",
       {{{"id", 1}, {"width", 4}, {"height", 3}, {"length", 3},
         {"file_names", {"v1/00000.jpg", "v1/00005.jpg", "v1/00010.jpg"}},
         {"license", 1}, {"flickr_url", ""}},
        {{"id", 2}, {"width", 2}, {"height", 2}, {"length", 2},
         {"file_names", {"v2/00000.jpg", "v2/00005.jpg"}}}}},
      {"categories",
       {{{"id", 1}, {"name", "person"}, {"supercategory", "object"}},
        {{"id", 6}, {"name", "sedan"}, {"supercategory", "object"}}}},
      {"annotations",
       {{{"id", 10}, {"video_id", 1}, {"category_id", 1}, {"iscrowd", 0},
         {"segmentations",
          {{{"size", {3, 4}}, {"counts", rle_to_string(r0)}}, nullptr,
           {{"size", {3, 4}}, {"counts", r0.counts}}}},
         {"bboxes", {{1, 0, 2, 2}, nullptr, {1, 0, 2, 2}}},
         {"areas", {4, nullptr, 4}},
         {"height", 3}, {"width", 4}, {"length", 1}},
        {{"id", 11}, {"video_id", 1}, {"category_id", 6}, {"iscrowd", 0},
         {"segmentations", {nullptr, {{0, 0, 2, 0, 2, 2, 0, 2}}, nullptr}}},
        {{"id", 12}, {"video_id", 2}, {"category_id", 6}, {"iscrowd", 1},
         {"segmentations", {{{"size", {2, 2}}, {"counts", {0, 4}}}, nullptr}},
         {"bboxes", {{0, 0, 2, 2}, nullptr}},
         {"areas", {4.0, nullptr}}}}}};
}

std::string put(const ScratchDir& dir, const std::string& name, const json& j) {
  return dir.write(name, j.dump());
}

TEST(Ytvis, ReadsSample) {
  ScratchDir dir;
  const std::string path = put(dir, "train.json", sample());
  const YtvisDataset ds = read_ytvis(path);
  ASSERT_EQ(ds.videos.size(), 2u);
  EXPECT_EQ(ds.videos[0].id, 1);
  EXPECT_EQ(ds.videos[0].width, 4);
  EXPECT_EQ(ds.videos[0].height, 3);
  EXPECT_EQ(ds.videos[0].length, 3);
  EXPECT_EQ(ds.videos[0].file_names[2], "v1/00010.jpg");
  ASSERT_EQ(ds.categories.size(), 2u);
  EXPECT_EQ(ds.categories[1].name, "sedan");
  EXPECT_EQ(ds.category_index(6), 1);
  EXPECT_EQ(ds.category_index(7), -1);
  EXPECT_EQ(ds.video_index(2), 1);
  ASSERT_EQ(ds.annotations.size(), 3u);

  const YtvisAnnotation& a = ds.annotations[0];
  EXPECT_EQ(a.id, 10);
  ASSERT_EQ(a.segmentations.size(), 3u);
  ASSERT_TRUE(a.segmentations[0]);
  EXPECT_TRUE(a.segmentations[0]->compressed);
  EXPECT_FALSE(a.segmentations[1]);
  ASSERT_TRUE(a.segmentations[2]);
  EXPECT_FALSE(a.segmentations[2]->compressed);
  EXPECT_EQ(a.segmentations[0]->rle, a.segmentations[2]->rle);
  EXPECT_EQ(rle_area(a.segmentations[0]->rle), 4);
  EXPECT_EQ(*a.bboxes[0], (BoxXywh{1, 0, 2, 2}));
  EXPECT_FALSE(a.bboxes[1]);
  EXPECT_EQ(*a.areas[2], 4.0);

  // No bboxes/areas in the file: derived from the segmentation (a polygon here).
  const YtvisAnnotation& b = ds.annotations[1];
  ASSERT_TRUE(b.segmentations[1]);
  EXPECT_EQ(b.segmentations[1]->kind, Segmentation::Kind::polygons);
  EXPECT_FALSE(b.bboxes[0]);
  ASSERT_TRUE(b.bboxes[1]);
  EXPECT_EQ(*b.bboxes[1], (BoxXywh{0, 0, 2, 2}));
  EXPECT_EQ(*b.areas[1], 4.0);
  EXPECT_EQ(ds.annotations[2].iscrowd, 1);
}

TEST(Ytvis, WriteReadRoundTripIsAtomic) {
  ScratchDir dir;
  const YtvisDataset ds = read_ytvis(put(dir, "in.json", sample()));
  const std::string out = dir.file("out.json");
  write_ytvis(ds, out);
  EXPECT_EQ(dir.list(), (std::vector<std::string>{"in.json", "out.json"}));  // no temp file left
  const YtvisDataset back = read_ytvis(out);
  ASSERT_EQ(back.annotations.size(), ds.annotations.size());
  for (size_t i = 0; i < ds.annotations.size(); ++i) {
    const auto &x = ds.annotations[i], &y = back.annotations[i];
    EXPECT_EQ(x.id, y.id);
    EXPECT_EQ(x.iscrowd, y.iscrowd);
    EXPECT_EQ(x.bboxes, y.bboxes);
    EXPECT_EQ(x.areas, y.areas);
    ASSERT_EQ(x.segmentations.size(), y.segmentations.size());
    for (size_t t = 0; t < x.segmentations.size(); ++t) {
      ASSERT_EQ(bool(x.segmentations[t]), bool(y.segmentations[t]));
      if (!x.segmentations[t]) continue;
      EXPECT_EQ(x.segmentations[t]->kind, y.segmentations[t]->kind);
      EXPECT_EQ(x.segmentations[t]->compressed, y.segmentations[t]->compressed);
      EXPECT_EQ(x.segmentations[t]->rle, y.segmentations[t]->rle);
      EXPECT_EQ(x.segmentations[t]->polygons, y.segmentations[t]->polygons);
    }
  }
  EXPECT_EQ(back.videos[1].file_names, ds.videos[1].file_names);
  EXPECT_EQ(back.categories[0].supercategory, "object");
  // Writing again over the existing file replaces it.
  write_ytvis(back, out);
  EXPECT_EQ(read_ytvis(out).annotations.size(), 3u);
}

TEST(Ytvis, ValidFileWithoutAnnotations) {
  ScratchDir dir;
  json j = sample();
  j.erase("annotations");
  const YtvisDataset ds = read_ytvis(put(dir, "valid.json", j));
  EXPECT_EQ(ds.videos.size(), 2u);
  EXPECT_TRUE(ds.annotations.empty());
}

TEST(Ytvis, LengthDefaultsToFileNames) {
  ScratchDir dir;
  json j = sample();
  j["videos"][1].erase("length");
  EXPECT_EQ(read_ytvis(put(dir, "a.json", j)).videos[1].length, 2);
}

// ---- bad input: one test per kind, each checking the message names file and field ----------

TEST(YtvisErrors, MissingFile) {
  EXPECT_INPUT_ERROR(read_ytvis("/nonexistent/dir/train.json"), "/nonexistent/dir/train.json",
                     "cannot open");
}

TEST(YtvisErrors, MalformedJson) {
  ScratchDir dir;
  const std::string path = dir.write("train.json", "{\"videos\": [1, 2,\n  }");
  EXPECT_INPUT_ERROR(read_ytvis(path), path, "malformed JSON", "line 2");
}

TEST(YtvisErrors, TopLevelNotObject) {
  ScratchDir dir;
  const std::string path = dir.write("train.json", "[1, 2]");
  EXPECT_INPUT_ERROR(read_ytvis(path), path, "must be an object");
}

TEST(YtvisErrors, MissingVideos) {
  ScratchDir dir;
  json j = sample();
  j.erase("videos");
  const std::string path = put(dir, "train.json", j);
  EXPECT_INPUT_ERROR(read_ytvis(path), path + ": videos is missing");
}

TEST(YtvisErrors, MissingRequiredField) {
  ScratchDir dir;
  json j = sample();
  j["annotations"][2].erase("video_id");
  const std::string path = put(dir, "train.json", j);
  EXPECT_INPUT_ERROR(read_ytvis(path), path + ": annotations[2].video_id is missing");
}

TEST(YtvisErrors, WrongType) {
  ScratchDir dir;
  json j = sample();
  j["annotations"][1]["category_id"] = "6";
  const std::string path = put(dir, "train.json", j);
  EXPECT_INPUT_ERROR(read_ytvis(path), path,
                     "annotations[1].category_id must be an integer, got string \"6\"");
  j = sample();
  j["videos"][0]["width"] = 4.5;
  EXPECT_INPUT_ERROR(read_ytvis(put(dir, "b.json", j)), "b.json: videos[0].width must be an integer");
  j = sample();
  j["videos"][0]["file_names"][1] = 7;
  EXPECT_INPUT_ERROR(read_ytvis(put(dir, "c.json", j)), "c.json: videos[0].file_names[1] must be a string");
  j = sample();
  j["annotations"] = json::object();
  EXPECT_INPUT_ERROR(read_ytvis(put(dir, "d.json", j)), "d.json: annotations must be an array");
}

TEST(YtvisErrors, SegmentationsLengthMismatch) {
  ScratchDir dir;
  json j = sample();
  j["annotations"][1]["segmentations"].push_back(nullptr);
  const std::string path = put(dir, "train.json", j);
  EXPECT_INPUT_ERROR(read_ytvis(path),
                     path + ": annotations[1].segmentations has 4 entries for a video of 3 frames");
}

TEST(YtvisErrors, BboxesAndAreasLengthMismatch) {
  ScratchDir dir;
  json j = sample();
  j["annotations"][0]["bboxes"].erase(0);
  EXPECT_INPUT_ERROR(read_ytvis(put(dir, "a.json", j)),
                     "annotations[0].bboxes has 2 entries for a video of 3 frames");
  j = sample();
  j["annotations"][2]["areas"] = {1};
  EXPECT_INPUT_ERROR(read_ytvis(put(dir, "b.json", j)),
                     "annotations[2].areas has 1 entries for a video of 2 frames");
}

TEST(YtvisErrors, BadBox) {
  ScratchDir dir;
  json j = sample();
  j["annotations"][0]["bboxes"][0] = {1, 2, 3};
  EXPECT_INPUT_ERROR(read_ytvis(put(dir, "a.json", j)), "a.json: annotations[0].bboxes[0] must be a box");
}

TEST(YtvisErrors, FileNamesDisagreeWithLength) {
  ScratchDir dir;
  json j = sample();
  j["videos"][0]["length"] = 4;
  const std::string path = put(dir, "train.json", j);
  EXPECT_INPUT_ERROR(read_ytvis(path), path, "videos[0].file_names has 3 entries but length is 4");
}

TEST(YtvisErrors, UnknownVideoAndCategory) {
  ScratchDir dir;
  json j = sample();
  j["annotations"][0]["video_id"] = 99;
  EXPECT_INPUT_ERROR(read_ytvis(put(dir, "a.json", j)), "a.json: annotations[0].video_id is 99, which no video has");
  j = sample();
  j["annotations"][0]["category_id"] = 41;
  EXPECT_INPUT_ERROR(read_ytvis(put(dir, "b.json", j)),
                     "annotations[0].category_id is 41, which no category has");
}

TEST(YtvisErrors, DuplicateIds) {
  ScratchDir dir;
  json j = sample();
  j["videos"][1]["id"] = 1;
  EXPECT_INPUT_ERROR(read_ytvis(put(dir, "a.json", j)), "a.json: videos[1].id is 1, already used by videos[0]");
  j = sample();
  j["annotations"][2]["id"] = 10;
  EXPECT_INPUT_ERROR(read_ytvis(put(dir, "b.json", j)), "b.json: annotations[2].id is 10, already used by annotations[0]");
}

TEST(YtvisErrors, RleSizeMismatch) {
  ScratchDir dir;
  json j = sample();
  j["annotations"][0]["segmentations"][0]["size"] = {4, 3};
  const std::string path = put(dir, "train.json", j);
  EXPECT_INPUT_ERROR(read_ytvis(path), path,
                     "annotations[0].segmentations[0].size is [4, 3] but video 1 is [3, 4]");
}

TEST(YtvisErrors, RleCountsDoNotCoverFrame) {
  ScratchDir dir;
  json j = sample();
  j["annotations"][2]["segmentations"][0]["counts"] = {0, 3};
  EXPECT_INPUT_ERROR(read_ytvis(put(dir, "a.json", j)),
                     "annotations[2].segmentations[0].counts sum to 3 pixels but size [2, 2] has 4");
  j = sample();
  j["annotations"][2]["segmentations"][0]["counts"] = {0, -4};
  EXPECT_INPUT_ERROR(read_ytvis(put(dir, "b.json", j)), "b.json: annotations[2].segmentations[0].counts[1] must be >= 0, got -4");
}

TEST(YtvisErrors, BadRleString) {
  ScratchDir dir;
  json j = sample();
  j["annotations"][0]["segmentations"][0]["counts"] = "42 1";
  const std::string path = put(dir, "train.json", j);
  EXPECT_INPUT_ERROR(read_ytvis(path), path, "annotations[0].segmentations[0].counts is not a valid RLE string",
                     "invalid character");
}

TEST(YtvisErrors, BadPolygon) {
  ScratchDir dir;
  json j = sample();
  j["annotations"][1]["segmentations"][1] = {{0, 0, 2, 0, 2}};
  EXPECT_INPUT_ERROR(read_ytvis(put(dir, "a.json", j)),
                     "annotations[1].segmentations[1][0] has 5 coordinates");
  j = sample();
  j["annotations"][1]["segmentations"][1] = "polygon";
  EXPECT_INPUT_ERROR(read_ytvis(put(dir, "b.json", j)),
                     "annotations[1].segmentations[1] must be an RLE object or a list of polygons");
}

TEST(YtvisErrors, BadFlag) {
  ScratchDir dir;
  json j = sample();
  j["annotations"][0]["iscrowd"] = 2;
  EXPECT_INPUT_ERROR(read_ytvis(put(dir, "a.json", j)), "a.json: annotations[0].iscrowd must be 0 or 1, got 2");
}

TEST(YtvisErrors, WriteToMissingDirectory) {
  ScratchDir dir;
  const YtvisDataset ds = read_ytvis(put(dir, "in.json", sample()));
  const std::string path = dir.file("no/such/dir/out.json");
  EXPECT_INPUT_ERROR(write_ytvis(ds, path), path, "cannot write");
}

// ---- results ---------------------------------------------------------------------------------

TEST(YtvisResults, RoundTripAndGroundTruthChecks) {
  ScratchDir dir;
  const YtvisDataset gt = read_ytvis(put(dir, "gt.json", sample()));
  std::vector<YtvisResult> results(2);
  results[0].video_id = 1;
  results[0].category_id = 6;
  results[0].score = 0.875;
  results[0].segmentations = {rle_encode(std::vector<uint8_t>(12, 1), 3, 4), std::nullopt,
                              rle_from_polygon({0, 0, 3, 0, 3, 3}, 3, 4)};
  results[1].video_id = 2;
  results[1].category_id = 1;
  results[1].score = 0.5;
  results[1].segmentations = {std::nullopt, rle_encode(std::vector<uint8_t>{1, 0, 0, 1}, 2, 2)};
  const std::string path = dir.file("results.json");
  write_ytvis_results(results, path);
  // Written as compressed strings, the format the evaluation server takes.
  const json written = json::parse(testing::read_all(path));
  EXPECT_TRUE(written[0]["segmentations"][0]["counts"].is_string());
  EXPECT_TRUE(written[0]["segmentations"][1].is_null());
  for (const YtvisDataset* g : {static_cast<const YtvisDataset*>(nullptr), &gt}) {
    const auto back = read_ytvis_results(path, g);
    ASSERT_EQ(back.size(), 2u);
    EXPECT_EQ(back[0].score, 0.875);
    EXPECT_EQ(back[1].category_id, 1);
    EXPECT_EQ(back[0].segmentations, results[0].segmentations);
    EXPECT_EQ(back[1].segmentations, results[1].segmentations);
  }
}

TEST(YtvisResultsErrors, EachKind) {
  ScratchDir dir;
  const YtvisDataset gt = read_ytvis(put(dir, "gt.json", sample()));
  const json good = json::array(
      {{{"video_id", 2}, {"category_id", 1}, {"score", 0.5},
        {"segmentations", {nullptr, {{"size", {2, 2}}, {"counts", "04"}}}}}});
  EXPECT_NO_THROW(read_ytvis_results(put(dir, "ok.json", good), &gt));

  const std::string p1 = dir.write("r1.json", "{\"video_id\": 1}");
  EXPECT_INPUT_ERROR(read_ytvis_results(p1), p1, "must hold a JSON list of results");
  json j = good;
  j[0].erase("score");
  const std::string p2 = put(dir, "r2.json", j);
  EXPECT_INPUT_ERROR(read_ytvis_results(p2), p2 + ": [0].score is missing");
  j = good;
  j[0]["segmentations"].push_back(nullptr);
  const std::string p3 = put(dir, "r3.json", j);
  EXPECT_INPUT_ERROR(read_ytvis_results(p3, &gt), p3, "[0].segmentations has 3 entries for a video of 2 frames");
  j = good;
  j[0]["video_id"] = 5;
  EXPECT_INPUT_ERROR(read_ytvis_results(put(dir, "r4.json", j), &gt), "r4.json: [0].video_id is 5, which no video has");
  j = good;
  j[0]["segmentations"][0] = {{"size", {3, 3}}, {"counts", "9"}};
  // Without ground truth the first RLE sets the size for the others.
  EXPECT_INPUT_ERROR(read_ytvis_results(put(dir, "r5.json", j)),
                     "[0].segmentations[1].size is [2, 2] but [0].segmentations[0] is [3, 3]");
  j = good;
  j[0]["segmentations"][1] = {{0, 0, 1, 0, 1, 1}};
  EXPECT_INPUT_ERROR(read_ytvis_results(put(dir, "r6.json", j), &gt), "r6.json: [0].segmentations[1] must be an object");
  j = good;
  j[0]["score"] = "high";
  EXPECT_INPUT_ERROR(read_ytvis_results(put(dir, "r7.json", j)), "r7.json: [0].score must be a number");
}

// ---- a real clip ------------------------------------------------------------------------------

TEST(Ytvis, DavisCarShadowThroughTheFormat) {
  WSVIS_REQUIRE_SHARED_DATA(data);
  const std::string dir_in = data + "/davis_car_shadow/Annotations/";
  const int frames = 40;
  const int64_t expected_px[frames] = {
      41790, 40939, 39876, 38834, 37746, 36793, 35862, 34878, 33845, 32916,
      31960, 30995, 30056, 29154, 28272, 27407, 26553, 25703, 24859, 24116,
      23361, 22574, 21749, 20986, 20299, 19610, 18992, 18358, 17728, 17136,
      16583, 15968, 15434, 14891, 14389, 13938, 13459, 12999, 12547, 12077};
  YtvisDataset ds;
  YtvisVideo v;
  v.id = 1;
  v.width = 854;
  v.height = 480;
  v.length = frames;
  YtvisAnnotation a;
  a.id = 1;
  a.video_id = 1;
  a.category_id = 6;  // sedan
  for (int t = 0; t < frames; ++t) {
    char name[16];
    std::snprintf(name, sizeof name, "%05d.png", t);
    v.file_names.push_back(std::string("car-shadow/") + name);
    const IndexMap m = read_index_png(dir_in + name);
    ASSERT_EQ(m.width, 854);
    std::vector<uint8_t> bin(m.index.size());
    for (size_t i = 0; i < bin.size(); ++i) bin[i] = m.index[i] > 127;
    const Rle r = rle_encode(bin, m.height, m.width);
    a.segmentations.push_back(Segmentation::from_rle(r, /*compressed=*/t % 2 == 0));
    a.bboxes.push_back(rle_to_bbox(r));
    a.areas.push_back(static_cast<double>(rle_area(r)));
  }
  ds.videos.push_back(v);
  ds.categories.push_back(Category{6, "sedan", "vehicle"});
  ds.annotations.push_back(a);
  ds.reindex();
  ScratchDir dir;
  write_ytvis(ds, dir.file("davis.json"));
  const YtvisDataset back = read_ytvis(dir.file("davis.json"));
  ASSERT_EQ(back.annotations.size(), 1u);
  const auto& b = back.annotations[0];
  for (int t = 0; t < frames; ++t) {
    ASSERT_TRUE(b.segmentations[t]);
    EXPECT_EQ(rle_area(b.segmentations[t]->rle), expected_px[t]) << "frame " << t;
    EXPECT_EQ(*b.areas[t], static_cast<double>(expected_px[t]));
  }
  // Frame 0 box from the README: x 313..654, y 88..281 (inclusive).
  EXPECT_EQ(*b.bboxes[0], (BoxXywh{313, 88, 654 - 313 + 1, 281 - 88 + 1}));
}

}  // namespace
}  // namespace wsvis::data
