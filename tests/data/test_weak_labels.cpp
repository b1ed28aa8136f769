// Weak labels (data/weak_labels.h): per-frame multi-hot classes and per-frame boxes.
#include <gtest/gtest.h>

#include "data/weak_labels.h"

namespace wsvis::data {
namespace {

YtvisAnnotation track(int64_t id, int64_t cat, const std::vector<std::optional<BoxXywh>>& boxes,
                      int iscrowd = 0) {
  YtvisAnnotation a;
  a.id = id, a.video_id = 7, a.category_id = cat, a.iscrowd = iscrowd;
  for (const auto& b : boxes) {
    if (b) {
      a.segmentations.push_back(Segmentation::from_polygons({{0, 0, 1, 0, 1, 1}}));
      a.bboxes.push_back(b);
      a.areas.push_back((*b)[2] * (*b)[3]);
    } else {
      a.segmentations.push_back(std::nullopt);
      a.bboxes.push_back(std::nullopt);
      a.areas.push_back(std::nullopt);
    }
  }
  return a;
}

TEST(WeakLabels, MultiHotAndBoxesPerFrame) {
  YtvisDataset d;
  d.categories = {{5, "a", ""}, {9, "b", ""}, {2, "c", ""}};
  YtvisVideo v;
  v.id = 7, v.width = 20, v.height = 10, v.length = 3;
  v.file_names = {"x/0.jpg", "x/1.jpg", "x/2.jpg"};
  d.videos = {v};
  const BoxXywh b1{1, 2, 3, 4}, b2{5, 1, 2, 2}, empty{0, 0, 0, 0};
  d.annotations.push_back(track(1, 9, {b1, std::nullopt, b1}));
  d.annotations.push_back(track(2, 9, {b2, b2, std::nullopt}));
  d.annotations.push_back(track(3, 2, {std::nullopt, empty, b2}));      // zero box: not visible
  d.annotations.push_back(track(4, 5, {std::nullopt, std::nullopt, b1}, 1));  // crowd
  d.reindex();
  const std::vector<VideoWeakLabels> w = weak_labels(d);
  ASSERT_EQ(w.size(), 1u);
  using V = std::vector<uint8_t>;
  EXPECT_EQ(w[0].classes[0], (V{0, 1, 0}));
  EXPECT_EQ(w[0].classes[1], (V{0, 1, 0}));
  EXPECT_EQ(w[0].classes[2], (V{1, 1, 1}));
  ASSERT_EQ(w[0].boxes[0].size(), 2u);
  EXPECT_FLOAT_EQ(w[0].boxes[0][0].x1, 1);
  EXPECT_FLOAT_EQ(w[0].boxes[0][0].y1, 2);
  EXPECT_FLOAT_EQ(w[0].boxes[0][0].x2, 4);
  EXPECT_FLOAT_EQ(w[0].boxes[0][0].y2, 6);
  EXPECT_EQ(w[0].boxes[0][0].category_index, 1);
  EXPECT_EQ(w[0].boxes[0][0].category_id, 9);
  EXPECT_EQ(w[0].boxes[0][1].annotation_id, 2);
  ASSERT_EQ(w[0].boxes[1].size(), 1u);
  EXPECT_EQ(w[0].boxes[1][0].annotation_id, 2);
  ASSERT_EQ(w[0].boxes[2].size(), 2u);  // tracks 1 and 3; the crowd track has no box
  EXPECT_EQ(w[0].boxes[2][1].category_index, 2);
}

}  // namespace
}  // namespace wsvis::data
