// Data-parallel detector training through the stage code, two ranks under mpirun (CMake runs
// this as `mpiexec -n 2 ...`; run alone it skips). BoxInst on a tiny synthetic set, started
// from (random) torchvision weights so the backbone's BatchNorm is frozen and a rank's forward
// does not depend on the other rank's images:
//  - two ranks with one pair each follow one rank with both pairs: the losses differ only
//    where each rank normalises by its own shard (FCOS's positives, the mask losses' instance
//    count), which DDP does too; bounded below;
//  - rank 0 alone writes: one log line per logged step, one DONE, one model;
//  - a stop agreed by both ranks (Ctrl-C on one is enough) saves one checkpoint, and running
//    again ends with weights byte-identical to an uninterrupted two-rank run;
//  - prediction, not data-parallel, runs once on rank 0 while rank 1 waits.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "data/file_util.h"
#include "pipeline/boxinst_stage.h"
#include "pipeline/stage1.h"
#include "pipeline/train_loop.h"
#include "tests/engine/distributed_testing.h"
#include "tests/pipeline/stage_testing.h"
#include "tests/support/testing.h"

namespace wsvis::pipeline {
namespace {

namespace fs = std::filesystem;

// Mean losses of the first 10 and the last 10 of 24 steps: the two runs measured 0.49 % and
// 0.56 % apart on this set. Both ranks training on the same shard (a sharding bug) measured
// 1.2 % and 2.9 %; a gradient summed instead of averaged doubles the step size.
constexpr double kLossRtol = 0.015;

std::string config_text(const fs::path& dir, const std::string& weights) {
  return R"({
    "data": {"root": ")" + (dir / "data").string() + R"("},
    "val": {"root": ")" + (dir / "data").string() + R"("},
    "model": {"variant": "motion_boxinst", "depth": 18, "fpn_channels": 16, "head_convs": 1,
              "head_norm_groups": 4, "mask_branch_channels": 8, "mask_branch_convs": 1,
              "mask_channels": 4, "pairwise_warmup": 4, "bottom_pixels_removed": 0,
              "pretrained": ")" + weights + R"("},
    "train": {"batch": 2, "steps": 24, "lr": 0.01, "warmup_iters": 2, "short_sizes": [64],
              "max_long": 0, "checkpoint_every": 4, "workers": 1},
    "test": {"short_size": 64, "max_long": 0, "score_threshold": 0.0},
    "device": "cpu", "seed": 2})";
}

// Rank 0 writes the data, the weights and the config; everyone reads the config.
BoxInstConfig prepare(dist::Communicator& comm, const fs::path& dir, const ContextPtr& cpu) {
  if (comm.is_root()) {
    testing::write_tiny_boxinst_set(dir);
    testing::write_torchvision_resnet18((dir / "resnet18.safetensors").string(), 9, cpu);
    data::write_file_atomic((dir / "c.json").string(), config_text(dir, (dir / "resnet18.safetensors").string()));
  }
  comm.barrier();
  return read_boxinst_config((dir / "c.json").string(), {});
}

RunDir run_for(const dist::Communicator& comm, const fs::path& root) {
  return comm.is_root() ? RunDir(root.string()) : RunDir(root.string()).reader();
}

size_t count_lines(const fs::path& file, const std::string& needle) {
  const std::string text = data::read_file_bytes(file.string());
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

TEST(DetectorDdpMpi, TwoRanksTrainBoxInstLikeOneRankWithTheWholeBatch) {
  const dist::DistEnv env = dist::dist_env_from_process();
  if (env.world_size != 2)
    GTEST_SKIP() << "needs exactly 2 ranks (ctest runs it under mpirun -n 2), got " << env.world_size;
  const ContextPtr cpu = context_for("cpu");
  dist::Communicator comm(env, cpu);
  const fs::path dir = testing::shared_temp_dir(comm, cpu);
  const BoxInstConfig config = prepare(comm, dir, cpu);

  // The reference: rank 0 alone, both pairs of each step.
  if (comm.is_root()) train_boxinst(config, RunDir((dir / "one").string()), cpu);
  comm.barrier();
  // Two ranks, one pair each.
  train_boxinst(config, run_for(comm, dir / "two"), cpu, &comm);
  // Two ranks stopped before step 3 (as if by Ctrl-C), then run again.
  ::setenv("WSVIS_INTERRUPT_AT_STEP", "3", 1);
  EXPECT_THROW(train_boxinst(config, run_for(comm, dir / "stopped"), cpu, &comm), Interrupted);
  ::unsetenv("WSVIS_INTERRUPT_AT_STEP");
  comm.barrier();
  const bool checkpointed = fs::exists(dir / "stopped/boxinst/last.safetensors");
  train_boxinst(config, run_for(comm, dir / "stopped"), cpu, &comm);
  // Prediction is rank 0's; rank 1 waits for it.
  run_boxinst(config, run_for(comm, dir / "two"), {"predict"}, cpu, &comm);
  EXPECT_TRUE(fs::exists(dir / "two/predictions.json")) << "rank " << comm.rank();

  const nlohmann::json one = RunDir((dir / "one").string()).done_summary("boxinst");
  const nlohmann::json two = RunDir((dir / "two").string()).done_summary("boxinst");
  ASSERT_FALSE(one.empty());
  ASSERT_FALSE(two.empty());
  for (const char* key : {"first_loss", "last_loss"}) {
    const double a = one[key].get<double>(), b = two[key].get<double>();
    EXPECT_NEAR(b, a, kLossRtol * std::fabs(a)) << key << ", rank " << comm.rank();
    if (comm.is_root())
      std::printf("BoxInst, 1 rank x 2 pairs vs 2 ranks x 1 pair, 24 steps: %s %.5f vs %.5f (%.2f %%)\n", key, a, b,
                  100 * std::fabs(b - a) / std::fabs(a));
  }
  EXPECT_LT(two["last_loss"].get<double>(), two["first_loss"].get<double>());
  // Rank 0 alone wrote: the log has its last logged step (24) once, and a single model.
  EXPECT_EQ(count_lines(dir / "two/log.jsonl", "\"step\":24"), 1u);
  EXPECT_TRUE(checkpointed) << "rank 0 saved no checkpoint at the agreed stop";
  EXPECT_EQ(data::read_file_bytes((dir / "stopped/boxinst/model.safetensors").string()),
            data::read_file_bytes((dir / "two/boxinst/model.safetensors").string()))
      << "a stopped and resumed two-rank run must end where an uninterrupted one does";
  comm.barrier();  // everyone has read before rank 0 removes
  if (comm.is_root()) fs::remove_all(dir);
}

}  // namespace
}  // namespace wsvis::pipeline
