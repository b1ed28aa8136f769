// Linear sum assignment (the "Hungarian" matching), exact, for rectangular cost matrices.
// CPU twin in kernels/cpu/assign.cpp, CUDA twin in kernels/cuda/assign.cu, the per-element
// maths they share in kernels/assign_math.h.
//
// Algorithm (both twins): the shortest augmenting path method of Jonker-Volgenant as described
// by Crouse (2016), the one scipy.optimize.linear_sum_assignment uses. A problem with more rows
// than columns is solved transposed (read through strides, never copied), so the working
// problem always has n_rows <= n_cols and every working row gets a column. Dual potentials
// u (rows) and v (columns) and the path lengths are kept in double whatever T is.
// Both twins break ties in the Dijkstra step the same way (smallest path length, then a free
// column before an assigned one, then the smallest column index), so on the same input they
// produce the same assignment, not only the same total.
//
// Forbidden pairs: an entry of +infinity (minimise) or -infinity (maximise) forbids that pair,
// as in scipy. NaN, and an infinity of the other sign, make the problem invalid. A problem
// where no assignment of min(R, C) pairs avoids every forbidden pair is infeasible. Neither is
// silently "solved": the status says so, row_to_col is all -1 and the total is NaN.
//
// Batched layout: B problems in one (B, R, C) row-major buffer. Problem b may be smaller than
// its slot: with rows/cols given (each (B,), may be null), problem b is the top-left
// rows[b] x cols[b] block of slot b (row stride C); a size outside [0, R] / [0, C] makes that
// problem kAssignInvalid. Outputs: row_to_col (B, R) with the column
// of each row, -1 where the row is unassigned (more rows than columns, or beyond rows[b]);
// total (B,) the sum of the original costs over assigned pairs, accumulated in double in
// ascending row order; status (B,) an AssignStatus.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/common.h"

#if WSVIS_WITH_CUDA
#include <cuda_runtime.h>
#endif

namespace wsvis::kernels {

enum AssignStatus : int32_t {
  kAssignOk = 0,
  kAssignInfeasible = 1,  // no complete assignment avoids the forbidden pairs
  kAssignInvalid = 2,     // NaN, or -inf when minimising (+inf when maximising)
};

const char* assign_status_name(int32_t status);

namespace cpu {
// Scratch for one problem of at most R x C (either orientation).
size_t assign_workspace_bytes(int64_t R, int64_t C);

// One problem. cost: (R, C) row-major. row_to_col: (R,). Returns the status; *total gets the
// total cost (NaN unless kAssignOk). workspace: assign_workspace_bytes(R, C) bytes, any alignment
// of at least 8.
template <typename T>
AssignStatus linear_sum_assignment(const T* cost, int64_t R, int64_t C, bool maximize,
                                   int32_t* row_to_col, double* total, void* workspace);

// B problems (layout above), solved in parallel with OpenMP: the workspace is cut into
// workspace_bytes / assign_workspace_bytes(R, C) slots (at least one), one per thread, so pass
// k slots' worth to solve k problems at once.
template <typename T>
void linear_sum_assignment_batched(const T* cost, int64_t B, int64_t R, int64_t C,
                                   const int32_t* rows, const int32_t* cols, bool maximize,
                                   int32_t* row_to_col, double* total, int32_t* status,
                                   void* workspace, size_t workspace_bytes);
}  // namespace cpu

#if WSVIS_WITH_CUDA
namespace cuda {
// Largest R and C the CUDA solver takes: the per-column arrays of one problem live in one
// block's shared memory (25 bytes per column + 13 per row: 38 KB at 1024 x 1024).
constexpr int64_t kAssignMaxDim = 1024;

// The CPU batched layout and outputs, all pointers on the device; no workspace (shared memory).
// One thread block per problem, all B in one launch, no host synchronisation.
template <typename T>
void linear_sum_assignment_batched(cudaStream_t stream, const T* cost, int64_t B, int64_t R,
                                   int64_t C, const int32_t* rows, const int32_t* cols,
                                   bool maximize, int32_t* row_to_col, double* total,
                                   int32_t* status);
}  // namespace cuda
#endif

}  // namespace wsvis::kernels
