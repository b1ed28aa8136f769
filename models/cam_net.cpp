#include "models/cam_net.h"

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/pool.h"
#include "engine/ops/shape.h"
#include "layers/checkpoint.h"

namespace wsvis::models {

ResNetOptions irn_backbone_options(int depth, NormKind norm, DType dtype) {
  ResNetOptions o;
  o.depth = depth;
  o.num_classes = 0;
  o.strides = {2, 2, 2, 1};  // irn: layer4 keeps stride 1, output stride 16
  o.norm = norm;
  o.dtype = dtype;
  return o;
}

void load_torchvision_backbone(ResNet& backbone, const std::string& path) {
  load_state_dict_file(backbone, path, /*strict=*/true, {"fc.", "num_batches_tracked"});
}

CamNet::CamNet(const CamNetOptions& options, Generator& gen, const ContextPtr& ctx)
    : options_(options) {
  WSVIS_CHECK(options.frozen_stages >= 0 && options.frozen_stages <= 4,
              "CamNet: frozen_stages must be in [0, 4] (S1 = stem + layer1 .. S4 = layer4), got ",
              options.frozen_stages);
  WSVIS_CHECK(options.num_classes > 0, "CamNet: num_classes must be positive, got ",
              options.num_classes);
  ResNetOptions bo = irn_backbone_options(options.depth, options.norm, options.dtype);
  // ResNet's freeze_at counts the stem as a stage of its own: S1 (stem + layer1) is freeze_at 2.
  bo.freeze_at = options.frozen_stages == 0 ? 0 : options.frozen_stages + 1;
  backbone_ = register_module("backbone", std::make_shared<ResNet>(bo, gen, ctx));

  layers::Conv2dOptions co;
  co.in_channels = backbone_->out_channels()[4];
  co.out_channels = options.num_classes;
  co.kernel = 1;
  co.bias = false;
  co.init = layers::ConvInit::torch_default;
  classifier_ =
      register_module("classifier", std::make_shared<layers::Conv2d>(co, gen, ctx, options.dtype));
}

Tensor CamNet::features(const Tensor& x) {
  // IRN stage k: S1 = stem + layer1, Sk = layer k for k >= 2.
  auto run_stage = [this](int k, const Tensor& in) {
    return k == 1 ? backbone_->stage(1)->forward(backbone_->forward_stem(in))
                  : backbone_->stage(k)->forward(in);
  };
  Tensor y = x;
  {
    // The frozen stages record no graph: IRN's detach of S2's output, and less memory.
    NoGradGuard no_grad;
    for (int k = 1; k <= options_.frozen_stages; ++k) y = run_stage(k, y);
  }
  for (int k = options_.frozen_stages + 1; k <= 4; ++k) y = run_stage(k, y);
  return y;
}

Tensor CamNet::forward(const Tensor& x) {
  const Tensor pooled = ops::global_avg_pool2d(features(x));  // (N, C, 1, 1)
  return ops::flatten(classifier_->forward(pooled), 1);       // (N, K)
}

Tensor CamNet::cam(const Tensor& x) { return ops::relu(classifier_->forward(features(x))); }

std::vector<optim::ParamGroup> CamNet::param_groups() const {
  optim::ParamGroup backbone{"backbone", {}, 1.0, std::nullopt};
  for (const auto& named : backbone_->named_parameters())
    if (named.second.requires_grad()) backbone.params.push_back(named.second);
  optim::ParamGroup classifier{"classifier", {classifier_->weight()}, 10.0, std::nullopt};
  std::vector<optim::ParamGroup> groups;
  if (!backbone.params.empty()) groups.push_back(backbone);
  groups.push_back(classifier);
  return groups;
}

void CamNet::load_backbone_file(const std::string& path) {
  load_torchvision_backbone(*backbone_, path);
}

}  // namespace wsvis::models
