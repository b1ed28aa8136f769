#include "engine/ops/pool.h"

#include <vector>

#include "engine/ops/op_utils.h"
#include "kernels/pool.h"

namespace wsvis::ops {

namespace {

void check_pool_input(const Tensor& x, const char* op) {
  detail::check_defined(x, op, "x");
  detail::check_floating(x, op, "x");
  detail::check_dim(x, 4, op, "x", "(N, C, H, W)");
}

// Validates kernel/stride/padding as torch does and computes the output size.
kernels::Pool2dGeometry pool_geometry(const Tensor& x, Size2 kernel, Size2 stride, Size2 padding,
                                      bool ceil_mode, const char* op) {
  WSVIS_CHECK(kernel.h > 0 && kernel.w > 0, op, ": kernel must be positive, got (", kernel.h,
              ", ", kernel.w, ")");
  WSVIS_CHECK(stride.h > 0 && stride.w > 0, op, ": stride must be positive, got (", stride.h,
              ", ", stride.w, ")");
  WSVIS_CHECK(padding.h >= 0 && padding.w >= 0 && padding.h <= kernel.h / 2 &&
                  padding.w <= kernel.w / 2,
              op, ": padding (", padding.h, ", ", padding.w,
              ") must be non-negative and at most half the kernel (", kernel.h, ", ", kernel.w,
              ")");
  kernels::Pool2dGeometry g;
  g.planes = x.size(0) * x.size(1);
  g.H = x.size(2);
  g.W = x.size(3);
  g.kh = kernel.h;
  g.kw = kernel.w;
  g.sh = stride.h;
  g.sw = stride.w;
  g.ph = padding.h;
  g.pw = padding.w;
  g.OH = kernels::pool_output_size(g.H, g.kh, g.sh, g.ph, ceil_mode);
  g.OW = kernels::pool_output_size(g.W, g.kw, g.sw, g.pw, ceil_mode);
  WSVIS_CHECK(g.OH > 0 && g.OW > 0, op, ": kernel (", kernel.h, ", ", kernel.w, ") with padding (",
              padding.h, ", ", padding.w, ") is larger than the input ", x.shape_str(),
              " (output would be ", g.OH, "x", g.OW, ")");
  return g;
}

}  // namespace

Tensor max_pool2d(const Tensor& x, Size2 kernel, Size2 stride, Size2 padding, bool ceil_mode) {
  constexpr const char* op = "max_pool2d";
  check_pool_input(x, op);
  const kernels::Pool2dGeometry g = pool_geometry(x, kernel, stride, padding, ceil_mode, op);
  const ContextPtr& ctx = x.context_ptr();
  Tensor y = Tensor::empty({x.size(0), x.size(1), g.OH, g.OW}, x.dtype(), ctx);
  // Flat index h * W + w of each output's maximum within its input plane.
  Tensor argmax = Tensor::empty(y.shape(), DType::i64, ctx);
  WSVIS_DISPATCH_FLOATING(x.dtype(), op, [&] {
    WSVIS_KERNEL_CALL(x, max_pool2d_forward, x.data<scalar_t>(), g, y.data<scalar_t>(),
                      argmax.data<int64_t>());
  });
  if (autograd::needs_record({&x})) {
    const Shape x_shape = x.shape();
    autograd::record(y, op, {x}, [argmax, g, x_shape](const Tensor& gy, const std::vector<bool>&) {
      Tensor gx = Tensor::empty(x_shape, gy.dtype(), gy.context_ptr());
      WSVIS_DISPATCH_FLOATING(gy.dtype(), "max_pool2d backward", [&] {
        WSVIS_KERNEL_CALL(gy, max_pool2d_backward, gy.data<scalar_t>(), argmax.data<int64_t>(),
                          g, gx.data<scalar_t>());
      });
      return std::vector<Tensor>{gx};
    });
  }
  return y;
}

Tensor avg_pool2d(const Tensor& x, Size2 kernel, Size2 stride, Size2 padding, bool ceil_mode,
                  bool count_include_pad) {
  constexpr const char* op = "avg_pool2d";
  check_pool_input(x, op);
  const kernels::Pool2dGeometry g = pool_geometry(x, kernel, stride, padding, ceil_mode, op);
  Tensor y = Tensor::empty({x.size(0), x.size(1), g.OH, g.OW}, x.dtype(), x.context_ptr());
  WSVIS_DISPATCH_FLOATING(x.dtype(), op, [&] {
    WSVIS_KERNEL_CALL(x, avg_pool2d_forward, x.data<scalar_t>(), g, count_include_pad,
                      y.data<scalar_t>());
  });
  if (autograd::needs_record({&x})) {
    const Shape x_shape = x.shape();
    autograd::record(
        y, op, {x}, [g, count_include_pad, x_shape](const Tensor& gy, const std::vector<bool>&) {
          Tensor gx = Tensor::empty(x_shape, gy.dtype(), gy.context_ptr());
          WSVIS_DISPATCH_FLOATING(gy.dtype(), "avg_pool2d backward", [&] {
            WSVIS_KERNEL_CALL(gy, avg_pool2d_backward, gy.data<scalar_t>(), g, count_include_pad,
                              gx.data<scalar_t>());
          });
          return std::vector<Tensor>{gx};
        });
  }
  return y;
}

Tensor global_avg_pool2d(const Tensor& x) {
  constexpr const char* op = "global_avg_pool2d";
  check_pool_input(x, op);
  WSVIS_CHECK(x.size(2) > 0 && x.size(3) > 0, op, ": x has no spatial positions (shape ",
              x.shape_str(), ")");
  const int64_t planes = x.size(0) * x.size(1), HW = x.size(2) * x.size(3);
  Tensor y = Tensor::empty({x.size(0), x.size(1), 1, 1}, x.dtype(), x.context_ptr());
  WSVIS_DISPATCH_FLOATING(x.dtype(), op, [&] {
    WSVIS_KERNEL_CALL(x, global_avg_pool2d_forward, x.data<scalar_t>(), planes, HW,
                      y.data<scalar_t>());
  });
  if (autograd::needs_record({&x})) {
    const Shape x_shape = x.shape();
    autograd::record(y, op, {x}, [planes, HW, x_shape](const Tensor& gy, const std::vector<bool>&) {
      Tensor gx = Tensor::empty(x_shape, gy.dtype(), gy.context_ptr());
      WSVIS_DISPATCH_FLOATING(gy.dtype(), "global_avg_pool2d backward", [&] {
        WSVIS_KERNEL_CALL(gy, global_avg_pool2d_backward, gy.data<scalar_t>(), planes, HW,
                          gx.data<scalar_t>());
      });
      return std::vector<Tensor>{gx};
    });
  }
  return y;
}


}  // namespace wsvis::ops
