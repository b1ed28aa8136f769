// The pair loader (data/loader.h) on a written synth set: batching and padding,
// normalisation, flow and labels, delta > 1, determinism across worker counts, errors raised
// in workers surfacing in the consumer, and the CUDA target against the CPU one.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <set>

#include "data/file_util.h"
#include "data/loader.h"
#include "data/synth.h"
#include "engine/context.h"
#include "engine/error.h"
#include "tests/data/data_paths.h"

namespace wsvis::data {
namespace {

using testing::ScratchDir;

// ---- the loader on a written synth set ------------------------------------------------------

// A small synth set written once for the loader tests: 3 videos of 5 frames, 100x70.
class LoaderTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new ScratchDir();
    SynthConfig cfg;
    cfg.videos = 3, cfg.frames = 5, cfg.width = 100, cfg.height = 70, cfg.seed = 5;
    write_synth_dataset(cfg, dir_->path());
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static LoaderConfig base_config(const std::string& root) {
    LoaderConfig c;
    c.image_root = root + "/JPEGImages";
    c.flow_root = root + "/flow";
    c.batch_size = 2;
    c.workers = 2;
    c.seed = 17;
    c.augment.short_sizes = {50, 70, 90};
    c.augment.flip_prob = 0.5;
    c.augment.color_jitter = 0.2;
    return c;
  }
  static ScratchDir* dir_;
};
ScratchDir* LoaderTest::dir_ = nullptr;

ContextPtr cpu() {
  static ContextPtr ctx = Context::create(Device::cpu());
  return ctx;
}

std::vector<PairBatch> drain(PairLoader& loader) {
  std::vector<PairBatch> out;
  PairBatch b;
  while (loader.next(&b)) out.push_back(b);
  return out;
}

template <typename T>
void expect_same_tensor(const Tensor& a, const Tensor& b, const std::string& what) {
  ASSERT_EQ(a.defined(), b.defined()) << what;
  if (!a.defined()) return;
  ASSERT_EQ(a.shape(), b.shape()) << what;
  EXPECT_TRUE(a.to_vector<T>() == b.to_vector<T>()) << what;
}

void expect_same_batches(const std::vector<PairBatch>& a, const std::vector<PairBatch>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    const std::string w = "batch " + std::to_string(i);
    expect_same_tensor<float>(a[i].images_a, b[i].images_a, w + " images_a");
    expect_same_tensor<float>(a[i].images_b, b[i].images_b, w + " images_b");
    expect_same_tensor<float>(a[i].flow_fw, b[i].flow_fw, w + " flow_fw");
    expect_same_tensor<float>(a[i].flow_bw, b[i].flow_bw, w + " flow_bw");
    expect_same_tensor<uint8_t>(a[i].valid, b[i].valid, w + " valid");
    expect_same_tensor<float>(a[i].class_labels, b[i].class_labels, w + " classes");
    ASSERT_EQ(a[i].boxes_a.size(), b[i].boxes_a.size());
    for (size_t k = 0; k < a[i].boxes_a.size(); ++k) {
      ASSERT_EQ(a[i].boxes_a[k].size(), b[i].boxes_a[k].size());
      for (size_t j = 0; j < a[i].boxes_a[k].size(); ++j)
        EXPECT_EQ(a[i].boxes_a[k][j].x1, b[i].boxes_a[k][j].x1);
    }
  }
}

