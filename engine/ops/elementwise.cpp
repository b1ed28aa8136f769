#include "engine/ops/elementwise.h"

#include <algorithm>

#include "engine/ops/op_utils.h"
#include "engine/ops/reduce.h"
#include "kernels/elementwise.h"
#include "kernels/elementwise_math.h"

namespace wsvis::ops {

namespace {

using kernels::BinaryOp;
using kernels::BroadcastGeometry;
using kernels::UnaryOp;
using kernels::UnarySaved;

static_assert(kMaxDims == kernels::kMaxBroadcastDims, "tensor and kernel rank limits differ");

// Element strides of a tensor of shape `in` in the index space of `out` (which `in`
// broadcasts to): 0 along dims `in` lacks or has size 1.
void broadcast_strides(const Shape& in, const Shape& out, int64_t* strides) {
  const int rank = static_cast<int>(out.size());
  const int lead = rank - static_cast<int>(in.size());
  int64_t stride = 1;
  for (int d = rank - 1; d >= 0; --d) {
    const int k = d - lead;
    strides[d] = (k < 0 || in[static_cast<size_t>(k)] == 1) ? 0 : stride;
    if (k >= 0) stride *= in[static_cast<size_t>(k)];
  }
}

// The kernels' index geometry for out = f(a, b), simplified so that the per-element
// index arithmetic (a div and a mod per dim) is as short as possible: size-1 output dims are
// dropped, and a dim is merged into the one after it when both inputs step through the pair
// as through one dim (stride of the outer == size * stride of the inner, which covers both
// "contiguous in the input" and "broadcast along both"). (N, C, H, W) + (1, C, 1, 1) becomes
// (N, C, H*W) with b's strides (0, 1, 0).
BroadcastGeometry make_geometry(const Shape& out, const Shape& a, const Shape& b) {
  int64_t stride_a[kMaxDims], stride_b[kMaxDims];
  broadcast_strides(a, out, stride_a);
  broadcast_strides(b, out, stride_b);
  // Built from the last dim backwards into slots [kMaxDims - ndim, kMaxDims), then shifted.
  BroadcastGeometry geo;
  int first = kMaxDims;
  for (int d = static_cast<int>(out.size()) - 1; d >= 0; --d) {
    const int64_t size = out[static_cast<size_t>(d)];
    if (size == 1) continue;
    if (first < kMaxDims) {
      const int64_t inner = geo.sizes[first];
      if (stride_a[d] == inner * geo.stride_a[first] &&
          stride_b[d] == inner * geo.stride_b[first]) {
        geo.sizes[first] *= size;
        continue;
      }
    }
    --first;
    geo.sizes[first] = size;
    geo.stride_a[first] = stride_a[d];
    geo.stride_b[first] = stride_b[d];
  }
  geo.ndim = kMaxDims - first;
  for (int d = 0; d < geo.ndim; ++d) {
    geo.sizes[d] = geo.sizes[first + d];
    geo.stride_a[d] = geo.stride_a[first + d];
    geo.stride_b[d] = geo.stride_b[first + d];
  }
  return geo;
}

void check_input(const Tensor& a, const char* op, const char* what) {
  detail::check_defined(a, op, what);
  detail::check_floating(a, op, what);
}

// out = a op b, where out already has the broadcast shape.
void run_binary(BinaryOp op, Tensor& out, const Tensor& a, const Tensor& b, const char* name) {
  const bool same_shape = a.shape() == b.shape();
  const BroadcastGeometry geo =
      same_shape ? BroadcastGeometry{} : make_geometry(out.shape(), a.shape(), b.shape());
  const int64_t n = out.numel();
  if (detail::on_cpu(out)) {
    WSVIS_DISPATCH_FLOATING(out.dtype(), name, [&] {
      if (same_shape)
        kernels::cpu::binary<scalar_t>(op, out.data<scalar_t>(), a.data<scalar_t>(),
                                       b.data<scalar_t>(), n);
      else
        kernels::cpu::binary_broadcast<scalar_t>(op, out.data<scalar_t>(), a.data<scalar_t>(),
                                                 b.data<scalar_t>(), geo);
    });
    return;
  }
#if WSVIS_WITH_CUDA
  cudaStream_t stream = out.context().stream();
  if (same_shape)
    kernels::cuda::binary<float>(stream, op, out.data<float>(), a.data<float>(), b.data<float>(),
                                 n);
  else
    kernels::cuda::binary_broadcast<float>(stream, op, out.data<float>(), a.data<float>(),
                                           b.data<float>(), geo);
#else
  WSVIS_FAIL(name, ": ", out.describe(), " is not on the CPU and this build has no CUDA");
#endif
}

Tensor binary_op(BinaryOp op, const Tensor& a, const Tensor& b, const char* name) {
  check_input(a, name, "a");
  check_input(b, name, "b");
  detail::check_same_context(name, {&a, &b});
  detail::check_same_dtype(name, a, b);
  const Shape out_shape = detail::broadcast_shapes(a.shape(), b.shape(), name);
  Tensor out = Tensor::empty(out_shape, a.dtype(), a.context_ptr());
  run_binary(op, out, a, b, name);
  if (!autograd::needs_record({&a, &b})) return out;

  const Shape a_shape = a.shape(), b_shape = b.shape();
  // Only the factors a backward formula reads are kept: d(a*b)/da reads b, d(a/b)/db reads a.
  const bool keep_a = (op == BinaryOp::mul || op == BinaryOp::div) && b.requires_grad();
  const bool keep_b = (op == BinaryOp::mul && a.requires_grad()) || op == BinaryOp::div;
  const Tensor saved_a = keep_a ? a.detach() : Tensor();
  const Tensor saved_b = keep_b ? b.detach() : Tensor();
  autograd::record(out, name, {a, b},
                   [op, a_shape, b_shape, saved_a, saved_b](const Tensor& g,
                                                            const std::vector<bool>& needs) {
                     std::vector<Tensor> grads(2);
                     switch (op) {
                       case BinaryOp::add:
                         if (needs[0]) grads[0] = sum_to_shape(g, a_shape);
                         if (needs[1]) grads[1] = sum_to_shape(g, b_shape);
                         break;
                       case BinaryOp::sub:
                         if (needs[0]) grads[0] = sum_to_shape(g, a_shape);
                         if (needs[1]) grads[1] = sum_to_shape(neg(g), b_shape);
                         break;
                       case BinaryOp::mul:
                         if (needs[0]) grads[0] = sum_to_shape(mul(g, saved_b), a_shape);
                         if (needs[1]) grads[1] = sum_to_shape(mul(g, saved_a), b_shape);
                         break;
                       case BinaryOp::div:
                         if (needs[0]) grads[0] = sum_to_shape(div(g, saved_b), a_shape);
                         // d(a/b)/db = -a / b^2
                         if (needs[1])
                           grads[1] = sum_to_shape(
                               neg(div(mul(g, saved_a), mul(saved_b, saved_b))), b_shape);
                         break;
                     }
                     return grads;
                   });
  return out;
}

Tensor unary_op(UnaryOp op, const Tensor& a, double p0, double p1, const char* name) {
  check_input(a, name, "input");
  Tensor out = Tensor::empty(a.shape(), a.dtype(), a.context_ptr());
  const int64_t n = a.numel();
  if (detail::on_cpu(a)) {
    WSVIS_DISPATCH_FLOATING(a.dtype(), name, [&] {
      kernels::cpu::unary<scalar_t>(op, out.data<scalar_t>(), a.data<scalar_t>(), n,
                                    static_cast<scalar_t>(p0), static_cast<scalar_t>(p1));
    });
  } else {
#if WSVIS_WITH_CUDA
    kernels::cuda::unary<float>(a.context().stream(), op, out.data<float>(), a.data<float>(), n,
                                static_cast<float>(p0), static_cast<float>(p1));
#else
    WSVIS_FAIL(name, ": ", a.describe(), " is not on the CPU and this build has no CUDA");
#endif
  }
  if (!autograd::needs_record({&a})) return out;

  // Detached: the node must not hold its own output's autograd record (a reference cycle).
  const UnarySaved which = kernels::unary_saved(op);
  const Tensor saved = which == UnarySaved::input    ? a.detach()
                       : which == UnarySaved::output ? out.detach()
                                                     : Tensor();
  autograd::record(out, name, {a}, [op, p0, p1, saved, name](const Tensor& g,
                                                             const std::vector<bool>&) {
    Tensor grad = Tensor::empty(g.shape(), g.dtype(), g.context_ptr());
    const int64_t count = g.numel();
    if (detail::on_cpu(g)) {
      WSVIS_DISPATCH_FLOATING(g.dtype(), name, [&] {
        kernels::cpu::unary_backward<scalar_t>(
            op, grad.data<scalar_t>(), g.data<scalar_t>(),
            saved.defined() ? saved.data<scalar_t>() : nullptr, count,
            static_cast<scalar_t>(p0), static_cast<scalar_t>(p1));
      });
    } else {
#if WSVIS_WITH_CUDA
      kernels::cuda::unary_backward<float>(g.context().stream(), op, grad.data<float>(),
                                           g.data<float>(),
                                           saved.defined() ? saved.data<float>() : nullptr,
                                           count, static_cast<float>(p0), static_cast<float>(p1));
#endif
    }
    return std::vector<Tensor>{grad};
  });
  return out;
}

}  // namespace

namespace detail {

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  const size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (size_t d = 0; d < rank; ++d) {
    // Aligned at the last dim; a missing leading dim acts as size 1.
    const int64_t sa = d + a.size() >= rank ? a[d + a.size() - rank] : 1;
    const int64_t sb = d + b.size() >= rank ? b[d + b.size() - rank] : 1;
    WSVIS_CHECK(sa == sb || sa == 1 || sb == 1, op, ": shapes ", shape_str(a), " and ",
                shape_str(b), " do not broadcast (sizes ", sa, " and ", sb, " at dim ", d,
                " of the result)");
    out[d] = sa == 1 ? sb : sa;
  }
  return out;
}

Tensor broadcast_to(const Tensor& g, const Shape& shape, double scale) {
  check_input(g, "broadcast_to", "input");
  WSVIS_CHECK(broadcast_shapes(g.shape(), shape, "broadcast_to") == shape,
              "broadcast_to: shape ", g.shape_str(), " does not broadcast to ", shape_str(shape));
  Tensor out = Tensor::empty(shape, g.dtype(), g.context_ptr());
  const BroadcastGeometry geo = make_geometry(shape, g.shape(), g.shape());
  if (on_cpu(g)) {
    WSVIS_DISPATCH_FLOATING(g.dtype(), "broadcast_to", [&] {
      kernels::cpu::broadcast_scaled<scalar_t>(out.data<scalar_t>(), g.data<scalar_t>(), geo,
                                               static_cast<scalar_t>(scale));
    });
  } else {
#if WSVIS_WITH_CUDA
    kernels::cuda::broadcast_scaled<float>(g.context().stream(), out.data<float>(),
                                           g.data<float>(), geo, static_cast<float>(scale));
#endif
  }
  return out;
}

}  // namespace detail

