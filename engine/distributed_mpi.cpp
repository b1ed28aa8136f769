// MpiGroup: CPU collectives over MPI (Open MPI from Debian), on a private duplicate of
// MPI_COMM_WORLD so that nothing else in the process can interleave messages with ours.
#include <algorithm>
#include <climits>

#include "engine/comm_check.h"
#include "engine/distributed_groups.h"

namespace wsvis::dist::detail {

#if WSVIS_WITH_MPI

namespace {

MPI_Datatype mpi_type(DType dtype) {
  switch (dtype) {
    case DType::f32: return MPI_FLOAT;
    case DType::f64: return MPI_DOUBLE;
    case DType::i32: return MPI_INT32_T;
    case DType::i64: return MPI_INT64_T;
    case DType::u8: return MPI_UINT8_T;
  }
  WSVIS_FAIL("MPI: unknown dtype");
}

// MPI counts are ints: larger buffers go in chunks of at most INT_MAX elements.
constexpr int64_t kMaxChunk = INT_MAX;

}  // namespace

MpiGroup::MpiGroup(const DistEnv& env) {
  int finalised = 0, initialised = 0;
  MPI_CHECK(MPI_Finalized(&finalised));
  WSVIS_CHECK(!finalised, "MPI was already finalised by an earlier Communicator in this process: "
                          "create one Communicator in main and keep it for the whole run");
  MPI_CHECK(MPI_Initialized(&initialised));
  if (!initialised) {
    // Only the thread that created the Communicator calls MPI.
    int provided = 0;
    MPI_CHECK(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided));
    initialised_here_ = true;
  }
  MPI_CHECK(MPI_Comm_dup(MPI_COMM_WORLD, &comm_));
  MPI_CHECK(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN));
  int size = 0, rank = 0;
  MPI_CHECK(MPI_Comm_size(comm_, &size));
  MPI_CHECK(MPI_Comm_rank(comm_, &rank));
  if (size != env.world_size || rank != env.rank) {
    // Typically WSVIS_WORLD_SIZE > 1 set by hand (or launch.sh without mpirun) for CPU ranks.
    const std::string message = wsvis::detail::concat(
        "MPI sees rank ", rank, " of ", size, " processes but the environment says rank ",
        env.rank, " of ", env.world_size,
        ": CPU collectives need the ranks started by mpirun (scripts/launch.sh does when it "
        "is installed)");
    release();  // no destructor runs after a throwing constructor
    WSVIS_FAIL(message);
  }
}

MpiGroup::~MpiGroup() { release(); }

void MpiGroup::release() {
  if (comm_ != MPI_COMM_NULL) MPI_CHECK_PRINT(MPI_Comm_free(&comm_));
  comm_ = MPI_COMM_NULL;
  if (initialised_here_) MPI_CHECK_PRINT(MPI_Finalize());
  initialised_here_ = false;
}

void MpiGroup::all_reduce_sum(const void* send, void* recv, int64_t count, DType dtype) {
  const size_t element = dtype_size(dtype);
  for (int64_t start = 0; start < count; start += kMaxChunk) {
    const int n = static_cast<int>(std::min(kMaxChunk, count - start));
    char* out = static_cast<char*>(recv) + start * element;
    const void* in = send == recv ? MPI_IN_PLACE
                                  : static_cast<const char*>(send) + start * element;
    MPI_CHECK(MPI_Allreduce(in, out, n, mpi_type(dtype), MPI_SUM, comm_));
  }
}

void MpiGroup::broadcast(void* data, size_t bytes, int root) {
  for (size_t start = 0; start < bytes; start += static_cast<size_t>(kMaxChunk)) {
    const int n = static_cast<int>(std::min(static_cast<size_t>(kMaxChunk), bytes - start));
    MPI_CHECK(MPI_Bcast(static_cast<char*>(data) + start, n, MPI_BYTE, root, comm_));
  }
}

void MpiGroup::barrier() { MPI_CHECK(MPI_Barrier(comm_)); }

#else  // !WSVIS_WITH_MPI

MpiGroup::MpiGroup(const DistEnv& env) {
  WSVIS_FAIL("rank ", env.rank, " of ", env.world_size,
             ": CPU collectives need MPI, and wsvis was built without it (install Open MPI: "
             "scripts/setup.sh, then reconfigure)");
}
MpiGroup::~MpiGroup() = default;
void MpiGroup::release() {}
void MpiGroup::all_reduce_sum(const void*, void*, int64_t, DType) {}
void MpiGroup::broadcast(void*, size_t, int) {}
void MpiGroup::barrier() {}

#endif

}  // namespace wsvis::dist::detail
