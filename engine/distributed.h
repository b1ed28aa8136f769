// Multi-process data parallelism: one process (rank) per GPU, or several CPU ranks under
// mpirun. Three parts:
//
//   DistEnv        who this process is (rank, world size, local rank, rendezvous folder), read
//                  from WSVIS_* variables or from Open MPI's mpirun variables.
//   shard_batch    which samples of a global batch this rank takes: a contiguous slice, so
//                  W ranks x B samples see exactly the samples 1 rank x W*B sees.
//   Communicator   an explicit object (no globals) holding the process group: all_reduce_sum /
//                  all_reduce_average, broadcast and barrier on tensors. CPU tensors go through
//                  MPI (MPI_Allreduce in place), CUDA tensors through NCCL on a dedicated
//                  communication stream ordered against the context's compute stream with
//                  events. At world size 1 every collective returns at once (unless
//                  CommunicatorOptions::collectives_at_world_size_one asks for the real path,
//                  as the bandwidth benchmark and the NCCL parity test do).
//
// Gradient bucketing on top of the Communicator is in engine/gradient_bucketer.h.
//
//   const dist::DistEnv env = dist::dist_env_from_process();
//   ContextPtr ctx = Context::create(Device::cuda(env.local_rank));   // or Device::cpu()
//   dist::Communicator comm(env, ctx);  // once in main, kept for the run (MPI is finalised
//                                        // when it is destroyed)
//   Tensor flat = model.flat_parameters();  // a handle: broadcasting writes the model's buffer
//   comm.broadcast(flat);                    // every rank starts from rank 0's parameters
//
// All collectives are collective: every rank calls them in the same order with the same sizes.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "engine/tensor.h"

namespace wsvis::dist {

struct DistEnv {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;          // index of this rank among those on its machine: its GPU
  std::string rendezvous_dir;  // shared folder for the NCCL id when MPI does not carry it
  bool launched_by_mpirun = false;  // Open MPI's variables were present
};

// Reads the environment through `lookup` (null for unset), in this order:
//   WSVIS_RANK + WSVIS_WORLD_SIZE (+ WSVIS_LOCAL_RANK, default the rank; WSVIS_RENDEZVOUS_DIR),
//   else OMPI_COMM_WORLD_RANK + OMPI_COMM_WORLD_SIZE (+ OMPI_COMM_WORLD_LOCAL_RANK),
//   else one rank. A value that is not a whole number in range, a rank without a world size
//   (or the reverse), or WSVIS_LOCAL_RANK alone throws InputError naming the variable.
using EnvLookup = std::function<const char*(const char* name)>;
DistEnv parse_dist_env(const EnvLookup& lookup);
DistEnv dist_env_from_process();  // parse_dist_env over std::getenv

// Samples [begin, begin + count) of the epoch's sample order.
struct SampleRange {
  int64_t begin = 0;
  int64_t count = 0;
};

// Global batch `batch_index` holds samples [b*G, (b+1)*G) of the epoch order (G =
// global_batch_size); rank r takes the r-th contiguous slice of G/W. G must be divisible by
// the world size: every rank then averages gradients over the same number of samples, so the
// all-reduced average equals the gradient of the mean loss over all G (an uneven split would
// weight some samples more).
SampleRange shard_batch(int64_t batch_index, int64_t global_batch_size, int rank,
                        int world_size);

struct CommunicatorOptions {
  // Run the real MPI/NCCL path even when the world has one rank (benchmarks, parity tests).
  bool collectives_at_world_size_one = false;
};

namespace detail {
class MpiGroup;
class NcclGroup;
}  // namespace detail

class Communicator {
 public:
  // Joins the process group of `env` for tensors on `ctx`. CPU: MPI (needs mpirun when the world
  // has more than one rank, and a build with MPI). CUDA: NCCL on ctx's device; the NCCL id goes
  // from rank 0 to the others by MPI_Bcast when launched by mpirun, else through a file in
  // env.rendezvous_dir. Throws an Error naming what is missing.
  Communicator(const DistEnv& env, ContextPtr ctx, CommunicatorOptions options = {});
  ~Communicator();
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  int rank() const { return env_.rank; }
  int world_size() const { return env_.world_size; }
  int local_rank() const { return env_.local_rank; }
  bool is_root() const { return env_.rank == 0; }
  const ContextPtr& context() const { return ctx_; }
  // False at world size 1 without collectives_at_world_size_one: collectives return at once.
  bool active() const { return active_; }

  // In place, over every rank. Tensors live on context(). CUDA: queued on the communication
  // stream after the work already queued on the compute stream; work queued on the compute
  // stream afterwards sees the result (no host synchronisation).
  void all_reduce_sum(Tensor& t);
  void all_reduce_average(Tensor& t);  // sum / world size; floating tensors only
  // Out of place: output = sum over ranks of input (same shape and dtype).
  void all_reduce_sum(const Tensor& input, Tensor& output);
  // Every rank gets root's values.
  void broadcast(Tensor& t, int root = 0);
  // Returns when every rank has reached it (and, on CUDA, all queued work has finished).
  void barrier();

  // For gradient bucketing: an in-place all-reduce (average when `average`) of `count` elements
  // at `data` on context(). CPU: runs now. CUDA: queued on the communication stream after the
  // compute stream's queued work, and returns at once; join_async() makes the compute stream
  // wait for everything queued so far.
  void all_reduce_async(void* data, int64_t count, DType dtype, bool average);
  void join_async();

 private:
  void check_tensor(const Tensor& t, const char* what) const;

  DistEnv env_;
  ContextPtr ctx_;
  bool active_ = false;
  std::unique_ptr<detail::MpiGroup> mpi_;    // CPU collectives, and the NCCL id under mpirun
  std::unique_ptr<detail::NcclGroup> nccl_;  // CUDA collectives (destroyed first)
};

}  // namespace wsvis::dist
