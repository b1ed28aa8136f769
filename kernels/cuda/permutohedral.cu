// GPU permutohedral lattice (kernels/cuda/permutohedral.cuh) and cuda::permutohedral_filter.
//
// Build: one thread per point embeds it (crf_math::lattice_embed, rounded as on the host) and
// inserts its D+1 vertex keys into an open-addressing table of 64-bit packed keys with
// atomicCAS (linear probing; the table has >= 2x the slots of the vertex bound, so probes
// stay short and always end); occupied slots then get vertex ids from a warp-aggregated
// atomic counter (their order varies from run to run), points' slots become ids, and each
// vertex looks up its 2 (D+1) blur neighbours once. Filter: splat with atomicAdd (float sums
// vary in the last bits from run to run), D+1 blur passes over (vertex, channel) elements,
// slice. The same lattice as the CPU twin's: only vertex numbering and summation order differ.
#include <cooperative_groups.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/cuda_check.h"
#include "engine/error.h"
#include "kernels/crf.h"
#include "kernels/cuda/permutohedral.cuh"

namespace wsvis::kernels::cuda {

namespace lattice {

namespace {

namespace cm = crf_math;

namespace cg = cooperative_groups;

template <int D>
__global__ void insert_kernel(const float* __restrict__ features, int64_t N,
                              cm::LatticeScale<D> scale, unsigned long long* table,
                              uint64_t mask, int32_t* __restrict__ offsets,
                              float* __restrict__ weights) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < N;
       i += int64_t(gridDim.x) * blockDim.x) {
    float f[D];
    for (int k = 0; k < D; ++k) f[k] = features[i * D + k];
    uint64_t keys[D + 1];
    cm::lattice_embed<D>(f, scale, keys, weights + i * (D + 1));
    for (int r = 0; r <= D; ++r) {
      // Neighbouring pixels share most vertices: a plain read finds an inserted key without an
      // atomic; only an empty slot is claimed with atomicCAS (which may lose to another key).
      uint64_t s = cm::hash_key(keys[r]) & mask;
      while (true) {
        const unsigned long long seen = *reinterpret_cast<volatile unsigned long long*>(&table[s]);
        if (seen == keys[r]) break;
        if (seen == cm::kEmptyKey) {
          const unsigned long long prev =
              atomicCAS(&table[s], static_cast<unsigned long long>(cm::kEmptyKey),
                        static_cast<unsigned long long>(keys[r]));
          if (prev == cm::kEmptyKey || prev == keys[r]) break;
        }
        s = (s + 1) & mask;
      }
      offsets[i * (D + 1) + r] = static_cast<int32_t>(s);  // a slot for now: remap_kernel
    }
  }
}

// Occupied slots get consecutive ids: one atomicAdd per group of converged occupied lanes.
__global__ void number_kernel(const uint64_t* __restrict__ table, int64_t capacity,
                              int32_t* __restrict__ slot_id, uint64_t* __restrict__ vertex_keys,
                              int32_t* count) {
  for (int64_t s = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; s < capacity;
       s += int64_t(gridDim.x) * blockDim.x) {
    const uint64_t key = table[s];
    if (key == cm::kEmptyKey) continue;
    const cg::coalesced_group g = cg::coalesced_threads();
    int32_t base = 0;
    if (g.thread_rank() == 0) base = atomicAdd(count, static_cast<int32_t>(g.size()));
    const int32_t id = g.shfl(base, 0) + static_cast<int32_t>(g.thread_rank());
    slot_id[s] = id;
    vertex_keys[id] = key;
  }
}

__global__ void remap_kernel(int32_t* offsets, int64_t P, const int32_t* __restrict__ slot_id) {
  for (int64_t k = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; k < P;
       k += int64_t(gridDim.x) * blockDim.x)
    offsets[k] = slot_id[offsets[k]];
}

__device__ inline int32_t lookup(const uint64_t* __restrict__ table,
                                 const int32_t* __restrict__ slot_id, uint64_t mask,
                                 uint64_t key) {
  uint64_t s = cm::hash_key(key) & mask;
  while (true) {
    const uint64_t k = table[s];
    if (k == key) return slot_id[s];
    if (k == cm::kEmptyKey) return -1;
    s = (s + 1) & mask;
  }
}

template <int D>
__global__ void neighbours_kernel(const uint64_t* __restrict__ table,
                                  const int32_t* __restrict__ slot_id, uint64_t mask,
                                  const uint64_t* __restrict__ vertex_keys, const int32_t* count,
                                  int64_t P, int32_t* __restrict__ neighbours) {
  const int64_t M = *count;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < M * (D + 1);
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t v = e / (D + 1);
    const int j = int(e - v * (D + 1));
    const uint64_t key = vertex_keys[v];
    neighbours[(j * P + v) * 2] = lookup(table, slot_id, mask, cm::neighbour_key<D>(key, j, true));
    neighbours[(j * P + v) * 2 + 1] =
        lookup(table, slot_id, mask, cm::neighbour_key<D>(key, j, false));
  }
}

