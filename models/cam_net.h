// The CAM network of IRN (jiwoon-ahn/irn net/resnet50_cam.py; spec irn_flowirn_maskconsist.md
// section 1): a ResNet backbone with strides (2, 2, 2, 1) (output stride 16, no dilation) and a
// bias-free 1x1 conv classifier.
//
//   x: (N, 3, H, W) -> S4 = layer4 output (N, C, h, w), h = (H-1)//16 + 1, C = 2048 (50/101) or
//   512 (18/34)
//   forward: global average pool of S4 -> classifier -> logits (N, K)   (IRN's training order;
//            the same numbers as classifier-then-GAP because both are linear)
//   cam:     ReLU(classifier(S4)) -> (N, K, h, w), no pooling, no bias  (IRN's CAM class)
//
// Stages as IRN groups them: S1 = stem + layer1, S2 = layer2, S3 = layer3, S4 = layer4.
// frozen_stages = k freezes S1..Sk: their parameters get requires_grad false (so
// pack_parameters and param_groups leave them out) and they run without autograd, so no
// gradient crosses into them (IRN detaches S2's output). k = 2 is IRN. IRN itself only flags
// conv1/bn1 as untrainable and relies on the detach for layer1/layer2; the training effect is
// the same (torch's SGD skips parameters whose grad is None). k = 0 trains everything: needed
// when no ImageNet weights exist and the backbone starts random (a random frozen stem would
// be meaningless); the synthetic pipeline config uses it, usually with NormKind::BN (batch
// statistics, which a random network needs) instead of IRN's FixedBN.
//
// Norms (models::NormKind): FixedBN (IRN) always normalises with the running statistics, in
// train mode too, and trains weight/bias; BN uses batch statistics in train mode; a frozen
// stage built with BN becomes FrozenBN (see models/resnet.h).
//
// Names: the backbone is registered as "backbone", the classifier as "classifier", so the
// state_dict reads backbone.conv1.weight, ..., backbone.layer4.2.bn3.running_var,
// classifier.weight. torchvision ImageNet weights (scripts/export_torchvision.py) carry the
// backbone's names without the prefix: load them with load_backbone_file(path).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/optim/sgd.h"
#include "layers/conv.h"
#include "layers/module.h"
#include "models/resnet.h"

namespace wsvis::models {

struct CamNetOptions {
  int depth = 50;  // 18, 34, 50, 101 (ResNet depths; 152 works too)
  int num_classes = 20;
  NormKind norm = NormKind::FixedBN;
  int frozen_stages = 2;  // 0..4 leading IRN stages (S1 = stem + layer1, S2 = layer2, ...)
  DType dtype = DType::f32;
};

class CamNet : public layers::Module {
 public:
  // Backbone initialised as torchvision (random); classifier with torch's default conv init
  // (kaiming_uniform a = sqrt(5)), as IRN's nn.Conv2d(2048, 20, 1, bias=False) gets.
  CamNet(const CamNetOptions& options, Generator& gen, const ContextPtr& ctx);

  // x: (N, 3, H, W) -> S4: (N, C, (H-1)//16+1, (W-1)//16+1). Frozen stages run without autograd.
  Tensor features(const Tensor& x);
  // x: (N, 3, H, W) -> logits (N, K): GAP(S4) then the classifier.
  Tensor forward(const Tensor& x);
  // x: (N, 3, H, W) -> ReLU(classifier(S4)): (N, K, (H-1)//16+1, (W-1)//16+1).
  Tensor cam(const Tensor& x);

  // Two groups, IRN's PolyOptimizer split: "backbone" (its trainable parameters, lr x1; left out
  // when every stage is frozen) and "classifier" (lr x10). Weight decay is left unset (the
  // optimizer's default). Ask after pack_parameters() / to(): both replace the tensors.
  std::vector<optim::ParamGroup> param_groups() const;

  // Loads a torchvision ResNet state_dict (safetensors, torchvision names such as
  // "layer1.0.conv1.weight") into the backbone. "fc.*" and the BN counters are skipped; every
  // other tensor must match by name and shape, else InputError naming the file and the tensors.
  void load_backbone_file(const std::string& path);

  const CamNetOptions& options() const { return options_; }
  ResNet& backbone() { return *backbone_; }
  const ResNet& backbone() const { return *backbone_; }
  const layers::Conv2d& classifier() const { return *classifier_; }

 private:
  CamNetOptions options_;
  std::shared_ptr<ResNet> backbone_;
  std::shared_ptr<layers::Conv2d> classifier_;
};

// The backbone options IRN uses for both of its networks: strides (2, 2, 2, 1), no fc.
ResNetOptions irn_backbone_options(int depth, NormKind norm, DType dtype);

// Loads a torchvision-named state_dict file into `backbone`, skipping "fc." and
// "num_batches_tracked" (FrozenBN has no counter; the counters do not affect the maths).
// Strict otherwise: InputError naming the file and every missing / unexpected / mis-shaped
// tensor. Shared by CamNet and IrnNet.
void load_torchvision_backbone(ResNet& backbone, const std::string& path);

}  // namespace wsvis::models
