#include "models/condinst_dynamic_head.h"

#include <algorithm>
#include <numeric>

#include "engine/error.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/linalg.h"
#include "engine/ops/shape.h"
#include "models/condinst_mask_branch.h"

namespace wsvis::models {

DynamicMaskHead::DynamicMaskHead(const DynamicMaskHeadOptions& options) : options_(options) {
  const DynamicMaskHeadOptions& o = options_;
  WSVIS_CHECK(o.in_channels > 0 && o.channels > 0, "DynamicMaskHead: in_channels ",
              o.in_channels, " and channels ", o.channels, " must be positive");
  WSVIS_CHECK(o.num_layers >= 2, "DynamicMaskHead: num_layers must be >= 2, got ", o.num_layers);
  WSVIS_CHECK(!o.sizes_of_interest.empty(), "DynamicMaskHead: no sizes_of_interest");
  for (double s : o.sizes_of_interest)
    WSVIS_CHECK(s > 0, "DynamicMaskHead: sizes_of_interest must be positive, got ", s);
  WSVIS_CHECK(o.mask_out_stride >= 1 && o.mask_feat_stride >= o.mask_out_stride &&
                  o.mask_feat_stride % o.mask_out_stride == 0,
              "DynamicMaskHead: mask_out_stride ", o.mask_out_stride,
              " must divide mask_feat_stride ", o.mask_feat_stride);
  for (int l = 0; l < o.num_layers; ++l) {
    const int in = l == 0 ? o.in_channels + (o.rel_coords ? 2 : 0) : o.channels;
    const int out = l == o.num_layers - 1 ? 1 : o.channels;
    layer_in_.push_back(in);
    layer_out_.push_back(out);
    weight_nums_.push_back(int64_t(in) * out);
    bias_nums_.push_back(out);
  }
  num_gen_params_ = std::accumulate(weight_nums_.begin(), weight_nums_.end(), int64_t(0)) +
                    std::accumulate(bias_nums_.begin(), bias_nums_.end(), int64_t(0));
}

DynamicParams DynamicMaskHead::parse(const Tensor& params) const {
  WSVIS_CHECK(params.dim() == 2 && params.size(1) == num_gen_params_,
              "DynamicMaskHead: params must be (M, ", num_gen_params_, "), got ",
              params.shape_str());
  const int64_t M = params.size(0);
  DynamicParams out;
  int64_t offset = 0;
  for (size_t l = 0; l < weight_nums_.size(); ++l) {
    out.weights.push_back(ops::reshape(ops::slice(params, 1, offset, offset + weight_nums_[l]),
                                       {M, layer_out_[l], layer_in_[l]}));
    offset += weight_nums_[l];
  }
  for (size_t l = 0; l < bias_nums_.size(); ++l) {
    out.biases.push_back(ops::reshape(ops::slice(params, 1, offset, offset + bias_nums_[l]),
                                      {M, layer_out_[l], 1}));
    offset += bias_nums_[l];
  }
  return out;
}

namespace {

// Host-side geometry of the instances: (x, y) locations (M, 2) and the size of interest of each
// instance's level (M), in float as AdelaiDet's float32 tensors.
struct InstanceGeometry {
  std::vector<float> locations, soi;
};

InstanceGeometry instance_geometry(const MaskHeadInstances& instances,
                                   const std::vector<double>& sizes_of_interest) {
  const int64_t M = instances.size();
  WSVIS_CHECK(static_cast<int64_t>(instances.level.size()) == M &&
                  static_cast<int64_t>(instances.location.size()) == M,
              "DynamicMaskHead: ", M, " instances but ", instances.level.size(), " levels and ",
              instances.location.size(), " locations");
  InstanceGeometry g;
  for (int64_t k = 0; k < M; ++k) {
    const int64_t level = instances.level[size_t(k)];
    WSVIS_CHECK(level >= 0 && level < static_cast<int64_t>(sizes_of_interest.size()),
                "DynamicMaskHead: instance ", k, " is on level ", level, "; sizes_of_interest has ",
                sizes_of_interest.size());
    g.locations.push_back(instances.location[size_t(k)][0]);
    g.locations.push_back(instances.location[size_t(k)][1]);
    g.soi.push_back(static_cast<float>(sizes_of_interest[size_t(level)]));
  }
  return g;
}

// (2, H*W): the stride-s pixel centres (x*s + s/2, y*s + s/2), times `sign`.
std::vector<float> pixel_centres(int64_t H, int64_t W, int stride, float sign) {
  std::vector<float> grid(static_cast<size_t>(2 * H * W));
  for (int64_t y = 0; y < H; ++y)
    for (int64_t x = 0; x < W; ++x) {
      grid[size_t(y * W + x)] = sign * static_cast<float>(x * stride + stride / 2);
      grid[size_t(H * W + y * W + x)] = sign * static_cast<float>(y * stride + stride / 2);
    }
  return grid;
}

}  // namespace

Tensor DynamicMaskHead::relative_coords(const MaskHeadInstances& instances, int64_t H, int64_t W,
                                        const ContextPtr& ctx, DType dtype) const {
  const int64_t M = instances.size();
  const InstanceGeometry g = instance_geometry(instances, options_.sizes_of_interest);
  // (instance location - pixel centre) / soi, as AdelaiDet's float32 tensors.
  const Tensor loc = Tensor::from_vector(g.locations, {M, 2, 1}, ctx, dtype);
  const Tensor centres = Tensor::from_vector(pixel_centres(H, W, options_.mask_feat_stride, 1.f),
                                             {1, 2, H * W}, ctx, dtype);
  const Tensor scale = Tensor::from_vector(g.soi, {M, 1, 1}, ctx, dtype);
  return ops::div(ops::sub(loc, centres), scale);
}

Tensor DynamicMaskHead::forward(const Tensor& mask_feats,
                                const MaskHeadInstances& instances) const {
  WSVIS_CHECK(mask_feats.dim() == 4 && mask_feats.size(1) == options_.in_channels,
              "DynamicMaskHead: mask_feats must be (N, ", options_.in_channels, ", H, W), got ",
              mask_feats.shape_str());
  const int64_t N = mask_feats.size(0), C = mask_feats.size(1), H = mask_feats.size(2),
                W = mask_feats.size(3), HW = H * W;
  const int factor = options_.mask_feat_stride / options_.mask_out_stride;
  const int64_t M = instances.size();
  if (M == 0)
    return Tensor::empty({0, 1, factor * H, factor * W}, mask_feats.dtype(),
                         mask_feats.context_ptr());
  WSVIS_CHECK(instances.params.defined() && instances.params.size(0) == M,
              "DynamicMaskHead: ", M, " instances but params ",
              instances.params.defined() ? instances.params.shape_str() : "undefined");
  if (options_.rel_coords)  // sizes and levels checked before anything is reordered
    instance_geometry(instances, options_.sizes_of_interest);
  for (int64_t k = 0; k < M; ++k)
    WSVIS_CHECK(instances.image_index[size_t(k)] >= 0 && instances.image_index[size_t(k)] < N,
                "DynamicMaskHead: instance ", k, " belongs to image ",
                instances.image_index[size_t(k)], " of a batch of ", N);

  // Group the instances by image (stable), so each image's layer-0 product is one GEMM over
  // its rows; the logits are put back in the callers' order at the end.
  std::vector<int64_t> order(static_cast<size_t>(M));
  std::iota(order.begin(), order.end(), int64_t(0));
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return instances.image_index[size_t(a)] < instances.image_index[size_t(b)];
  });
  const bool grouped = std::is_sorted(instances.image_index.begin(), instances.image_index.end());
  const ContextPtr& ctx = mask_feats.context_ptr();
  MaskHeadInstances sorted;
  sorted.params = instances.params;
  if (grouped) {
    sorted.level = instances.level;
    sorted.location = instances.location;
  } else {
    sorted.params = ops::index_select(
        instances.params, 0, Tensor::from_vector(order, {M}, ctx, DType::i64));
    if (options_.rel_coords)
      for (int64_t k : order) {
        sorted.level.push_back(instances.level[size_t(k)]);
        sorted.location.push_back(instances.location[size_t(k)]);
      }
  }
  for (int64_t k : order) sorted.image_index.push_back(instances.image_index[size_t(k)]);

  const DynamicParams p = parse(sorted.params);
  const int64_t channels = options_.channels, in = p.weights[0].size(2);
  const DType dtype = mask_feats.dtype();
  // Layer 0 as ONE GEMM per image with its bias folded in. With rel = (loc - q) / soi,
  //   W0 [rel; f] + b0 = [W0c / soi | W0f | b0 + (W0c / soi) loc] [-q; f; 1],
  // so neither the (M, 2, H*W) coordinates nor a per-instance copy of the features is formed.
  Tensor w0 = p.weights[0], b0 = p.biases[0];  // (M, ch, in), (M, ch, 1)
  Tensor neg_centres;                          // (2, H*W)
  if (options_.rel_coords) {
    const InstanceGeometry g = instance_geometry(sorted, options_.sizes_of_interest);
    std::vector<float> scale(static_cast<size_t>(M * in), 1.f);
    for (int64_t k = 0; k < M; ++k)
      scale[size_t(k * in)] = scale[size_t(k * in + 1)] = 1.f / g.soi[size_t(k)];
    w0 = ops::mul(w0, Tensor::from_vector(scale, {M, 1, in}, ctx, dtype));
    b0 = ops::add(b0, ops::matmul(ops::slice(w0, 2, 0, 2),
                                  Tensor::from_vector(g.locations, {M, 2, 1}, ctx, dtype)));
    neg_centres = Tensor::from_vector(pixel_centres(H, W, options_.mask_feat_stride, -1.f),
                                      {2, HW}, ctx, dtype);
  }
  const Tensor w0b = ops::concat({w0, b0}, 2);  // (M, ch, in + 1)
  const Tensor ones = Tensor::ones({1, HW}, dtype, ctx);
  std::vector<Tensor> per_image;
  for (int64_t n = 0, begin = 0; n < N; ++n) {
    int64_t end = begin;
    while (end < M && sorted.image_index[size_t(end)] == n) ++end;
    if (end > begin) {
      const Tensor f = ops::reshape(ops::slice(mask_feats, 0, n, n + 1), {C, HW});
      const Tensor input = options_.rel_coords ? ops::concat({neg_centres, f, ones}, 0)
                                               : ops::concat({f, ones}, 0);  // (in + 1, HW)
      const Tensor w =
          ops::reshape(ops::slice(w0b, 0, begin, end), {(end - begin) * channels, in + 1});
      per_image.push_back(ops::reshape(ops::matmul(w, input), {end - begin, channels, HW}));
    }
    begin = end;
  }
  Tensor h = per_image.size() == 1 ? per_image[0] : ops::concat(per_image, 0);  // (M, ch, HW)
  const size_t layers = p.weights.size();
  for (size_t l = 1; l < layers; ++l) {  // ReLU between the layers, none after the last
    h = ops::relu(h);
    h = ops::add(ops::matmul(p.weights[l], h), p.biases[l]);
  }
  Tensor logits = ops::reshape(h, {M, 1, H, W});
  if (!grouped) {
    std::vector<int64_t> inverse(static_cast<size_t>(M));
    for (int64_t k = 0; k < M; ++k) inverse[size_t(order[size_t(k)])] = k;
    logits = ops::index_select(logits, 0, Tensor::from_vector(inverse, {M}, ctx, DType::i64));
  }
  return aligned_bilinear(logits, factor);
}

}  // namespace wsvis::models
