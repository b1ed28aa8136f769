#include "engine/ops/norm.h"

#include <vector>

#include "engine/ops/op_utils.h"
#include "kernels/norm.h"

namespace wsvis::ops {

namespace {

template <typename T>
const T* data_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

template <typename T>
T* mutable_data_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

// What a backward closure keeps of an input: its data without its autograd record (the node
// must not keep the input's graph state alive), or nothing when it is undefined.
Tensor saved(const Tensor& t) { return t.defined() ? t.detach() : Tensor(); }

// (N, C, S) view of an (N, C, H, W) or (N, C) input.
struct NCS {
  int64_t N, C, S;
};

NCS check_input(const Tensor& x, const char* op) {
  detail::check_defined(x, op, "x");
  detail::check_floating(x, op, "x");
  WSVIS_CHECK(x.dim() == 4 || x.dim() == 2, op, ": x must be (N, C, H, W) or (N, C), got shape ",
              x.shape_str());
  WSVIS_CHECK(x.size(1) > 0, op, ": x has no channels (shape ", x.shape_str(), ")");
  return {x.size(0), x.size(1), x.dim() == 4 ? x.size(2) * x.size(3) : 1};
}

// A per-channel tensor: undefined is allowed where `optional`, otherwise (C) of x's dtype.
void check_channel_vector(const Tensor& t, const Tensor& x, int64_t C, const char* op,
                          const char* what, bool optional) {
  if (optional && !t.defined()) return;
  detail::check_defined(t, op, what);
  detail::check_same_dtype(op, x, t);
  WSVIS_CHECK(t.dim() == 1 && t.size(0) == C, op, ": ", what, " must be (C) = (", C,
              ") for x of shape ", x.shape_str(), ", got shape ", t.shape_str());
}

}  // namespace

// ---- batch_norm ------------------------------------------------------------------------------

Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias,
                  const Tensor& running_mean, const Tensor& running_var, bool training,
                  double momentum, double eps) {
  constexpr const char* op = "batch_norm";
  const NCS d = check_input(x, op);
  detail::check_same_context(op, {&x, &weight, &bias, &running_mean, &running_var});
  check_channel_vector(weight, x, d.C, op, "weight", true);
  check_channel_vector(bias, x, d.C, op, "bias", true);
  WSVIS_CHECK(running_mean.defined() == running_var.defined(), op,
              ": running_mean and running_var must both be given or both be undefined");
  check_channel_vector(running_mean, x, d.C, op, "running_mean", training);
  check_channel_vector(running_var, x, d.C, op, "running_var", training);
  WSVIS_CHECK(eps >= 0, op, ": eps must be >= 0, got ", eps);
  const int64_t count = d.N * d.S;
  if (training)
    WSVIS_CHECK(count > 1, op, ": expected more than 1 value per channel when training, got x ",
                x.describe());

  const ContextPtr& ctx = x.context_ptr();
  // mean and inv_std are the statistics the output was normalised with; backward reads them.
  Tensor mean, inv_std = Tensor::empty({d.C}, x.dtype(), ctx);
  Tensor y = Tensor::empty(x.shape(), x.dtype(), ctx);
  WSVIS_DISPATCH_FLOATING(x.dtype(), op, [&] {
    if (training) {
      mean = Tensor::empty({d.C}, x.dtype(), ctx);
      Tensor var = Tensor::empty({d.C}, x.dtype(), ctx);
      WSVIS_KERNEL_CALL(x, batch_norm_stats, x.data<scalar_t>(), d.N, d.C, d.S,
                        mean.data<scalar_t>(), var.data<scalar_t>());
      WSVIS_KERNEL_CALL(x, batch_norm_finalize, mean.data<scalar_t>(), var.data<scalar_t>(), d.C,
                        count, eps, momentum, mutable_data_or_null<scalar_t>(running_mean),
                        mutable_data_or_null<scalar_t>(running_var), inv_std.data<scalar_t>());
    } else {
      // A snapshot: a later training step updating the running stats in place must not change
      // what this node's backward reads.
      mean = running_mean.clone();
      WSVIS_KERNEL_CALL(x, batch_norm_finalize, mean.data<scalar_t>(),
                        running_var.data<scalar_t>(), d.C, count, eps, momentum,
                        static_cast<scalar_t*>(nullptr), static_cast<scalar_t*>(nullptr),
                        inv_std.data<scalar_t>());
    }
    WSVIS_KERNEL_CALL(x, batch_norm_forward, x.data<scalar_t>(), mean.data<scalar_t>(),
                      inv_std.data<scalar_t>(), data_or_null<scalar_t>(weight),
                      data_or_null<scalar_t>(bias), d.N, d.C, d.S, y.data<scalar_t>());
  });

  if (autograd::needs_record({&x, &weight, &bias})) {
    autograd::record(
        y, op, {x, weight, bias},
        [x = saved(x), weight = saved(weight), mean, inv_std, training, d](
            const Tensor& g, const std::vector<bool>& needs) {
          std::vector<Tensor> grads(3);
          const bool need_sums = (needs[0] && training) || needs[1] || needs[2];
          Tensor sum_g, sum_g_xhat;  // also grad_bias and grad_weight
          WSVIS_DISPATCH_FLOATING(x.dtype(), "batch_norm backward", [&] {
            if (need_sums) {
              sum_g = Tensor::empty({d.C}, x.dtype(), x.context_ptr());
              sum_g_xhat = Tensor::empty({d.C}, x.dtype(), x.context_ptr());
              WSVIS_KERNEL_CALL(x, batch_norm_backward_reduce, g.data<scalar_t>(),
                                x.data<scalar_t>(), mean.data<scalar_t>(),
                                inv_std.data<scalar_t>(), d.N, d.C, d.S, sum_g.data<scalar_t>(),
                                sum_g_xhat.data<scalar_t>());
            }
            if (needs[0]) {
              grads[0] = Tensor::empty(x.shape(), x.dtype(), x.context_ptr());
              WSVIS_KERNEL_CALL(x, batch_norm_backward_input, g.data<scalar_t>(),
                                x.data<scalar_t>(), mean.data<scalar_t>(),
                                inv_std.data<scalar_t>(), data_or_null<scalar_t>(weight),
                                data_or_null<scalar_t>(sum_g), data_or_null<scalar_t>(sum_g_xhat),
                                d.N, d.C, d.S, training, grads[0].data<scalar_t>());
            }
          });
          if (needs[1]) grads[1] = sum_g_xhat;
          if (needs[2]) grads[2] = sum_g;
          return grads;
        });
  }
  return y;
}

