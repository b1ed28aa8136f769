#include <cstdint>

#include "engine/cuda_check.h"
#include "kernels/cuda/block_reduce.cuh"
#include "kernels/optim.h"
#include "kernels/optim_math.h"

namespace wsvis::kernels::cuda {

namespace {

// Loads each thread keeps in flight per round: the update is bandwidth-bound, and four
// independent (p, g, buf) triples per thread hide the HBM latency that one would expose.
constexpr int kIlp = 4;
// Threads of the block that sums the per-chunk partials.
constexpr int kFinalThreads = 1024;

size_t align_up(size_t bytes) { return (bytes + 255) / 256 * 256; }

// Every thread learns the block's segment (found once, by thread 0).
template <class Segment>
__device__ const Segment& block_segment(const Segment* segs, int64_t count) {
  __shared__ int64_t index;
  if (threadIdx.x == 0) index = segment_of_chunk(segs, count, int64_t(blockIdx.x));
  __syncthreads();
  return segs[index];
}

template <typename T>
__global__ void sgd_kernel(const SgdSegment<T>* segs, int64_t count) {
  const SgdSegment<T>& seg = block_segment(segs, count);
  const SgdSegment<T> s = seg;
  const int64_t begin = (int64_t(blockIdx.x) - s.first_chunk) * kOptimChunk;
  const int64_t end = begin + kOptimChunk < s.n ? begin + kOptimChunk : s.n;
  T* __restrict__ p = s.param;
  const T* __restrict__ g = s.grad;
  T* __restrict__ m = s.momentum_buffer;
  const bool has_momentum = m != nullptr, nesterov = s.nesterov != 0, init = s.init_momentum != 0;
  const int64_t stride = blockDim.x;
  for (int64_t base = begin + threadIdx.x; base < end; base += kIlp * stride) {
    T pr[kIlp], gr[kIlp], mr[kIlp];
#pragma unroll
    for (int k = 0; k < kIlp; ++k) {
      const int64_t i = base + k * stride;
      pr[k] = gr[k] = mr[k] = T(0);
      if (i < end) {
        pr[k] = p[i];
        gr[k] = g[i];
        if (has_momentum && !init) mr[k] = m[i];  // the first step never reads the buffer
      }
    }
#pragma unroll
    for (int k = 0; k < kIlp; ++k) {
      const int64_t i = base + k * stride;
      if (i < end) {
        p[i] = sgd_element(pr[k], gr[k], mr[k], s.lr, s.weight_decay, s.momentum,
                           s.one_minus_dampening, has_momentum, nesterov, init);
        if (has_momentum) m[i] = mr[k];
      }
    }
  }
}

template <typename T>
__global__ void sum_squares_kernel(const GradSegment<T>* segs, int64_t count, double* partials) {
  __shared__ double scratch[32];
  const GradSegment<T> s = block_segment(segs, count);
  const int64_t begin = (int64_t(blockIdx.x) - s.first_chunk) * kOptimChunk;
  const int64_t end = begin + kOptimChunk < s.n ? begin + kOptimChunk : s.n;
  double acc = 0;
  for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) {
    const double v = double(s.data[i]);
    acc += v * v;
  }
  acc = detail::block_sum(acc, scratch);
  if (threadIdx.x == 0) partials[blockIdx.x] = acc;
}

// One block: thread t sums partials t, t + blockDim, ... in order, then a fixed tree.
__global__ void sum_partials_kernel(const double* partials, int64_t n, double* total) {
  __shared__ double scratch[32];
  double acc = 0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) acc += partials[i];
  acc = detail::block_sum(acc, scratch);
  if (threadIdx.x == 0) *total = acc;
}

template <typename T>
__global__ void scale_kernel(const GradSegment<T>* segs, int64_t count, T factor) {
  const GradSegment<T> s = block_segment(segs, count);
  const int64_t begin = (int64_t(blockIdx.x) - s.first_chunk) * kOptimChunk;
  const int64_t end = begin + kOptimChunk < s.n ? begin + kOptimChunk : s.n;
  for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) s.data[i] = s.data[i] * factor;
}