__global__ void zero_kernel(float* values, const int32_t* count, int64_t C) {
  const int64_t n = int64_t(*count) * C;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < n;
       e += int64_t(gridDim.x) * blockDim.x)
    values[e] = 0.f;
}

template <int D>
__global__ void splat_kernel(const float* __restrict__ in, const float* __restrict__ scale,
                             int64_t N, int64_t C, const int32_t* __restrict__ offsets,
                             const float* __restrict__ weights, float* values) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < N;
       i += int64_t(gridDim.x) * blockDim.x) {
    const float s = scale ? scale[i] : 1.f;
    for (int r = 0; r <= D; ++r) {
      float* v = values + int64_t(offsets[i * (D + 1) + r]) * C;
      const float w = weights[i * (D + 1) + r] * s;
      for (int64_t c = 0; c < C; ++c) atomicAdd(v + c, w * (in ? in[c * N + i] : 1.f));
    }
  }
}

__global__ void blur_kernel(const float* __restrict__ cur, float* __restrict__ nxt,
                            const int32_t* __restrict__ nb, const int32_t* count, int64_t C) {
  const int64_t n = int64_t(*count) * C;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < n;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t v = e / C, c = e - v * C;
    const int32_t n1 = nb[v * 2], n2 = nb[v * 2 + 1];
    const float a = n1 >= 0 ? cur[n1 * C + c] : 0.f;
    const float b = n2 >= 0 ? cur[n2 * C + c] : 0.f;
    nxt[e] = cur[e] + 0.5f * (a + b);
  }
}

template <int D>
__global__ void slice_kernel(const float* __restrict__ values, const int32_t* __restrict__ offsets,
                             const float* __restrict__ weights, int64_t N, int64_t C, float alpha,
                             const float* __restrict__ scale, float* __restrict__ out) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < N * C;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t c = e / N, i = e - c * N;
    float acc = 0.f;
    for (int r = 0; r <= D; ++r)
      acc += weights[i * (D + 1) + r] * values[int64_t(offsets[i * (D + 1) + r]) * C + c];
    out[e] = (scale ? scale[i] : 1.f) * alpha * acc;
  }
}

__global__ void rsqrt_kernel(float* norm, int64_t N) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < N;
       i += int64_t(gridDim.x) * blockDim.x)
    norm[i] = 1.0f / sqrtf(norm[i] + 1e-20f);
}

template <int D>
void build_d(cudaStream_t stream, const DeviceLattice& l) {
  const int64_t N = l.lay.N, P = l.lay.P, cap = l.lay.capacity;
  const uint64_t mask = uint64_t(cap - 1);
  CUDA_CHECK(cudaMemsetAsync(l.table, 0xff, sizeof(uint64_t) * size_t(cap), stream));
  CUDA_CHECK(cudaMemsetAsync(l.count, 0, sizeof(int32_t), stream));
  insert_kernel<D><<<loop_blocks(N), kElementwiseThreads, 0, stream>>>(
      l.features, N, cm::lattice_scale<D>(), reinterpret_cast<unsigned long long*>(l.table),
      mask, l.offsets, l.weights);
  WSVIS_LAUNCH_CHECK();
  number_kernel<<<loop_blocks(cap), kElementwiseThreads, 0, stream>>>(l.table, cap, l.slot_id,
                                                                      l.vertex_keys, l.count);
  WSVIS_LAUNCH_CHECK();
  remap_kernel<<<loop_blocks(P), kElementwiseThreads, 0, stream>>>(l.offsets, P, l.slot_id);
  WSVIS_LAUNCH_CHECK();
  neighbours_kernel<D><<<loop_blocks(P * (D + 1)), kElementwiseThreads, 0, stream>>>(
      l.table, l.slot_id, mask, l.vertex_keys, l.count, P, l.neighbours);
  WSVIS_LAUNCH_CHECK();
}

template <int D>
void splat_d(cudaStream_t stream, const DeviceLattice& l, const float* in, const float* scale,
             int64_t C) {
  zero_kernel<<<loop_blocks(l.lay.P * C), kElementwiseThreads, 0, stream>>>(l.values[0], l.count, C);
  WSVIS_LAUNCH_CHECK();
  splat_kernel<D><<<loop_blocks(l.lay.N), kElementwiseThreads, 0, stream>>>(
      in, scale, l.lay.N, C, l.offsets, l.weights, l.values[0]);
  WSVIS_LAUNCH_CHECK();
}

}  // namespace

DeviceLattice carve(const cm::LatticeLayout& lay, void* workspace) {
  char* b = static_cast<char*>(workspace);
  DeviceLattice l;
  l.lay = lay;
  l.features = reinterpret_cast<float*>(b + lay.features);
  l.table = reinterpret_cast<uint64_t*>(b + lay.table);
  l.slot_id = reinterpret_cast<int32_t*>(b + lay.slot_id);
  l.vertex_keys = reinterpret_cast<uint64_t*>(b + lay.vertex_keys);
  l.offsets = reinterpret_cast<int32_t*>(b + lay.offsets);
  l.weights = reinterpret_cast<float*>(b + lay.weights);
  l.neighbours = reinterpret_cast<int32_t*>(b + lay.neighbours);
  l.norm = reinterpret_cast<float*>(b + lay.norm);
  l.values[0] = reinterpret_cast<float*>(b + lay.values0);
  l.values[1] = reinterpret_cast<float*>(b + lay.values1);
  l.count = reinterpret_cast<int32_t*>(b + lay.count);
  return l;
}