// ---- frozen_batch_norm -------------------------------------------------------------------

Tensor frozen_batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias,
                         const Tensor& running_mean, const Tensor& running_var, double eps) {
  constexpr const char* op = "frozen_batch_norm";
  const NCS d = check_input(x, op);
  detail::check_same_context(op, {&x, &weight, &bias, &running_mean, &running_var});
  check_channel_vector(weight, x, d.C, op, "weight", false);
  check_channel_vector(bias, x, d.C, op, "bias", false);
  check_channel_vector(running_mean, x, d.C, op, "running_mean", false);
  check_channel_vector(running_var, x, d.C, op, "running_var", false);
  WSVIS_CHECK(eps >= 0, op, ": eps must be >= 0, got ", eps);

  const ContextPtr& ctx = x.context_ptr();
  Tensor scale = Tensor::empty({d.C}, x.dtype(), ctx);
  Tensor shift = Tensor::empty({d.C}, x.dtype(), ctx);
  Tensor y = Tensor::empty(x.shape(), x.dtype(), ctx);
  WSVIS_DISPATCH_FLOATING(x.dtype(), op, [&] {
    WSVIS_KERNEL_CALL(x, frozen_batch_norm_coefficients, weight.data<scalar_t>(),
                      bias.data<scalar_t>(), running_mean.data<scalar_t>(),
                      running_var.data<scalar_t>(), d.C, eps, scale.data<scalar_t>(),
                      shift.data<scalar_t>());
    WSVIS_KERNEL_CALL(x, channel_affine, x.data<scalar_t>(), scale.data<scalar_t>(),
                      shift.data<scalar_t>(), d.N, d.C, d.S, y.data<scalar_t>());
  });

  if (autograd::needs_record({&x})) {
    autograd::record(y, op, {x}, [scale, d](const Tensor& g, const std::vector<bool>&) {
      Tensor gx = Tensor::empty(g.shape(), g.dtype(), g.context_ptr());
      WSVIS_DISPATCH_FLOATING(g.dtype(), "frozen_batch_norm backward", [&] {
        WSVIS_KERNEL_CALL(g, channel_affine, g.data<scalar_t>(), scale.data<scalar_t>(),
                          static_cast<const scalar_t*>(nullptr), d.N, d.C, d.S,
                          gx.data<scalar_t>());
      });
      return std::vector<Tensor>{gx};
    });
  }
  return y;
}

