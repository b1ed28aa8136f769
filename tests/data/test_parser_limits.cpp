// The hostile inputs the fuzzers found (fuzz/README.md, "Past findings"), as unit tests run by
// `make test`: each must give a clear error naming the file, never a crash, a hang, undefined
// behaviour or a file that no longer reads back.
#include <gtest/gtest.h>

#include <string>

#include "data/coco.h"
#include "data/rle.h"
#include "data/ytvis.h"
#include "engine/error.h"
#include "tests/data/data_paths.h"

namespace wsvis::data {
namespace {

using testing::ScratchDir;

// A COCO file with one 100x100 image and one annotation whose fields are given as JSON text.
std::string coco_with(const std::string& annotation_fields, int width = 100, int height = 100) {
  return R"({"images": [{"id": 1, "width": )" + std::to_string(width) + R"(, "height": )" +
         std::to_string(height) +
         R"(, "file_name": "a.jpg"}], "categories": [{"id": 1, "name": "thing"}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1, )" +
         annotation_fields + "}]}";
}

TEST(ParserLimits, NumberBeyondADoubleIsAnInputError) {
  ScratchDir dir;
  const std::string path = dir.write("overflow.json", coco_with(R"("bbox": [0, 0, 1e400, 1])"));
  EXPECT_INPUT_ERROR(read_coco(path), "overflow.json", "malformed JSON");
}

TEST(ParserLimits, DeepNestingIsRefusedWithoutRecursion) {
  ScratchDir dir;
  // 80,000 levels overflowed the stack when the error message dumped the value.
  const std::string path =
      dir.write("deep.json", std::string(80000, '[') + std::string(80000, ']'));
  EXPECT_INPUT_ERROR(read_ytvis(path), "deep.json", "nested deeper than");
}

TEST(ParserLimits, PolygonFarOutsideTheImageIsRefused) {
  // 1e10 used to be cast to int (undefined behaviour); 1e8 made the boundary walk billions of
  // points long.
  EXPECT_THROW(rle_from_polygon({0, 0, 1e10, 0, 0, 1e10}, 100, 100), Error);
  EXPECT_THROW(rle_from_polygon({0, 0, 1e8, 0, 0, 1e8}, 100, 100), Error);
  ScratchDir dir;
  const std::string path =
      dir.write("far.json", coco_with(R"("segmentation": [[0, 0, 1e8, 0, 0, 1e8]])"));
  EXPECT_INPUT_ERROR(read_coco(path), "far.json", "segmentation");
  // Slightly outside is still rasterised as pycocotools does (clipped to the image).
  const Rle clipped = rle_from_polygon({-5, -5, 12, -5, 12, 12, -5, 12}, 10, 10);
  EXPECT_EQ(rle_area(clipped), 100);
}

TEST(ParserLimits, MasksBeyondThirtyTwoBitCountsAreRefused) {
  // 100000 x 100000 pixels overflow COCO RLE's 32-bit run lengths (and used to overflow int).
  EXPECT_THROW(rle_from_polygon({0, 0, 10, 0, 10, 10}, 100000, 100000), Error);
  EXPECT_THROW(rle_from_string("0", 100000, 100000), Error);
}

TEST(ParserLimits, InfiniteDerivedAreaIsAnInputError) {
  ScratchDir dir;
  // A box of finite sides whose product overflows: the area was written as null and the file
  // did not read back.
  const std::string path = dir.write("inf.json", coco_with(R"("bbox": [0, 0, 1e200, 1e200])"));
  EXPECT_INPUT_ERROR(read_coco(path), "inf.json", "bbox", "non-finite area");
}

}  // namespace
}  // namespace wsvis::data