Tensor add(const Tensor& a, const Tensor& b) { return binary_op(BinaryOp::add, a, b, "add"); }
Tensor sub(const Tensor& a, const Tensor& b) { return binary_op(BinaryOp::sub, a, b, "sub"); }
Tensor mul(const Tensor& a, const Tensor& b) { return binary_op(BinaryOp::mul, a, b, "mul"); }
Tensor div(const Tensor& a, const Tensor& b) { return binary_op(BinaryOp::div, a, b, "div"); }

Tensor add_scalar(const Tensor& a, double s) {
  return unary_op(UnaryOp::add_scalar, a, s, 0, "add_scalar");
}
Tensor mul_scalar(const Tensor& a, double s) {
  return unary_op(UnaryOp::mul_scalar, a, s, 0, "mul_scalar");
}
Tensor neg(const Tensor& a) { return unary_op(UnaryOp::neg, a, 0, 0, "neg"); }
Tensor exp(const Tensor& a) { return unary_op(UnaryOp::exp, a, 0, 0, "exp"); }
Tensor log(const Tensor& a) { return unary_op(UnaryOp::log, a, 0, 0, "log"); }
Tensor sqrt(const Tensor& a) { return unary_op(UnaryOp::sqrt, a, 0, 0, "sqrt"); }
Tensor pow(const Tensor& a, double exponent) {
  return unary_op(UnaryOp::pow, a, exponent, 0, "pow");
}
Tensor abs(const Tensor& a) { return unary_op(UnaryOp::abs, a, 0, 0, "abs"); }
Tensor clamp(const Tensor& a, double lo, double hi) {
  return unary_op(UnaryOp::clamp, a, lo, hi, "clamp");
}
Tensor relu(const Tensor& a) { return unary_op(UnaryOp::relu, a, 0, 0, "relu"); }
Tensor sigmoid(const Tensor& a) { return unary_op(UnaryOp::sigmoid, a, 0, 0, "sigmoid"); }