// ---- group_norm ----------------------------------------------------------------------------

Tensor group_norm(const Tensor& x, int groups, const Tensor& weight, const Tensor& bias,
                  double eps) {
  constexpr const char* op = "group_norm";
  const NCS d = check_input(x, op);
  detail::check_same_context(op, {&x, &weight, &bias});
  WSVIS_CHECK(groups > 0 && d.C % groups == 0, op, ": groups (", groups,
              ") must be positive and divide the channel count of x ", x.shape_str());
  WSVIS_CHECK(d.S > 0, op, ": x has no spatial positions (shape ", x.shape_str(), ")");
  check_channel_vector(weight, x, d.C, op, "weight", true);
  check_channel_vector(bias, x, d.C, op, "bias", true);
  WSVIS_CHECK(eps >= 0, op, ": eps must be >= 0, got ", eps);
  const int64_t G = groups;

  const ContextPtr& ctx = x.context_ptr();
  Tensor mean = Tensor::empty({d.N, G}, x.dtype(), ctx);
  Tensor inv_std = Tensor::empty({d.N, G}, x.dtype(), ctx);
  Tensor y = Tensor::empty(x.shape(), x.dtype(), ctx);
  WSVIS_DISPATCH_FLOATING(x.dtype(), op, [&] {
    WSVIS_KERNEL_CALL(x, group_norm_stats, x.data<scalar_t>(), d.N, d.C, d.S, G, eps,
                      mean.data<scalar_t>(), inv_std.data<scalar_t>());
    WSVIS_KERNEL_CALL(x, group_norm_forward, x.data<scalar_t>(), mean.data<scalar_t>(),
                      inv_std.data<scalar_t>(), data_or_null<scalar_t>(weight),
                      data_or_null<scalar_t>(bias), d.N, d.C, d.S, G, y.data<scalar_t>());
  });

  if (autograd::needs_record({&x, &weight, &bias})) {
    autograd::record(
        y, op, {x, weight, bias},
        [x = saved(x), weight = saved(weight), mean, inv_std, d, G](
            const Tensor& g, const std::vector<bool>& needs) {
          std::vector<Tensor> grads(3);
          const ContextPtr& gctx = x.context_ptr();
          WSVIS_DISPATCH_FLOATING(x.dtype(), "group_norm backward", [&] {
            if (needs[0]) {
              Tensor sum_dxhat = Tensor::empty({d.N, G}, x.dtype(), gctx);
              Tensor sum_dxhat_xhat = Tensor::empty({d.N, G}, x.dtype(), gctx);
              WSVIS_KERNEL_CALL(x, group_norm_backward_reduce, g.data<scalar_t>(),
                                x.data<scalar_t>(), mean.data<scalar_t>(),
                                inv_std.data<scalar_t>(), data_or_null<scalar_t>(weight), d.N,
                                d.C, d.S, G, sum_dxhat.data<scalar_t>(),
                                sum_dxhat_xhat.data<scalar_t>());
              grads[0] = Tensor::empty(x.shape(), x.dtype(), gctx);
              WSVIS_KERNEL_CALL(x, group_norm_backward_input, g.data<scalar_t>(),
                                x.data<scalar_t>(), mean.data<scalar_t>(),
                                inv_std.data<scalar_t>(), data_or_null<scalar_t>(weight),
                                sum_dxhat.data<scalar_t>(), sum_dxhat_xhat.data<scalar_t>(), d.N,
                                d.C, d.S, G, grads[0].data<scalar_t>());
            }
            if (needs[1] || needs[2]) {
              Tensor grad_weight = Tensor::empty({d.C}, x.dtype(), gctx);
              Tensor grad_bias = Tensor::empty({d.C}, x.dtype(), gctx);
              WSVIS_KERNEL_CALL(x, group_norm_backward_params, g.data<scalar_t>(),
                                x.data<scalar_t>(), mean.data<scalar_t>(),
                                inv_std.data<scalar_t>(), d.N, d.C, d.S, G,
                                grad_weight.data<scalar_t>(), grad_bias.data<scalar_t>());
              if (needs[1]) grads[1] = grad_weight;
              if (needs[2]) grads[2] = grad_bias;
            }
          });
          return grads;
        });
  }
  return y;
}


}  // namespace wsvis::ops
