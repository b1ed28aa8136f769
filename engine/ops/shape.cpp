#include "engine/ops/shape.h"

#include <algorithm>
#include <string>

#include "engine/ops/op_utils.h"
#include "kernels/shape.h"

namespace wsvis::ops {

namespace {

using kernels::CopyLayout;
using kernels::GatherLayout;

std::vector<int64_t> contiguous_strides(const Shape& shape) {
  std::vector<int64_t> strides(shape.size(), 1);
  for (int d = static_cast<int>(shape.size()) - 2; d >= 0; --d)
    strides[static_cast<size_t>(d)] = strides[static_cast<size_t>(d) + 1] * shape[static_cast<size_t>(d) + 1];
  return strides;
}

// Product of sizes in [begin, end).
int64_t span_numel(const Shape& shape, int begin, int end) {
  int64_t n = 1;
  for (int d = begin; d < end; ++d) n *= shape[static_cast<size_t>(d)];
  return n;
}

// The copy as a (outer, middle, inner) walk: the common case of slice/concat.
CopyLayout layout3(int64_t outer, int64_t middle, int64_t inner, int64_t src_outer,
                   int64_t src_middle, int64_t dst_outer, int64_t dst_middle) {
  CopyLayout l;
  l.ndim = 3;
  l.sizes[0] = outer;
  l.sizes[1] = middle;
  l.sizes[2] = inner;
  l.src_strides[0] = src_outer;
  l.src_strides[1] = src_middle;
  l.src_strides[2] = 1;
  l.dst_strides[0] = dst_outer;
  l.dst_strides[1] = dst_middle;
  l.dst_strides[2] = 1;
  return l;
}

template <typename T>
void run_strided_copy(const Tensor& src, int64_t src_offset, Tensor& dst, int64_t dst_offset,
                      const CopyLayout& layout) {
  const T* s = src.data<T>() + src_offset;
  T* d = dst.data<T>() + dst_offset;
  if (detail::on_cpu(src)) {
    kernels::cpu::strided_copy<T>(layout, s, d);
  } else {
#if WSVIS_WITH_CUDA
    kernels::cuda::strided_copy<T>(src.context().stream(), layout, s, d);
#endif
  }
}

// dst (at dst_offset elements) <- src (at src_offset) along `layout`; any dtype.
void strided_copy(const Tensor& src, int64_t src_offset, Tensor& dst, int64_t dst_offset,
                  const CopyLayout& layout) {
  WSVIS_DISPATCH_ALL(src.dtype(), "strided copy", [&] {
    run_strided_copy<scalar_t>(src, src_offset, dst, dst_offset, layout);
  });
}

// Copy of rows [start, start + step*length) step `step` along the middle of (outer, size, inner).
Tensor slice_copy(const Tensor& a, int axis, int64_t start, int64_t length, int64_t step) {
  Shape out_shape = a.shape();
  out_shape[static_cast<size_t>(axis)] = length;
  Tensor out = Tensor::empty(out_shape, a.dtype(), a.context_ptr());
  const int64_t outer = span_numel(a.shape(), 0, axis);
  const int64_t size = a.size(axis);
  const int64_t inner = span_numel(a.shape(), axis + 1, a.dim());
  strided_copy(a, start * inner, out, 0,
               layout3(outer, length, inner, size * inner, step * inner, length * inner, inner));
  return out;
}

// Inverse of slice_copy for gradients: zeros of `shape` with g written into the sliced rows.
Tensor slice_scatter_zeros(const Tensor& g, const Shape& shape, int axis, int64_t start,
                           int64_t step) {
  Tensor out = Tensor::zeros(shape, g.dtype(), g.context_ptr());
  const int64_t outer = span_numel(shape, 0, axis);
  const int64_t size = shape[static_cast<size_t>(axis)];
  const int64_t inner = span_numel(shape, axis + 1, static_cast<int>(shape.size()));
  const int64_t length = g.size(axis);
  strided_copy(g, 0, out, start * inner,
               layout3(outer, length, inner, length * inner, inner, size * inner, step * inner));
  return out;
}

void check_index_tensor(const Tensor& index, const Tensor& a, const char* op) {
  detail::check_defined(index, op, "index");
  WSVIS_CHECK(index.dtype() == DType::i64, op, ": index must be i64, got ", index.describe());
  detail::check_same_context(op, {&a, &index});
}

template <typename T>
void index_select_forward(const Tensor& a, const Tensor& index, int64_t outer, int64_t size,
                          int64_t inner, Tensor& out) {
  const int64_t k = index.numel();
  if (detail::on_cpu(a)) {
    kernels::cpu::index_select<T>(a.data<T>(), index.data<int64_t>(), outer, size, inner, k,
                                  out.data<T>());
  } else {
#if WSVIS_WITH_CUDA
    kernels::cuda::index_select<T>(a.context().stream(), a.data<T>(), index.data<int64_t>(),
                                   outer, size, inner, k, out.data<T>());
#endif
  }
}

template <typename T>
void gather_forward(const Tensor& a, const Tensor& index, const GatherLayout& layout, Tensor& out) {
  if (detail::on_cpu(a)) {
    kernels::cpu::gather<T>(a.data<T>(), index.data<int64_t>(), layout, out.data<T>());
  } else {
#if WSVIS_WITH_CUDA
    kernels::cuda::gather<T>(a.context().stream(), a.data<T>(), index.data<int64_t>(), layout,
                             out.data<T>());
#endif
  }
}

}  // namespace

namespace detail {

void check_index_range(const Tensor& index, int64_t size, bool has_ignore, int64_t ignore,
                       const char* op, const char* what) {
  const int64_t n = index.numel();
  if (n == 0) return;
  int64_t first_bad = n;
  if (on_cpu(index)) {
    kernels::cpu::first_invalid_index(index.data<int64_t>(), n, size, has_ignore, ignore,
                                      &first_bad);
  } else {
#if WSVIS_WITH_CUDA
    Tensor result = Tensor::empty({1}, DType::i64, index.context_ptr());
    kernels::cuda::first_invalid_index(index.context().stream(), index.data<int64_t>(), n, size,
                                       has_ignore, ignore, result.data<int64_t>());
    first_bad = result.item<int64_t>();
#endif
  }
  if (first_bad >= n) return;
  const int64_t value = index.view({n}).narrow0(first_bad, 1).item<int64_t>();
  WSVIS_FAIL(op, ": ", what, " value ", value, " at flat position ", first_bad,
             " is out of range for size ", size,
             has_ignore ? ::wsvis::detail::concat(" (valid: [0, ", size, ") or ignore_index ", ignore, ")")
                        : ::wsvis::detail::concat(" (valid: [0, ", size, "))"));
}

}  // namespace detail

Tensor reshape(const Tensor& a, const Shape& shape) {
  detail::check_defined(a, "reshape", "input");
  Tensor out;
  try {
    out = a.view(shape);
  } catch (const Error& e) {
    WSVIS_FAIL("reshape: cannot reshape ", a.describe(), " to ", wsvis::shape_str(shape), " (",
               e.what(), ")");
  }
  if (autograd::needs_record({&a})) {
    const Shape in_shape = a.shape();
    autograd::record(out, "reshape", {a},
                     [in_shape](const Tensor& g, const std::vector<bool>&) -> std::vector<Tensor> {
                       return {g.view(in_shape)};
                     });
  }
  return out;
}

Tensor flatten(const Tensor& a, int start_dim) {
  detail::check_defined(a, "flatten", "input");
  if (a.dim() == 0) return reshape(a, {1});
  const int axis = detail::wrap_dim(start_dim, a.dim(), "flatten");
  Shape shape(a.shape().begin(), a.shape().begin() + axis);
  shape.push_back(span_numel(a.shape(), axis, a.dim()));
  return reshape(a, shape);
}

Tensor permute(const Tensor& a, const std::vector<int>& order) {
  detail::check_defined(a, "permute", "input");
  const int nd = a.dim();
  WSVIS_CHECK(static_cast<int>(order.size()) == nd, "permute: order has ", order.size(),
              " entries for a ", nd, "-d tensor ", a.shape_str());
  std::vector<int> axes(order.size());
  std::vector<bool> seen(order.size(), false);
  for (size_t i = 0; i < order.size(); ++i) {
    axes[i] = detail::wrap_dim(order[i], nd, "permute");
    WSVIS_CHECK(!seen[static_cast<size_t>(axes[i])], "permute: dimension ", order[i],
                " repeated in the order for ", a.shape_str());
    seen[static_cast<size_t>(axes[i])] = true;
  }
  const std::vector<int64_t> a_strides = contiguous_strides(a.shape());
  Shape out_shape(order.size());
  for (size_t i = 0; i < axes.size(); ++i) out_shape[i] = a.shape()[static_cast<size_t>(axes[i])];
  const std::vector<int64_t> out_strides = contiguous_strides(out_shape);
  CopyLayout l;
  l.ndim = nd;
  for (int i = 0; i < nd; ++i) {
    l.sizes[i] = out_shape[static_cast<size_t>(i)];
    l.src_strides[i] = a_strides[static_cast<size_t>(axes[static_cast<size_t>(i)])];
    l.dst_strides[i] = out_strides[static_cast<size_t>(i)];
  }
  Tensor out = Tensor::empty(out_shape, a.dtype(), a.context_ptr());
  strided_copy(a, 0, out, 0, l);
  if (autograd::needs_record({&a})) {
    std::vector<int> inverse(axes.size());
    for (size_t i = 0; i < axes.size(); ++i) inverse[static_cast<size_t>(axes[i])] = static_cast<int>(i);
    autograd::record(out, "permute", {a},
                     [inverse](const Tensor& g, const std::vector<bool>&) -> std::vector<Tensor> {
                       return {permute(g, inverse)};
                     });
  }
  return out;
}

Tensor concat(const std::vector<Tensor>& xs, int dim) {
  WSVIS_CHECK(!xs.empty(), "concat: empty list of tensors");
  for (size_t i = 0; i < xs.size(); ++i)
    WSVIS_CHECK(xs[i].defined(), "concat: tensor ", i, " is undefined");
  const Tensor& first = xs[0];
  WSVIS_CHECK(first.dim() >= 1, "concat: cannot concatenate 0-d tensors (", first.describe(), ")");
  const int axis = detail::wrap_dim(dim, first.dim(), "concat");
  Shape out_shape = first.shape();
  int64_t total = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    const Tensor& x = xs[i];
    detail::check_same_context("concat", {&first, &x});
    WSVIS_CHECK(x.dtype() == first.dtype(), "concat: tensor ", i, " is ", x.describe(),
                " but tensor 0 is ", first.describe());
    bool match = x.dim() == first.dim();
    for (int d = 0; match && d < first.dim(); ++d)
      match = d == axis || x.size(d) == first.size(d);
    WSVIS_CHECK(match, "concat: tensor ", i, " has shape ", x.shape_str(), " but tensor 0 has ",
                first.shape_str(), "; sizes must match except along dimension ", axis);
    total += x.size(axis);
  }
  out_shape[static_cast<size_t>(axis)] = total;
  Tensor out = Tensor::empty(out_shape, first.dtype(), first.context_ptr());
  const int64_t outer = span_numel(out_shape, 0, axis);
  const int64_t inner = span_numel(out_shape, axis + 1, first.dim());
  std::vector<int64_t> starts;
  int64_t at = 0;
  for (const Tensor& x : xs) {
    const int64_t len = x.size(axis);
    starts.push_back(at);
    strided_copy(x, 0, out, at * inner,
                 layout3(outer, len, inner, len * inner, inner, total * inner, inner));
    at += len;
  }
  if (autograd::needs_record(xs)) {
    std::vector<int64_t> lengths;
    for (const Tensor& x : xs) lengths.push_back(x.size(axis));
    autograd::record(out, "concat", xs,
                     [axis, starts, lengths](const Tensor& g, const std::vector<bool>& needs)
                         -> std::vector<Tensor> {
                       std::vector<Tensor> grads(needs.size());
                       for (size_t i = 0; i < needs.size(); ++i)
                         if (needs[i]) grads[i] = slice_copy(g, axis, starts[i], lengths[i], 1);
                       return grads;
                     });
  }
  return out;
}