template <typename T>
__global__ void clamp_kernel(const GradSegment<T>* segs, int64_t count, T lo, T hi) {
  const GradSegment<T> s = block_segment(segs, count);
  const int64_t begin = (int64_t(blockIdx.x) - s.first_chunk) * kOptimChunk;
  const int64_t end = begin + kOptimChunk < s.n ? begin + kOptimChunk : s.n;
  for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x)
    s.data[i] = clamp_element(s.data[i], lo, hi);
}

template <class Segment>
int64_t total_chunks(const Segment* segs, int64_t count) {
  return count == 0 ? 0 : segs[count - 1].first_chunk + ceil_div(segs[count - 1].n, kOptimChunk);
}

// Copies the host table into device scratch on the stream. cudaMemcpyAsync from pageable memory
// stages the source before it returns, so the caller may free or reuse the host array at once.
template <class Segment>
Segment* upload(cudaStream_t stream, const Segment* segs, int64_t count, void* scratch) {
  CUDA_CHECK(cudaMemcpyAsync(scratch, segs, size_t(count) * sizeof(Segment), cudaMemcpyHostToDevice,
                             stream));
  return static_cast<Segment*>(scratch);
}

}  // namespace

size_t sgd_scratch_bytes(int64_t count) {
  return align_up(size_t(count) * sizeof(SgdSegment<double>));
}

size_t grad_scratch_bytes(int64_t count, int64_t chunks) {
  return align_up(size_t(count) * sizeof(GradSegment<double>)) + size_t(chunks) * sizeof(double);
}

template <typename T>
void sgd_step(cudaStream_t stream, const SgdSegment<T>* segs, int64_t count, void* scratch) {
  const int64_t chunks = total_chunks(segs, count);
  if (chunks == 0) return;
  const SgdSegment<T>* table = upload(stream, segs, count, scratch);
  sgd_kernel<T><<<unsigned(chunks), kOptimThreads, 0, stream>>>(table, count);
  WSVIS_LAUNCH_CHECK();
}

template <typename T>
void sum_squares(cudaStream_t stream, const GradSegment<T>* segs, int64_t count, void* scratch,
                 double* device_total) {
  const int64_t chunks = total_chunks(segs, count);
  double* partials = reinterpret_cast<double*>(
      static_cast<char*>(scratch) + align_up(size_t(count) * sizeof(GradSegment<double>)));
  if (chunks > 0) {
    const GradSegment<T>* table = upload(stream, segs, count, scratch);
    sum_squares_kernel<T><<<unsigned(chunks), kOptimThreads, 0, stream>>>(table, count, partials);
    WSVIS_LAUNCH_CHECK();
  }
  sum_partials_kernel<<<1, kFinalThreads, 0, stream>>>(partials, chunks, device_total);
  WSVIS_LAUNCH_CHECK();
}

template <typename T>
void scale(cudaStream_t stream, const GradSegment<T>* segs, int64_t count, void* scratch,
           T factor) {
  const int64_t chunks = total_chunks(segs, count);
  if (chunks == 0) return;
  const GradSegment<T>* table = upload(stream, segs, count, scratch);
  scale_kernel<T><<<unsigned(chunks), kOptimThreads, 0, stream>>>(table, count, factor);
  WSVIS_LAUNCH_CHECK();
}

template <typename T>
void clamp(cudaStream_t stream, const GradSegment<T>* segs, int64_t count, void* scratch, T lo,
           T hi) {
  const int64_t chunks = total_chunks(segs, count);
  if (chunks == 0) return;
  const GradSegment<T>* table = upload(stream, segs, count, scratch);
  clamp_kernel<T><<<unsigned(chunks), kOptimThreads, 0, stream>>>(table, count, lo, hi);
  WSVIS_LAUNCH_CHECK();
}

#define WSVIS_INSTANTIATE_OPTIM(T)                                                            \
  template void sgd_step<T>(cudaStream_t, const SgdSegment<T>*, int64_t, void*);              \
  template void sum_squares<T>(cudaStream_t, const GradSegment<T>*, int64_t, void*, double*); \
  template void scale<T>(cudaStream_t, const GradSegment<T>*, int64_t, void*, T);             \
  template void clamp<T>(cudaStream_t, const GradSegment<T>*, int64_t, void*, T, T);
WSVIS_INSTANTIATE_OPTIM(float)
WSVIS_INSTANTIATE_OPTIM(double)

}  // namespace wsvis::kernels::cuda
