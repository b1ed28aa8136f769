#include "engine/ops/reduce.h"

#include <cstddef>
#include <limits>

#include "engine/ops/elementwise.h"
#include "engine/ops/op_utils.h"
#include "kernels/reduce.h"

namespace wsvis::ops {

namespace {

int64_t span_numel(const Shape& shape, size_t begin, size_t end) {
  int64_t n = 1;
  for (size_t d = begin; d < end; ++d) n *= shape[d];
  return n;
}

void check_input(const Tensor& a, const char* op) {
  detail::check_defined(a, op, "input");
  detail::check_floating(a, op, "input");
}

// out = scale * sum over r of in viewed as (outer, R, inner).
void run_sum_dim(Tensor& out, const Tensor& in, int64_t outer, int64_t R, int64_t inner,
                 double scale) {
  if (detail::on_cpu(in)) {
    WSVIS_DISPATCH_FLOATING(in.dtype(), "sum", [&] {
      kernels::cpu::sum_dim<scalar_t>(out.data<scalar_t>(), in.data<scalar_t>(), outer, R, inner,
                                      static_cast<scalar_t>(scale));
    });
  } else {
#if WSVIS_WITH_CUDA
    kernels::cuda::sum_dim<float>(in.context().stream(), out.data<float>(), in.data<float>(),
                                  outer, R, inner, static_cast<float>(scale));
#endif
  }
}

// The dims of `a` that `dims` names, as a mask (empty `dims` = every dim). A 0-d tensor
// accepts 0 and -1 (as torch does) and has nothing to mask.
std::vector<bool> dims_mask(const Tensor& a, const std::vector<int>& dims, const char* op) {
  const int rank = a.dim();
  std::vector<bool> mask(static_cast<size_t>(rank), dims.empty());
  for (int d : dims) {
    if (rank == 0) {
      WSVIS_CHECK(d == 0 || d == -1, op, ": dimension ", d, " out of range for a 0-d tensor");
      continue;
    }
    const size_t axis = static_cast<size_t>(detail::wrap_dim(d, rank, op));
    WSVIS_CHECK(!mask[axis], op, ": dimension ", d, " appears more than once in the dims of ",
                a.shape_str());
    mask[axis] = true;
  }
  return mask;
}

// The shape after reducing the masked dims: size 1 with keepdim, removed without.
Shape reduced_shape(const Shape& shape, const std::vector<bool>& mask, bool keepdim) {
  Shape out;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (!mask[d]) out.push_back(shape[d]);
    else if (keepdim) out.push_back(1);
  }
  return out;
}

// (outer, D, inner) around one dim; a 0-d tensor is treated as (1, 1, 1).
struct DimView {
  int64_t outer = 1, R = 1, inner = 1;
  int axis = -1;  // -1 for a 0-d tensor
};

DimView view_along(const Tensor& a, int dim, const char* op) {
  DimView v;
  if (a.dim() == 0) {
    WSVIS_CHECK(dim == 0 || dim == -1, op, ": dimension ", dim, " out of range for a 0-d tensor");
    return v;
  }
  v.axis = detail::wrap_dim(dim, a.dim(), op);
  const size_t axis = static_cast<size_t>(v.axis);
  v.outer = span_numel(a.shape(), 0, axis);
  v.R = a.shape()[axis];
  v.inner = span_numel(a.shape(), axis + 1, a.shape().size());
  return v;
}

Tensor softmax_impl(const Tensor& a, int dim, bool take_log, const char* name) {
  check_input(a, name);
  const DimView v = view_along(a, dim, name);
  Tensor out = Tensor::empty(a.shape(), a.dtype(), a.context_ptr());
  if (detail::on_cpu(a)) {
    WSVIS_DISPATCH_FLOATING(a.dtype(), name, [&] {
      kernels::cpu::softmax<scalar_t>(out.data<scalar_t>(), a.data<scalar_t>(), v.outer, v.R,
                                      v.inner, take_log);
    });
  } else {
#if WSVIS_WITH_CUDA
    kernels::cuda::softmax<float>(a.context().stream(), out.data<float>(), a.data<float>(),
                                  v.outer, v.R, v.inner, take_log);
#endif
  }
  if (!autograd::needs_record({&a})) return out;
  // The output, detached so that the node does not keep its own output's record alive.
  const Tensor y = out.detach();
  autograd::record(out, name, {a}, [y, v, take_log, name](const Tensor& g,
                                                          const std::vector<bool>&) {
    Tensor grad = Tensor::empty(g.shape(), g.dtype(), g.context_ptr());
    if (detail::on_cpu(g)) {
      WSVIS_DISPATCH_FLOATING(g.dtype(), name, [&] {
        kernels::cpu::softmax_backward<scalar_t>(grad.data<scalar_t>(), g.data<scalar_t>(),
                                                 y.data<scalar_t>(), v.outer, v.R, v.inner,
                                                 take_log);
      });
    } else {
#if WSVIS_WITH_CUDA
      kernels::cuda::softmax_backward<float>(g.context().stream(), grad.data<float>(),
                                             g.data<float>(), y.data<float>(), v.outer, v.R,
                                             v.inner, take_log);
#endif
    }
    return std::vector<Tensor>{grad};
  });
  return out;
}

}  // namespace

