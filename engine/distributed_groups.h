// Internal to engine/distributed*.cpp: the two process groups behind dist::Communicator, over
// raw buffers. MpiGroup lives in distributed_mpi.cpp, NcclGroup in distributed_nccl.cpp; in a
// build without MPI (NCCL) the constructor throws an Error saying so, and nothing else is called.
#pragma once

#include <cstddef>
#include <cstdint>

#include "engine/distributed.h"

#if WSVIS_WITH_MPI
#include <mpi.h>
#endif
#if WSVIS_WITH_NCCL
#include <cuda_runtime.h>
#include <nccl.h>
#endif

namespace wsvis::dist::detail {

// MPI over a private duplicate of MPI_COMM_WORLD (errors returned, not fatal). Initialises MPI
// when nobody has, and then finalises it on destruction: MPI allows one initialisation per
// process, so a second group after that fails with a message saying so.
class MpiGroup {
 public:
  explicit MpiGroup(const DistEnv& env);
  ~MpiGroup();
  MpiGroup(const MpiGroup&) = delete;
  MpiGroup& operator=(const MpiGroup&) = delete;

  // recv[i] = sum over ranks of send[i]; send == recv is in place. Host memory.
  void all_reduce_sum(const void* send, void* recv, int64_t count, DType dtype);
  void broadcast(void* data, size_t bytes, int root);
  void barrier();

 private:
  void release();  // frees the communicator, finalises MPI if this group initialised it

  bool initialised_here_ = false;
#if WSVIS_WITH_MPI
  MPI_Comm comm_ = MPI_COMM_NULL;
#endif
};

// NCCL on one GPU with its own (high-priority) communication stream. Every operation first
// makes the communication stream wait for the work queued so far on the context's compute
// stream (an event), so it reads finished values; join() makes the compute stream wait for
// the communication stream, so later kernels read the results.
class NcclGroup {
 public:
  // `mpi` (may be null) carries the NCCL id from rank 0; without it the id goes through a file
  // in env.rendezvous_dir.
  NcclGroup(const DistEnv& env, const ContextPtr& ctx, MpiGroup* mpi);
  ~NcclGroup();
  NcclGroup(const NcclGroup&) = delete;
  NcclGroup& operator=(const NcclGroup&) = delete;

  // Queued on the communication stream; send == recv is in place. average: NCCL's ncclAvg.
  void all_reduce(const void* send, void* recv, int64_t count, DType dtype, bool average);
  void broadcast(void* data, int64_t count, DType dtype, int root);
  void join();

 private:
  void wait_for_compute();
  void release();  // destroys whatever exists, printing (not throwing) errors

  ContextPtr ctx_;
#if WSVIS_WITH_NCCL
  ncclComm_t comm_ = nullptr;
  cudaStream_t stream_ = nullptr;
  cudaEvent_t compute_done_ = nullptr;
  cudaEvent_t comm_done_ = nullptr;
#endif
};

}  // namespace wsvis::dist::detail
