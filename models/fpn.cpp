#include "models/fpn.h"

#include "engine/error.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/pool.h"
#include "engine/ops/upsample.h"

namespace wsvis::models {

using layers::Conv2d;

namespace {

std::shared_ptr<Conv2d> make_conv(int in, int out, int kernel, int stride, int padding,
                                  Generator& gen, const ContextPtr& ctx, DType dtype) {
  layers::Conv2dOptions o;
  o.in_channels = in;
  o.out_channels = out;
  o.kernel = kernel;
  o.stride = stride;
  o.padding = padding;
  o.bias = true;
  o.init = layers::ConvInit::c2_xavier;
  return std::make_shared<Conv2d>(o, gen, ctx, dtype);
}

// detectron2 / AdelaiDet LastLevelP6P7: the module that owns "p6" and "p7".
class LastLevelP6P7 : public layers::Module {
 public:
  LastLevelP6P7(int in_channels, int out_channels, Generator& gen, const ContextPtr& ctx,
                DType dtype) {
    p6 = register_module("p6", make_conv(in_channels, out_channels, 3, 2, 1, gen, ctx, dtype));
    p7 = register_module("p7", make_conv(out_channels, out_channels, 3, 2, 1, gen, ctx, dtype));
  }
  std::shared_ptr<Conv2d> p6, p7;
};

int log2_exact(int stride) {
  int s = 0;
  while ((1 << s) < stride) ++s;
  WSVIS_CHECK((1 << s) == stride, "FPN: input strides must be powers of two, got ", stride);
  return s;
}

FPNOptions options_from(const ResNet& backbone, int first_stage, FPNTopBlock top) {
  FPNOptions o;
  for (int stage = first_stage; stage <= 5; ++stage) {
    o.in_features.push_back("res" + std::to_string(stage));
    o.in_channels.push_back(backbone.out_channels()[static_cast<size_t>(stage - 1)]);
    o.in_strides.push_back(backbone.out_strides()[static_cast<size_t>(stage - 1)]);
  }
  o.top_block = top;
  o.dtype = backbone.options().dtype;
  return o;
}

}  // namespace

FPNOptions maskrcnn_fpn_options(const ResNet& backbone) {
  return options_from(backbone, 2, FPNTopBlock::max_pool);
}

FPNOptions fcos_fpn_options(const ResNet& backbone) {
  return options_from(backbone, 3, FPNTopBlock::p6p7_from_p5);
}

FPN::FPN(const FPNOptions& options, Generator& gen, const ContextPtr& ctx) : options_(options) {
  const size_t n = options.in_features.size();
  WSVIS_CHECK(n >= 1 && options.in_channels.size() == n && options.in_strides.size() == n,
              "FPN: in_features, in_channels and in_strides must be non-empty and of one length (",
              n, ", ", options.in_channels.size(), ", ", options.in_strides.size(), ")");
  WSVIS_CHECK(options.out_channels > 0, "FPN: out_channels must be positive");
  for (size_t i = 0; i < n; ++i) {
    const int stage = log2_exact(options.in_strides[i]);
    if (i > 0)
      WSVIS_CHECK(options.in_strides[i] == 2 * options.in_strides[i - 1],
                  "FPN: each input stride must double the previous one, got ",
                  options.in_strides[i - 1], " then ", options.in_strides[i]);
    lateral_.push_back(register_module(
        "fpn_lateral" + std::to_string(stage),
        make_conv(options.in_channels[i], options.out_channels, 1, 1, 0, gen, ctx, options.dtype)));
    output_.push_back(register_module(
        "fpn_output" + std::to_string(stage),
        make_conv(options.out_channels, options.out_channels, 3, 1, 1, gen, ctx, options.dtype)));
    out_features_.push_back("p" + std::to_string(stage));
    out_strides_.push_back(options.in_strides[i]);
  }
  const int last_stage = log2_exact(options.in_strides.back());
  switch (options.top_block) {
    case FPNTopBlock::none:
      break;
    case FPNTopBlock::max_pool:
      out_features_.push_back("p" + std::to_string(last_stage + 1));
      out_strides_.push_back(options.in_strides.back() * 2);
      break;
    case FPNTopBlock::p6p7_from_p5:
    case FPNTopBlock::p6p7_from_c5: {
      const int in = options.top_block == FPNTopBlock::p6p7_from_p5 ? options.out_channels
                                                                    : options.in_channels.back();
      auto top = register_module(
          "top_block",
          std::make_shared<LastLevelP6P7>(in, options.out_channels, gen, ctx, options.dtype));
      p6_ = top->p6;
      p7_ = top->p7;
      for (int k = 1; k <= 2; ++k) {
        out_features_.push_back("p" + std::to_string(last_stage + k));
        out_strides_.push_back(options.in_strides.back() << k);
      }
      break;
    }
  }
}

FeatureMap FPN::forward(const FeatureMap& bottom_up) {
  const size_t n = options_.in_features.size();
  std::vector<Tensor> inputs(n);
  for (size_t i = 0; i < n; ++i) {
    auto it = bottom_up.find(options_.in_features[i]);
    WSVIS_CHECK(it != bottom_up.end(), "FPN: bottom-up feature '", options_.in_features[i],
                "' is missing");
    inputs[i] = it->second;
  }
  std::vector<Tensor> results(n);
  // Coarsest first: prev is the running top-down sum at the current level.
  Tensor prev = lateral_[n - 1]->forward(inputs[n - 1]);
  results[n - 1] = output_[n - 1]->forward(prev);
  for (size_t k = n - 1; k-- > 0;) {
    Tensor lateral = lateral_[k]->forward(inputs[k]);
    Tensor top_down = ops::upsample_nearest2d(prev, static_cast<int>(lateral.size(2)),
                                              static_cast<int>(lateral.size(3)));
    prev = ops::add(lateral, top_down);
    results[k] = output_[k]->forward(prev);
  }

  FeatureMap out;
  for (size_t i = 0; i < n; ++i) out[out_features_[i]] = results[i];
  switch (options_.top_block) {
    case FPNTopBlock::none:
      break;
    case FPNTopBlock::max_pool:
      out[out_features_[n]] = ops::max_pool2d(results[n - 1], 1, 2, 0);
      break;
    case FPNTopBlock::p6p7_from_p5:
    case FPNTopBlock::p6p7_from_c5: {
      const Tensor& source =
          options_.top_block == FPNTopBlock::p6p7_from_p5 ? results[n - 1] : inputs[n - 1];
      Tensor p6 = p6_->forward(source);
      out[out_features_[n]] = p6;
      out[out_features_[n + 1]] = p7_->forward(ops::relu(p6));
      break;
    }
  }
  return out;
}

}  // namespace wsvis::models
