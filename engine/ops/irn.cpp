#include "engine/ops/irn.h"

#include <vector>

#include "engine/ops/irn_detail.h"
#include "engine/ops/op_utils.h"
#include "engine/ops/shape.h"

namespace wsvis::ops {

namespace {

// (N, D, H, W) pair-set layout of an affinity (or alpha) tensor.
void check_affinity(const Tensor& a, const kernels::IrnPairSet& set, const char* op,
                    const char* what) {
  detail::check_defined(a, op, what);
  detail::check_floating(a, op, what);
  detail::check_dim(a, 4, op, what, "(N, D, H, W)");
  WSVIS_CHECK(a.size(1) == set.num_directions, op, ": ", what, " ", a.shape_str(), " has ",
              a.size(1), " directions, the pair set of radius ", set.radius, " has ",
              set.num_directions);
}

}  // namespace

Tensor irn_path_affinity(const Tensor& boundary, const kernels::IrnPairSet& set) {
  constexpr const char* op = "irn_path_affinity";
  detail::check_pair_set(set, op);
  detail::check_defined(boundary, op, "boundary");
  detail::check_floating(boundary, op, "boundary");
  detail::check_dim(boundary, 4, op, "boundary", "(N, 1, H, W)");
  WSVIS_CHECK(boundary.size(1) == 1, op, ": boundary must be (N, 1, H, W), got ",
              boundary.shape_str());
  const int64_t N = boundary.size(0), H = boundary.size(2), W = boundary.size(3);
  Tensor alpha = Tensor::empty({N, set.num_directions, H, W}, boundary.dtype(),
                               boundary.context_ptr());
  WSVIS_DISPATCH_FLOATING(boundary.dtype(), op, [&] {
    WSVIS_KERNEL_CALL(boundary, irn_affinity_forward, boundary.data<scalar_t>(), N, H, W, set,
                      alpha.data<scalar_t>());
  });
  if (autograd::needs_record({&boundary})) {
    const Tensor b = boundary.detach();
    autograd::record(alpha, op, {boundary}, [b, set](const Tensor& g, const std::vector<bool>&) {
      Tensor gb = Tensor::empty(b.shape(), b.dtype(), b.context_ptr());
      WSVIS_DISPATCH_FLOATING(b.dtype(), "irn_path_affinity backward", [&] {
        WSVIS_KERNEL_CALL(b, irn_affinity_backward, g.data<scalar_t>(), b.data<scalar_t>(),
                          b.size(0), b.size(2), b.size(3), set, gb.data<scalar_t>());
      });
      return std::vector<Tensor>{gb};
    });
  }
  return alpha;
}

Tensor IrnLossTerms::term(kernels::IrnLossStat which) const {
  WSVIS_CHECK(which >= kernels::kIrnLossBgPos && which <= kernels::kIrnLossTotal,
              "IrnLossTerms::term: ", int(which), " is not a loss term (0..5; the counts are in "
              "stats)");
  WSVIS_CHECK(terms.defined(), "IrnLossTerms::term: no terms (irn_loss not run)");
  return reshape(slice(terms, 0, which, which + 1), Shape{});
}

IrnLossTerms irn_loss(const Tensor& affinity, const Tensor& displacement, const Tensor& labels,
                      const kernels::IrnPairSet& set, bool irn_source_crop) {
  constexpr const char* op = "irn_loss";
  detail::check_pair_set(set, op);
  check_affinity(affinity, set, op, "affinity");
  const int64_t N = affinity.size(0), H = affinity.size(2), W = affinity.size(3);
  detail::check_defined(displacement, op, "displacement");
  detail::check_defined(labels, op, "labels");
  detail::check_same_context(op, {&affinity, &displacement, &labels});
  detail::check_same_dtype(op, affinity, displacement);
  detail::check_shape(displacement, {N, 2, H, W}, op, "displacement", "(N, 2, H, W)");
  detail::check_dtype(labels, DType::u8, op, "labels");
  detail::check_shape(labels, {N, H, W}, op, "labels", "(N, H, W)");

  Tensor terms = Tensor::empty({kernels::kIrnLossStats}, affinity.dtype(),
                               affinity.context_ptr());
  const Tensor scratch =
      detail::scratch_like(affinity, WSVIS_TWIN_VALUE(affinity, irn_loss_workspace_bytes, N, H, W));
  WSVIS_DISPATCH_FLOATING(affinity.dtype(), op, [&] {
    WSVIS_KERNEL_CALL(affinity, irn_loss_forward, affinity.data<scalar_t>(),
                      displacement.data<scalar_t>(), labels.data<uint8_t>(), N, H, W, set,
                      irn_source_crop, terms.data<scalar_t>(), scratch.raw_data(),
                      static_cast<size_t>(scratch.numel()));
  });
  if (autograd::needs_record({&affinity, &displacement})) {
    // The backward reads the forward's counts from `stats` (a view of the output without its
    // autograd record, so the node does not keep itself alive).
    const Tensor aff = affinity.detach(), disp = displacement.detach(), lab = labels,
                 stats = terms.detach();
    autograd::record(
        terms, op, {affinity, displacement},
        [aff, disp, lab, stats, set, irn_source_crop](const Tensor& g,
                                                      const std::vector<bool>& needs) {
          Tensor ga = Tensor::empty(aff.shape(), aff.dtype(), aff.context_ptr());
          Tensor gd = Tensor::empty(disp.shape(), disp.dtype(), disp.context_ptr());
          // g (9): slots 0..5 are the upstream gradients of the five terms and the total, the
          // layout irn_loss_backward reads; the count slots are ignored.
          WSVIS_DISPATCH_FLOATING(aff.dtype(), "irn_loss backward", [&] {
            WSVIS_KERNEL_CALL(aff, irn_loss_backward, g.data<scalar_t>(), stats.data<scalar_t>(),
                              aff.data<scalar_t>(), disp.data<scalar_t>(), lab.data<uint8_t>(),
                              aff.size(0), aff.size(2), aff.size(3), set, irn_source_crop,
                              ga.data<scalar_t>(), gd.data<scalar_t>());
          });
          return std::vector<Tensor>{needs[0] ? ga : Tensor(), needs[1] ? gd : Tensor()};
        });
  }
  IrnLossTerms out;
  out.terms = terms;
  out.stats = terms.detach();
  out.total = out.term(kernels::kIrnLossTotal);
  return out;
}

Tensor flow_boundary_loss(const Tensor& flow_grad, const Tensor& alpha,
                          const kernels::IrnPairSet& set, bool irn_source_crop, double lambda) {
  constexpr const char* op = "flow_boundary_loss";
  detail::check_pair_set(set, op);
  check_affinity(alpha, set, op, "alpha");
  const int64_t N = alpha.size(0), H = alpha.size(2), W = alpha.size(3);
  detail::check_defined(flow_grad, op, "flow_grad");
  detail::check_same_context(op, {&flow_grad, &alpha});
  detail::check_same_dtype(op, flow_grad, alpha);
  detail::check_shape(flow_grad, {N, 4, H, W}, op, "flow_grad", "(N, 4, H, W)");
  detail::check_no_grad(flow_grad, op, "flow_grad");
  WSVIS_CHECK(lambda >= 0, op, ": lambda must be >= 0, got ", lambda);

  Tensor loss = Tensor::empty({}, alpha.dtype(), alpha.context_ptr());
  const Tensor scratch = detail::scratch_like(
      alpha, WSVIS_TWIN_VALUE(alpha, flow_boundary_loss_workspace_bytes, N, H, W, set));
  WSVIS_DISPATCH_FLOATING(alpha.dtype(), op, [&] {
    WSVIS_KERNEL_CALL(alpha, flow_boundary_loss_forward, flow_grad.data<scalar_t>(),
                      alpha.data<scalar_t>(), N, H, W, set, irn_source_crop,
                      static_cast<scalar_t>(lambda), loss.data<scalar_t>(), scratch.raw_data());
  });
  if (autograd::needs_record({&alpha})) {
    const Tensor fg = flow_grad, a = alpha.detach();
    autograd::record(loss, op, {alpha},
                     [fg, a, set, irn_source_crop, lambda](const Tensor& g,
                                                           const std::vector<bool>&) {
                       Tensor ga = Tensor::empty(a.shape(), a.dtype(), a.context_ptr());
                       WSVIS_DISPATCH_FLOATING(a.dtype(), "flow_boundary_loss backward", [&] {
                         WSVIS_KERNEL_CALL(a, flow_boundary_loss_backward, fg.data<scalar_t>(),
                                           a.data<scalar_t>(), a.size(0), a.size(2), a.size(3),
                                           set, irn_source_crop, static_cast<scalar_t>(lambda),
                                           g.data<scalar_t>(), ga.data<scalar_t>());
                       });
                       return std::vector<Tensor>{ga};
                     });
  }
  return loss;
}

}  // namespace wsvis::ops
