// Tests of models/motion_encoder.h on a small ResNet-18 + FPN (64 x 64 inputs): the two
// streams through one shared backbone as one batch of 2N equal two plain backbone calls, the
// mask branch sees both streams as one batch; the fusions of the paper's Tables 2 and 4 (sum,
// max, concat with its 1x1 reduction; mask concat / sum / max; motion off for detection or
// segmentation); the dynamic head's parameter count it implies (361); the flow colour inputs.
#include <algorithm>
#include <string>
#include <vector>

#include "engine/ops/conv.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/reduce.h"
#include "engine/ops/shape.h"
#include "models/condinst_dynamic_head.h"
#include "models/motion_encoder.h"
#include "tests/support/testing.h"

namespace wsvis {
namespace {

using models::DetectionFusion;
using models::MaskFusion;
using models::MotionEncoder;
using models::MotionEncoderOptions;
using testing::cpu_context;
using testing::tensors_close;

constexpr int kMask = 4;  // C_mask of the small mask branch

MotionEncoderOptions small_options() {
  MotionEncoderOptions o;
  o.backbone = models::detectron2_resnet_options(18);
  o.fpn_channels = 16;
  o.mask_branch.channels = 8;
  o.mask_branch.num_convs = 1;
  o.mask_branch.out_channels = kMask;
  return o;
}

struct Inputs {
  Tensor images, flows;
};

Inputs inputs(const ContextPtr& ctx) {
  Generator gen(21);
  return {Tensor::randn({2, 3, 64, 64}, gen, ctx), Tensor::randn({2, 3, 64, 64}, gen, ctx)};
}

const std::vector<std::string> kLevels{"p3", "p4", "p5", "p6", "p7"};

TEST(MotionEncoder, SharedBackboneStreamsAndDefaultFusion) {
  const auto ctx = cpu_context();
  Generator gen(1);
  MotionEncoder enc(small_options(), gen, ctx);  // FrozenBN backbone, BN mask branch
  const Inputs in = inputs(ctx);
  const models::MotionEncoderOutput out = enc.forward(in.images, in.flows);
  // The 2N batch through the frozen backbone equals two separate calls.
  const models::FeatureMap image = enc.backbone()->forward_images(in.images);
  const models::FeatureMap flow = enc.backbone()->forward_images(in.flows);
  for (const std::string& p : kLevels) {
    EXPECT_TRUE(tensors_close(out.image.at(p), image.at(p), 1e-5, 1e-5)) << p;
    EXPECT_TRUE(tensors_close(out.flow.at(p), flow.at(p), 1e-5, 1e-5)) << p;
    EXPECT_TRUE(tensors_close(out.detection.at(p), ops::add(image.at(p), flow.at(p)), 1e-5, 1e-5))
        << p;
  }
  // Mask features: the one mask branch on both streams as one batch (training BatchNorm
  // statistics over both), split and concatenated image first.
  ASSERT_EQ(enc.mask_channels(), 2 * kMask);
  ASSERT_EQ(out.mask_feats.shape(), Shape({2, 2 * kMask, 8, 8}));
  models::FeatureMap joint;
  for (const char* p : {"p3", "p4", "p5"})
    joint[p] = ops::concat({image.at(p), flow.at(p)}, 0);
  const Tensor masks = enc.mask_branch()->forward(joint);
  EXPECT_TRUE(tensors_close(
      out.mask_feats, ops::concat({ops::slice(masks, 0, 0, 2), ops::slice(masks, 0, 2, 4)}, 1),
      1e-5, 1e-5));
  // At inference (running statistics) each stream's half is the branch applied to it alone.
  enc.train(false);
  const models::MotionEncoderOutput eval = enc.forward(in.images, in.flows);
  EXPECT_TRUE(tensors_close(eval.mask_feats, ops::concat({enc.mask_branch()->forward(image),
                                                          enc.mask_branch()->forward(flow)},
                                                         1),
                            1e-5, 1e-5));
}

TEST(MotionEncoder, DynamicHeadSizeOfThePaper) {
  // BoxInst's C_mask 16 per stream, concatenated: C_in = 34, num_gen_params 361.
  const auto ctx = cpu_context();
  MotionEncoderOptions o = small_options();
  o.mask_branch = models::boxinst_mask_branch_options();
  Generator gen(2);
  const MotionEncoder enc(o, gen, ctx);
  models::DynamicMaskHeadOptions h;
  h.in_channels = enc.mask_channels();
  EXPECT_EQ(h.in_channels, 32);
  EXPECT_EQ(models::DynamicMaskHead(h).num_gen_params(), 361);
}

TEST(MotionEncoder, DetectionFusionMaxAndConcat) {
  const auto ctx = cpu_context();
  const Inputs in = inputs(ctx);
  MotionEncoderOptions o = small_options();
  o.detection_fusion = DetectionFusion::max;
  Generator gen(3);
  MotionEncoder max_enc(o, gen, ctx);
  const models::MotionEncoderOutput m = max_enc.forward(in.images, in.flows);
  for (const std::string& p : kLevels) {
    const std::vector<float> a = m.image.at(p).to_vector<float>();
    const std::vector<float> b = m.flow.at(p).to_vector<float>();
    std::vector<float> expected(a.size());
    for (size_t i = 0; i < a.size(); ++i) expected[i] = std::max(a[i], b[i]);
    EXPECT_EQ(m.detection.at(p).to_vector<float>(), expected) << p;
  }

  o.detection_fusion = DetectionFusion::concat;
  Generator gen2(3);
  MotionEncoder cat_enc(o, gen2, ctx);
  Tensor weight, bias;
  for (const auto& [name, t] : cat_enc.named_parameters()) {
    if (name == "fusion_reduce.weight") weight = t;
    if (name == "fusion_reduce.bias") bias = t;
  }
  ASSERT_TRUE(weight.defined() && bias.defined()) << "no fusion_reduce parameters";
  EXPECT_EQ(weight.shape(), Shape({16, 32, 1, 1}));
  const models::MotionEncoderOutput c = cat_enc.forward(in.images, in.flows);
  for (const std::string& p : kLevels)
    EXPECT_TRUE(tensors_close(
        c.detection.at(p),
        ops::conv2d(ops::concat({c.image.at(p), c.flow.at(p)}, 1), weight, bias), 1e-5, 1e-5))
        << p;
  // Sum and max fusions have no reduction conv.
  for (const auto& named : max_enc.named_parameters())
    EXPECT_EQ(named.first.find("fusion_reduce"), std::string::npos);
}

TEST(MotionEncoder, MaskFusionSumAndMax) {
  const auto ctx = cpu_context();
  const Inputs in = inputs(ctx);
  for (const MaskFusion fusion : {MaskFusion::sum, MaskFusion::max}) {
    MotionEncoderOptions o = small_options();
    o.mask_fusion = fusion;
    Generator gen(4);
    MotionEncoder enc(o, gen, ctx);
    enc.train(false);  // running statistics: each stream's mask features on their own
    EXPECT_EQ(enc.mask_channels(), kMask);
    const models::MotionEncoderOutput out = enc.forward(in.images, in.flows);
    const std::vector<float> a = enc.mask_branch()->forward(out.image).to_vector<float>();
    const std::vector<float> b = enc.mask_branch()->forward(out.flow).to_vector<float>();
    std::vector<float> expected(a.size());
    for (size_t i = 0; i < a.size(); ++i)
      expected[i] = fusion == MaskFusion::sum ? a[i] + b[i] : std::max(a[i], b[i]);
    ASSERT_EQ(out.mask_feats.shape(), Shape({2, kMask, 8, 8}));
    EXPECT_TRUE(testing::all_close(out.mask_feats.to_vector<float>(), expected, 1e-5, 1e-5));
  }
}

TEST(MotionEncoder, AblationsOfTableTwo) {
  const auto ctx = cpu_context();
  const Inputs in = inputs(ctx);
  {  // without motion features for detection: the FCOS head sees the image stream only
    MotionEncoderOptions o = small_options();
    o.motion_for_detection = false;
    Generator gen(5);
    MotionEncoder enc(o, gen, ctx);
    const models::MotionEncoderOutput out = enc.forward(in.images, in.flows);
    for (const std::string& p : kLevels)
      EXPECT_TRUE(out.detection.at(p).same_storage(out.image.at(p))) << p;
    EXPECT_EQ(out.mask_feats.size(1), 2 * kMask);
  }
  {  // without motion features for segmentation: the image stream's mask features only
    MotionEncoderOptions o = small_options();
    o.motion_for_segmentation = false;
    Generator gen(6);
    MotionEncoder enc(o, gen, ctx);
    enc.train(false);  // running statistics: each stream's mask features on their own
    EXPECT_EQ(enc.mask_channels(), kMask);
    const models::MotionEncoderOutput out = enc.forward(in.images, in.flows);
    EXPECT_TRUE(tensors_close(out.mask_feats, enc.mask_branch()->forward(out.image), 1e-6, 0));
    EXPECT_TRUE(tensors_close(out.detection.at("p3"),
                              ops::add(out.image.at("p3"), out.flow.at("p3")), 1e-6, 0));
  }
  {  // neither: plain BoxInst, no flow needed
    MotionEncoderOptions o = small_options();
    o.motion_for_detection = o.motion_for_segmentation = false;
    Generator gen(7);
    MotionEncoder enc(o, gen, ctx);
    EXPECT_FALSE(enc.uses_flow());
    const models::MotionEncoderOutput out = enc.forward(in.images, Tensor());
    EXPECT_TRUE(out.flow.empty());
    EXPECT_EQ(out.mask_feats.size(1), kMask);
  }
  {  // the flow is required when used
    Generator gen(8);
    MotionEncoder enc(small_options(), gen, ctx);
    EXPECT_THROW(enc.forward(in.images, Tensor()), Error);
    EXPECT_THROW(enc.forward(in.images, ops::slice(in.flows, 2, 0, 32)), Error);
  }
}

TEST(MotionEncoder, BothStreamsTrainTheSharedBackbone) {
  const auto ctx = cpu_context();
  const Inputs in = inputs(ctx);
  Generator gen(9);
  MotionEncoder enc(small_options(), gen, ctx);
  // A loss on the flow stream's features alone still reaches the shared FPN.
  const models::MotionEncoderOutput out = enc.forward(in.images, in.flows);
  ops::sum(ops::mul(out.flow.at("p3"), out.flow.at("p3"))).backward();
  bool reached = false;
  for (const auto& [name, p] : enc.named_parameters())
    if (name.rfind("backbone.fpn_lateral3", 0) == 0 && p.grad().defined())
      for (double g : p.grad().to_vector<double>()) reached = reached || g != 0;
  EXPECT_TRUE(reached);
}

TEST(FlowColorInputs, ColoursAndNormalisedInput) {
  const auto ctx = cpu_context();
  // Image 0 moves right (u = 1) on its left column, still on its right; image 1 is still.
  // Zero flow is white; the largest motion of image 0 is pure red (255, 0, 0) RGB.
  std::vector<float> flow(2 * 2 * 1 * 2, 0.f);
  flow[0] = 1.f;  // image 0, u at (0, 0)
  const Tensor valid = Tensor::from_vector(std::vector<uint8_t>{1, 1, 1, 0}, {2, 1, 2}, ctx,
                                           DType::u8);
  const models::FlowColorInputs f = models::flow_color_inputs(
      Tensor::from_vector(flow, {2, 2, 1, 2}, ctx), valid, kernels::FlowWheelVariant::flow_vis);
  ASSERT_EQ(f.colors.shape(), Shape({2, 3, 1, 2}));
  // BGR planes: image 0 (B: 0, 255), (G: 0, 255), (R: 255, 255); image 1 all white.
  EXPECT_EQ(f.colors.to_vector<int>(),
            (std::vector<int>{0, 255, 0, 255, 255, 255, 255, 255, 255, 255, 255, 255}));
  const std::vector<float> x = f.input.to_vector<float>();
  EXPECT_FLOAT_EQ(x[0], 0 - 103.530f);
  EXPECT_FLOAT_EQ(x[1], 255 - 103.530f);
  EXPECT_FLOAT_EQ(x[4], 255 - 123.675f);
  EXPECT_FLOAT_EQ(x[6], 255 - 103.530f);
  EXPECT_EQ(x[7], 0.f);  // image 1's padding
  EXPECT_EQ(x[11], 0.f);

  // torchvision weights: the input is RGB, (c - mean) / std on 0..255.
  const models::PixelNormalization tv = models::PixelNormalization::torchvision();
  const std::vector<float> y = models::flow_color_inputs(Tensor::from_vector(flow, {2, 2, 1, 2}, ctx), valid,
                                                         kernels::FlowWheelVariant::flow_vis, tv)
                                   .input.to_vector<float>();
  EXPECT_FLOAT_EQ(y[0], (255 - 123.675f) / 58.395f);  // R plane, image 0, red pixel
  EXPECT_FLOAT_EQ(y[4], (0 - 103.530f) / 57.375f);    // B plane, image 0, red pixel
  EXPECT_EQ(y[7], 0.f);
}

TEST(PixelNormalization, UnnormalisedBgrInvertsBothConventions) {
  const auto ctx = cpu_context();
  // One BGR pixel (10, 20, 30) normalised by hand each way, then brought back.
  const Tensor msra = Tensor::from_vector(std::vector<float>{10 - 103.530f, 20 - 116.280f, 30 - 123.675f},
                                          {1, 3, 1, 1}, ctx);
  const Tensor tv = Tensor::from_vector(std::vector<float>{(30 - 123.675f) / 58.395f, (20 - 116.280f) / 57.120f,
                                                           (10 - 103.530f) / 57.375f},
                                        {1, 3, 1, 1}, ctx);
  for (const auto& [x, norm] : {std::pair{msra, models::PixelNormalization::msra()},
                                std::pair{tv, models::PixelNormalization::torchvision()}}) {
    const std::vector<float> bgr = models::unnormalised_bgr(x, norm).to_vector<float>();
    EXPECT_NEAR(bgr[0], 10.f, 1e-4);
    EXPECT_NEAR(bgr[1], 20.f, 1e-4);
    EXPECT_NEAR(bgr[2], 30.f, 1e-4);
  }
}

}  // namespace
}  // namespace wsvis
