// The pair loader (data/loader.h): frames per second decoded and augmented. A CPU-SIDE entry:
// PNG decoding, .flo reading, resize/flip/colour jitter and collation run on host threads
// even on the GPU machine (the CPU timings there say nothing about the GPU). Batches are
// delivered to the CPU context; on a GPU machine one more line delivers to the GPU context
// (pinned staging + cudaMemcpyAsync on its stream, synchronised per batch).
//
// Sets: `wsvis synth` sets written to a temporary folder, 128x128 (8 videos x 12 frames) and
// 640x360 (4 videos x 8 frames). Augmentation: shorter side drawn from a list around the
// native size, flip p = 0.5, colour jitter 0.2; delta 1 with forward and backward flow.
// Throughput: frames/s = 2 x pairs/s (each pair decodes two frames and two flows). Before
// timing, 1 and 2 workers are checked to give identical first batches (determinism).
// Timing: std::chrono around whole epochs (a fresh epoch each run), median of the runs; also
// frames per CPU-second (process CPU time, all threads), which a loaded machine disturbs less.
#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "bench/harness.h"
#include "data/loader.h"
#include "data/synth.h"

namespace wsvis::bench {
namespace {

struct LoaderSet {
  const char* tag;
  int width, height, videos, frames;
  std::vector<int> short_sizes;
};

bool same_batch(const data::PairBatch& a, const data::PairBatch& b) {
  return a.images_a.to_vector<float>() == b.images_a.to_vector<float>() &&
         a.images_b.to_vector<float>() == b.images_b.to_vector<float>() &&
         a.flow_fw.to_vector<float>() == b.flow_fw.to_vector<float>() &&
         a.flow_bw.to_vector<float>() == b.flow_bw.to_vector<float>();
}

void run_set(Runner& r, const LoaderSet& set) {
  char tmpl[] = "/tmp/wsvis_bench_loader_XXXXXX";
  const char* dir = ::mkdtemp(tmpl);
  if (!dir) {
    std::printf("loader/%s: cannot create a temporary folder\n", set.tag);
    ++r.entries_failed;
    return;
  }
  const std::string root = dir;
  data::SynthConfig cfg;
  cfg.videos = set.videos, cfg.frames = set.frames, cfg.width = set.width, cfg.height = set.height;
  data::write_synth_dataset(cfg, root);
  const data::YtvisDataset dataset = data::read_ytvis(root + "/train.json");

  data::LoaderConfig c;
  c.image_root = root + "/JPEGImages";
  c.flow_root = root + "/flow";
  c.batch_size = 2;
  c.prefetch = 4;
  c.seed = 3;
  c.augment.short_sizes = set.short_sizes;
  c.augment.flip_prob = 0.5;
  c.augment.color_jitter = 0.2;

  // Validate: 1 and 2 workers give the same first batches.
  {
    data::LoaderConfig c1 = c, c2 = c;
    c1.workers = 1, c2.workers = 2;
    data::PairLoader l1(dataset, c1, r.cpu_ctx()), l2(dataset, c2, r.cpu_ctx());
    data::PairBatch b1, b2;
    bool ok = true;
    for (int i = 0; i < 3 && ok; ++i) ok = l1.next(&b1) && l2.next(&b2) && same_batch(b1, b2);
    std::printf("  loader/%s: 1 vs 2 workers, first 3 batches %s\n", set.tag, ok ? "identical" : "DIFFER");
    if (!ok) {
      ++r.entries_failed;
      std::filesystem::remove_all(root);
      return;
    }
  }

  const int runs = r.options().runs > 0 ? r.options().runs : 3;
  std::vector<std::pair<ContextPtr, std::string>> targets = {{r.cpu_ctx(), "cpu"}};
  if (r.gpu()) targets.push_back({r.ctx(), "gpu (pinned + H2D)"});
  for (const auto& [ctx, target] : targets) {
    for (int workers : {1, 2}) {
      if (ctx != r.cpu_ctx() && workers == 1) continue;
      data::LoaderConfig cw = c;
      cw.workers = workers;
      data::PairLoader loader(dataset, cw, ctx);
      std::vector<double> ms;
      double cpu_s = 0;  // process CPU time over the timed epochs
      int64_t epoch = 0;
      for (int run = 0; run <= runs; ++run) {  // run 0 is the warm-up (page cache)
        loader.start_epoch(epoch++);
        const std::clock_t c0 = std::clock();
        const auto t0 = std::chrono::steady_clock::now();
        data::PairBatch b;
        while (loader.next(&b)) ctx->synchronize();
        const auto t1 = std::chrono::steady_clock::now();
        if (run > 0) {
          ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
          cpu_s += static_cast<double>(std::clock() - c0) / CLOCKS_PER_SEC;
        }
      }
      std::sort(ms.begin(), ms.end());
      const double median = ms[ms.size() / 2];
      const double pairs = static_cast<double>(loader.num_pairs());
      std::printf("%-34s %dx%d %d workers, deliver to %-18s %8.1f ms/epoch (min %.1f, n=%zu) "
                  "%8.1f pairs/s %8.1f frames/s decoded+augmented, %.1f frames per CPU-second "
                  "[CPU-side]\n",
                  ("loader/" + std::string(set.tag)).c_str(), set.width, set.height, workers,
                  target.c_str(), median, ms.front(), ms.size(), pairs / (median * 1e-3),
                  2 * pairs / (median * 1e-3), 2 * pairs * (ms.size()) / cpu_s);
      std::fflush(stdout);
    }
  }
  std::filesystem::remove_all(root);
}

const Registrar loader_small("loader/cpu_decode_augment_128", [](Runner& r) {
  run_set(r, {"synth_128", 128, 128, 8, 12, {96, 112, 128, 144, 160}});
});
const Registrar loader_360("loader/cpu_decode_augment_640x360", [](Runner& r) {
  run_set(r, {"synth_640x360", 640, 360, 4, 8, {288, 320, 360, 400}});
});

}  // namespace
}  // namespace wsvis::bench
