#include "models/resnet.h"

#include "engine/error.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/pool.h"
#include "engine/ops/shape.h"
#include "layers/norm.h"

namespace wsvis::models {

using layers::Conv2d;
using layers::Conv2dOptions;
using layers::Layer;
using layers::Sequential;

namespace {

// A bias-free conv with torchvision's init (kaiming_normal_, fan_out, relu).
std::shared_ptr<Conv2d> make_conv(BlockBuild& b, int in, int out, int kernel, int stride,
                                  int padding, int dilation = 1) {
  Conv2dOptions o;
  o.in_channels = in;
  o.out_channels = out;
  o.kernel = kernel;
  o.stride = stride;
  o.padding = padding;
  o.dilation = dilation;
  o.bias = false;
  o.init = layers::ConvInit::c2_msra;  // torchvision: kaiming_normal_(fan_out, relu)
  return std::make_shared<Conv2d>(o, b.gen, b.ctx, b.dtype);
}

// Weight 1, bias 0 on construction, as torchvision's init sets them.
std::shared_ptr<Layer> make_norm(const BlockBuild& b, int channels) {
  switch (b.norm) {
    case NormKind::BN: {
      layers::BatchNorm2dOptions o;
      o.num_features = channels;
      return std::make_shared<layers::BatchNorm2d>(o, b.ctx, b.dtype);
    }
    case NormKind::FixedBN: {
      layers::BatchNorm2dOptions o;
      o.num_features = channels;
      o.fixed_statistics = true;
      return std::make_shared<layers::BatchNorm2d>(o, b.ctx, b.dtype);
    }
    case NormKind::FrozenBN:
      return std::make_shared<layers::FrozenBatchNorm2d>(channels, b.ctx, b.dtype);
  }
  WSVIS_FAIL("ResNet: unknown norm kind");
}

}  // namespace

BasicBlock::BasicBlock(BlockBuild& b, int inplanes, int planes, int stride, int dilation,
                       std::shared_ptr<Sequential> downsample) {
  WSVIS_CHECK(dilation == 1,
              "ResNet: dilation > 1 is not supported in BasicBlock "
              "(as torchvision); use a Bottleneck depth (50, 101, 152)");
  conv1_ = register_module("conv1", make_conv(b, inplanes, planes, 3, stride, 1));
  bn1_ = register_module("bn1", make_norm(b, planes));
  conv2_ = register_module("conv2", make_conv(b, planes, planes, 3, 1, 1));
  bn2_ = register_module("bn2", make_norm(b, planes));
  if (downsample) downsample_ = register_module("downsample", downsample);
}

Tensor BasicBlock::forward(const Tensor& x) {
  Tensor out = ops::relu(bn1_->forward(conv1_->forward(x)));
  out = bn2_->forward(conv2_->forward(out));
  const Tensor identity = downsample_ ? downsample_->forward(x) : x;
  return ops::relu(ops::add(out, identity));
}

Bottleneck::Bottleneck(BlockBuild& b, int inplanes, int planes, int stride, int dilation,
                       bool stride_in_1x1, std::shared_ptr<Sequential> downsample) {
  const int width = planes;  // groups 1, base width 64
  const int s1 = stride_in_1x1 ? stride : 1, s3 = stride_in_1x1 ? 1 : stride;
  conv1_ = register_module("conv1", make_conv(b, inplanes, width, 1, s1, 0));
  bn1_ = register_module("bn1", make_norm(b, width));
  conv2_ = register_module("conv2", make_conv(b, width, width, 3, s3, dilation, dilation));
  bn2_ = register_module("bn2", make_norm(b, width));
  conv3_ = register_module("conv3", make_conv(b, width, planes * kExpansion, 1, 1, 0));
  bn3_ = register_module("bn3", make_norm(b, planes * kExpansion));
  if (downsample) downsample_ = register_module("downsample", downsample);
}

Tensor Bottleneck::forward(const Tensor& x) {
  Tensor out = ops::relu(bn1_->forward(conv1_->forward(x)));
  out = ops::relu(bn2_->forward(conv2_->forward(out)));
  out = bn3_->forward(conv3_->forward(out));
  const Tensor identity = downsample_ ? downsample_->forward(x) : x;
  return ops::relu(ops::add(out, identity));
}

namespace {

struct DepthSpec {
  bool bottleneck;
  std::array<int, 4> blocks;
};

DepthSpec depth_spec(int depth) {
  switch (depth) {
    case 18:
      return {false, {2, 2, 2, 2}};
    case 34:
      return {false, {3, 4, 6, 3}};
    case 50:
      return {true, {3, 4, 6, 3}};
    case 101:
      return {true, {3, 4, 23, 3}};
    case 152:
      return {true, {3, 8, 36, 3}};
    default:
      WSVIS_FAIL("ResNet: depth must be 18, 34, 50, 101 or 152, got ", depth);
  }
}

// Makes the parameters of `m` untrainable.
void freeze_parameters(const layers::Module& m) {
  for (auto& named : m.named_parameters()) named.second.set_requires_grad(false);
}

}  // namespace

FeatureMap ResNetOutput::features() const {
  return {{"stem", stem}, {"res2", res2}, {"res3", res3}, {"res4", res4}, {"res5", res5}};
}

ResNet::ResNet(const ResNetOptions& options, Generator& gen, const ContextPtr& ctx)
    : options_(options) {
  const DepthSpec spec = depth_spec(options.depth);
  WSVIS_CHECK(options.freeze_at >= 0 && options.freeze_at <= 5,
              "ResNet: freeze_at must be in [0, 5], got ", options.freeze_at);
  for (int s : options.strides) WSVIS_CHECK(s >= 1, "ResNet: strides must be positive, got ", s);
  WSVIS_CHECK(options.num_classes >= 0, "ResNet: negative num_classes ", options.num_classes);

  // A frozen stage built with trainable BN gets detectron2's FrozenBatchNorm2d instead.
  auto stage_build = [&](int stage_index) {  // 1: stem, 2: layer1 (res2), ... 5: layer4
    const bool frozen = options.freeze_at >= stage_index;
    NormKind kind = options.norm;
    if (frozen && kind == NormKind::BN) kind = NormKind::FrozenBN;
    return BlockBuild{gen, ctx, options.dtype, kind};
  };

  BlockBuild stem = stage_build(1);
  conv1_ = register_module("conv1", make_conv(stem, 3, 64, 7, options.strides[0], 3));
  bn1_ = register_module("bn1", make_norm(stem, 64));
  if (options.freeze_at >= 1) {
    freeze_parameters(*conv1_);
    freeze_parameters(*bn1_);
  }

  const int expansion = spec.bottleneck ? Bottleneck::kExpansion : BasicBlock::kExpansion;
  int inplanes = 64;
  int dilation = 1;
  int total_stride = options.strides[0] * 2;  // conv1, then the max-pool
  out_channels_[0] = 64;
  out_strides_[0] = total_stride;
  for (int li = 0; li < 4; ++li) {
    BlockBuild b = stage_build(li + 2);
    const int planes = 64 << li;
    int stride = li == 0 ? 1 : options.strides[static_cast<size_t>(li)];
    const int previous_dilation = dilation;
    if (li > 0 && options.replace_stride_with_dilation[static_cast<size_t>(li - 1)]) {
      dilation *= stride;
      stride = 1;
    }
    auto layer = std::make_shared<Sequential>();
    for (int bi = 0; bi < spec.blocks[static_cast<size_t>(li)]; ++bi) {
      const int block_stride = bi == 0 ? stride : 1;
      const int block_dilation = bi == 0 ? previous_dilation : dilation;
      std::shared_ptr<Sequential> downsample;
      if (bi == 0 && (stride != 1 || inplanes != planes * expansion)) {
        downsample = std::make_shared<Sequential>();
        downsample->append(make_conv(b, inplanes, planes * expansion, 1, stride, 0));
        downsample->append(make_norm(b, planes * expansion));
      }
      if (spec.bottleneck)
        layer->append(std::make_shared<Bottleneck>(
            b, inplanes, planes, block_stride, block_dilation, options.stride_in_1x1, downsample));
      else
        layer->append(std::make_shared<BasicBlock>(b, inplanes, planes, block_stride,
                                                   block_dilation, downsample));
      inplanes = planes * expansion;
    }
    layers_[static_cast<size_t>(li)] = register_module("layer" + std::to_string(li + 1), layer);
    if (options.freeze_at >= li + 2) freeze_parameters(*layer);
    total_stride *= stride;
    out_channels_[static_cast<size_t>(li + 1)] = inplanes;
    out_strides_[static_cast<size_t>(li + 1)] = total_stride;
  }

  if (options.num_classes > 0)
    fc_ = register_module("fc", std::make_shared<layers::Linear>(inplanes, options.num_classes, gen,
                                                                 ctx, options.dtype));
}

const std::shared_ptr<Sequential>& ResNet::stage(int i) const {
  WSVIS_CHECK(i >= 1 && i <= 4, "ResNet::stage: index must be 1..4 (layer1..layer4), got ", i);
  return layers_[static_cast<size_t>(i - 1)];
}

Tensor ResNet::forward_stem(const Tensor& x) {
  WSVIS_CHECK(x.dim() == 4 && x.size(1) == 3, "ResNet: input must be (N, 3, H, W), got ",
              x.shape_str());
  Tensor y = ops::relu(bn1_->forward(conv1_->forward(x)));
  return ops::max_pool2d(y, 3, 2, 1);
}

ResNetOutput ResNet::forward(const Tensor& x) {
  ResNetOutput out;
  out.stem = forward_stem(x);
  out.res2 = layers_[0]->forward(out.stem);
  out.res3 = layers_[1]->forward(out.res2);
  out.res4 = layers_[2]->forward(out.res3);
  out.res5 = layers_[3]->forward(out.res4);
  if (fc_) out.logits = fc_->forward(ops::flatten(ops::global_avg_pool2d(out.res5), 1));
  return out;
}

int64_t count_parameters(const layers::Module& module) {
  int64_t n = 0;
  for (const auto& named : module.named_parameters()) n += named.second.numel();
  return n;
}

}  // namespace wsvis::models