unsigned loop_blocks(int64_t n) {
  const unsigned b = elementwise_blocks(n);
  return b < 4096u ? b : 4096u;
}

void build(cudaStream_t stream, const DeviceLattice& l) {
  if (l.lay.D == 2)
    build_d<2>(stream, l);
  else
    build_d<5>(stream, l);
}

void splat(cudaStream_t stream, const DeviceLattice& l, const float* in, const float* scale,
           int64_t C) {
  if (l.lay.D == 2)
    splat_d<2>(stream, l, in, scale, C);
  else
    splat_d<5>(stream, l, in, scale, C);
}

const float* blur(cudaStream_t stream, const DeviceLattice& l, int64_t C) {
  float* cur = l.values[0];
  float* nxt = l.values[1];
  for (int j = 0; j <= l.lay.D; ++j) {
    blur_kernel<<<loop_blocks(l.lay.P * C), kElementwiseThreads, 0, stream>>>(
        cur, nxt, l.neighbours + int64_t(j) * l.lay.P * 2, l.count, C);
    WSVIS_LAUNCH_CHECK();
    std::swap(cur, nxt);
  }
  return cur;
}

void slice(cudaStream_t stream, const DeviceLattice& l, const float* values, const float* scale,
           int64_t C, float* out) {
  const unsigned blocks = loop_blocks(l.lay.N * C);
  if (l.lay.D == 2)
    slice_kernel<2><<<blocks, kElementwiseThreads, 0, stream>>>(
        values, l.offsets, l.weights, l.lay.N, C, cm::lattice_alpha<2>(), scale, out);
  else
    slice_kernel<5><<<blocks, kElementwiseThreads, 0, stream>>>(
        values, l.offsets, l.weights, l.lay.N, C, cm::lattice_alpha<5>(), scale, out);
  WSVIS_LAUNCH_CHECK();
}

void normalise(cudaStream_t stream, const DeviceLattice& l) {
  splat(stream, l, nullptr, nullptr, 1);
  slice(stream, l, blur(stream, l, 1), nullptr, 1, l.norm);
  rsqrt_kernel<<<loop_blocks(l.lay.N), kElementwiseThreads, 0, stream>>>(l.norm, l.lay.N);
  WSVIS_LAUNCH_CHECK();
}

}  // namespace lattice

size_t permutohedral_workspace_bytes(int64_t N, int D, int64_t C) {
  return crf_math::lattice_layout(N, D, C, 0).end;
}

void permutohedral_filter(cudaStream_t stream, const float* features, int64_t N, int D,
                          const float* in, int64_t C, float* out, void* workspace) {
  WSVIS_CHECK(D == 2 || D == 5, "cuda::permutohedral_filter: D = ", D, " (2 or 5 supported)");
  WSVIS_CHECK(N >= 0 && C >= 0, "cuda::permutohedral_filter: negative size N=", N, " C=", C);
  // Hash slots (2 N (D+1), rounded up to a power of two) are indexed by int32.
  WSVIS_CHECK(N * (D + 1) * 2 <= (int64_t(1) << 30), "cuda::permutohedral_filter: too many points ", N);
  if (N == 0 || C == 0) return;
  std::vector<float> host(size_t(N * D));
  CUDA_CHECK(cudaMemcpyAsync(host.data(), features, sizeof(float) * host.size(),
                             cudaMemcpyDeviceToHost, stream));
  CUDA_CHECK(cudaStreamSynchronize(stream));
  double max_abs[5] = {0, 0, 0, 0, 0};
  for (int64_t i = 0; i < N; ++i)
    for (int k = 0; k < D; ++k) {
      WSVIS_CHECK(std::isfinite(host[size_t(i * D + k)]), "cuda::permutohedral_filter: feature ",
                  k, " of point ", i, " is not finite");
      max_abs[k] = std::max(max_abs[k], double(std::fabs(host[size_t(i * D + k)])));
    }
  const bool ok = D == 2 ? crf_math::lattice_range_ok<2>(max_abs) : crf_math::lattice_range_ok<5>(max_abs);
  WSVIS_CHECK(ok, "cuda::permutohedral_filter: features too large for the lattice keys");
  const lattice::DeviceLattice l = lattice::carve(crf_math::lattice_layout(N, D, C, 0), workspace);
  CUDA_CHECK(cudaMemcpyAsync(l.features, features, sizeof(float) * size_t(N * D),
                             cudaMemcpyDeviceToDevice, stream));
  lattice::build(stream, l);
  lattice::splat(stream, l, in, nullptr, C);
  lattice::slice(stream, l, lattice::blur(stream, l, C), nullptr, C, out);
}

}  // namespace wsvis::kernels::cuda