TEST_F(LoaderTest, BatchesPadToMultiplesOf32WithZerosAndValidMask) {
  const YtvisDataset d = read_ytvis(dir_->file("train.json"));
  PairLoader loader(d, base_config(dir_->path()), cpu());
  EXPECT_EQ(loader.num_pairs(), 12);
  EXPECT_EQ(loader.batches_per_epoch(), 6);
  std::set<int> heights;
  for (const PairBatch& b : drain(loader)) {
    const int64_t B = b.images_a.size(0), H = b.images_a.size(2), W = b.images_a.size(3);
    EXPECT_EQ(H % 32, 0);
    EXPECT_EQ(W % 32, 0);
    int max_h = 0, max_w = 0;
    for (const auto& hw : b.image_sizes) max_h = std::max(max_h, hw[0]), max_w = std::max(max_w, hw[1]);
    EXPECT_EQ(H, (max_h + 31) / 32 * 32);
    EXPECT_EQ(W, (max_w + 31) / 32 * 32);
    EXPECT_EQ(b.flow_fw.shape(), (Shape{B, 2, H, W}));
    EXPECT_EQ(b.valid.shape(), (Shape{B, H, W}));
    const std::vector<float> img = b.images_a.to_vector<float>(), fw = b.flow_fw.to_vector<float>();
    const std::vector<uint8_t> valid = b.valid.to_vector<uint8_t>();
    for (int64_t i = 0; i < B; ++i) {
      const int h = b.image_sizes[static_cast<size_t>(i)][0], w = b.image_sizes[static_cast<size_t>(i)][1];
      heights.insert(h);
      EXPECT_EQ(h, b.params[static_cast<size_t>(i)].height);
      EXPECT_EQ(std::min(h, w), std::min(b.params[static_cast<size_t>(i)].width, h));
      int64_t count = 0, nonzero_pad = 0;
      for (int64_t y = 0; y < H; ++y)
        for (int64_t x = 0; x < W; ++x) {
          const bool inside = y < h && x < w;
          const uint8_t v = valid[static_cast<size_t>((i * H + y) * W + x)];
          EXPECT_EQ(v, inside ? 1 : 0);
          count += v;
          if (!inside) {
            for (int c = 0; c < 3; ++c) nonzero_pad += img[static_cast<size_t>(((i * 3 + c) * H + y) * W + x)] != 0;
            for (int c = 0; c < 2; ++c) nonzero_pad += fw[static_cast<size_t>(((i * 2 + c) * H + y) * W + x)] != 0;
          }
        }
      EXPECT_EQ(count, static_cast<int64_t>(h) * w);
      EXPECT_EQ(nonzero_pad, 0);
    }
  }
  EXPECT_GT(heights.size(), 1u) << "the size choice should vary over an epoch";
}

TEST_F(LoaderTest, NormalisationFlowAndLabelsWithoutAugmentation) {
  const YtvisDataset d = read_ytvis(dir_->file("train.json"));
  for (PixelNorm norm : {PixelNorm::detectron2_bgr, PixelNorm::torchvision_rgb}) {
    LoaderConfig c = base_config(dir_->path());
    c.augment = AugmentConfig{};
    c.augment.flip_prob = 0;
    c.shuffle = false;
    c.batch_size = 1;
    c.norm = norm;
    PairLoader loader(d, c, cpu());
    PairBatch b;
    ASSERT_TRUE(loader.next(&b));
    ASSERT_TRUE(loader.next(&b));  // pair (video 0, t = 1)
    EXPECT_EQ(b.refs[0].t, 1);
    const Image im = read_image(c.image_root + "/" + d.videos[0].file_names[1]);
    const Flow fw = read_flo(c.flow_root + "/" + d.videos[0].file_names[1].substr(0, d.videos[0].file_names[1].size() - 4) + "_fw.flo");
    const Flow bw = read_flo(c.flow_root + "/" + d.videos[0].file_names[2].substr(0, d.videos[0].file_names[2].size() - 4) + "_bw.flo");
    const std::vector<float> img = b.images_a.to_vector<float>(), f = b.flow_fw.to_vector<float>(),
                             g = b.flow_bw.to_vector<float>();
    const int64_t H = b.images_a.size(2), W = b.images_a.size(3);
    EXPECT_EQ(H, 96);
    EXPECT_EQ(W, 128);
    const float d2_mean[3] = {103.53f, 116.28f, 123.675f};
    const float tv_mean[3] = {0.485f, 0.456f, 0.406f}, tv_std[3] = {0.229f, 0.224f, 0.225f};
    for (int y = 0; y < 70; y += 7)
      for (int x = 0; x < 100; x += 9) {
        for (int c2 = 0; c2 < 3; ++c2) {
          const float got = img[static_cast<size_t>((c2 * H + y) * W + x)];
          const float want = norm == PixelNorm::detectron2_bgr
                                 ? im.at(y, x, 2 - c2) - d2_mean[c2]
                                 : (im.at(y, x, c2) / 255.f - tv_mean[c2]) / tv_std[c2];
          EXPECT_NEAR(got, want, 1e-5);
        }
        EXPECT_EQ(f[static_cast<size_t>(y * W + x)], fw.u(x, y));
        EXPECT_EQ(f[static_cast<size_t>((H + y) * W + x)], fw.v(x, y));
        EXPECT_EQ(g[static_cast<size_t>(y * W + x)], bw.u(x, y));
      }
    const std::vector<VideoWeakLabels> w = weak_labels(d);
    const std::vector<float> cls = b.class_labels.to_vector<float>();
    ASSERT_EQ(cls.size(), d.categories.size());
    for (size_t k = 0; k < cls.size(); ++k) EXPECT_EQ(cls[k], w[0].classes[1][k]);
    ASSERT_EQ(b.boxes_a[0].size(), w[0].boxes[1].size());
    ASSERT_EQ(b.boxes_b[0].size(), w[0].boxes[2].size());
  }
}

