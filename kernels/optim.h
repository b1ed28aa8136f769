// Multi-tensor optimizer kernels: one launch updates every parameter of every group.
// CPU twin in kernels/cpu/optim.cpp, CUDA twin in kernels/cuda/optim.cu, per-element maths in
// kernels/optim_math.h.
//
// Work is described as a table of segments, each one contiguous range of elements (a whole
// parameter, or, for a packed model, the run of adjacent parameters of one group) with its own
// hyper-parameters. plan_chunks() cuts every segment into chunks of kOptimChunk elements and
// numbers them globally; the CUDA twin runs one block per chunk (a block finds its segment by
// binary search over first_chunk), and the CPU twin uses the same chunks for its partial sums
// so that a reduction's order does not depend on the thread count.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/common.h"

#if WSVIS_WITH_CUDA
#include <cuda_runtime.h>
#endif

namespace wsvis::kernels {

// Elements per chunk: 256 threads x 4 loads in flight x 4 rounds. Big enough that a 25M-element
// buffer needs ~6k blocks (cheap to schedule), small enough that a ResNet's 64-element BN
// vectors waste at most one short block each.
constexpr int64_t kOptimChunk = 4096;
constexpr int kOptimThreads = 256;

template <typename T>
struct SgdSegment {
  T* param = nullptr;
  const T* grad = nullptr;
  T* momentum_buffer = nullptr;  // null when momentum == 0
  int64_t n = 0;
  int64_t first_chunk = 0;  // set by plan_chunks
  T lr = 0;
  T weight_decay = 0;
  T momentum = 0;
  T one_minus_dampening = 1;
  int32_t nesterov = 0;
  int32_t init_momentum = 0;  // the buffer's first step: buf = d
};

// A range of gradient elements for the clipping kernels.
template <typename T>
struct GradSegment {
  T* data = nullptr;
  int64_t n = 0;
  int64_t first_chunk = 0;  // set by plan_chunks
};

// Numbers the chunks: segs[i].first_chunk = chunks before segment i. Returns the total.
template <class Segment>
int64_t plan_chunks(Segment* segs, int64_t count) {
  int64_t total = 0;
  for (int64_t i = 0; i < count; ++i) {
    segs[i].first_chunk = total;
    total += ceil_div(segs[i].n, kOptimChunk);
  }
  return total;
}

// The segment that owns global chunk `chunk`: the last one whose first_chunk <= chunk. Empty
// segments share their first_chunk with the next segment and lose the tie, so a chunk always
// lands on the segment that has its elements. Host and device (the CUDA twin's block lookup).
template <class Segment>
WSVIS_HD inline int64_t segment_of_chunk(const Segment* segs, int64_t count, int64_t chunk) {
  int64_t lo = 0, hi = count - 1;
  while (lo < hi) {
    const int64_t mid = (lo + hi + 1) / 2;
    if (segs[mid].first_chunk <= chunk)
      lo = mid;
    else
      hi = mid - 1;
  }
  return lo;
}

namespace cpu {
// Applies sgd_element to every element of every segment.
template <typename T>
void sgd_step(const SgdSegment<T>* segs, int64_t count);
// Sum of squares of all elements, accumulated in double: partials[c] (one per chunk, chunks
// numbered by plan_chunks) sums its chunk in element order, the total sums the partials in chunk
// order, so the result is the same for any thread count. `partials` holds the total chunk count.
template <typename T>
double sum_squares(const GradSegment<T>* segs, int64_t count, double* partials);
// x *= factor on every element.
template <typename T>
void scale(const GradSegment<T>* segs, int64_t count, T factor);
// x = clamp(x, lo, hi) on every element.
template <typename T>
void clamp(const GradSegment<T>* segs, int64_t count, T lo, T hi);
}  // namespace cpu

#if WSVIS_WITH_CUDA
namespace cuda {
// Device scratch the CUDA twins need: the segment table (uploaded on `stream` from the host
// array, which may be freed when the call returns) and, for sum_squares, one double per chunk.
size_t sgd_scratch_bytes(int64_t count);
size_t grad_scratch_bytes(int64_t count, int64_t chunks);

// `segs` is a HOST array whose first_chunk fields plan_chunks has set; one launch.
template <typename T>
void sgd_step(cudaStream_t stream, const SgdSegment<T>* segs, int64_t count, void* scratch);
// Writes the total to *device_total (device memory) without synchronising: one block per chunk
// reduces its chunk in a fixed tree (double), one block then sums the partials in a fixed
// order, so the result is identical run to run (it differs from the CPU twin's in rounding only).
template <typename T>
void sum_squares(cudaStream_t stream, const GradSegment<T>* segs, int64_t count, void* scratch,
                 double* device_total);
template <typename T>
void scale(cudaStream_t stream, const GradSegment<T>* segs, int64_t count, void* scratch, T factor);
template <typename T>
void clamp(cudaStream_t stream, const GradSegment<T>* segs, int64_t count, void* scratch, T lo,
           T hi);
}  // namespace cuda
#endif

}  // namespace wsvis::kernels
