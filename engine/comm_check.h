// Checking macros for NCCL and MPI calls, in the style of engine/cuda_check.h: each records the
// statement text and throws wsvis::Error; the _PRINT variants are for destructors (report, never
// throw). MPI calls only return errors on communicators whose error handler is MPI_ERRORS_RETURN
// (engine/distributed_mpi.cpp sets it on its own communicator).
#pragma once

#include <cstdio>

#include "engine/error.h"

#if WSVIS_WITH_NCCL
#include <nccl.h>

#define NCCL_CHECK(stmt)                                                                   \
  do {                                                                                     \
    ncclResult_t wsvis_nccl_ = (stmt);                                                     \
    if (wsvis_nccl_ != ncclSuccess)                                                        \
      WSVIS_FAIL("NCCL error ", ncclGetErrorString(wsvis_nccl_), " (", ncclGetLastError(nullptr), \
                 ") in `", #stmt, "`");                                                    \
  } while (0)

#define NCCL_CHECK_PRINT(stmt)                                                             \
  do {                                                                                     \
    ncclResult_t wsvis_nccl_ = (stmt);                                                     \
    if (wsvis_nccl_ != ncclSuccess)                                                        \
      std::fprintf(stderr, "%s:%d: NCCL error %s in `%s` (ignored in destructor)\n",       \
                   __FILE__, __LINE__, ncclGetErrorString(wsvis_nccl_), #stmt);            \
  } while (0)
#endif  // WSVIS_WITH_NCCL

#if WSVIS_WITH_MPI
#include <mpi.h>

#include <string>

namespace wsvis::detail {
inline std::string mpi_error_string(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) return "unknown MPI error";
  return std::string(text, static_cast<size_t>(length));
}
}  // namespace wsvis::detail

#define MPI_CHECK(stmt)                                                                    \
  do {                                                                                     \
    int wsvis_mpi_ = (stmt);                                                               \
    if (wsvis_mpi_ != MPI_SUCCESS)                                                         \
      WSVIS_FAIL("MPI error ", ::wsvis::detail::mpi_error_string(wsvis_mpi_), " in `", #stmt, \
                 "`");                                                                     \
  } while (0)

#define MPI_CHECK_PRINT(stmt)                                                              \
  do {                                                                                     \
    int wsvis_mpi_ = (stmt);                                                               \
    if (wsvis_mpi_ != MPI_SUCCESS)                                                         \
      std::fprintf(stderr, "%s:%d: MPI error %s in `%s` (ignored in destructor)\n", __FILE__, \
                   __LINE__, ::wsvis::detail::mpi_error_string(wsvis_mpi_).c_str(), #stmt); \
  } while (0)
#endif  // WSVIS_WITH_MPI