namespace detail {

Tensor reduce_sum(const Tensor& a, const std::vector<bool>& reduce_mask, const Shape& out_shape,
                  double scale, const char* name) {
  check_input(a, name);
  const Shape& shape = a.shape();
  WSVIS_CHECK(reduce_mask.size() == shape.size(), name, ": ", reduce_mask.size(),
              " reduce flags for ", a.shape_str());
  const Shape keep_shape = reduced_shape(shape, reduce_mask, /*keepdim=*/true);
  WSVIS_CHECK(shape_numel(keep_shape) == shape_numel(out_shape), name, ": output shape ",
              shape_str(out_shape), " does not match ", shape_str(keep_shape));
  Tensor out = Tensor::empty(out_shape, a.dtype(), a.context_ptr());

  // Runs of consecutive reduced dims, [begin, end). Each run is one (outer, R, inner) pass;
  // they are done from the last to the first, the last pass writing `out` with the scale.
  // A size-1 dim may join a run (summing over it changes nothing), so {0, 2} of (N, 1, H)
  // is one pass.
  std::vector<std::pair<size_t, size_t>> runs;
  std::vector<bool> run_reduces;  // false for a run of size-1 dims only: no pass needed
  for (size_t d = 0; d < shape.size(); ++d) {
    if (!reduce_mask[d] && shape[d] != 1) continue;
    if (!runs.empty() && runs.back().second == d) {
      runs.back().second = d + 1;
    } else {
      runs.emplace_back(d, d + 1);
      run_reduces.push_back(false);
    }
    if (reduce_mask[d]) run_reduces.back() = true;
  }
  for (size_t k = runs.size(); k-- > 0;)
    if (!run_reduces[k]) runs.erase(runs.begin() + static_cast<std::ptrdiff_t>(k));
  if (runs.empty()) {
    // Nothing to reduce: a scaled copy, as a pass with R = 1.
    run_sum_dim(out, a, 1, 1, a.numel(), scale);
  } else {
    Tensor current = a;
    Shape current_shape = shape;
    for (size_t k = runs.size(); k-- > 0;) {
      const auto [begin, end] = runs[k];
      const int64_t outer = span_numel(current_shape, 0, begin);
      const int64_t R = span_numel(current_shape, begin, end);
      const int64_t inner = span_numel(current_shape, end, current_shape.size());
      for (size_t d = begin; d < end; ++d) current_shape[d] = 1;
      Tensor next = k == 0 ? out : Tensor::empty(current_shape, a.dtype(), a.context_ptr());
      run_sum_dim(next, current, outer, R, inner, k == 0 ? scale : 1.0);
      current = next;
    }
  }

  if (!autograd::needs_record({&a})) return out;
  autograd::record(out, name, {a}, [keep_shape, shape, scale](const Tensor& g,
                                                              const std::vector<bool>&) {
    return std::vector<Tensor>{detail::broadcast_to(g.view(keep_shape), shape, scale)};
  });
  return out;
}

}  // namespace detail

