// DAVIS -> YouTube-VIS import (data/davis_import.h) on the real DAVIS sequences in
// /work/shared/data (numbers from its README), on small hand-made index masks, and on every
// kind of bad input (the message must name the file).
#include <gtest/gtest.h>

#include <filesystem>

#include "data/davis_import.h"
#include "data/image_io.h"
#include "data/rle.h"
#include "data/ytvis.h"
#include "engine/error.h"
#include "tests/data/data_paths.h"

namespace wsvis::data {
namespace {

namespace fs = std::filesystem;
using testing::read_all;
using testing::ScratchDir;

// README: value-255 pixel counts of car-shadow's masks 00000..00039.
const int64_t kCarShadowAreas[40] = {
    41790, 40939, 39876, 38834, 37746, 36793, 35862, 34878, 33845, 32916,
    31960, 30995, 30056, 29154, 28272, 27407, 26553, 25703, 24859, 24116,
    23361, 22574, 21749, 20986, 20299, 19610, 18992, 18358, 17728, 17136,
    16583, 15968, 15434, 14891, 14389, 13938, 13459, 12999, 12547, 12077};

DavisImportOptions car_shadow(const std::string& data, const std::string& out = "") {
  DavisImportOptions o;
  o.frames_dir = data + "/davis_car_shadow/JPEGImages";
  o.masks_dir = data + "/davis_car_shadow/Annotations";
  o.out_dir = out;
  o.video = "car-shadow";
  o.category = "car";
  o.binary = true;
  return o;
}

// Copies of the two tennis frames and masks into <dir>/tennis and <dir>/masks (so tests can
// remove, add or replace files), as options reading them.
DavisImportOptions tennis_copy(const std::string& data, const ScratchDir& dir) {
  DavisImportOptions o;
  o.frames_dir = dir.file("tennis");
  o.masks_dir = dir.file("masks");
  o.out_dir = dir.file("out");
  fs::create_directories(o.frames_dir);
  fs::create_directories(o.masks_dir);
  for (const char* stem : {"00000", "00001"}) {
    fs::copy_file(data + "/davis2017_tennis/JPEGImages/" + stem + ".jpg",
                  o.frames_dir + "/" + stem + ".jpg");
    fs::copy_file(data + "/davis2017_tennis/Annotations/" + stem + ".png",
                  o.masks_dir + "/" + stem + ".png");
  }
  return o;
}

// Inclusive (x0, y0, x1, y1) as the README writes boxes -> COCO (x, y, w, h).
BoxXywh box(double x0, double y0, double x1, double y1) {
  return {x0, y0, x1 - x0 + 1, y1 - y0 + 1};
}

TEST(DavisImport, CarShadowBinaryMasks) {
  WSVIS_REQUIRE_SHARED_DATA(data);
  const DavisSequence seq = read_davis_sequence(car_shadow(data));
  ASSERT_EQ(seq.dataset.videos.size(), 1u);
  const YtvisVideo& v = seq.dataset.videos[0];
  EXPECT_EQ(v.length, 40);
  EXPECT_EQ(v.width, 854);
  EXPECT_EQ(v.height, 480);
  ASSERT_EQ(v.file_names.size(), 40u);
  EXPECT_EQ(v.file_names[0], "car-shadow/00000.jpg");
  EXPECT_EQ(v.file_names[39], "car-shadow/00039.jpg");
  ASSERT_EQ(seq.dataset.categories.size(), 1u);
  EXPECT_EQ(seq.dataset.categories[0].id, 1);
  EXPECT_EQ(seq.dataset.categories[0].name, "car");
  ASSERT_EQ(seq.dataset.annotations.size(), 1u);
  const YtvisAnnotation& a = seq.dataset.annotations[0];
  EXPECT_EQ(a.id, 1);
  EXPECT_EQ(a.category_id, 1);
  EXPECT_EQ(a.iscrowd, 0);
  for (int t = 0; t < 40; ++t) {
    ASSERT_TRUE(a.segmentations[t].has_value()) << "frame " << t;
    EXPECT_EQ(rle_area(a.segmentations[t]->rle), kCarShadowAreas[t]) << "frame " << t;
    EXPECT_EQ(*a.areas[t], static_cast<double>(kCarShadowAreas[t])) << "frame " << t;
  }
  // README: frame 00000 box x 313..654, y 88..281.
  EXPECT_EQ(*a.bboxes[0], (BoxXywh{313, 88, 342, 194}));
}

TEST(DavisImport, CarShadowWritesAReadableDataset) {
  WSVIS_REQUIRE_SHARED_DATA(data);
  ScratchDir dir;
  const DavisImportOptions o = car_shadow(data, dir.file("out"));
  const DavisImportStats s = import_davis(o);
  EXPECT_EQ(s.video, "car-shadow");
  EXPECT_EQ(s.frames, 40);
  EXPECT_EQ(s.objects, 1);
  // The frames' sizes summed (4,108,697 bytes; the README's 4,112,793 is `du -sb` of the
  // folder, which adds the directory's own 4,096 bytes).
  int64_t source_bytes = 0;
  for (const auto& e : fs::directory_iterator(o.frames_dir))
    source_bytes += static_cast<int64_t>(e.file_size());
  EXPECT_EQ(s.bytes_copied, source_bytes);

  const YtvisDataset ds = read_ytvis(o.out_dir + "/train.json");
  ASSERT_EQ(ds.videos.size(), 1u);
  ASSERT_EQ(ds.annotations.size(), 1u);
  const YtvisDataset direct = read_davis_sequence(o).dataset;
  for (int t = 0; t < 40; ++t) {
    EXPECT_EQ(ds.annotations[0].segmentations[t]->rle, direct.annotations[0].segmentations[t]->rle);
    EXPECT_EQ(*ds.annotations[0].areas[t], static_cast<double>(kCarShadowAreas[t]));
    // Frames are copied, not re-encoded.
    const std::string name = ds.videos[0].file_names[t];
    EXPECT_EQ(read_all(o.out_dir + "/JPEGImages/" + name),
              read_all(o.frames_dir + "/" + fs::path(name).filename().string()))
        << name;
  }
  // Nothing but the 40 frames (no temporary files) in the video folder.
  int files = 0;
  for (const auto& e : fs::directory_iterator(o.out_dir + "/JPEGImages/car-shadow"))
    files += e.path().extension() == ".jpg" ? 1 : 100;
  EXPECT_EQ(files, 40);
}

TEST(DavisImport, TennisIndexMasksIgnoreVoid) {
  WSVIS_REQUIRE_SHARED_DATA(data);
  ScratchDir dir;
  DavisImportOptions o = tennis_copy(data, dir);  // video name from the folder: "tennis"
  const DavisSequence seq = read_davis_sequence(o);
  const YtvisDataset& ds = seq.dataset;
  EXPECT_EQ(ds.videos[0].file_names, (std::vector<std::string>{"tennis/00000.jpg", "tennis/00001.jpg"}));
  EXPECT_EQ(seq.object_ids, (std::vector<int>{1, 2}));  // 255 (void) is not an object
  ASSERT_EQ(ds.annotations.size(), 2u);
  EXPECT_EQ(ds.categories[0].name, "object");
  // README pixel counts per index and boxes.
  const int64_t areas[2][2] = {{17015, 17675}, {362, 916}};  // [object][frame]
  const BoxXywh boxes[2][2] = {{box(146, 96, 381, 383), box(155, 92, 373, 381)},
                               {box(65, 196, 160, 212), box(93, 216, 168, 239)}};
  for (int k = 0; k < 2; ++k) {
    EXPECT_EQ(ds.annotations[k].id, k + 1);
    for (int t = 0; t < 2; ++t) {
      ASSERT_TRUE(ds.annotations[k].segmentations[t].has_value());
      EXPECT_EQ(rle_area(ds.annotations[k].segmentations[t]->rle), areas[k][t]);
      EXPECT_EQ(*ds.annotations[k].bboxes[t], boxes[k][t]) << "object " << k + 1 << " frame " << t;
    }
  }
  // Void pixels belong to no object: the two objects and the background (README: 392318)
  // leave out exactly the 225 void pixels of frame 0.
  const Rle both = rle_merge({ds.annotations[0].segmentations[0]->rle,
                              ds.annotations[1].segmentations[0]->rle}, false);
  EXPECT_EQ(854 * 480 - rle_area(both) - 392318, 225);

  o.frames_dir += "/";  // a trailing slash does not change the default name
  EXPECT_EQ(import_davis(o).video, "tennis");
  const YtvisDataset written = read_ytvis(o.out_dir + "/train.json");
  EXPECT_EQ(written.annotations.size(), 2u);
  EXPECT_EQ(read_all(o.out_dir + "/JPEGImages/tennis/00001.jpg"), read_all(o.frames_dir + "/00001.jpg"));
}

// Hand-made 4x3 index masks: object 3 only in frame 1, object 1 only in frame 0, 255 void.
TEST(DavisImport, ObjectsAbsentFromSomeFramesAreNull) {
  ScratchDir dir;
  DavisImportOptions o;
  o.frames_dir = dir.file("f");
  o.masks_dir = dir.file("m");
  o.video = "v";
  fs::create_directories(o.frames_dir);
  fs::create_directories(o.masks_dir);
  IndexMap m0{4, 3, {1, 1, 0, 0, 0, 255, 0, 0, 0, 0, 0, 0}, {}};
  IndexMap m1{4, 3, {0, 0, 0, 3, 0, 0, 0, 3, 255, 0, 0, 0}, {}};
  write_index_png(o.masks_dir + "/a.png", m0);
  write_index_png(o.masks_dir + "/b.png", m1);
  write_png(o.frames_dir + "/a.png", Image(4, 3, 3));
  write_png(o.frames_dir + "/b.png", Image(4, 3, 3));
  const DavisSequence seq = read_davis_sequence(o);
  EXPECT_EQ(seq.object_ids, (std::vector<int>{1, 3}));
  EXPECT_EQ(seq.dataset.videos[0].file_names, (std::vector<std::string>{"v/a.png", "v/b.png"}));
  const YtvisAnnotation& a1 = seq.dataset.annotations[0];
  const YtvisAnnotation& a3 = seq.dataset.annotations[1];
  EXPECT_EQ(a1.id, 1);
  EXPECT_EQ(a3.id, 3);
  ASSERT_TRUE(a1.segmentations[0].has_value());
  EXPECT_FALSE(a1.segmentations[1].has_value());
  EXPECT_FALSE(a1.bboxes[1].has_value());
  EXPECT_FALSE(a1.areas[1].has_value());
  EXPECT_FALSE(a3.segmentations[0].has_value());
  EXPECT_EQ(rle_decode(a1.segmentations[0]->rle), (std::vector<uint8_t>{1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(rle_decode(a3.segmentations[1]->rle), (std::vector<uint8_t>{0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0}));
  EXPECT_EQ(*a3.bboxes[1], (BoxXywh{3, 0, 1, 2}));
  // With --binary the same palette files are refused (they are index masks).
  o.binary = true;
  EXPECT_INPUT_ERROR(read_davis_sequence(o), "a.png", "palette", "--binary");
}

TEST(DavisImport, MissingOrExtraFilesAreNamed) {
  WSVIS_REQUIRE_SHARED_DATA(data);
  ScratchDir dir;
  const DavisImportOptions o = tennis_copy(data, dir);
  fs::remove(o.masks_dir + "/00001.png");
  EXPECT_INPUT_ERROR(read_davis_sequence(o), "00001.jpg", "no mask 00001.png");
  // A failed import writes nothing.
  EXPECT_INPUT_ERROR(import_davis(o), "00001.jpg");
  EXPECT_FALSE(fs::exists(o.out_dir));

  fs::copy_file(data + "/davis2017_tennis/Annotations/00001.png", o.masks_dir + "/00001.png");
  fs::copy_file(o.masks_dir + "/00001.png", o.masks_dir + "/00007.png");
  EXPECT_INPUT_ERROR(read_davis_sequence(o), "00007.png", "no frame");
  fs::remove(o.masks_dir + "/00007.png");

  fs::copy_file(data + "/davis2017_tennis/JPEGImages/00000.jpg", o.frames_dir + "/00000.jpeg");
  EXPECT_INPUT_ERROR(read_davis_sequence(o), "00000.jpg", "00000.jpeg", "stem '00000'");
  fs::remove(o.frames_dir + "/00000.jpeg");

  DavisImportOptions missing = o;
  missing.frames_dir = dir.file("nope");
  EXPECT_INPUT_ERROR(read_davis_sequence(missing), dir.file("nope"), "no such directory");
  DavisImportOptions empty = o;
  empty.masks_dir = dir.file("out_empty");
  fs::create_directories(empty.masks_dir);
  EXPECT_INPUT_ERROR(read_davis_sequence(empty), "out_empty", "no mask files");
}

TEST(DavisImport, WrongSizesAndUnreadableFilesAreNamed) {
  WSVIS_REQUIRE_SHARED_DATA(data);
  ScratchDir dir;
  const DavisImportOptions o = tennis_copy(data, dir);
  // A mask of another size than its frame.
  write_index_png(o.masks_dir + "/00001.png", IndexMap{853, 480, std::vector<uint8_t>(853 * 480, 1), {}});
  EXPECT_INPUT_ERROR(read_davis_sequence(o), "00001.png", "853x480", "854x480");
  fs::remove(o.masks_dir + "/00001.png");
  fs::copy_file(data + "/davis2017_tennis/Annotations/00001.png", o.masks_dir + "/00001.png");
  // A frame of another size than the first.
  fs::remove(o.frames_dir + "/00001.jpg");
  write_png(o.frames_dir + "/00001.png", Image(854, 479, 3));
  EXPECT_INPUT_ERROR(read_davis_sequence(o), "00001.png", "854x479", "00000.jpg");
  fs::remove(o.frames_dir + "/00001.png");
  // A truncated frame.
  const std::string jpeg = read_all(data + "/davis2017_tennis/JPEGImages/00001.jpg");
  dir.write("tennis/00001.jpg", jpeg.substr(0, 300));
  EXPECT_INPUT_ERROR(read_davis_sequence(o), "00001.jpg");
  // A mask that is not a PNG.
  dir.write("tennis/00001.jpg", jpeg);
  dir.write("masks/00000.png", "not a png");
  EXPECT_INPUT_ERROR(read_davis_sequence(o), "00000.png");
}

TEST(DavisImport, BinaryMasksReadAsIndexHaveNoObject) {
  WSVIS_REQUIRE_SHARED_DATA(data);
  DavisImportOptions o = car_shadow(data);
  o.binary = false;  // 0/255 greyscale: every foreground pixel is "void"
  EXPECT_INPUT_ERROR(read_davis_sequence(o), "Annotations", "no object", "--binary");
}

}  // namespace
}  // namespace wsvis::data
