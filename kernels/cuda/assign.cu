// CUDA twin of kernels/assign.h: B independent assignment problems in one launch, one thread
// block per problem. The algorithm is the CPU twin's (kernels/cpu/assign.cpp) step for step;
// only the column scan of each Dijkstra step is spread over the block's threads and closed by a
// block-wide argmin with the same tie-break, so the assignment is the CPU's, not just its cost.
//
// Memory: the cost matrix is streamed from global memory (one row per Dijkstra step, coalesced
// unless the problem is solved transposed); the per-column state (potentials v, path lengths d,
// predecessor, row of each column, settled flag) and the per-row state live in shared memory.
// Thread t owns columns t, t + blockDim, ...: within a Dijkstra step only the owner touches a
// column's d, path and settled flag, so one barrier per step (inside the argmin) suffices.
#include <cstdint>

#include "engine/cuda_check.h"
#include "engine/error.h"
#include "kernels/assign.h"
#include "kernels/assign_math.h"

namespace wsvis::kernels::cuda {

namespace {

namespace am = assign_math;

constexpr unsigned kFullMask = 0xffffffffu;
constexpr int32_t kNoKey = 0x7fffffff;

__device__ inline void warp_argmin(double& d, int32_t& key) {
  for (int offset = 16; offset > 0; offset >>= 1) {
    const double od = __shfl_xor_sync(kFullMask, d, offset);
    const int32_t ok = __shfl_xor_sync(kFullMask, key, offset);
    if (am::candidate_less(od, ok, d, key)) {
      d = od;
      key = ok;
    }
  }
}

// Every thread gets the block's smallest (d, key). The scratch is double-buffered by the
// caller (`buf` alternates) so the next call's writes cannot overtake this call's reads: a
// thread writing buffer p again has passed the barrier of the call in between, which every
// thread reaches only after reading buffer p.
__device__ inline void block_argmin(double& d, int32_t& key, double (*sd)[32],
                                    int32_t (*sk)[32], int buf) {
  warp_argmin(d, key);
  const int warps = blockDim.x >> 5;
  if (warps == 1) return;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) {
    sd[buf][warp] = d;
    sk[buf][warp] = key;
  }
  __syncthreads();
  d = lane < warps ? sd[buf][lane] : INFINITY;
  key = lane < warps ? sk[buf][lane] : kNoKey;
  warp_argmin(d, key);
}

// Threads per problem: about four columns per thread, one warp at least (then the argmin needs
// no barrier at all), at most 256 so small problems do not idle most of a block.
int threads_for(int64_t max_dim) {
  int64_t t = ((max_dim + 3) / 4 + 31) / 32 * 32;
  if (t < 32) t = 32;
  if (t > 256) t = 256;
  return static_cast<int>(t);
}

WSVIS_HD inline size_t round8(size_t n) { return (n + 7) / 8 * 8; }

// Shared bytes for working problems of at most m rows and M columns; the carve in the kernel
// follows the same order: doubles v[M], d[M], u[m]; int32 path[M], row4col[M], col4row[m];
// bytes col_seen[M], row_seen[m].
size_t shared_bytes(int64_t m, int64_t M) {
  return round8(sizeof(double) * size_t(2 * M + m)) + round8(sizeof(int32_t) * size_t(2 * M + m)) +
         round8(size_t(M + m));
}

template <typename T>
__global__ void lsa_kernel(const T* __restrict__ cost, int64_t R, int64_t C,
                           const int32_t* __restrict__ rows, const int32_t* __restrict__ cols,
                           double sign, int32_t* __restrict__ row_to_col,
                           double* __restrict__ total, int32_t* __restrict__ status, int64_t m,
                           int64_t M) {
  extern __shared__ double smem[];
  __shared__ double red_d[2][32];
  __shared__ int32_t red_k[2][32];
  const int64_t b = blockIdx.x;
  const int tid = threadIdx.x, nt = blockDim.x;
  int32_t* out = row_to_col + b * R;
  for (int64_t k = tid; k < R; k += nt) out[k] = -1;
  if (tid == 0) total[b] = NAN;

  const int64_t r = rows ? rows[b] : R, c = cols ? cols[b] : C;
  if (r < 0 || r > R || c < 0 || c > C) {  // uniform over the block
    if (tid == 0) status[b] = kAssignInvalid;
    return;
  }
  const T* base = cost + b * R * C;
  const am::Orientation o = am::orient(r, c, C);
  const int64_t nr = o.n_rows, nc = o.n_cols;

  // Validate in the original layout (coalesced, no 64-bit divisions); the verdict does not
  // depend on orientation.
  int bad = 0;
  for (int64_t i = 0; i < r; ++i)
    for (int64_t j = tid; j < c; j += nt)
      bad |= am::classify(am::working_cost(base[i * C + j], sign)) == am::kEntryInvalid;
  if (__syncthreads_or(bad)) {
    if (tid == 0) status[b] = kAssignInvalid;
    return;
  }

  double* v = smem;
  double* d = v + M;
  double* u = d + M;
  int32_t* path = reinterpret_cast<int32_t*>(reinterpret_cast<char*>(smem) +
                                             round8(sizeof(double) * size_t(2 * M + m)));
  int32_t* row4col = path + M;
  int32_t* col4row = row4col + M;
  uint8_t* col_seen = reinterpret_cast<uint8_t*>(path) + round8(sizeof(int32_t) * size_t(2 * M + m));
  uint8_t* row_seen = col_seen + M;

  for (int64_t k = tid; k < nr; k += nt) {
    u[k] = 0;
    col4row[k] = -1;
    row_seen[k] = 0;
  }
  for (int64_t j = tid; j < nc; j += nt) {
    v[j] = 0;
    d[j] = INFINITY;
    row4col[j] = -1;
    col_seen[j] = 0;
  }
  __syncthreads();

  int buf = 0;
  for (int64_t cur = 0; cur < nr; ++cur) {
    double min_val = 0;
    int64_t i = cur, sink = -1;
    while (sink < 0) {
      if (tid == 0) row_seen[i] = 1;
      const double u_i = u[i];
      const T* row = base + i * o.row_stride;
      double best_d = INFINITY;
      int32_t best_key = kNoKey;
      for (int64_t j = tid; j < nc; j += nt) {
        if (col_seen[j]) continue;
        const double len = am::path_length(min_val, am::working_cost(row[j * o.col_stride], sign),
                                           u_i, v[j]);
        double dj = d[j];
        if (len < dj) {
          dj = len;
          d[j] = len;
          path[j] = static_cast<int32_t>(i);
        }
        const int32_t key = am::column_key(static_cast<int32_t>(j), row4col[j] >= 0);
        if (am::candidate_less(dj, key, best_d, best_key)) {
          best_d = dj;
          best_key = key;
        }
      }
      block_argmin(best_d, best_key, red_d, red_k, buf);
      buf ^= 1;
      if (best_d == INFINITY) {  // uniform: every thread holds the same minimum
        if (tid == 0) status[b] = kAssignInfeasible;
        return;
      }
      min_val = best_d;
      const int32_t j = am::key_column(best_key);
      if (j % nt == tid) col_seen[j] = 1;  // the owner: only it reads the flag until the barrier
      if (row4col[j] < 0)
        sink = j;
      else
        i = row4col[j];
    }
    __syncthreads();  // d, col_seen and row_seen of the search are read across threads below

    if (tid == 0) u[cur] += min_val;
    for (int64_t k = tid; k < nr; k += nt) {
      if (row_seen[k] && k != cur) u[k] += min_val - d[col4row[k]];
      row_seen[k] = 0;
    }
    for (int64_t j = tid; j < nc; j += nt) {
      if (col_seen[j]) v[j] -= min_val - d[j];
      col_seen[j] = 0;
    }
    __syncthreads();  // the updates read col4row and d before they change below

    if (tid == 0) {
      int64_t j = sink;
      while (true) {
        const int32_t k = path[j];
        row4col[j] = k;
        const int32_t next = col4row[k];
        col4row[k] = static_cast<int32_t>(j);
        j = next;
        if (k == cur) break;
      }
    }
    for (int64_t j = tid; j < nc; j += nt) d[j] = INFINITY;
    __syncthreads();  // the next search reads row4col
  }

  // Original row k gets its column from col4row (not transposed: every row assigned) or from
  // row4col (transposed: working columns are original rows; -1 where unassigned).
  for (int64_t k = tid; k < r; k += nt) {
    const int32_t col = o.transposed ? row4col[k] : col4row[k];
    out[k] = col;
    d[k] = col >= 0 ? static_cast<double>(base[k * C + col]) : 0.0;  // d has nc >= r slots
  }
  __syncthreads();
  if (tid == 0) {
    // Ascending rows, skipping unassigned ones, exactly as the CPU twin sums.
    double sum = 0;
    for (int64_t k = 0; k < r; ++k)
      if ((o.transposed ? row4col[k] : col4row[k]) >= 0) sum += d[k];
    total[b] = sum;
    status[b] = kAssignOk;
  }
}

}  // namespace

