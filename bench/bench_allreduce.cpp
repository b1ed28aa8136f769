// All-reduce bandwidth of dist::Communicator (engine/distributed.h), reported with nccl-tests'
// definitions: algbw = message bytes / time, and busbw = algbw * 2(n-1)/n, the per-link rate a
// ring all-reduce over n ranks needs (each rank sends and receives 2(n-1)/n of the message), so
// busbw compares with a link's bandwidth whatever n is. Sizes: 1 MB .. 256 MB of f32, out of
// place (output = sum of the inputs of all ranks).
//
// GPU: NCCL on the context's stream pair at whatever world size the environment gives; on the
// one lent GPU that is world size 1, where NCCL only copies input to output on the device (busbw
// is 0 by definition, and algbw shows NCCL's per-call cost and copy rate, not a link). The
// harness places every rank on cuda:0, so several GPU ranks are refused.
// CPU: MPI, and only with several ranks (at one rank MPI copies memory and measures nothing):
//   scripts/launch.sh 2 build/bench/wsvis_bench --cpu --filter allreduce
// Every rank validates the sums (exact: small integers in f32); rank 0 prints.
#include <cstdio>
#include <string>
#include <vector>

#include "bench/harness.h"
#include "engine/distributed.h"

namespace wsvis::bench {
namespace {

// input[i] = (rank + 1) * (i % 7): every partial sum is a small integer, exact in f32.
Tensor rank_input(int64_t n, int rank, const ContextPtr& cpu) {
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = static_cast<float>((rank + 1) * (i % 7));
  return Tensor::from_vector(v, {n}, cpu);
}

void run_allreduce(Runner& r) {
  const dist::DistEnv env = dist::dist_env_from_process();
  if (!r.gpu() && env.world_size == 1) {
    std::printf("  allreduce: skipped on the CPU at world size 1 (MPI would only copy memory); "
                "run `scripts/launch.sh 2 %s --cpu --filter allreduce`\n", "build/bench/wsvis_bench");
    return;
  }
  WSVIS_CHECK(!r.gpu() || env.world_size == 1, "allreduce: ", env.world_size,
              " GPU ranks would all use cuda:0 (the harness picks the device): run it at world "
              "size 1, or with --cpu under mpirun");
  dist::CommunicatorOptions options;
  options.collectives_at_world_size_one = true;
  dist::Communicator comm(env, r.ctx(), options);
  const int n = comm.world_size();
  const double bus_factor = 2.0 * (n - 1) / n;
  // GPU: every power of two (cheap); CPU: powers of four (a 256 MB MPI all-reduce takes ~0.1 s).
  const int64_t step = r.gpu() ? 2 : 4;
  for (int64_t mb = 1; mb <= 256; mb *= step) {
    const int64_t count = mb * (int64_t(1) << 20) / 4;
    const Tensor input = rank_input(count, comm.rank(), r.cpu_ctx()).to(r.ctx());
    Tensor output = Tensor::zeros({count}, DType::f32, r.ctx());
    comm.all_reduce_sum(input, output);
    // The sum over ranks of (rank + 1) * (i % 7) is n(n+1)/2 * (i % 7).
    const Tensor expected = rank_input(count, n * (n + 1) / 2 - 1, r.cpu_ctx());
    const Tensor result = output.to(r.cpu_ctx());
    if (comm.is_root()) {
      if (!r.validate("allreduce " + std::to_string(mb) + " MB", result, expected, 0.0)) return;
    } else {
      WSVIS_CHECK(result.to_vector<float>() == expected.to_vector<float>(), "allreduce: rank ",
                  comm.rank(), " got wrong sums at ", mb, " MB");
    }
    comm.barrier();
    const Measurement m = r.time([&] { comm.all_reduce_sum(input, output); }, 3, r.gpu() ? 20 : 5);
    if (!comm.is_root()) continue;
    const std::string size = std::to_string(mb) + "MB";
    const std::string shape = "f32 (" + std::to_string(count) + "), world " + std::to_string(n) +
                              (r.gpu() ? ", NCCL" : ", MPI") + ", out of place";
    const double bytes = static_cast<double>(count) * 4;
    r.report({"allreduce_algbw/" + size, shape, "fp32", m, 0.0, bytes});
    if (n > 1)
      r.report({"allreduce_busbw/" + size, shape, "fp32", m, 0.0, bytes * bus_factor});
    else
      std::printf("%-34s 0 GB/s: busbw = algbw * 2(n-1)/n is 0 at world size 1 (no link used)\n",
                  ("allreduce_busbw/" + size).c_str());
  }
}

const Registrar kAllreduce("allreduce/sum_f32", run_allreduce);

}  // namespace
}  // namespace wsvis::bench
