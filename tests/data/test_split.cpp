// The train_train / train_val split (data/split.h) and the frame-level views.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "data/split.h"
#include "data/ytvis.h"
#include "engine/random.h"
#include "tests/data/data_paths.h"

namespace wsvis::data {
namespace {

using testing::ScratchDir;

// A dataset of `videos` 3-frame videos over 4 categories. Video v has 1-3 tracks; the
// category counts are drawn so some videos are multi-category with a clear majority and some
// tie (the tie rule then decides).
YtvisDataset make_dataset(int videos, uint64_t seed) {
  YtvisDataset d;
  for (int k = 1; k <= 4; ++k) d.categories.push_back({k * 10, "c" + std::to_string(k), ""});
  Generator gen(seed);
  int64_t ann = 1;
  for (int v = 0; v < videos; ++v) {
    YtvisVideo video;
    video.id = 100 + v;
    video.width = 4;
    video.height = 2;
    video.length = 3;
    for (int t = 0; t < 3; ++t) video.file_names.push_back("v" + std::to_string(v) + "/" + std::to_string(t) + ".jpg");
    d.videos.push_back(video);
    const int tracks = 1 + static_cast<int>(gen.randint(0, 3));
    for (int k = 0; k < tracks; ++k) {
      YtvisAnnotation a;
      a.id = ann++;
      a.video_id = video.id;
      a.category_id = 10 * (1 + gen.randint(0, 4));
      std::vector<uint8_t> mask(8, 0);
      mask[static_cast<size_t>(k)] = 1;
      for (int t = 0; t < 3; ++t) {
        if (t == 1 && k == 0) {
          a.segmentations.push_back(std::nullopt);
          a.bboxes.push_back(std::nullopt);
          a.areas.push_back(std::nullopt);
          continue;
        }
        const Rle r = rle_encode(mask, 2, 4);
        a.segmentations.push_back(Segmentation::from_rle(r, false));
        a.bboxes.push_back(rle_to_bbox(r));
        a.areas.push_back(1.0);
      }
      d.annotations.push_back(a);
    }
  }
  d.reindex();
  return d;
}

std::vector<int64_t> ids(const YtvisDataset& d) {
  std::vector<int64_t> out;
  for (const YtvisVideo& v : d.videos) out.push_back(v.id);
  return out;
}

TEST(Split, PrimaryCategoryIsMajorityThenSmallestId) {
  YtvisDataset d = make_dataset(1, 1);
  d.annotations.clear();
  auto add = [&](int64_t id, int64_t cat) {
    YtvisAnnotation a;
    a.id = id, a.video_id = 100, a.category_id = cat;
    a.segmentations.assign(3, std::nullopt);
    a.bboxes.assign(3, std::nullopt);
    a.areas.assign(3, std::nullopt);
    d.annotations.push_back(a);
  };
  add(1, 30), add(2, 20), add(3, 30);
  EXPECT_EQ(primary_categories(d), std::vector<int64_t>{30});
  add(4, 20);  // 2 vs 2: the smaller id wins
  EXPECT_EQ(primary_categories(d), std::vector<int64_t>{20});
  d.annotations.clear();
  EXPECT_EQ(primary_categories(d), std::vector<int64_t>{-1});
}

TEST(Split, TenPerCategoryDisjointCoveringSeeded) {
  const YtvisDataset d = make_dataset(200, 7);
  const std::vector<int64_t> primary = primary_categories(d);
  std::map<int64_t, int> per_cat;
  for (int64_t c : primary) ++per_cat[c];
  for (const auto& [c, n] : per_cat) ASSERT_GT(n, 10) << "category " << c;

  const YtvisSplit s = split_train_val(d, 10, 123);
  // 10 per category among the held-out videos, counted by primary category.
  std::map<int64_t, int> held;
  for (const YtvisVideo& v : s.train_val.videos) ++held[primary[static_cast<size_t>(d.video_index(v.id))]];
  EXPECT_EQ(held.size(), 4u);
  for (const auto& [c, n] : held) EXPECT_EQ(n, 10) << "category " << c;
  // Disjoint and covering.
  std::vector<int64_t> a = ids(s.train_train), b = ids(s.train_val), all;
  std::set<int64_t> sa(a.begin(), a.end()), sb(b.begin(), b.end());
  for (int64_t x : sb) EXPECT_EQ(sa.count(x), 0u) << x;
  all = a;
  all.insert(all.end(), b.begin(), b.end());
  std::sort(all.begin(), all.end());
  EXPECT_EQ(all, ids(d));
  // Annotations follow their videos; categories kept.
  EXPECT_EQ(s.train_train.annotations.size() + s.train_val.annotations.size(), d.annotations.size());
  for (const YtvisAnnotation& an : s.train_val.annotations) EXPECT_EQ(sb.count(an.video_id), 1u);
  EXPECT_EQ(s.train_val.categories.size(), 4u);
  // Seeded: same seed, same split; another seed, another split.
  EXPECT_EQ(ids(split_train_val(d, 10, 123).train_val), b);
  EXPECT_NE(ids(split_train_val(d, 10, 124).train_val), b);
}

TEST(Split, SmallCategoryGivesAllAndFilesRoundTrip) {
  const YtvisDataset d = make_dataset(12, 3);
  const YtvisSplit s = split_train_val(d, 10, 1);
  std::map<int64_t, int> per_cat;
  for (int64_t c : primary_categories(d)) ++per_cat[c];
  size_t expected = 0;
  for (const auto& [c, n] : per_cat) expected += static_cast<size_t>(std::min(n, 10));
  EXPECT_EQ(s.train_val.videos.size(), expected);
  ScratchDir dir;
  write_split(s, dir.path());
  const YtvisDataset tt = read_ytvis(dir.file("train_train.json"));
  const YtvisDataset tv = read_ytvis(dir.file("train_val.json"));
  EXPECT_EQ(ids(tt), ids(s.train_train));
  EXPECT_EQ(ids(tv), ids(s.train_val));
  EXPECT_EQ(tv.annotations.size(), s.train_val.annotations.size());
}

TEST(FrameViews, OneEntryPerFrameWithVisibleInstances) {
  const YtvisDataset d = make_dataset(5, 11);
  const std::vector<FrameView> views = frame_views(d);
  ASSERT_EQ(views.size(), 15u);
  size_t listed = 0, expected = 0;
  for (const YtvisAnnotation& a : d.annotations)
    for (const auto& s : a.segmentations) expected += s.has_value();
  for (size_t i = 0; i < views.size(); ++i) {
    const FrameView& f = views[i];
    EXPECT_EQ(f.video_index, i / 3);
    EXPECT_EQ(f.frame, static_cast<int>(i % 3));
    EXPECT_EQ(f.file_name, d.videos[i / 3].file_names[i % 3]);
    EXPECT_EQ(f.width, 4);
    listed += f.instances.size();
    for (const FrameAnnotation& inst : f.instances) {
      EXPECT_EQ(inst.area, 1.0);
      EXPECT_EQ(inst.bbox[2], 1.0);
    }
  }
  EXPECT_EQ(listed, expected);
  // Track 0 of every video is null at frame 1: it is listed at frames 0 and 2 only.
  const int64_t first_ann = d.annotations[0].id;
  auto has = [&](const FrameView& f) {
    return std::any_of(f.instances.begin(), f.instances.end(),
                       [&](const FrameAnnotation& x) { return x.annotation_id == first_ann; });
  };
  EXPECT_TRUE(has(views[0]));
  EXPECT_FALSE(has(views[1]));
  EXPECT_TRUE(has(views[2]));
}

}  // namespace
}  // namespace wsvis::data
