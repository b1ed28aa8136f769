// NcclGroup: CUDA collectives over NCCL on a communication stream of their own.
//
// Rendezvous. NCCL needs one ncclUniqueId, made by rank 0, on every rank before
// ncclCommInitRank. Under mpirun it goes by MPI_Bcast. Otherwise rank 0 writes it to
// <rendezvous_dir>/nccl_unique_id (temporary file + rename, so no rank reads half of it), the
// others poll for the file, and rank 0 deletes it once ncclCommInitRank has returned (which it
// does only after every rank joined, so all have read it). A file already there when rank 0
// starts is left over from a crashed run: that is an error, as the others may have read it.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "engine/comm_check.h"
#include "engine/cuda_check.h"
#include "engine/distributed_groups.h"

namespace wsvis::dist::detail {

#if WSVIS_WITH_NCCL

namespace {

// How long ranks wait for rank 0's id file: rank 0 may still be loading data or building a model.
constexpr auto kRendezvousTimeout = std::chrono::seconds(300);
constexpr auto kRendezvousPoll = std::chrono::milliseconds(20);

ncclDataType_t nccl_type(DType dtype) {
  switch (dtype) {
    case DType::f32: return ncclFloat32;
    case DType::f64: return ncclFloat64;
    case DType::i32: return ncclInt32;
    case DType::i64: return ncclInt64;
    case DType::u8: return ncclUint8;
  }
  WSVIS_FAIL("NCCL: unknown dtype");
}

std::string id_path(const DistEnv& env) { return env.rendezvous_dir + "/nccl_unique_id"; }

void publish_id(const DistEnv& env, const ncclUniqueId& id) {
  const std::string path = id_path(env);
  if (std::filesystem::exists(path))
    throw InputError(wsvis::detail::concat(path, ": left over from an earlier run (other ranks may "
                                          "have read it): use a fresh WSVIS_RENDEZVOUS_DIR"));
  const std::string tmp = path + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) throw InputError(wsvis::detail::concat(tmp, ": cannot create the NCCL rendezvous file"));
  const bool written = std::fwrite(&id, sizeof(id), 1, f) == 1;
  const bool closed = std::fclose(f) == 0;
  if (!written || !closed || std::rename(tmp.c_str(), path.c_str()) != 0)
    throw InputError(wsvis::detail::concat(path, ": cannot write the NCCL rendezvous file"));
}

ncclUniqueId await_id(const DistEnv& env) {
  const std::string path = id_path(env);
  const auto deadline = std::chrono::steady_clock::now() + kRendezvousTimeout;
  ncclUniqueId id{};
  for (;;) {
    if (FILE* f = std::fopen(path.c_str(), "rb")) {
      const bool complete = std::fread(&id, sizeof(id), 1, f) == 1;
      std::fclose(f);
      if (!complete)
        throw InputError(wsvis::detail::concat(path, ": shorter than an NCCL id (", sizeof(id),
                                        " bytes): not written by rank 0 of this run"));
      return id;
    }
    if (std::chrono::steady_clock::now() > deadline)
      WSVIS_FAIL("rank ", env.rank, ": rank 0 did not publish ", path, " within ",
                 kRendezvousTimeout.count(), " s (is WSVIS_RENDEZVOUS_DIR the same folder on "
                 "every rank?)");
    std::this_thread::sleep_for(kRendezvousPoll);
  }
}

}  // namespace

