#include "engine/distributed.h"

#include <cerrno>
#include <climits>
#include <cstdlib>

#include "engine/distributed_groups.h"
#include "engine/error.h"
#include "kernels/elementwise.h"

namespace wsvis::dist {

namespace {

// A whole number in [lo, hi] from variable `name`, else InputError naming it.
int parse_int_var(const char* name, const char* text, long lo, long hi) {
  errno = 0;
  char* end = nullptr;
  const long value = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || errno == ERANGE)
    throw InputError(wsvis::detail::concat("environment variable ", name, "='", text,
                                    "' is not a whole number"));
  if (value < lo || value > hi)
    throw InputError(wsvis::detail::concat("environment variable ", name, "=", value, " is outside [", lo,
                                    ", ", hi, "]"));
  return static_cast<int>(value);
}

// Reads one launcher's triple of variables into env; false when neither rank nor size is set.
bool read_triple(const EnvLookup& lookup, const char* rank_var, const char* size_var,
                 const char* local_var, DistEnv& env) {
  const char* rank = lookup(rank_var);
  const char* size = lookup(size_var);
  if (!rank && !size) return false;
  if (!rank || !size)
    throw InputError(wsvis::detail::concat("environment variable ", rank ? size_var : rank_var,
                                    " is not set but ", rank ? rank_var : size_var,
                                    " is: set both (or neither)"));
  env.world_size = parse_int_var(size_var, size, 1, INT_MAX);
  env.rank = parse_int_var(rank_var, rank, 0, env.world_size - 1);
  const char* local = lookup(local_var);
  env.local_rank = local ? parse_int_var(local_var, local, 0, env.world_size - 1) : env.rank;
  return true;
}

}  // namespace

DistEnv parse_dist_env(const EnvLookup& lookup) {
  DistEnv env;
  env.launched_by_mpirun = lookup("OMPI_COMM_WORLD_SIZE") != nullptr;
  if (const char* dir = lookup("WSVIS_RENDEZVOUS_DIR")) env.rendezvous_dir = dir;
  if (read_triple(lookup, "WSVIS_RANK", "WSVIS_WORLD_SIZE", "WSVIS_LOCAL_RANK", env)) return env;
  if (lookup("WSVIS_LOCAL_RANK"))
    throw InputError("environment variable WSVIS_LOCAL_RANK is set without WSVIS_RANK and "
                     "WSVIS_WORLD_SIZE");
  read_triple(lookup, "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE",
              "OMPI_COMM_WORLD_LOCAL_RANK", env);
  return env;
}

DistEnv dist_env_from_process() {
  return parse_dist_env([](const char* name) -> const char* { return std::getenv(name); });
}

SampleRange shard_batch(int64_t batch_index, int64_t global_batch_size, int rank,
                        int world_size) {
  WSVIS_CHECK(world_size >= 1 && rank >= 0 && rank < world_size, "shard_batch: rank ", rank,
              " of world size ", world_size);
  WSVIS_CHECK(batch_index >= 0 && global_batch_size >= 1, "shard_batch: batch ", batch_index,
              " of global size ", global_batch_size);
  WSVIS_CHECK(global_batch_size % world_size == 0, "shard_batch: global batch ",
              global_batch_size, " is not divisible by world size ", world_size,
              " (ranks must average over equal shares)");
  const int64_t per_rank = global_batch_size / world_size;
  return {batch_index * global_batch_size + rank * per_rank, per_rank};
}

// ---- Communicator ----------------------------------------------------------------------------

