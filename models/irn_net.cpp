#include "models/irn_net.h"

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/shape.h"
#include "engine/ops/upsample.h"
#include "layers/checkpoint.h"
#include "layers/conv.h"
#include "layers/norm.h"
#include "models/cam_net.h"

namespace wsvis::models {

namespace {

// torch.nn.Upsample(scale_factor=s, mode='bilinear', align_corners=False). With an integer
// factor torch samples at (dst + 0.5) / s - 0.5, which is what an explicit output size of
// s * H gives, so the explicit-size op reproduces it exactly.
class BilinearUpsample : public layers::Layer {
 public:
  explicit BilinearUpsample(int scale) : scale_(scale) {}
  Tensor forward(const Tensor& x) override {
    return ops::upsample_bilinear2d(x, static_cast<int>(x.size(2)) * scale_,
                                    static_cast<int>(x.size(3)) * scale_,
                                    /*align_corners=*/false);
  }

 private:
  int scale_;
};

struct BranchBuild {
  Generator& gen;
  ContextPtr ctx;
  DType dtype;
};

// 1x1 conv with torch's default init (IRN's nn.Conv2d defaults).
std::shared_ptr<layers::Conv2d> conv1x1(BranchBuild& b, int in, int out, bool bias) {
  layers::Conv2dOptions o;
  o.in_channels = in;
  o.out_channels = out;
  o.kernel = 1;
  o.bias = bias;
  o.init = layers::ConvInit::torch_default;
  return std::make_shared<layers::Conv2d>(o, b.gen, b.ctx, b.dtype);
}

// conv1x1 (no bias) -> GroupNorm(groups) -> [upsample x scale] -> ReLU, as an nn.Sequential:
// the ReLU's index is 2 or 3, so parameter names are IRN's (X.0.weight, X.1.weight, X.1.bias).
std::shared_ptr<layers::Sequential> block(BranchBuild& b, int in, int out, int groups,
                                          int upsample) {
  auto seq = std::make_shared<layers::Sequential>();
  seq->append(conv1x1(b, in, out, /*bias=*/false));
  seq->append(std::make_shared<layers::GroupNorm>(groups, out, b.ctx, b.dtype));
  if (upsample > 1) seq->append(std::make_shared<BilinearUpsample>(upsample));
  seq->append(std::make_shared<layers::ReLU>());
  return seq;
}

// t: (N, C, H, W) -> t[..., :ref.size(2), :ref.size(3)] (IRN's top-left crop after upsampling).
Tensor crop_like(const Tensor& t, const Tensor& ref) {
  const int64_t h = ref.size(2), w = ref.size(3);
  WSVIS_CHECK(t.size(2) >= h && t.size(3) >= w, "IrnNet: cannot crop ", t.shape_str(), " to ",
              ref.shape_str(), " (an upsampled map is smaller than its target)");
  Tensor y = t;
  if (y.size(2) != h) y = ops::slice(y, 2, 0, h);
  if (y.size(3) != w) y = ops::slice(y, 3, 0, w);
  return y;
}

}  // namespace

MeanShift::MeanShift(int channels, const ContextPtr& ctx, DType dtype) {
  register_buffer("running_mean", Tensor::zeros({channels}, dtype, ctx));
}

Tensor MeanShift::forward(const Tensor& x) {
  if (is_training()) return x;
  const int64_t c = running_mean().numel();
  WSVIS_CHECK(x.dim() == 4 && x.size(1) == c, "MeanShift: input must be (N, ", c,
              ", h, w), got ", x.shape_str());
  return ops::sub(x, running_mean().view({1, c, 1, 1}));
}

IrnNet::IrnNet(const IrnNetOptions& options, Generator& gen, const ContextPtr& ctx)
    : options_(options) {
  ResNetOptions bo = irn_backbone_options(options.depth, options.norm, options.dtype);
  bo.freeze_at = 5;  // everything: no parameter trains, every BN becomes FrozenBN
  backbone_ = register_module("backbone", std::make_shared<ResNet>(bo, gen, ctx));
  mean_shift_ = register_module("mean_shift", std::make_shared<MeanShift>(2, ctx, options.dtype));

  // Input channels of x1..x5 (stem, layer1..layer4).
  const std::array<int, 5>& c = backbone_->out_channels();
  BranchBuild b{gen, ctx, options.dtype};
  edge_.push_back(register_module("fc_edge1", block(b, c[0], 32, 4, 1)));
  edge_.push_back(register_module("fc_edge2", block(b, c[1], 32, 4, 1)));
  edge_.push_back(register_module("fc_edge3", block(b, c[2], 32, 4, 2)));
  edge_.push_back(register_module("fc_edge4", block(b, c[3], 32, 4, 4)));
  edge_.push_back(register_module("fc_edge5", block(b, c[4], 32, 4, 4)));
  edge_.push_back(register_module("fc_edge6", conv1x1(b, 5 * 32, 1, /*bias=*/true)));

  dp_.push_back(register_module("fc_dp1", block(b, c[0], 64, 8, 1)));
  dp_.push_back(register_module("fc_dp2", block(b, c[1], 128, 16, 1)));
  dp_.push_back(register_module("fc_dp3", block(b, c[2], 256, 16, 1)));
  dp_.push_back(register_module("fc_dp4", block(b, c[3], 256, 16, 2)));
  dp_.push_back(register_module("fc_dp5", block(b, c[4], 256, 16, 2)));
  dp_.push_back(register_module("fc_dp6", block(b, 3 * 256, 256, 16, 2)));
  auto dp7 = std::make_shared<layers::Sequential>();
  dp7->append(conv1x1(b, 64 + 128 + 256, 256, /*bias=*/false));
  dp7->append(std::make_shared<layers::GroupNorm>(16, 256, ctx, options.dtype));
  dp7->append(std::make_shared<layers::ReLU>());
  dp7->append(conv1x1(b, 256, 2, /*bias=*/false));
  dp_.push_back(register_module("fc_dp7", dp7));

  backbone_->train(false);
}

void IrnNet::train(bool on) {
  Module::train(on);
  backbone_->train(false);
}

IrnOutput IrnNet::forward(const Tensor& x) {
  ResNetOutput f;
  {
    NoGradGuard no_grad;  // IRN detaches every stage output
    f = backbone_->forward(x);
  }
  // Boundary branch: every map at /4, cropped to fc_edge2's size.
  const Tensor e1 = edge_[0]->forward(f.stem);
  const Tensor e2 = edge_[1]->forward(f.res2);
  const Tensor e3 = crop_like(edge_[2]->forward(f.res3), e2);
  const Tensor e4 = crop_like(edge_[3]->forward(f.res4), e2);
  const Tensor e5 = crop_like(edge_[4]->forward(f.res5), e2);
  IrnOutput out;
  out.edge_logit = edge_[5]->forward(ops::concat({e1, e2, e3, e4, e5}, 1));  // (N, 1, h, w)

  // Displacement branch: x3..x5 meet at /8, then join x1, x2 at /4.
  const Tensor d1 = dp_[0]->forward(f.stem);
  const Tensor d2 = dp_[1]->forward(f.res2);
  const Tensor d3 = dp_[2]->forward(f.res3);
  const Tensor d4 = crop_like(dp_[3]->forward(f.res4), d3);
  const Tensor d5 = crop_like(dp_[4]->forward(f.res5), d3);
  const Tensor d6 = crop_like(dp_[5]->forward(ops::concat({d3, d4, d5}, 1)), d2);
  out.displacement = mean_shift_->forward(dp_[6]->forward(ops::concat({d1, d2, d6}, 1)));
  return out;
}

std::vector<optim::ParamGroup> IrnNet::param_groups() const {
  optim::ParamGroup edge{"edge", {}, 1.0, std::nullopt};
  optim::ParamGroup displacement{"displacement", {}, 10.0, std::nullopt};
  for (const auto& m : edge_)
    for (const auto& named : m->named_parameters()) edge.params.push_back(named.second);
  for (const auto& m : dp_)
    for (const auto& named : m->named_parameters()) displacement.params.push_back(named.second);
  return {edge, displacement};
}

void IrnNet::set_mean_shift(double dy, double dx) {
  Tensor running_mean = mean_shift_->running_mean();
  running_mean.copy_from(Tensor::from_vector<double>({dy, dx}, {2}, running_mean.context_ptr(),
                                                     running_mean.dtype()));
}

void IrnNet::load_backbone_file(const std::string& path) {
  load_torchvision_backbone(*backbone_, path);
}

void IrnNet::copy_backbone_from(const ResNet& source) {
  WSVIS_CHECK(source.options().depth == options_.depth, "IrnNet::copy_backbone_from: source depth ",
              source.options().depth, " differs from the IRN backbone's ", options_.depth);
  load_state_dict(*backbone_, source.state_dict(), /*strict=*/true, {"fc.", "num_batches_tracked"});
}

}  // namespace wsvis::models