NcclGroup::NcclGroup(const DistEnv& env, const ContextPtr& ctx, MpiGroup* mpi) : ctx_(ctx) {
  WSVIS_CHECK(ctx_->is_cuda(), "NCCL needs a CUDA context, got ", ctx_->device().str());
  const bool via_file = env.world_size > 1 && mpi == nullptr;
  WSVIS_CHECK(!via_file || !env.rendezvous_dir.empty(), "rank ", env.rank, " of ",
              env.world_size, ": WSVIS_RENDEZVOUS_DIR is not set and the ranks were not started "
              "by mpirun: NCCL needs one of them to pass its id (scripts/launch.sh sets both)");
  DeviceGuard guard(*ctx_);
  ncclUniqueId id{};
  if (env.rank == 0) NCCL_CHECK(ncclGetUniqueId(&id));
  if (mpi) {
    mpi->broadcast(&id, sizeof(id), 0);
  } else if (via_file) {
    if (env.rank == 0)
      publish_id(env, id);
    else
      id = await_id(env);
  }
  NCCL_CHECK(ncclCommInitRank(&comm_, env.world_size, id, env.rank));
  if (via_file && env.rank == 0) std::remove(id_path(env).c_str());
  try {
    // The highest priority, so that all-reduce kernels start as soon as their bucket is ready
    // instead of queueing behind backward kernels (DDP's choice for its NCCL stream).
    int least = 0, greatest = 0;
    CUDA_CHECK(cudaDeviceGetStreamPriorityRange(&least, &greatest));
    CUDA_CHECK(cudaStreamCreateWithPriority(&stream_, cudaStreamNonBlocking, greatest));
    CUDA_CHECK(cudaEventCreateWithFlags(&compute_done_, cudaEventDisableTiming));
    CUDA_CHECK(cudaEventCreateWithFlags(&comm_done_, cudaEventDisableTiming));
  } catch (...) {
    release();  // no destructor runs after a throwing constructor
    throw;
  }
}

NcclGroup::~NcclGroup() { release(); }

void NcclGroup::release() {
  DeviceGuard guard(*ctx_);
  if (stream_) CUDA_CHECK_PRINT(cudaStreamSynchronize(stream_));
  if (comm_) {
    NCCL_CHECK_PRINT(ncclCommFinalize(comm_));
    NCCL_CHECK_PRINT(ncclCommDestroy(comm_));
  }
  if (comm_done_) CUDA_CHECK_PRINT(cudaEventDestroy(comm_done_));
  if (compute_done_) CUDA_CHECK_PRINT(cudaEventDestroy(compute_done_));
  if (stream_) CUDA_CHECK_PRINT(cudaStreamDestroy(stream_));
  comm_ = nullptr;
  stream_ = nullptr;
  compute_done_ = comm_done_ = nullptr;
}

void NcclGroup::wait_for_compute() {
  CUDA_CHECK(cudaEventRecord(compute_done_, ctx_->stream()));
  CUDA_CHECK(cudaStreamWaitEvent(stream_, compute_done_, 0));
}

void NcclGroup::all_reduce(const void* send, void* recv, int64_t count, DType dtype,
                           bool average) {
  DeviceGuard guard(*ctx_);
  wait_for_compute();
  NCCL_CHECK(ncclAllReduce(send, recv, static_cast<size_t>(count), nccl_type(dtype),
                           average ? ncclAvg : ncclSum, comm_, stream_));
}

void NcclGroup::broadcast(void* data, int64_t count, DType dtype, int root) {
  DeviceGuard guard(*ctx_);
  wait_for_compute();
  NCCL_CHECK(ncclBroadcast(data, data, static_cast<size_t>(count), nccl_type(dtype), root, comm_,
                           stream_));
}

void NcclGroup::join() {
  DeviceGuard guard(*ctx_);
  CUDA_CHECK(cudaEventRecord(comm_done_, stream_));
  CUDA_CHECK(cudaStreamWaitEvent(ctx_->stream(), comm_done_, 0));
  // A peer that died or a network fault shows up here instead of as a hang later.
  ncclResult_t async_error = ncclSuccess;
  NCCL_CHECK(ncclCommGetAsyncError(comm_, &async_error));
  NCCL_CHECK(async_error);
}

#else  // !WSVIS_WITH_NCCL

NcclGroup::NcclGroup(const DistEnv& env, const ContextPtr& ctx, MpiGroup*) : ctx_(ctx) {
  WSVIS_FAIL("rank ", env.rank, " of ", env.world_size, ": collectives on ",
             ctx->device().str(), " need NCCL, and wsvis was built without it (set NCCL_ROOT "
             "and reconfigure)");
}
NcclGroup::~NcclGroup() = default;
void NcclGroup::release() {}
void NcclGroup::all_reduce(const void*, void*, int64_t, DType, bool) {}
void NcclGroup::broadcast(void*, int64_t, DType, int) {}
void NcclGroup::join() {}

#endif

}  // namespace wsvis::dist::detail
