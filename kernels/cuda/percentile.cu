// CUDA select_kth (kernels/flowirn.h): the exact k-th smallest value by an MSD radix select on
// order-preserving integer keys (flowirn_math::RadixKey), 8 bits per pass, with no host round
// trip. State on the device: the key prefix fixed so far and the rank still to skip. Pass p:
//   histogram kernel: every value whose key agrees with the prefix on the digits already fixed
//     adds one to the bin of its p-th digit (shared-memory histogram per block, flushed with
//     global atomics: integer counts, exact in any order);
//   pick kernel (one block of 256 threads): a block scan of the 256 counts; the bin b with
//     excl(b) <= rank < incl(b) is the p-th digit of the answer; rank -= excl(b); the histogram
//     is cleared for the next pass.
// After the last pass the prefix is the answer's key. The k-th smallest value is unique as a
// number, so the result equals std::nth_element's (up to -0 vs +0, which compare equal).
#include <cub/block/block_scan.cuh>

#include "engine/cuda_check.h"
#include "engine/error.h"
#include "kernels/flowirn.h"

namespace wsvis::kernels::cuda {

namespace {

namespace fm = flowirn_math;

template <typename K>
struct SelectState {
  K prefix;
  unsigned long long rank;
};

constexpr int kPickThreads = fm::kRadixBins;  // one thread per bin
constexpr int kHistThreads = 256;
constexpr int64_t kValuesPerHistThread = 16;  // amortises the per-block flush of 256 bins

template <typename K>
__global__ void select_init_kernel(SelectState<K>* state, unsigned int* hist,
                                   unsigned long long k) {
  const int b = threadIdx.x;
  if (b < fm::kRadixBins) hist[b] = 0;
  if (b == 0) {
    state->prefix = 0;
    state->rank = k;
  }
}

template <typename T>
__global__ void select_hist_kernel(const T* __restrict__ values, int64_t n,
                                   const SelectState<typename fm::RadixKey<T>::K>* state,
                                   typename fm::RadixKey<T>::K high_mask, int shift,
                                   unsigned int* __restrict__ hist) {
  using K = typename fm::RadixKey<T>::K;
  __shared__ unsigned int local[fm::kRadixBins];
  for (int b = threadIdx.x; b < fm::kRadixBins; b += blockDim.x) local[b] = 0;
  __syncthreads();
  const K prefix = state->prefix;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const K key = fm::RadixKey<T>::to(values[i]);
    if (((key ^ prefix) & high_mask) == 0)
      atomicAdd(local + ((key >> shift) & (fm::kRadixBins - 1)), 1u);
  }
  __syncthreads();
  for (int b = threadIdx.x; b < fm::kRadixBins; b += blockDim.x)
    if (local[b]) atomicAdd(hist + b, local[b]);
}

template <typename T>
__global__ void select_pick_kernel(SelectState<typename fm::RadixKey<T>::K>* state,
                                   unsigned int* hist, int shift, bool last, T* out) {
  using K = typename fm::RadixKey<T>::K;
  using Scan = cub::BlockScan<unsigned long long, kPickThreads>;
  __shared__ typename Scan::TempStorage temp;
  const int b = threadIdx.x;
  const unsigned long long count = hist[b];
  unsigned long long excl = 0;
  Scan(temp).ExclusiveSum(count, excl);
  const unsigned long long rank = state->rank;
  __syncthreads();  // every thread has read the state before it changes
  if (excl <= rank && rank < excl + count) {
    const K prefix = state->prefix | (static_cast<K>(b) << shift);
    state->prefix = prefix;
    state->rank = rank - excl;
    if (last) *out = fm::RadixKey<T>::from(prefix);
  }
  hist[b] = 0;
}

}  // namespace

size_t select_kth_workspace_bytes(int64_t n, size_t elem_bytes) {
  (void)n;
  (void)elem_bytes;
  // The histogram, then the state (aligned for the 64-bit key).
  return sizeof(unsigned int) * fm::kRadixBins + sizeof(SelectState<unsigned long long>) + 16;
}

template <typename T>
void select_kth(cudaStream_t stream, const T* values, int64_t n, int64_t k, T* out,
                void* workspace) {
  using K = typename fm::RadixKey<T>::K;
  WSVIS_CHECK(n >= 1, "select_kth: no values (n = ", n, ")");
  WSVIS_CHECK(n < (int64_t(1) << 32), "select_kth: ", n, " values, at most 2^32 - 1 supported");
  WSVIS_CHECK(k >= 0 && k < n, "select_kth: rank ", k, " outside [0, ", n, ")");
  WSVIS_CHECK(workspace != nullptr, "select_kth: no workspace");
  unsigned int* hist = static_cast<unsigned int*>(workspace);
  auto* state = reinterpret_cast<SelectState<K>*>(static_cast<char*>(workspace) +
                                                  sizeof(unsigned int) * fm::kRadixBins);
  select_init_kernel<K>
      <<<1, kPickThreads, 0, stream>>>(state, hist, static_cast<unsigned long long>(k));
  WSVIS_LAUNCH_CHECK();
  int64_t blocks = ceil_div(n, kHistThreads * kValuesPerHistThread);
  if (blocks > 1024) blocks = 1024;
  constexpr int kBits = fm::RadixKey<T>::kBits;
  for (int shift = kBits - fm::kRadixBits; shift >= 0; shift -= fm::kRadixBits) {
    // Digits above this one are fixed: compare them with the prefix.
    const int fixed = kBits - (shift + fm::kRadixBits);
    const K high_mask = fixed == 0 ? K(0) : (~K(0) << (shift + fm::kRadixBits));
    select_hist_kernel<T><<<static_cast<unsigned>(blocks), kHistThreads, 0, stream>>>(
        values, n, state, high_mask, shift, hist);
    WSVIS_LAUNCH_CHECK();
    select_pick_kernel<T><<<1, kPickThreads, 0, stream>>>(state, hist, shift, shift == 0, out);
    WSVIS_LAUNCH_CHECK();
  }
}

template void select_kth<float>(cudaStream_t, const float*, int64_t, int64_t, float*, void*);
template void select_kth<double>(cudaStream_t, const double*, int64_t, int64_t, double*, void*);

}  // namespace wsvis::kernels::cuda
