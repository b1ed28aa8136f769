// Checking macros for CUDA runtime, cuBLAS and cuDNN calls. Each records the statement text.
// WSVIS_SYNC_DEBUG=1 in the environment makes WSVIS_LAUNCH_CHECK synchronise after every
// launch, so an asynchronous fault is blamed on the kernel that caused it.
#pragma once

#if WSVIS_WITH_CUDA
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include "engine/error.h"

namespace wsvis::detail {
bool sync_debug_enabled();  // reads WSVIS_SYNC_DEBUG once
const char* cublas_status_name(cublasStatus_t status);
}  // namespace wsvis::detail

#define CUDA_CHECK(stmt)                                                                   \
  do {                                                                                     \
    cudaError_t wsvis_err_ = (stmt);                                                       \
    if (wsvis_err_ != cudaSuccess)                                                         \
      WSVIS_FAIL("CUDA error ", cudaGetErrorName(wsvis_err_), " (",                       \
                 cudaGetErrorString(wsvis_err_), ") in `", #stmt, "`");                   \
  } while (0)

// For destructors: report, never throw.
#define CUDA_CHECK_PRINT(stmt)                                                             \
  do {                                                                                     \
    cudaError_t wsvis_err_ = (stmt);                                                       \
    if (wsvis_err_ != cudaSuccess)                                                         \
      fprintf(stderr, "%s:%d: CUDA error %s in `%s` (ignored in destructor)\n", __FILE__,  \
              __LINE__, cudaGetErrorName(wsvis_err_), #stmt);                              \
  } while (0)

#define CUBLAS_CHECK(stmt)                                                                 \
  do {                                                                                     \
    cublasStatus_t wsvis_st_ = (stmt);                                                     \
    if (wsvis_st_ != CUBLAS_STATUS_SUCCESS)                                                \
      WSVIS_FAIL("cuBLAS error ", ::wsvis::detail::cublas_status_name(wsvis_st_), " in `", \
                 #stmt, "`");                                                              \
  } while (0)

#define CUDNN_CHECK(stmt)                                                                  \
  do {                                                                                     \
    cudnnStatus_t wsvis_st_ = (stmt);                                                      \
    if (wsvis_st_ != CUDNN_STATUS_SUCCESS)                                                 \
      WSVIS_FAIL("cuDNN error ", cudnnGetErrorString(wsvis_st_), " in `", #stmt, "`");    \
  } while (0)

// After every kernel launch: catches bad launch configurations at once, and with
// WSVIS_SYNC_DEBUG=1 also faults inside the kernel.
#define WSVIS_LAUNCH_CHECK()                                                               \
  do {                                                                                     \
    CUDA_CHECK(cudaGetLastError());                                                        \
    if (::wsvis::detail::sync_debug_enabled()) CUDA_CHECK(cudaDeviceSynchronize());        \
  } while (0)

#endif  // WSVIS_WITH_CUDA