Tensor slice(const Tensor& a, int dim, int64_t start, int64_t end, int64_t step) {
  detail::check_defined(a, "slice", "input");
  WSVIS_CHECK(a.dim() >= 1, "slice: cannot slice a 0-d tensor");
  const int axis = detail::wrap_dim(dim, a.dim(), "slice");
  WSVIS_CHECK(step >= 1, "slice: step must be >= 1, got ", step);
  const int64_t size = a.size(axis);
  auto clamp_bound = [size](int64_t v) {
    if (v < 0) v += size;
    return std::min(std::max<int64_t>(v, 0), size);
  };
  const int64_t lo = clamp_bound(start);
  const int64_t hi = std::max(clamp_bound(end), lo);
  const int64_t length = (hi - lo + step - 1) / step;
  Tensor out = slice_copy(a, axis, lo, length, step);
  if (autograd::needs_record({&a})) {
    const Shape in_shape = a.shape();
    autograd::record(out, "slice", {a},
                     [in_shape, axis, lo, step](const Tensor& g, const std::vector<bool>&)
                         -> std::vector<Tensor> {
                       return {slice_scatter_zeros(g, in_shape, axis, lo, step)};
                     });
  }
  return out;
}

Tensor index_select(const Tensor& a, int dim, const Tensor& index) {
  detail::check_defined(a, "index_select", "input");
  check_index_tensor(index, a, "index_select");
  WSVIS_CHECK(a.dim() >= 1, "index_select: input must have at least one dimension, got ",
              a.describe());
  WSVIS_CHECK(index.dim() == 1, "index_select: index must be 1-d (K,), got ", index.shape_str());
  const int axis = detail::wrap_dim(dim, a.dim(), "index_select");
  const int64_t size = a.size(axis);
  detail::check_index_range(index, size, false, 0, "index_select", "index");
  const int64_t outer = span_numel(a.shape(), 0, axis);
  const int64_t inner = span_numel(a.shape(), axis + 1, a.dim());
  Shape out_shape = a.shape();
  out_shape[static_cast<size_t>(axis)] = index.numel();
  Tensor out = Tensor::empty(out_shape, a.dtype(), a.context_ptr());
  WSVIS_DISPATCH_ALL(a.dtype(), "index_select", [&] {
    index_select_forward<scalar_t>(a, index, outer, size, inner, out);
  });
  if (autograd::needs_record({&a})) {
    const Shape in_shape = a.shape();
    const Tensor idx = index;
    autograd::record(out, "index_select", {a},
                     [in_shape, idx, outer, size, inner](const Tensor& g, const std::vector<bool>&)
                         -> std::vector<Tensor> {
                       Tensor grad = Tensor::zeros(in_shape, g.dtype(), g.context_ptr());
                       const int64_t k = idx.numel();
                       WSVIS_DISPATCH_FLOATING(g.dtype(), "index_select backward", [&] {
                         if (detail::on_cpu(g)) {
                           kernels::cpu::index_select_backward<scalar_t>(
                               g.data<scalar_t>(), idx.data<int64_t>(), outer, size, inner, k,
                               grad.data<scalar_t>());
                         } else {
#if WSVIS_WITH_CUDA
                           kernels::cuda::index_select_backward<scalar_t>(
                               g.context().stream(), g.data<scalar_t>(), idx.data<int64_t>(),
                               outer, size, inner, k, grad.data<scalar_t>());
#endif
                         }
                       });
                       return {grad};
                     });
  }
  return out;
}

