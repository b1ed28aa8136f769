// Per-element pieces of the shortest augmenting path assignment that both twins use, so the
// CPU and CUDA solvers do the same arithmetic in the same order and break ties the same way.
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/common.h"

namespace wsvis::kernels::assign_math {

// Classification of one cost entry after the sign flip that turns maximising into minimising.
enum EntryKind : int { kEntryFinite = 0, kEntryForbidden = 1, kEntryInvalid = 2 };

// Working cost: minimise sign * cost, sign = -1 when maximising. Negation is exact, so the
// total reported from the original entries is the optimum of the original problem.
template <typename T>
WSVIS_HD inline double working_cost(T c, double sign) {
  return sign * static_cast<double>(c);
}

WSVIS_HD inline int classify(double w) {
  if (w != w) return kEntryInvalid;  // NaN
  if (w == INFINITY) return kEntryForbidden;
  if (w == -INFINITY) return kEntryInvalid;  // would make every path length -inf
  return kEntryFinite;
}

// Length of the alternating path that reaches column j through row i, in the reduced costs
// w(i, j) - u_i - v_j, min_val being the length already travelled to reach row i. A forbidden
// pair (w = +inf) gives +inf, which never improves a path. Always this expression, in this
// order, in both twins (sums of doubles are not associative).
WSVIS_HD inline double path_length(double min_val, double w, double u_i, double v_j) {
  return min_val + w - u_i - v_j;
}

// Tie-break key of a column in the Dijkstra step: free columns (which end the search at once)
// before assigned ones, then the smaller index. Columns are < 2^30.
WSVIS_HD inline int32_t column_key(int32_t j, bool assigned) {
  return j | (assigned ? (int32_t(1) << 30) : 0);
}
WSVIS_HD inline int32_t key_column(int32_t key) { return key & ((int32_t(1) << 30) - 1); }

// Strict order on (path length, key): the Dijkstra step takes the smallest.
WSVIS_HD inline bool candidate_less(double d_a, int32_t key_a, double d_b, int32_t key_b) {
  return d_a < d_b || (d_a == d_b && key_a < key_b);
}

// Orientation of one problem: the solver works on n_rows <= n_cols, reading entry (i, j) of
// the working problem at base[i * row_stride + j * col_stride] of the original (r, c) block
// whose rows are ld apart. transposed means working rows are original columns.
struct Orientation {
  int64_t n_rows, n_cols, row_stride, col_stride;
  bool transposed;
};

WSVIS_HD inline Orientation orient(int64_t r, int64_t c, int64_t ld) {
  if (r <= c) return Orientation{r, c, ld, 1, false};
  return Orientation{c, r, 1, ld, true};
}

}  // namespace wsvis::kernels::assign_math
