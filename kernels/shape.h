// Shape kernels: strided copies (permute, slice, concat, broadcast), index gathers
// (index_select, gather) with their scatter-add backwards, and the index range check.
// CPU twin in kernels/cpu/shape.cpp, CUDA twin in kernels/cuda/shape.cu.
//
// All tensors are contiguous; a "layout" describes how a contiguous walk over `sizes` maps to
// element offsets in the source and the destination, so one copy kernel serves permute (the
// source strides permuted), slice (source strides times step), concat (the destination strides
// of the whole output) and broadcast (source stride 0).
#pragma once

#include <cstdint>

#include "kernels/common.h"

#if WSVIS_WITH_CUDA
#include <cuda_runtime.h>
#endif

namespace wsvis::kernels {

constexpr int kCopyMaxDims = 5;

// Passed by value to CUDA kernels (a few hundred bytes of kernel parameters).
struct CopyLayout {
  int ndim = 0;
  int64_t sizes[kCopyMaxDims] = {};        // the walk, outermost first
  int64_t src_strides[kCopyMaxDims] = {};  // in elements; 0 broadcasts
  int64_t dst_strides[kCopyMaxDims] = {};  // in elements
};

// gather: the index tensor's sizes (also the output's) and the source's contiguous strides.
struct GatherLayout {
  int ndim = 0;
  int dim = 0;                             // the gathered dimension
  int64_t sizes[kCopyMaxDims] = {};        // index / output sizes
  int64_t src_strides[kCopyMaxDims] = {};  // contiguous strides of the source
};

WSVIS_HD inline int64_t layout_numel(const CopyLayout& l) {
  int64_t n = 1;
  for (int d = 0; d < l.ndim; ++d) n *= l.sizes[d];
  return n;
}

WSVIS_HD inline int64_t gather_numel(const GatherLayout& l) {
  int64_t n = 1;
  for (int d = 0; d < l.ndim; ++d) n *= l.sizes[d];
  return n;
}

// Source and destination offsets of the i-th element of a contiguous walk over l.sizes.
WSVIS_HD inline void layout_offsets(const CopyLayout& l, int64_t i, int64_t* src, int64_t* dst) {
  int64_t s = 0, t = 0;
  for (int d = l.ndim - 1; d >= 0; --d) {
    const int64_t coord = i % l.sizes[d];
    i /= l.sizes[d];
    s += coord * l.src_strides[d];
    t += coord * l.dst_strides[d];
  }
  *src = s;
  *dst = t;
}

// Offset in the gather source of output element j, whose index value is `picked`.
WSVIS_HD inline int64_t gather_offset(const GatherLayout& l, int64_t j, int64_t picked) {
  int64_t off = 0;
  for (int d = l.ndim - 1; d >= 0; --d) {
    const int64_t coord = j % l.sizes[d];
    j /= l.sizes[d];
    off += (d == l.dim ? picked : coord) * l.src_strides[d];
  }
  return off;
}

namespace cpu {
// dst[layout dst offsets] = src[layout src offsets] over the whole walk (dst regions of
// different elements never overlap for the layouts the ops build).
template <typename T>
void strided_copy(const CopyLayout& layout, const T* src, T* dst);

// a: (outer, size, inner), index: (k) -> out: (outer, k, inner); indices already validated.
template <typename T>
void index_select(const T* a, const int64_t* index, int64_t outer, int64_t size, int64_t inner,
                  int64_t k, T* out);
// grad_a[o, index[j], i] += grad_out[o, j, i] (grad_a zeroed by the caller).
template <typename T>
void index_select_backward(const T* grad_out, const int64_t* index, int64_t outer, int64_t size,
                           int64_t inner, int64_t k, T* grad_a);

// out[j] = a[gather_offset(layout, j, index[j])] for j over the index's elements.
template <typename T>
void gather(const T* a, const int64_t* index, const GatherLayout& layout, T* out);
// grad_a[gather_offset(layout, j, index[j])] += grad_out[j] (grad_a zeroed by the caller).
template <typename T>
void gather_backward(const T* grad_out, const int64_t* index, const GatherLayout& layout, T* grad_a);

// *first_bad = the smallest position p with index[p] outside [0, size) and index[p] != ignore
// (when has_ignore), or n when every index is valid. first_bad is host memory here.
void first_invalid_index(const int64_t* index, int64_t n, int64_t size, bool has_ignore,
                         int64_t ignore, int64_t* first_bad);
}  // namespace cpu

#if WSVIS_WITH_CUDA
namespace cuda {
template <typename T>
void strided_copy(cudaStream_t stream, const CopyLayout& layout, const T* src, T* dst);
template <typename T>
void index_select(cudaStream_t stream, const T* a, const int64_t* index, int64_t outer,
                  int64_t size, int64_t inner, int64_t k, T* out);
// Uses atomicAdd: with duplicate indices the float sums happen in a run-dependent order, so
// the last bits of grad_a can differ between runs.
template <typename T>
void index_select_backward(cudaStream_t stream, const T* grad_out, const int64_t* index,
                           int64_t outer, int64_t size, int64_t inner, int64_t k, T* grad_a);
template <typename T>
void gather(cudaStream_t stream, const T* a, const int64_t* index, const GatherLayout& layout,
            T* out);
// atomicAdd, as index_select_backward.
template <typename T>
void gather_backward(cudaStream_t stream, const T* grad_out, const int64_t* index,
                     const GatherLayout& layout, T* grad_a);
// first_bad is device memory (one int64); the caller copies it back.
void first_invalid_index(cudaStream_t stream, const int64_t* index, int64_t n, int64_t size,
                         bool has_ignore, int64_t ignore, int64_t* first_bad);
}  // namespace cuda
#endif

}  // namespace wsvis::kernels