TEST_F(LoaderTest, DeltaTwoComposesConsecutiveFlows) {
  const YtvisDataset d = read_ytvis(dir_->file("train.json"));
  LoaderConfig c = base_config(dir_->path());
  c.augment = AugmentConfig{};
  c.augment.flip_prob = 0;
  c.shuffle = false;
  c.batch_size = 1;
  c.delta = 2;
  PairLoader loader(d, c, cpu());
  EXPECT_EQ(loader.num_pairs(), 9);
  PairBatch b;
  ASSERT_TRUE(loader.next(&b));  // (0, 2)
  auto flo = [&](int t, const char* dir) {
    const std::string& n = d.videos[0].file_names[static_cast<size_t>(t)];
    return read_flo(c.flow_root + "/" + n.substr(0, n.size() - 4) + "_" + dir + ".flo");
  };
  const Flow fw = compose_flow(flo(0, "fw"), flo(1, "fw"));
  const Flow bw = compose_flow(flo(2, "bw"), flo(1, "bw"));
  const std::vector<float> f = b.flow_fw.to_vector<float>(), g = b.flow_bw.to_vector<float>();
  const int64_t W = b.flow_fw.size(3);
  for (int y = 0; y < 70; ++y)
    for (int x = 0; x < 100; ++x) {
      ASSERT_EQ(f[static_cast<size_t>(y * W + x)], fw.u(x, y));
      ASSERT_EQ(g[static_cast<size_t>(y * W + x)], bw.u(x, y));
    }
}

TEST_F(LoaderTest, SameBatchesForAnyNumberOfWorkers) {
  const YtvisDataset d = read_ytvis(dir_->file("train.json"));
  std::vector<std::vector<PairBatch>> runs;
  for (int workers : {1, 4, 0}) {
    LoaderConfig c = base_config(dir_->path());
    c.workers = workers;
    c.prefetch = 3;
    PairLoader loader(d, c, cpu());
    std::vector<PairBatch> all = drain(loader);
    loader.start_epoch(1);
    std::vector<PairBatch> second = drain(loader);
    all.insert(all.end(), second.begin(), second.end());
    runs.push_back(std::move(all));
  }
  ASSERT_EQ(runs[0].size(), 12u);
  expect_same_batches(runs[0], runs[1]);
  expect_same_batches(runs[0], runs[2]);
  // Epochs differ (order and augmentation).
  EXPECT_FALSE(runs[0][0].images_a.shape() == runs[0][6].images_a.shape() &&
               runs[0][0].images_a.to_vector<float>() == runs[0][6].images_a.to_vector<float>());
}

// Pixels of sample i's frame a inside its own size (the padding depends on the batch's largest).
std::vector<float> sample_pixels(const PairBatch& batch, size_t i) {
  const int64_t H = batch.images_a.size(2), W = batch.images_a.size(3);
  const auto [h, w] = batch.image_sizes[i];
  const std::vector<float> all = batch.images_a.to_vector<float>();
  std::vector<float> out;
  for (int64_t c = 0; c < 3; ++c)
    for (int y = 0; y < h; ++y) {
      const size_t row = ((static_cast<size_t>(i) * 3 + size_t(c)) * size_t(H) + size_t(y)) * size_t(W);
      out.insert(out.end(), all.begin() + long(row), all.begin() + long(row) + w);
    }
  return out;
}

TEST_F(LoaderTest, RanksTogetherSeeTheSamePairsAsOneRank) {
  const YtvisDataset d = read_ytvis(dir_->file("train.json"));
  LoaderConfig c = base_config(dir_->path());
  c.batch_size = 4;
  c.drop_last = true;
  PairLoader whole(d, c, cpu());
  const std::vector<PairBatch> one = drain(whole);
  std::vector<std::vector<PairBatch>> shards;
  for (int rank = 0; rank < 2; ++rank) {
    LoaderConfig r = c;
    r.rank = rank;
    r.world_size = 2;
    PairLoader loader(d, r, cpu());
    EXPECT_EQ(loader.batches_per_epoch(), whole.batches_per_epoch());
    shards.push_back(drain(loader));
  }
  ASSERT_EQ(one.size(), 3u);  // 12 pairs, 4 a batch
  for (size_t b = 0; b < one.size(); ++b)
    for (size_t i = 0; i < 4; ++i) {
      const PairBatch& part = shards[i / 2][b];
      ASSERT_EQ(part.refs.size(), 2u);
      const size_t j = i % 2;
      EXPECT_EQ(part.refs[j].video_index, one[b].refs[i].video_index) << "batch " << b << " pair " << i;
      EXPECT_EQ(part.refs[j].t, one[b].refs[i].t);
      EXPECT_EQ(part.image_sizes[j], one[b].image_sizes[i]);
      EXPECT_TRUE(sample_pixels(part, j) == sample_pixels(one[b], i)) << "batch " << b << " pair " << i;
    }
  LoaderConfig bad = c;
  bad.world_size = 3;  // 4 pairs do not split in 3
  bad.rank = 1;
  EXPECT_THROW(PairLoader(d, bad, cpu()), Error);
}