Tensor gather(const Tensor& a, int dim, const Tensor& index) {
  detail::check_defined(a, "gather", "input");
  check_index_tensor(index, a, "gather");
  WSVIS_CHECK(a.dim() >= 1, "gather: input must have at least one dimension, got ", a.describe());
  WSVIS_CHECK(index.dim() == a.dim(), "gather: index ", index.shape_str(), " must have as many ",
              "dimensions as the input ", a.shape_str());
  const int axis = detail::wrap_dim(dim, a.dim(), "gather");
  for (int d = 0; d < a.dim(); ++d)
    WSVIS_CHECK(d == axis || index.size(d) <= a.size(d), "gather: index ", index.shape_str(),
                " is larger than the input ", a.shape_str(), " in dimension ", d);
  detail::check_index_range(index, a.size(axis), false, 0, "gather", "index");
  GatherLayout layout;
  layout.ndim = a.dim();
  layout.dim = axis;
  const std::vector<int64_t> a_strides = contiguous_strides(a.shape());
  for (int d = 0; d < a.dim(); ++d) {
    layout.sizes[d] = index.size(d);
    layout.src_strides[d] = a_strides[static_cast<size_t>(d)];
  }
  Tensor out = Tensor::empty(index.shape(), a.dtype(), a.context_ptr());
  WSVIS_DISPATCH_ALL(a.dtype(), "gather", [&] { gather_forward<scalar_t>(a, index, layout, out); });
  if (autograd::needs_record({&a})) {
    const Shape in_shape = a.shape();
    const Tensor idx = index;
    autograd::record(out, "gather", {a},
                     [in_shape, idx, layout](const Tensor& g, const std::vector<bool>&)
                         -> std::vector<Tensor> {
                       Tensor grad = Tensor::zeros(in_shape, g.dtype(), g.context_ptr());
                       WSVIS_DISPATCH_FLOATING(g.dtype(), "gather backward", [&] {
                         if (detail::on_cpu(g)) {
                           kernels::cpu::gather_backward<scalar_t>(
                               g.data<scalar_t>(), idx.data<int64_t>(), layout,
                               grad.data<scalar_t>());
                         } else {
#if WSVIS_WITH_CUDA
                           kernels::cuda::gather_backward<scalar_t>(
                               g.context().stream(), g.data<scalar_t>(), idx.data<int64_t>(),
                               layout, grad.data<scalar_t>());
#endif
                         }
                       });
                       return {grad};
                     });
  }
  return out;
}

}  // namespace wsvis::ops