template <typename T>
void linear_sum_assignment_batched(cudaStream_t stream, const T* cost, int64_t B, int64_t R,
                                   int64_t C, const int32_t* rows, const int32_t* cols,
                                   bool maximize, int32_t* row_to_col, double* total,
                                   int32_t* status) {
  WSVIS_CHECK(B >= 0 && R >= 0 && C >= 0, "cuda::linear_sum_assignment_batched: negative size");
  WSVIS_CHECK(R <= kAssignMaxDim && C <= kAssignMaxDim, "cuda::linear_sum_assignment_batched: ",
              R, "x", C, " exceeds the ", kAssignMaxDim, " limit of the shared-memory solver");
  WSVIS_CHECK(B <= 0x7fffffff, "cuda::linear_sum_assignment_batched: batch ", B, " too large");
  if (B == 0) return;
  const int64_t m = R < C ? R : C, M = R < C ? C : R;
  const size_t smem = shared_bytes(m, M);
  lsa_kernel<T><<<static_cast<unsigned>(B), threads_for(M), smem, stream>>>(
      cost, R, C, rows, cols, maximize ? -1.0 : 1.0, row_to_col, total, status, m, M);
  WSVIS_LAUNCH_CHECK();
}

#define WSVIS_INSTANTIATE_ASSIGN(T)                                                           \
  template void linear_sum_assignment_batched<T>(cudaStream_t, const T*, int64_t, int64_t,    \
                                                 int64_t, const int32_t*, const int32_t*, bool, \
                                                 int32_t*, double*, int32_t*);
WSVIS_INSTANTIATE_ASSIGN(float)
WSVIS_INSTANTIATE_ASSIGN(double)

}  // namespace wsvis::kernels::cuda