// Copies the set to a fresh directory, lets `damage` break it, and runs an epoch without
// shuffling: the first batches arrive, then next() throws the worker's InputError.
void expect_error_in_consumer(const std::string& src, const std::function<std::string(const std::string&)>& damage,
                              int workers, int expected_good_batches, const std::string& what) {
  ScratchDir dir;
  std::filesystem::copy(src, dir.path(), std::filesystem::copy_options::recursive);
  const std::string bad_file = damage(dir.path());
  const YtvisDataset d = read_ytvis(dir.file("train.json"));
  LoaderConfig c;
  c.image_root = dir.path() + "/JPEGImages";
  c.flow_root = dir.path() + "/flow";
  c.batch_size = 1;
  c.workers = workers;
  c.prefetch = 2;
  c.shuffle = false;
  PairLoader loader(d, c, cpu());
  PairBatch b;
  int good = 0;
  try {
    while (loader.next(&b)) ++good;
    ADD_FAILURE() << what << ": no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(bad_file), std::string::npos) << what << ": " << e.what();
    EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
  }
  EXPECT_EQ(good, expected_good_batches) << what;
  // The failed batch is reported again rather than skipped.
  EXPECT_THROW(loader.next(&b), InputError);
}

TEST_F(LoaderTest, WorkerErrorsSurfaceInTheConsumer) {
  const std::string src = dir_->path();
  const YtvisDataset d = read_ytvis(dir_->file("train.json"));
  const std::string v1 = d.videos[1].file_names[2].substr(0, d.videos[1].file_names[2].size() - 4);
  for (int workers : {0, 1, 3}) {
    // Pairs of video 0 are batches 0..3; (video 1, t = 1) is batch 5 and reads frame 2 of video 1.
    expect_error_in_consumer(src, [&](const std::string& root) {
      const std::string p = root + "/JPEGImages/" + v1 + ".png";
      std::filesystem::remove(p);
      return p;
    }, workers, 5, "cannot open");
    expect_error_in_consumer(src, [&](const std::string& root) {
      const std::string p = root + "/JPEGImages/" + v1 + ".png";
      write_file_atomic(p, std::string("\x89PNG\r\n\x1a\ngarbage", 15));
      return p;
    }, workers, 5, "");
    expect_error_in_consumer(src, [&](const std::string& root) {
      const std::string p = root + "/flow/" + v1 + "_bw.flo";
      write_flo(p, Flow(100, 60));
      return p;
    }, workers, 5, "100x60");
    expect_error_in_consumer(src, [&](const std::string& root) {
      const std::string p = root + "/flow/" + v1 + "_fw.flo";
      Flow f(100, 70);
      f.u(3, 4) = std::nanf("");
      write_flo(p, f);
      return p;
    }, workers, 6, "NaN");
  }
}

TEST_F(LoaderTest, CudaTargetMatchesCpu) {
  if (!cuda_available()) GTEST_SKIP() << "no CUDA device";
  const YtvisDataset d = read_ytvis(dir_->file("train.json"));
  const LoaderConfig c = base_config(dir_->path());
  PairLoader on_cpu(d, c, cpu());
  PairLoader on_gpu(d, c, Context::create(Device::cuda(0)));
  std::vector<PairBatch> a = drain(on_cpu), g = drain(on_gpu);
  ASSERT_EQ(g[0].images_a.device(), Device::cuda(0));
  std::vector<PairBatch> back;
  for (const PairBatch& b : g) {
    PairBatch h = b;
    h.images_a = b.images_a.to(cpu()), h.images_b = b.images_b.to(cpu());
    h.flow_fw = b.flow_fw.to(cpu()), h.flow_bw = b.flow_bw.to(cpu());
    h.valid = b.valid.to(cpu()), h.class_labels = b.class_labels.to(cpu());
    back.push_back(h);
  }
  expect_same_batches(a, back);
}

}  // namespace
}  // namespace wsvis::data
