#include "models/condinst_mask_branch.h"

#include "engine/error.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/shape.h"
#include "engine/ops/upsample.h"
#include "layers/conv.h"
#include "layers/norm.h"

namespace wsvis::models {

namespace {

// t with its first and last entries along `dim` repeated once more on their side (replicate
// padding by 1).
Tensor replicate_pad1(const Tensor& t, int dim) {
  const int64_t n = t.size(dim);
  return ops::concat({ops::slice(t, dim, 0, 1), t, ops::slice(t, dim, n - 1, n)}, dim);
}

// conv3x3 + BN + ReLU (conv_with_kaiming_uniform("BN", activation=True)), or conv3x3 (bias) +
// ReLU without norm.
std::shared_ptr<layers::Sequential> conv_block(int in, int out, bool batch_norm, Generator& gen,
                                               const ContextPtr& ctx, DType dtype) {
  layers::Conv2dOptions o;
  o.in_channels = in;
  o.out_channels = out;
  o.kernel = 3;
  o.padding = 1;
  o.bias = !batch_norm;
  o.init = layers::ConvInit::c2_xavier;  // kaiming_uniform(a=1), bias 0
  auto block = std::make_shared<layers::Sequential>();
  block->append(std::make_shared<layers::Conv2d>(o, gen, ctx, dtype));
  if (batch_norm) {
    layers::BatchNorm2dOptions bn;
    bn.num_features = out;
    block->append(std::make_shared<layers::BatchNorm2d>(bn, ctx, dtype));
  }
  block->append(std::make_shared<layers::ReLU>());
  return block;
}

}  // namespace

Tensor aligned_bilinear(const Tensor& x, int factor) {
  WSVIS_CHECK(x.dim() == 4, "aligned_bilinear: x must be (N, C, H, W), got ", x.shape_str());
  WSVIS_CHECK(factor >= 1, "aligned_bilinear: factor must be >= 1, got ", factor);
  if (factor == 1) return x;
  const int64_t h = x.size(2), w = x.size(3);
  WSVIS_CHECK(h > 0 && w > 0, "aligned_bilinear: empty plane ", x.shape_str());
  // AdelaiDet pads right/bottom by 1, resizes to (f h + 1, f w + 1), pads left/top by f / 2
  // and crops (f h, f w): output row r samples row max(r - f/2, 0) / f of the input (the last
  // row repeated past the end). Padding the small input on both sides instead and resizing to
  // (f (h + 1) + 1, f (w + 1) + 1) - the same 1 / f scale - puts that sample at row
  // r + ceil(f / 2) of the result, the clamp at 0 included (the first two padded rows are
  // equal), so one crop replaces the second padding: fewer copies of the large output.
  const Tensor padded = replicate_pad1(replicate_pad1(x, 2), 3);  // (N, C, h + 2, w + 2)
  const Tensor up = ops::upsample_bilinear2d(padded, static_cast<int>(factor * (h + 1) + 1),
                                             static_cast<int>(factor * (w + 1) + 1), true);
  const int64_t offset = (factor + 1) / 2;
  return ops::slice(ops::slice(up, 2, offset, offset + factor * h), 3, offset,
                    offset + factor * w);
}

MaskBranchOptions boxinst_mask_branch_options() {
  MaskBranchOptions o;
  o.out_channels = 16;
  return o;
}

MaskBranch::MaskBranch(const MaskBranchOptions& options, Generator& gen, const ContextPtr& ctx)
    : options_(options) {
  const MaskBranchOptions& o = options_;
  WSVIS_CHECK(!o.in_features.empty(), "MaskBranch: no in_features");
  WSVIS_CHECK(o.in_channels > 0 && o.channels > 0 && o.out_channels > 0 && o.num_convs >= 0,
              "MaskBranch: in_channels ", o.in_channels, ", channels ", o.channels,
              ", out_channels ", o.out_channels, " must be positive and num_convs ", o.num_convs,
              " non-negative");
  // refine is a ModuleList in AdelaiDet: a Sequential here only names its children 0, 1, ...
  auto refine = register_module("refine", std::make_shared<layers::Sequential>());
  for (size_t i = 0; i < o.in_features.size(); ++i)
    refine_.push_back(
        refine->append(conv_block(o.in_channels, o.channels, o.batch_norm, gen, ctx, o.dtype)));
  tower_ = register_module("tower", std::make_shared<layers::Sequential>());
  for (int i = 0; i < o.num_convs; ++i)
    tower_->append(conv_block(o.channels, o.channels, o.batch_norm, gen, ctx, o.dtype));
  layers::Conv2dOptions last;
  last.in_channels = o.channels;
  last.out_channels = o.out_channels;
  last.kernel = 1;
  tower_->append(std::make_shared<layers::Conv2d>(last, gen, ctx, o.dtype));
}

Tensor MaskBranch::forward(const FeatureMap& features) {
  Tensor x;
  for (size_t i = 0; i < options_.in_features.size(); ++i) {
    const std::string& name = options_.in_features[i];
    const auto it = features.find(name);
    WSVIS_CHECK(it != features.end(), "MaskBranch: feature '", name, "' is missing");
    Tensor refined = refine_[i]->forward(it->second);
    if (i == 0) {
      x = refined;
      continue;
    }
    const int64_t th = x.size(2), tw = x.size(3), h = refined.size(2), w = refined.size(3);
    WSVIS_CHECK(h > 0 && w > 0 && th % h == 0 && tw % w == 0 && th / h == tw / w,
                "MaskBranch: ", name, " of size ", h, "x", w, " does not divide ",
                options_.in_features[0], " of size ", th, "x", tw, " by one integer factor");
    x = ops::add(x, aligned_bilinear(refined, static_cast<int>(th / h)));
  }
  return tower_->forward(x);
}

}  // namespace wsvis::models
