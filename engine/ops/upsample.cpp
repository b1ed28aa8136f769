#include "engine/ops/upsample.h"

#include <vector>

#include "engine/ops/op_utils.h"
#include "kernels/upsample.h"

namespace wsvis::ops {

namespace {

struct ResizeDims {
  int64_t planes, H, W, OH, OW;
};

ResizeDims check_resize(const Tensor& x, int out_h, int out_w, const char* op) {
  detail::check_defined(x, op, "x");
  detail::check_floating(x, op, "x");
  detail::check_dim(x, 4, op, "x", "(N, C, H, W)");
  WSVIS_CHECK(x.size(2) > 0 && x.size(3) > 0, op, ": x has no spatial positions (shape ",
              x.shape_str(), ")");
  WSVIS_CHECK(out_h > 0 && out_w > 0, op, ": output size must be positive, got (", out_h, ", ",
              out_w, ") for x of shape ", x.shape_str());
  return {x.size(0) * x.size(1), x.size(2), x.size(3), out_h, out_w};
}

}  // namespace

Tensor upsample_nearest2d(const Tensor& x, int out_h, int out_w) {
  constexpr const char* op = "upsample_nearest2d";
  const ResizeDims d = check_resize(x, out_h, out_w, op);
  Tensor y = Tensor::empty({x.size(0), x.size(1), d.OH, d.OW}, x.dtype(), x.context_ptr());
  WSVIS_DISPATCH_FLOATING(x.dtype(), op, [&] {
    WSVIS_KERNEL_CALL(x, upsample_nearest2d_forward, x.data<scalar_t>(), d.planes, d.H, d.W,
                          d.OH, d.OW, y.data<scalar_t>());
  });
  if (autograd::needs_record({&x})) {
    const Shape x_shape = x.shape();
    autograd::record(y, op, {x}, [d, x_shape](const Tensor& gy, const std::vector<bool>&) {
      Tensor gx = Tensor::empty(x_shape, gy.dtype(), gy.context_ptr());
      WSVIS_DISPATCH_FLOATING(gy.dtype(), "upsample_nearest2d backward", [&] {
        WSVIS_KERNEL_CALL(gy, upsample_nearest2d_backward, gy.data<scalar_t>(), d.planes, d.H,
                              d.W, d.OH, d.OW, gx.data<scalar_t>());
      });
      return std::vector<Tensor>{gx};
    });
  }
  return y;
}

Tensor upsample_bilinear2d(const Tensor& x, int out_h, int out_w, bool align_corners) {
  constexpr const char* op = "upsample_bilinear2d";
  const ResizeDims d = check_resize(x, out_h, out_w, op);
  Tensor y = Tensor::empty({x.size(0), x.size(1), d.OH, d.OW}, x.dtype(), x.context_ptr());
  WSVIS_DISPATCH_FLOATING(x.dtype(), op, [&] {
    WSVIS_KERNEL_CALL(x, upsample_bilinear2d_forward, x.data<scalar_t>(), d.planes, d.H, d.W,
                          d.OH, d.OW, align_corners, y.data<scalar_t>());
  });
  if (autograd::needs_record({&x})) {
    const Shape x_shape = x.shape();
    autograd::record(
        y, op, {x}, [d, x_shape, align_corners](const Tensor& gy, const std::vector<bool>&) {
          Tensor gx = Tensor::empty(x_shape, gy.dtype(), gy.context_ptr());
          WSVIS_DISPATCH_FLOATING(gy.dtype(), "upsample_bilinear2d backward", [&] {
            WSVIS_KERNEL_CALL(gy, upsample_bilinear2d_backward, gy.data<scalar_t>(), d.planes,
                                  d.H, d.W, d.OH, d.OW, align_corners, gx.data<scalar_t>());
          });
          return std::vector<Tensor>{gx};
        });
  }
  return y;
}


}  // namespace wsvis::ops