Communicator::Communicator(const DistEnv& env, ContextPtr ctx, CommunicatorOptions options)
    : env_(env), ctx_(std::move(ctx)) {
  WSVIS_CHECK(ctx_ != nullptr, "Communicator: null context");
  WSVIS_CHECK(env_.world_size >= 1 && env_.rank >= 0 && env_.rank < env_.world_size,
              "Communicator: rank ", env_.rank, " of world size ", env_.world_size);
  active_ = env_.world_size > 1 || options.collectives_at_world_size_one;
  if (!active_) return;
  if (ctx_->is_cuda()) {
    // Under mpirun MPI is there anyway: let it carry the NCCL id (no shared folder needed).
    if (env_.launched_by_mpirun && WSVIS_WITH_MPI) mpi_ = std::make_unique<detail::MpiGroup>(env_);
    nccl_ = std::make_unique<detail::NcclGroup>(env_, ctx_, mpi_.get());
  } else {
    mpi_ = std::make_unique<detail::MpiGroup>(env_);
  }
}

Communicator::~Communicator() = default;

void Communicator::check_tensor(const Tensor& t, const char* what) const {
  WSVIS_CHECK(t.defined() && t.context_ptr() == ctx_, "Communicator::", what, ": tensor ",
              t.defined() ? t.describe() : std::string("(undefined)"),
              " is not on the communicator's context ", ctx_->device().str());
}

void Communicator::all_reduce_async(void* data, int64_t count, DType dtype, bool average) {
  WSVIS_CHECK(!average || is_floating(dtype), "Communicator: average of ", dtype_name(dtype),
              " values (floating dtypes only)");
  if (!active_ || count == 0) return;
  if (nccl_) {
    nccl_->all_reduce(data, data, count, dtype, average);
    return;
  }
  mpi_->all_reduce_sum(data, data, count, dtype);
  if (!average) return;
  // MPI has no average: sum, then scale on the host (1/W is exact for powers of two).
  WSVIS_DISPATCH_FLOATING(dtype, "all_reduce_average", [&] {
    scalar_t* values = static_cast<scalar_t*>(data);
    kernels::cpu::unary<scalar_t>(kernels::UnaryOp::mul_scalar, values, values, count,
                                  scalar_t(1.0 / env_.world_size), scalar_t(0));
  });
}

void Communicator::join_async() {
  if (nccl_) nccl_->join();
}

void Communicator::all_reduce_sum(Tensor& t) {
  check_tensor(t, "all_reduce_sum");
  all_reduce_async(t.raw_data(), t.numel(), t.dtype(), false);
  join_async();
}

void Communicator::all_reduce_average(Tensor& t) {
  check_tensor(t, "all_reduce_average");
  all_reduce_async(t.raw_data(), t.numel(), t.dtype(), true);
  join_async();
}

void Communicator::all_reduce_sum(const Tensor& input, Tensor& output) {
  check_tensor(input, "all_reduce_sum");
  check_tensor(output, "all_reduce_sum");
  WSVIS_CHECK(input.shape() == output.shape() && input.dtype() == output.dtype(),
              "Communicator::all_reduce_sum: output ", output.describe(), " does not match input ",
              input.describe());
  if (!active_) {
    if (output.raw_data() != input.raw_data()) output.copy_from(input);
    return;
  }
  if (nccl_) {
    nccl_->all_reduce(input.raw_data(), output.raw_data(), input.numel(), input.dtype(), false);
    nccl_->join();
  } else {
    mpi_->all_reduce_sum(input.raw_data(), output.raw_data(), input.numel(), input.dtype());
  }
}

void Communicator::broadcast(Tensor& t, int root) {
  check_tensor(t, "broadcast");
  WSVIS_CHECK(root >= 0 && root < env_.world_size, "Communicator::broadcast: root ", root,
              " of world size ", env_.world_size);
  if (!active_) return;
  if (nccl_) {
    nccl_->broadcast(t.raw_data(), t.numel(), t.dtype(), root);
    nccl_->join();
  } else {
    mpi_->broadcast(t.raw_data(), t.nbytes(), root);
  }
}

void Communicator::barrier() {
  ctx_->synchronize();
  if (!active_) return;
  if (mpi_) {
    mpi_->barrier();
    return;
  }
  // NCCL alone has no barrier: a one-element all-reduce that every rank must join, waited on.
  Tensor token = Tensor::zeros({1}, DType::i32, ctx_);
  all_reduce_sum(token);
  ctx_->synchronize();
}

}  // namespace wsvis::dist