Tensor sum(const Tensor& a, const std::vector<int>& dims, bool keepdim) {
  check_input(a, "sum");
  const std::vector<bool> mask = dims_mask(a, dims, "sum");
  return detail::reduce_sum(a, mask, reduced_shape(a.shape(), mask, keepdim), 1.0, "sum");
}

Tensor sum(const Tensor& a) { return sum(a, {}, false); }

Tensor mean(const Tensor& a, const std::vector<int>& dims, bool keepdim) {
  check_input(a, "mean");
  const std::vector<bool> mask = dims_mask(a, dims, "mean");
  int64_t count = 1;
  for (size_t d = 0; d < mask.size(); ++d)
    if (mask[d]) count *= a.shape()[d];
  // count == 0: 0 * inf = NaN, torch's mean of nothing.
  const double scale =
      count > 0 ? 1.0 / static_cast<double>(count) : std::numeric_limits<double>::infinity();
  return detail::reduce_sum(a, mask, reduced_shape(a.shape(), mask, keepdim), scale, "mean");
}

Tensor mean(const Tensor& a) { return mean(a, {}, false); }

MaxResult max(const Tensor& a, int dim, bool keepdim) {
  check_input(a, "max");
  const DimView v = view_along(a, dim, "max");
  WSVIS_CHECK(v.R > 0, "max: dimension ", dim, " of ", a.shape_str(),
              " has size 0 (the maximum of nothing is undefined)");
  Shape out_shape;
  if (v.axis >= 0) {
    std::vector<bool> mask(a.shape().size(), false);
    mask[static_cast<size_t>(v.axis)] = true;
    out_shape = reduced_shape(a.shape(), mask, keepdim);
  }
  MaxResult result{Tensor::empty(out_shape, a.dtype(), a.context_ptr()),
                   Tensor::empty(out_shape, DType::i64, a.context_ptr())};
  if (detail::on_cpu(a)) {
    WSVIS_DISPATCH_FLOATING(a.dtype(), "max", [&] {
      kernels::cpu::max_dim<scalar_t>(result.values.data<scalar_t>(),
                                      result.indices.data<int64_t>(), a.data<scalar_t>(), v.outer,
                                      v.R, v.inner);
    });
  } else {
#if WSVIS_WITH_CUDA
    kernels::cuda::max_dim<float>(a.context().stream(), result.values.data<float>(),
                                  result.indices.data<int64_t>(), a.data<float>(), v.outer, v.R,
                                  v.inner);
#endif
  }
  if (!autograd::needs_record({&a})) return result;
  const Tensor indices = result.indices;
  const Shape in_shape = a.shape();
  autograd::record(result.values, "max", {a}, [indices, in_shape, v](const Tensor& g,
                                                                     const std::vector<bool>&) {
    Tensor grad = Tensor::empty(in_shape, g.dtype(), g.context_ptr());
    if (detail::on_cpu(g)) {
      WSVIS_DISPATCH_FLOATING(g.dtype(), "max backward", [&] {
        kernels::cpu::max_dim_backward<scalar_t>(grad.data<scalar_t>(), g.data<scalar_t>(),
                                                 indices.data<int64_t>(), v.outer, v.R, v.inner);
      });
    } else {
#if WSVIS_WITH_CUDA
      kernels::cuda::max_dim_backward<float>(g.context().stream(), grad.data<float>(),
                                             g.data<float>(), indices.data<int64_t>(), v.outer,
                                             v.R, v.inner);
#endif
    }
    return std::vector<Tensor>{grad};
  });
  return result;
}

Tensor softmax(const Tensor& a, int dim) { return softmax_impl(a, dim, false, "softmax"); }
Tensor log_softmax(const Tensor& a, int dim) {
  return softmax_impl(a, dim, true, "log_softmax");
}

}  // namespace wsvis::ops
