// CPU twin of kernels/assign.h: Crouse's shortest augmenting path (scipy's algorithm), one
// problem per OpenMP thread in the batched entry point. This is the reference the CUDA solver
// is tested against, so it is written for clarity: plain loops over the columns, no heaps.
#include "kernels/assign.h"

#include <omp.h>

#include <cmath>
#include <cstdint>
#include <limits>

#include "engine/error.h"
#include "kernels/assign_math.h"

namespace wsvis::kernels {

const char* assign_status_name(int32_t status) {
  switch (status) {
    case kAssignOk: return "ok";
    case kAssignInfeasible: return "infeasible";
    case kAssignInvalid: return "invalid";
    default: return "unknown";
  }
}

namespace cpu {

namespace {

namespace am = assign_math;

constexpr double kInf = std::numeric_limits<double>::infinity();

size_t round8(size_t n) { return (n + 7) / 8 * 8; }

// Scratch of one problem whose working form has at most m rows and M columns (m <= M).
struct Scratch {
  double *u, *v, *d;            // row potentials (m), column potentials (M), path lengths (M)
  int32_t *path, *row4col;      // predecessor row of each column, row assigned to each column
  int32_t* col4row;             // column assigned to each working row (m)
  int32_t* unsettled;           // columns not yet settled in this search, in any order (M)
  uint8_t *row_seen, *col_seen; // rows reached (SR) and columns settled (SC) in this search
};

size_t scratch_bytes(int64_t m, int64_t M) {
  return round8(sizeof(double) * size_t(m + 2 * M)) + round8(sizeof(int32_t) * size_t(3 * M + m)) +
         round8(size_t(m + M));
}

Scratch carve(void* workspace, int64_t m, int64_t M) {
  char* p = static_cast<char*>(workspace);
  Scratch s;
  s.u = reinterpret_cast<double*>(p);
  s.v = s.u + m;
  s.d = s.v + M;
  p += round8(sizeof(double) * size_t(m + 2 * M));
  s.path = reinterpret_cast<int32_t*>(p);
  s.row4col = s.path + M;
  s.col4row = s.row4col + M;
  s.unsettled = s.col4row + m;
  p += round8(sizeof(int32_t) * size_t(3 * M + m));
  s.row_seen = reinterpret_cast<uint8_t*>(p);
  s.col_seen = s.row_seen + m;
  return s;
}

// Solves the r x c block at `cost` (rows ld apart). row_to_col: (r,). Returns the status and
// writes the total (NaN unless ok).
template <typename T>
AssignStatus solve(const T* cost, int64_t r, int64_t c, int64_t ld, bool maximize,
                   int32_t* row_to_col, double* total, void* workspace) {
  for (int64_t i = 0; i < r; ++i) row_to_col[i] = -1;
  *total = std::numeric_limits<double>::quiet_NaN();
  const double sign = maximize ? -1.0 : 1.0;
  const am::Orientation o = am::orient(r, c, ld);
  const int64_t nr = o.n_rows, nc = o.n_cols;
  auto w = [&](int64_t i, int64_t j) {
    return am::working_cost(cost[i * o.row_stride + j * o.col_stride], sign);
  };

  // Validate first: a NaN found halfway through the search would corrupt the potentials.
  for (int64_t i = 0; i < nr; ++i)
    for (int64_t j = 0; j < nc; ++j)
      if (am::classify(w(i, j)) == am::kEntryInvalid) return kAssignInvalid;

  Scratch s = carve(workspace, nr, nc);
  for (int64_t i = 0; i < nr; ++i) {
    s.u[i] = 0;
    s.col4row[i] = -1;
  }
  for (int64_t j = 0; j < nc; ++j) {
    s.v[j] = 0;
    s.row4col[j] = -1;
  }

  for (int64_t cur = 0; cur < nr; ++cur) {
    // Dijkstra over the columns from row `cur`, in reduced costs (non-negative thanks to the
    // potentials), until it settles a free column: the end of a shortest augmenting path.
    for (int64_t j = 0; j < nc; ++j) {
      s.d[j] = kInf;
      s.col_seen[j] = 0;
      s.unsettled[j] = static_cast<int32_t>(j);
    }
    int64_t n_unsettled = nc;
    for (int64_t i = 0; i < nr; ++i) s.row_seen[i] = 0;
    double min_val = 0;
    int64_t i = cur, sink = -1;
    while (sink < 0) {
      s.row_seen[i] = 1;
      double best_d = kInf;
      int32_t best_key = std::numeric_limits<int32_t>::max();
      int64_t best_t = -1;
      const double u_i = s.u[i];
      // Only unsettled columns are scanned (scipy's `remaining` list). The scan order does not
      // matter: candidate_less is a strict total order, so the choice is the CUDA twin's.
      for (int64_t t = 0; t < n_unsettled; ++t) {
        const int64_t j = s.unsettled[t];
        const double len = am::path_length(min_val, w(i, j), u_i, s.v[j]);
        if (len < s.d[j]) {
          s.d[j] = len;
          s.path[j] = static_cast<int32_t>(i);
        }
        const int32_t key = am::column_key(static_cast<int32_t>(j), s.row4col[j] >= 0);
        if (am::candidate_less(s.d[j], key, best_d, best_key)) {
          best_d = s.d[j];
          best_key = key;
          best_t = t;
        }
      }
      // Every reachable column is forbidden from the rows reached so far: no augmenting path,
      // so no assignment of all working rows exists.
      if (best_d == kInf) return kAssignInfeasible;
      min_val = best_d;
      const int32_t j = am::key_column(best_key);
      s.col_seen[j] = 1;
      s.unsettled[best_t] = s.unsettled[--n_unsettled];
      if (s.row4col[j] < 0)
        sink = j;
      else
        i = s.row4col[j];
    }

    // Update the potentials so reduced costs stay non-negative and tight on the new matching.
    s.u[cur] += min_val;
    for (int64_t k = 0; k < nr; ++k)
      if (s.row_seen[k] && k != cur) s.u[k] += min_val - s.d[s.col4row[k]];
    for (int64_t j = 0; j < nc; ++j)
      if (s.col_seen[j]) s.v[j] -= min_val - s.d[j];

    // Flip the matching along the path back from the sink to `cur`.
    int64_t j = sink;
    while (true) {
      const int32_t k = s.path[j];
      s.row4col[j] = k;
      const int32_t next = s.col4row[k];
      s.col4row[k] = static_cast<int32_t>(j);
      j = next;
      if (k == cur) break;
    }
  }

  if (!o.transposed) {
    for (int64_t k = 0; k < nr; ++k) row_to_col[k] = s.col4row[k];
  } else {
    for (int64_t k = 0; k < nr; ++k) row_to_col[s.col4row[k]] = static_cast<int32_t>(k);
  }
  // Ascending original rows, in double: the CUDA twin sums in the same order.
  double sum = 0;
  for (int64_t k = 0; k < r; ++k)
    if (row_to_col[k] >= 0) sum += static_cast<double>(cost[k * ld + row_to_col[k]]);
  *total = sum;
  return kAssignOk;
}

}  // namespace

size_t assign_workspace_bytes(int64_t R, int64_t C) {
  const int64_t m = R < C ? R : C, M = R < C ? C : R;
  return scratch_bytes(m, M);
}

template <typename T>
AssignStatus linear_sum_assignment(const T* cost, int64_t R, int64_t C, bool maximize,
                                   int32_t* row_to_col, double* total, void* workspace) {
  WSVIS_CHECK(R >= 0 && C >= 0, "linear_sum_assignment: negative size ", R, "x", C);
  WSVIS_CHECK(R < (int64_t(1) << 30) && C < (int64_t(1) << 30),
              "linear_sum_assignment: size ", R, "x", C, " too large");
  return solve(cost, R, C, C, maximize, row_to_col, total, workspace);
}

template <typename T>
void linear_sum_assignment_batched(const T* cost, int64_t B, int64_t R, int64_t C,
                                   const int32_t* rows, const int32_t* cols, bool maximize,
                                   int32_t* row_to_col, double* total, int32_t* status,
                                   void* workspace, size_t workspace_bytes) {
  WSVIS_CHECK(B >= 0 && R >= 0 && C >= 0, "linear_sum_assignment_batched: negative size");
  WSVIS_CHECK(R < (int64_t(1) << 30) && C < (int64_t(1) << 30),
              "linear_sum_assignment_batched: size ", R, "x", C, " too large");
  if (B == 0) return;
  const size_t per = assign_workspace_bytes(R, C);
  WSVIS_CHECK(workspace_bytes >= per, "linear_sum_assignment_batched: workspace of ",
              workspace_bytes, " bytes, need at least ", per);
  const int64_t slots_avail = per == 0 ? B : static_cast<int64_t>(workspace_bytes / per);
  // One slot per thread, never more threads than problems or than OpenMP would use anyway.
  int64_t slots_used = slots_avail < B ? slots_avail : B;
  if (slots_used > omp_get_max_threads()) slots_used = omp_get_max_threads();
  const int slots = static_cast<int>(slots_used);
  // Problem sizes vary and so does the work per problem: hand them out one at a time.
#pragma omp parallel for schedule(dynamic, 1) num_threads(slots)
  for (int64_t b = 0; b < B; ++b) {
    void* ws = static_cast<char*>(workspace) + size_t(omp_get_thread_num()) * per;
    int32_t* out = row_to_col + b * R;
    const int64_t r = rows ? rows[b] : R, c = cols ? cols[b] : C;
    if (r < 0 || r > R || c < 0 || c > C) {
      // Same answer as the CUDA twin, which cannot throw from a block.
      for (int64_t i = 0; i < R; ++i) out[i] = -1;
      total[b] = std::numeric_limits<double>::quiet_NaN();
      status[b] = kAssignInvalid;
      continue;
    }
    status[b] = solve(cost + b * R * C, r, c, C, maximize, out, &total[b], ws);
    for (int64_t i = r; i < R; ++i) out[i] = -1;
  }
}

#define WSVIS_INSTANTIATE_ASSIGN(T)                                                          \
  template AssignStatus linear_sum_assignment<T>(const T*, int64_t, int64_t, bool, int32_t*, \
                                                 double*, void*);                            \
  template void linear_sum_assignment_batched<T>(const T*, int64_t, int64_t, int64_t,        \
                                                 const int32_t*, const int32_t*, bool,       \
                                                 int32_t*, double*, int32_t*, void*, size_t);
WSVIS_INSTANTIATE_ASSIGN(float)
WSVIS_INSTANTIATE_ASSIGN(double)

}  // namespace cpu
}  // namespace wsvis::kernels
