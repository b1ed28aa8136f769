#include "engine/ops/irn_inference.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/ops/irn_detail.h"
#include "engine/ops/op_utils.h"
#include "kernels/components.h"
#include "kernels/flowirn.h"

namespace wsvis::ops {

namespace {

// A floating tensor of `dim` dims (letters name the layout in the error).
void check_floating_dim(const Tensor& t, int dim, const char* op, const char* what,
                        const char* letters) {
  detail::check_defined(t, op, what);
  detail::check_floating(t, op, what);
  detail::check_dim(t, dim, op, what, letters);
}

// flow (N, 2, H, W).
void check_flow(const Tensor& flow, const char* op) {
  check_floating_dim(flow, 4, op, "flow", "(N, 2, H, W)");
  WSVIS_CHECK(flow.size(1) == 2, op, ": flow must be (N, 2, H, W) (u, v), got ",
              flow.shape_str());
}

// An i32 map (labels, instance map, centroids) of exactly `shape` on ref's context.
void check_i32_map(const Tensor& t, const Tensor& ref, const Shape& shape, const char* op,
                   const char* what, const char* letters) {
  detail::check_defined(t, op, what);
  detail::check_same_context(op, {&ref, &t});
  detail::check_dtype(t, DType::i32, op, what);
  detail::check_shape(t, shape, op, what, letters);
}

}  // namespace

// ---- flowIRN -----------------------------------------------------------------------------------

Tensor flow_magnitude(const Tensor& flow) {
  constexpr const char* op = "flow_magnitude";
  check_flow(flow, op);
  const int64_t N = flow.size(0), H = flow.size(2), W = flow.size(3);
  Tensor magnitude = Tensor::empty({N, H, W}, flow.dtype(), flow.context_ptr());
  WSVIS_DISPATCH_FLOATING(flow.dtype(), op, [&] {
    WSVIS_KERNEL_CALL(flow, flow_magnitude, flow.data<scalar_t>(), N, H, W,
                      magnitude.data<scalar_t>());
  });
  return magnitude;
}

Tensor select_kth(const Tensor& values, int64_t k) {
  constexpr const char* op = "select_kth";
  detail::check_defined(values, op, "values");
  detail::check_floating(values, op, "values");
  detail::check_nonempty(values, op, "values");
  const int64_t n = values.numel();
  WSVIS_CHECK(k >= 0 && k < n, op, ": rank ", k, " outside [0, ", n, ") for values ",
              values.shape_str());
  Tensor out = Tensor::empty({1}, values.dtype(), values.context_ptr());
  const Tensor scratch = detail::scratch_like(
      values, WSVIS_TWIN_VALUE(values, select_kth_workspace_bytes, n, dtype_size(values.dtype())));
  WSVIS_DISPATCH_FLOATING(values.dtype(), op, [&] {
    WSVIS_KERNEL_CALL(values, select_kth, values.data<scalar_t>(), n, k, out.data<scalar_t>(),
                      scratch.raw_data());
  });
  return out;
}

Tensor percentile(const Tensor& values, double q) {
  constexpr const char* op = "percentile";
  WSVIS_CHECK(q >= 0 && q <= 1, op, ": q must be in [0, 1], got ", q);
  detail::check_defined(values, op, "values");
  detail::check_nonempty(values, op, "values");
  return select_kth(values, kernels::flowirn_math::percentile_rank(values.numel(), q));
}

Tensor fcam_amplify(const Tensor& cams, const Tensor& magnitude, const Tensor& threshold,
                    double amplification) {
  constexpr const char* op = "fcam_amplify";
  check_floating_dim(cams, 4, op, "cams", "(N, C, H, W)");
  detail::check_defined(magnitude, op, "magnitude");
  detail::check_defined(threshold, op, "threshold");
  detail::check_same_context(op, {&cams, &magnitude, &threshold});
  detail::check_same_dtype(op, cams, magnitude);
  detail::check_same_dtype(op, cams, threshold);
  const int64_t N = cams.size(0), C = cams.size(1), H = cams.size(2), W = cams.size(3);
  detail::check_shape(magnitude, {N, H, W}, op, "magnitude", "(N, H, W)");
  WSVIS_CHECK(threshold.numel() == 1, op, ": threshold must hold one value, got shape ",
              threshold.shape_str());
  Tensor out = Tensor::empty(cams.shape(), cams.dtype(), cams.context_ptr());
  WSVIS_DISPATCH_FLOATING(cams.dtype(), op, [&] {
    WSVIS_KERNEL_CALL(cams, fcam_amplify, cams.data<scalar_t>(), magnitude.data<scalar_t>(), N,
                      C, H, W, threshold.data<scalar_t>(), static_cast<scalar_t>(amplification),
                      out.data<scalar_t>());
  });
  return out;
}

Tensor flow_gradient(const Tensor& flow, double scale) {
  constexpr const char* op = "flow_gradient";
  check_flow(flow, op);
  const int64_t N = flow.size(0), H = flow.size(2), W = flow.size(3);
  Tensor out = Tensor::empty({N, 4, H, W}, flow.dtype(), flow.context_ptr());
  WSVIS_DISPATCH_FLOATING(flow.dtype(), op, [&] {
    WSVIS_KERNEL_CALL(flow, flow_gradient, flow.data<scalar_t>(), N, H, W,
                      static_cast<scalar_t>(scale), out.data<scalar_t>());
  });
  return out;
}

// ---- IRN random walk and displacement grouping -------------------------------------------------

Tensor irn_random_walk(const Tensor& boundary, const Tensor& seeds, const kernels::IrnPairSet& set,
                       double beta, int steps, bool mask_seeds) {
  constexpr const char* op = "irn_random_walk";
  detail::check_pair_set(set, op);
  check_floating_dim(seeds, 3, op, "seeds", "(C, H, W)");
  detail::check_defined(boundary, op, "boundary");
  detail::check_same_context(op, {&boundary, &seeds});
  detail::check_same_dtype(op, boundary, seeds);
  const int64_t C = seeds.size(0), H = seeds.size(1), W = seeds.size(2);
  WSVIS_CHECK(boundary.shape() == Shape({1, 1, H, W}) || boundary.shape() == Shape({H, W}), op,
              ": boundary must be (1, 1, H, W) or (H, W) with (H, W) = (", H, ", ", W,
              ") of seeds ", seeds.shape_str(), ", got ", boundary.shape_str());
  WSVIS_CHECK(steps >= 0, op, ": steps must be >= 0, got ", steps);
  WSVIS_CHECK(beta >= 0 && std::isfinite(beta), op, ": beta must be finite and >= 0, got ", beta);
  Tensor out = Tensor::empty({C, H, W}, seeds.dtype(), seeds.context_ptr());
  WSVIS_DISPATCH_FLOATING(seeds.dtype(), op, [&] {
    const size_t bytes =
        WSVIS_TWIN_VALUE(seeds, irn_random_walk_workspace_bytes<scalar_t>, C, H, W, set);
    const Tensor scratch = detail::scratch_like(seeds, bytes);
    WSVIS_KERNEL_CALL(seeds, irn_random_walk, boundary.data<scalar_t>(), seeds.data<scalar_t>(),
                      C, H, W, set, static_cast<scalar_t>(beta), steps, mask_seeds,
                      out.data<scalar_t>(), scratch.raw_data(), bytes);
  });
  return out;
}

Tensor find_centroids(const Tensor& disp, int iterations) {
  constexpr const char* op = "find_centroids";
  check_floating_dim(disp, 3, op, "disp", "(2, H, W)");
  WSVIS_CHECK(disp.size(0) == 2, op, ": disp must be (2, H, W) (dy, dx), got ", disp.shape_str());
  WSVIS_CHECK(iterations >= 0, op, ": iterations must be >= 0, got ", iterations);
  const int64_t H = disp.size(1), W = disp.size(2);
  Tensor centroids = Tensor::empty({2, H, W}, DType::i32, disp.context_ptr());
  WSVIS_DISPATCH_FLOATING(disp.dtype(), op, [&] {
    WSVIS_KERNEL_CALL(disp, find_centroids, disp.data<scalar_t>(), H, W, iterations,
                      centroids.data<int32_t>());
  });
  return centroids;
}

CentroidClusters cluster_centroids(const Tensor& disp, const Tensor& centroids, double threshold) {
  constexpr const char* op = "cluster_centroids";
  check_floating_dim(disp, 3, op, "disp", "(2, H, W)");
  WSVIS_CHECK(disp.size(0) == 2, op, ": disp must be (2, H, W) (dy, dx), got ", disp.shape_str());
  const int64_t H = disp.size(1), W = disp.size(2);
  check_i32_map(centroids, disp, {2, H, W}, op, "centroids", "(2, H, W)");
  WSVIS_CHECK(threshold >= 0, op, ": threshold must be >= 0, got ", threshold);
  CentroidClusters out;
  out.instance_map = Tensor::empty({H, W}, DType::i32, disp.context_ptr());
  const Tensor count = Tensor::empty({1}, DType::i32, disp.context_ptr());
  const Tensor scratch =
      detail::scratch_like(disp, WSVIS_TWIN_VALUE(disp, cluster_centroids_workspace_bytes, H, W));
  WSVIS_DISPATCH_FLOATING(disp.dtype(), op, [&] {
    WSVIS_KERNEL_CALL(disp, cluster_centroids, disp.data<scalar_t>(), centroids.data<int32_t>(),
                      H, W, threshold, out.instance_map.data<int32_t>(), count.data<int32_t>(),
                      scratch.raw_data());
  });
  out.count = count.item<int64_t>();
  return out;
}

Tensor instance_seeds(const Tensor& cams, const Tensor& instance_map, int64_t K) {
  constexpr const char* op = "instance_seeds";
  check_floating_dim(cams, 3, op, "cams", "(C, H, W)");
  const int64_t C = cams.size(0), H = cams.size(1), W = cams.size(2);
  check_i32_map(instance_map, cams, {H, W}, op, "instance_map", "(H, W)");
  WSVIS_CHECK(K >= 0, op, ": K must be >= 0, got ", K);
  Tensor seeds = Tensor::empty({C * K, H, W}, cams.dtype(), cams.context_ptr());
  WSVIS_DISPATCH_FLOATING(cams.dtype(), op, [&] {
    WSVIS_KERNEL_CALL(cams, instance_seeds, cams.data<scalar_t>(), C,
                      instance_map.data<int32_t>(), K, H, W, seeds.data<scalar_t>());
  });
  return seeds;
}

WalkLabels irn_walk_labels(const Tensor& rw, int64_t H, int64_t W, double bg_threshold) {
  constexpr const char* op = "irn_walk_labels";
  check_floating_dim(rw, 3, op, "rw", "(C, Hs, Ws)");
  const int64_t C = rw.size(0), Hs = rw.size(1), Ws = rw.size(2);
  WSVIS_CHECK(C >= 1, op, ": rw ", rw.shape_str(), " has no channels");
  WSVIS_CHECK(H >= 0 && H <= Hs && W >= 0 && W <= Ws, op, ": window (", H, ", ", W,
              ") must fit in rw ", rw.shape_str());
  WalkLabels out;
  out.labels = Tensor::empty({H, W}, DType::i32, rw.context_ptr());
  out.normalised = Tensor::empty({C, H, W}, rw.dtype(), rw.context_ptr());
  size_t bytes = kernels::cpu::irn_walk_labels_workspace_bytes();
#if WSVIS_WITH_CUDA
  if (!detail::on_cpu(rw)) bytes = kernels::cuda::irn_walk_labels_workspace_bytes();
#endif
  const Tensor scratch = detail::scratch_like(rw, bytes);
  WSVIS_DISPATCH_FLOATING(rw.dtype(), op, [&] {
    WSVIS_KERNEL_CALL(rw, irn_walk_labels, rw.data<scalar_t>(), C, Hs, Ws, H, W,
                      static_cast<scalar_t>(bg_threshold), out.labels.data<int32_t>(),
                      out.normalised.data<scalar_t>(), scratch.raw_data());
  });
  return out;
}

std::vector<IrnInstance> irn_instances(const Tensor& labels, const Tensor& normalised,
                                       double min_area_fraction) {
  constexpr const char* op = "irn_instances";
  check_floating_dim(normalised, 3, op, "normalised", "(C, H, W)");
  const int64_t C = normalised.size(0), H = normalised.size(1), W = normalised.size(2);
  check_i32_map(labels, normalised, {H, W}, op, "labels", "(H, W)");
  WSVIS_CHECK(min_area_fraction >= 0 && min_area_fraction <= 1, op,
              ": min_area_fraction must be in [0, 1], got ", min_area_fraction);
  const int64_t plane = H * W;
  if (C == 0 || plane == 0) return {};
  const ContextPtr& ctx = labels.context_ptr();

  // Per channel: its label mask, split into 4-connected components (IRN's skimage label with
  // connectivity 1).
  const Tensor masks = Tensor::empty({C, H, W}, DType::u8, ctx);
  WSVIS_TWIN_CALL(labels, irn_channel_masks, labels.data<int32_t>(), C, H, W,
                  masks.data<uint8_t>());
  const Tensor components = Tensor::empty({C, H, W}, DType::i32, ctx);
  const Tensor counts = Tensor::empty({C}, DType::i32, ctx);
  const Tensor cc_scratch =
      detail::scratch_like(labels, WSVIS_TWIN_VALUE(labels, components_workspace_bytes, C, H, W));
  WSVIS_TWIN_CALL(labels, label_components, masks.data<uint8_t>(), C, H, W, 4,
                  components.data<int32_t>(), counts.data<int32_t>(), cc_scratch.raw_data());
  const std::vector<int32_t> count_host = counts.to_vector<int32_t>();
  const int64_t K = *std::max_element(count_host.begin(), count_host.end());
  if (K == 0) return {};

  const Tensor scores = Tensor::empty({C * K}, normalised.dtype(), ctx);
  const Tensor areas = Tensor::empty({C * K}, DType::i32, ctx);
  WSVIS_DISPATCH_FLOATING(normalised.dtype(), op, [&] {
    WSVIS_KERNEL_CALL(normalised, irn_instance_scores, normalised.data<scalar_t>(),
                      components.data<int32_t>(), counts.data<int32_t>(), C, H, W, K,
                      min_area_fraction, scores.data<scalar_t>(), areas.data<int32_t>());
  });

  // The masks are cut on the host, where pseudo-label writing consumes them.
  const std::vector<int32_t> comp_host = components.to_vector<int32_t>();
  const std::vector<double> score_host = scores.to_vector<double>();
  const std::vector<int32_t> area_host = areas.to_vector<int32_t>();
  std::vector<IrnInstance> instances;
  std::vector<int64_t> first(static_cast<size_t>(C));  // index of channel c's component 1
  for (int64_t c = 0; c < C; ++c) {
    first[static_cast<size_t>(c)] = static_cast<int64_t>(instances.size());
    for (int64_t k = 1; k <= count_host[static_cast<size_t>(c)]; ++k) {
      const size_t e = static_cast<size_t>(c * K + k - 1);
      IrnInstance inst;
      inst.channel = c;
      inst.component = k;
      inst.score = score_host[e];
      inst.area = area_host[e];
      inst.mask.assign(static_cast<size_t>(plane), 0);
      instances.push_back(std::move(inst));
    }
  }
  for (int64_t c = 0; c < C; ++c) {
    const int32_t* comp = comp_host.data() + c * plane;
    for (int64_t j = 0; j < plane; ++j)
      if (comp[j] > 0)
        instances[static_cast<size_t>(first[static_cast<size_t>(c)] + comp[j] - 1)]
            .mask[static_cast<size_t>(j)] = 1;
  }
  return instances;
}

// ---- dense CRF ---------------------------------------------------------------------------------

Tensor dense_crf_labels(const Tensor& image, const Tensor& labels, int L,
                        const kernels::DenseCrfParams& params) {
  constexpr const char* op = "dense_crf_labels";
  detail::check_defined(image, op, "image");
  detail::check_defined(labels, op, "labels");
  detail::check_same_context(op, {&image, &labels});
  detail::check_dtype(image, DType::u8, op, "image");
  detail::check_dtype(labels, DType::i32, op, "labels");
  detail::check_dim(labels, 2, op, "labels", "(H, W)");
  const int64_t H = labels.size(0), W = labels.size(1);
  detail::check_shape(image, {H, W, 3}, op, "image", "(H, W, 3)");
  WSVIS_CHECK(L >= 1, op, ": L must be >= 1, got ", L);
  WSVIS_CHECK(params.gt_prob > 0 && params.gt_prob < 1, op, ": gt_prob ", params.gt_prob,
              " not in (0, 1)");
  // The CUDA unary does not check label values; one host pass names the first bad one.
  const std::vector<int32_t> label_host = labels.to_vector<int32_t>();
  for (size_t i = 0; i < label_host.size(); ++i)
    WSVIS_CHECK(label_host[i] >= 0 && label_host[i] < L, op, ": label ", label_host[i],
                " at pixel ", i, " outside [0, ", L, ")");
  const ContextPtr& ctx = labels.context_ptr();
  Tensor out = Tensor::empty({H, W}, DType::i32, ctx);
  const Tensor unary = Tensor::empty({L, H, W}, DType::f32, ctx);
  const Tensor scratch =
      detail::scratch_like(labels, WSVIS_TWIN_VALUE(labels, dense_crf_workspace_bytes, H, W, L));
  WSVIS_TWIN_CALL(labels, crf_unary_from_labels, labels.data<int32_t>(), H, W, L, params.gt_prob,
                  unary.data<float>());
  WSVIS_TWIN_CALL(labels, dense_crf, image.data<uint8_t>(), unary.data<float>(), H, W, L, params,
                  nullptr, out.data<int32_t>(), scratch.raw_data());
  return out;
}

}  // namespace wsvis::ops
