// Single-process checks of the distributed pieces: environment parsing, batch sharding, the
// bucket layout, the autograd hook buckets launch from, the world-size-1 fast path, and (on a
// GPU) the NCCL path at world size 1 against plain training. The two-rank MPI training test is
// test_distributed_mpi.cpp.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "engine/distributed.h"
#include "engine/gradient_bucketer.h"
#include "tests/engine/distributed_testing.h"
#include "tests/support/testing.h"

namespace wsvis {
namespace {

dist::DistEnv parse(const std::map<std::string, std::string>& vars) {
  return dist::parse_dist_env([&](const char* name) -> const char* {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  });
}

// The InputError's message, or "" when parsing succeeds.
std::string parse_error(const std::map<std::string, std::string>& vars) {
  try {
    parse(vars);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(DistEnv, NothingSetIsOneRank) {
  const dist::DistEnv env = parse({});
  EXPECT_EQ(env.rank, 0);
  EXPECT_EQ(env.world_size, 1);
  EXPECT_EQ(env.local_rank, 0);
  EXPECT_TRUE(env.rendezvous_dir.empty());
  EXPECT_FALSE(env.launched_by_mpirun);
}

TEST(DistEnv, ReadsWsvisVariables) {
  const dist::DistEnv env = parse({{"WSVIS_RANK", "3"}, {"WSVIS_WORLD_SIZE", "8"},
                                   {"WSVIS_LOCAL_RANK", "1"}, {"WSVIS_RENDEZVOUS_DIR", "/tmp/rv"}});
  EXPECT_EQ(env.rank, 3);
  EXPECT_EQ(env.world_size, 8);
  EXPECT_EQ(env.local_rank, 1);
  EXPECT_EQ(env.rendezvous_dir, "/tmp/rv");
  // The local rank defaults to the rank (one machine).
  EXPECT_EQ(parse({{"WSVIS_RANK", "2"}, {"WSVIS_WORLD_SIZE", "4"}}).local_rank, 2);
}

TEST(DistEnv, ReadsOpenMpiVariablesAndPrefersWsvis) {
  const std::map<std::string, std::string> ompi = {{"OMPI_COMM_WORLD_RANK", "1"},
                                                   {"OMPI_COMM_WORLD_SIZE", "2"},
                                                   {"OMPI_COMM_WORLD_LOCAL_RANK", "0"}};
  const dist::DistEnv env = parse(ompi);
  EXPECT_EQ(env.rank, 1);
  EXPECT_EQ(env.world_size, 2);
  EXPECT_EQ(env.local_rank, 0);
  EXPECT_TRUE(env.launched_by_mpirun);
  std::map<std::string, std::string> both = ompi;
  both["WSVIS_RANK"] = "0";
  both["WSVIS_WORLD_SIZE"] = "1";
  const dist::DistEnv preferred = parse(both);
  EXPECT_EQ(preferred.world_size, 1);
  EXPECT_EQ(preferred.rank, 0);
}

TEST(DistEnv, BadValuesNameTheVariable) {
  EXPECT_NE(parse_error({{"WSVIS_RANK", "x1"}, {"WSVIS_WORLD_SIZE", "2"}}).find("WSVIS_RANK='x1'"),
            std::string::npos);
  EXPECT_NE(parse_error({{"WSVIS_RANK", "1"}, {"WSVIS_WORLD_SIZE", "2.5"}}).find("WSVIS_WORLD_SIZE"),
            std::string::npos);
  EXPECT_NE(parse_error({{"WSVIS_RANK", "2"}, {"WSVIS_WORLD_SIZE", "2"}}).find("WSVIS_RANK=2 is outside"),
            std::string::npos);
  EXPECT_NE(parse_error({{"WSVIS_RANK", "0"}, {"WSVIS_WORLD_SIZE", "0"}}).find("WSVIS_WORLD_SIZE=0"),
            std::string::npos);
  EXPECT_NE(parse_error({{"WSVIS_RANK", "-1"}, {"WSVIS_WORLD_SIZE", "2"}}).find("WSVIS_RANK"),
            std::string::npos);
  EXPECT_NE(parse_error({{"WSVIS_RANK", "0"}, {"WSVIS_WORLD_SIZE", "99999999999999"}})
                .find("WSVIS_WORLD_SIZE"),
            std::string::npos);
  EXPECT_NE(parse_error({{"WSVIS_RANK", "0"}}).find("WSVIS_WORLD_SIZE is not set"),
            std::string::npos);
  EXPECT_NE(parse_error({{"WSVIS_LOCAL_RANK", "0"}}).find("WSVIS_LOCAL_RANK"), std::string::npos);
  EXPECT_NE(parse_error({{"WSVIS_RANK", "0"}, {"WSVIS_WORLD_SIZE", "2"}, {"WSVIS_LOCAL_RANK", "5"}})
                .find("WSVIS_LOCAL_RANK=5"),
            std::string::npos);
  EXPECT_NE(parse_error({{"OMPI_COMM_WORLD_RANK", "abc"}, {"OMPI_COMM_WORLD_SIZE", "2"}})
                .find("OMPI_COMM_WORLD_RANK"),
            std::string::npos);
}

TEST(Sharding, TwoRanksOfBTakeTheSamplesOfOneRankOf2B) {
  const int64_t B = 5;
  for (int64_t batch = 0; batch < 4; ++batch) {
    const dist::SampleRange whole = dist::shard_batch(batch, 2 * B, 0, 1);
    const dist::SampleRange r0 = dist::shard_batch(batch, 2 * B, 0, 2);
    const dist::SampleRange r1 = dist::shard_batch(batch, 2 * B, 1, 2);
    EXPECT_EQ(whole.begin, batch * 2 * B);
    EXPECT_EQ(whole.count, 2 * B);
    EXPECT_EQ(r0.begin, whole.begin);
    EXPECT_EQ(r0.count, B);
    EXPECT_EQ(r1.begin, whole.begin + B);  // contiguous: rank 1 continues where rank 0 stops
    EXPECT_EQ(r1.count, B);
  }
  const dist::SampleRange r3 = dist::shard_batch(2, 32, 3, 8);
  EXPECT_EQ(r3.begin, 2 * 32 + 3 * 4);
  EXPECT_EQ(r3.count, 4);
  EXPECT_THROW(dist::shard_batch(0, 10, 0, 3), Error);  // 10 samples do not split over 3 ranks
  EXPECT_THROW(dist::shard_batch(0, 8, 2, 2), Error);   // no rank 2 of 2
}

TEST(BucketPlan, ReverseOrderContiguousAndCapped) {
  // Parameters of 100, 50, 300, 10, 10 f32 elements, a 400-byte (100-element) cap.
  const std::vector<int64_t> numels = {100, 50, 300, 10, 10};
  const auto buckets = dist::plan_gradient_buckets(numels, 4, 400);
  // From the end: 10 + 10 + 300 reaches the cap (bucket 0); 50 + 100 (bucket 1).
  ASSERT_EQ(buckets.size(), 2u);
  EXPECT_EQ(buckets[0].first_param, 2u);
  EXPECT_EQ(buckets[0].end_param, 5u);
  EXPECT_EQ(buckets[0].offset, 150);
  EXPECT_EQ(buckets[0].count, 320);
  EXPECT_EQ(buckets[1].first_param, 0u);
  EXPECT_EQ(buckets[1].end_param, 2u);
  EXPECT_EQ(buckets[1].offset, 0);
  EXPECT_EQ(buckets[1].count, 150);
  // A tiny cap: one bucket per parameter, last parameter first.
  const auto single = dist::plan_gradient_buckets(numels, 4, 1);
  ASSERT_EQ(single.size(), numels.size());
  for (size_t b = 0; b < single.size(); ++b) EXPECT_EQ(single[b].first_param, numels.size() - 1 - b);
  // The 25 MB default holds a small model in one bucket; no parameters, no buckets.
  EXPECT_EQ(dist::plan_gradient_buckets(numels, 4, dist::kDefaultBucketBytes).size(), 1u);
  EXPECT_TRUE(dist::plan_gradient_buckets({}, 4, 400).empty());
}

TEST(BucketPlan, BucketsTileTheBufferWithoutGaps) {
  std::mt19937 rng(3);
  std::uniform_int_distribution<int64_t> size(0, 5000);
  std::vector<int64_t> numels(57);
  int64_t total = 0;
  for (auto& n : numels) total += (n = size(rng));
  const auto buckets = dist::plan_gradient_buckets(numels, 4, 16384);
  int64_t end = total;
  size_t end_param = numels.size();
  for (const auto& b : buckets) {
    EXPECT_EQ(b.offset + b.count, end);
    EXPECT_EQ(b.end_param, end_param);
    // Closed as soon as it reached the cap: without its first parameter it was below it.
    EXPECT_LT((b.count - numels[b.first_param]) * 4, 16384);
    end = b.offset;
    end_param = b.first_param;
  }
  EXPECT_EQ(end, 0);
  EXPECT_EQ(end_param, 0u);
}

// The hook buckets launch from: once per backward, after every use of the leaf, with the
// gradient complete; not for a leaf the backward never reached.
TEST(GradReadyHook, FiresOnceWithTheFinalGradient) {
  const ContextPtr cpu = testing::cpu_context();
  Tensor w = Tensor::from_vector(std::vector<float>{2.0f}, {1}, cpu);
  Tensor unused = Tensor::from_vector(std::vector<float>{1.0f}, {1}, cpu);
  w.set_requires_grad(true);
  unused.set_requires_grad(true);
  int calls = 0, unused_calls = 0;
  double seen = 0;
  autograd::set_grad_ready_hook(w, [&] {
    ++calls;
    seen = w.grad().item<double>();
  });
  autograd::set_grad_ready_hook(unused, [&] { ++unused_calls; });
  // y = w*w + 3w, used three times: dy/dw = 2w + 3 = 7.
  Tensor y = ops::add(ops::mul(w, w), ops::mul_scalar(w, 3.0));
  EXPECT_THROW(autograd::set_grad_ready_hook(y, [] {}), Error);  // not a leaf
  ops::sum(y).backward();
  EXPECT_EQ(calls, 1);
  EXPECT_DOUBLE_EQ(seen, 7.0);
  EXPECT_EQ(unused_calls, 0);
  autograd::set_grad_ready_hook(w, nullptr);
  ops::sum(ops::mul(w, w)).backward();
  EXPECT_EQ(calls, 1);  // cleared
}

TEST(Communicator, WorldSizeOneIsANoOp) {
  const ContextPtr cpu = testing::cpu_context();
  dist::Communicator comm(dist::DistEnv{}, cpu);
  EXPECT_FALSE(comm.active());
  EXPECT_TRUE(comm.is_root());
  Tensor t = Tensor::from_vector(std::vector<float>{1, 2, 3}, {3}, cpu);
  comm.all_reduce_sum(t);
  comm.all_reduce_average(t);
  comm.broadcast(t, 0);
  comm.barrier();
  EXPECT_EQ(t.to_vector<float>(), (std::vector<float>{1, 2, 3}));
  Tensor out = Tensor::zeros({3}, DType::f32, cpu);
  comm.all_reduce_sum(t, out);
  EXPECT_EQ(out.to_vector<float>(), (std::vector<float>{1, 2, 3}));
  EXPECT_THROW(comm.broadcast(t, 1), Error);  // no rank 1
  Tensor ints = Tensor::from_vector(std::vector<int32_t>{1}, {1}, cpu);
  EXPECT_THROW(comm.all_reduce_average(ints), Error);  // averages are floating
}

TEST(GradientBucketer, WorldSizeOneLeavesGradientsAlone) {
  const ContextPtr cpu = testing::cpu_context();
  dist::Communicator comm(dist::DistEnv{}, cpu);
  const testing::TrainLog plain = testing::train_data_parallel(cpu, nullptr, 3, 8, 5, 256);
  const testing::TrainLog bucketed = testing::train_data_parallel(cpu, &comm, 3, 8, 5, 256);
  EXPECT_EQ(plain.losses, bucketed.losses);
  EXPECT_EQ(plain.parameters, bucketed.parameters);
  EXPECT_EQ(bucketed.buckets, 3u);
  EXPECT_EQ(bucketed.launched_during_backward, 0u);  // inactive: no hooks
}

TEST(GradientBucketer, RejectsParametersOutsideTheFlatBuffer) {
  const ContextPtr cpu = testing::cpu_context();
  dist::Communicator comm(dist::DistEnv{}, cpu);
  Generator gen(1);
  testing::GroupNormNet net(gen, cpu);
  net.pack_parameters();
  std::vector<Tensor> params = net.parameters();
  std::swap(params[0], params[1]);  // not in pack order
  EXPECT_THROW(dist::GradientBucketer(net.flat_gradients(), params, comm), Error);
  params = net.parameters();
  params.pop_back();  // does not cover the buffer
  EXPECT_THROW(dist::GradientBucketer(net.flat_gradients(), params, comm), Error);
}

// The NCCL path at world size 1 (collectives forced): results equal the inputs, and training
// through the bucketer (launches from hooks on the communication stream, joined by events)
// equals plain training on the same GPU. Not bit for bit: cuDNN may pick backward-filter
// algorithms that accumulate with atomics, so two identical runs differ by float rounding
// (~1e-7 relative per step; 1e-5 after 5 steps leaves a wide margin). At one rank NCCL moves
// no data, so this checks that the path runs and changes nothing, not the stream ordering
// (that needs two GPUs).
TEST(CommunicatorCuda, NcclAtWorldSizeOneMatchesPlainTraining) {
  WSVIS_REQUIRE_CUDA();
#if WSVIS_WITH_CUDA
  const ContextPtr gpu = Context::create(Device::cuda(0));
  dist::CommunicatorOptions forced;
  forced.collectives_at_world_size_one = true;
  dist::Communicator comm(dist::DistEnv{}, gpu, forced);
  ASSERT_TRUE(comm.active());
  Generator gen(4);
  const Tensor host = Tensor::uniform({1 << 20}, -1, 1, gen, testing::cpu_context());
  Tensor t = host.to(gpu);
  comm.all_reduce_sum(t);
  comm.all_reduce_average(t);
  comm.broadcast(t, 0);
  EXPECT_EQ(t.to_vector<float>(), host.to_vector<float>());
  Tensor out = Tensor::zeros(host.shape(), DType::f32, gpu);
  comm.all_reduce_sum(t, out);
  EXPECT_EQ(out.to_vector<float>(), host.to_vector<float>());
  comm.barrier();

  const testing::TrainLog plain = testing::train_data_parallel(gpu, nullptr, 5, 16, 5, 256);
  const testing::TrainLog bucketed = testing::train_data_parallel(gpu, &comm, 5, 16, 5, 256);
  EXPECT_TRUE(testing::all_close(bucketed.losses, plain.losses, 1e-5, 1e-5));
  EXPECT_TRUE(testing::all_close(bucketed.parameters, plain.parameters, 1e-5, 1e-5));
  EXPECT_EQ(bucketed.buckets, 3u);
  EXPECT_EQ(bucketed.launched_during_backward, 3u);
#endif
}

}  // namespace
}  // namespace wsvis