Tensor sum_to_shape(const Tensor& g, const Shape& shape) {
  check_input(g, "sum_to_shape", "gradient");
  WSVIS_CHECK(shape.size() <= g.shape().size() &&
                  detail::broadcast_shapes(shape, g.shape(), "sum_to_shape") == g.shape(),
              "sum_to_shape: shape ", shape_str(shape), " does not broadcast to the gradient's ",
              g.shape_str());
  const size_t rank = g.shape().size(), lead = rank - shape.size();
  std::vector<bool> mask(rank, false);
  bool any = false;
  for (size_t d = 0; d < rank; ++d) {
    mask[d] = d < lead || (shape[d - lead] == 1 && g.shape()[d] != 1);
    any = any || mask[d];
  }
  if (!any) return g;  // nothing was broadcast: the shapes are equal
  return detail::reduce_sum(g, mask, shape, 1.0, "sum_to_shape");
}

}  // namespace wsvis::ops

namespace wsvis {

Tensor operator+(const Tensor& a, const Tensor& b) { return ops::add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return ops::sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return ops::mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return ops::div(a, b); }
Tensor operator-(const Tensor& a) { return ops::neg(a); }
Tensor operator+(const Tensor& a, double s) { return ops::add_scalar(a, s); }
Tensor operator-(const Tensor& a, double s) { return ops::add_scalar(a, -s); }
Tensor operator*(const Tensor& a, double s) { return ops::mul_scalar(a, s); }
Tensor operator/(const Tensor& a, double s) {
  return ops::unary_op(kernels::UnaryOp::div_scalar, a, s, 0, "div_scalar");
}
Tensor operator+(double s, const Tensor& a) { return ops::add_scalar(a, s); }
Tensor operator-(double s, const Tensor& a) {
  return ops::unary_op(kernels::UnaryOp::rsub_scalar, a, s, 0, "rsub_scalar");
}
Tensor operator*(double s, const Tensor& a) { return ops::mul_scalar(a, s); }
Tensor operator/(double s, const Tensor& a) {
  return ops::unary_op(kernels::UnaryOp::rdiv_scalar, a, s, 0, "rdiv_scalar");
}

}  // namespace wsvis
