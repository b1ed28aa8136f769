// Tests of models::ResNetFpnBackbone, the one ResNet + FPN module of FCOS / CondInst / the motion
// encoder (P3-P7) and Mask R-CNN (P2-P6): state_dict layout (the FPN's names first, then
// bottom_up.*), levels and strides of both layouts, that it equals a ResNet then an FPN built
// from the same seed in that order (the initialisation order the detectors' checkpoints and
// seeded runs rely on), and misuse.
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "models/resnet_fpn.h"
#include "tests/support/testing.h"

namespace wsvis {
namespace {

using models::FeatureMap;
using models::ResNetFpnBackbone;
using testing::cpu_context;
using testing::names_of;

models::ResNetOptions small_resnet() { return models::detectron2_resnet_options(18); }

TEST(ResNetFpnBackbone, LevelsAndNamesOfBothLayouts) {
  const auto ctx = cpu_context();
  Generator gen(1);
  ResNetFpnBackbone fcos(small_resnet(), models::fcos_fpn_options, 32, gen, ctx);
  EXPECT_EQ(fcos.out_features(), (std::vector<std::string>{"p3", "p4", "p5", "p6", "p7"}));
  EXPECT_EQ(fcos.out_strides(), (std::vector<int>{8, 16, 32, 64, 128}));
  ResNetFpnBackbone rcnn(small_resnet(), models::maskrcnn_fpn_options, 32, gen, ctx);
  EXPECT_EQ(rcnn.out_features(), (std::vector<std::string>{"p2", "p3", "p4", "p5", "p6"}));
  EXPECT_EQ(rcnn.out_strides(), (std::vector<int>{4, 8, 16, 32, 64}));

  // detectron2's order: the FPN's own convs, its top block, then the bottom-up ResNet.
  const std::vector<std::string> names = names_of(fcos.state_dict());
  ASSERT_FALSE(names.empty());
  EXPECT_EQ(names.front(), "fpn_lateral3.weight");
  EXPECT_EQ(names.back().rfind("bottom_up.layer4.", 0), 0u) << names.back();
  EXPECT_EQ(names_of(rcnn.state_dict()).front(), "fpn_lateral2.weight");
  size_t first_bottom_up = names.size(), last_top_block = 0;
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i].rfind("bottom_up.", 0) == 0 && first_bottom_up == names.size()) first_bottom_up = i;
    if (names[i].rfind("top_block.", 0) == 0) last_top_block = i;
  }
  EXPECT_LT(last_top_block, first_bottom_up);
  EXPECT_EQ(fcos.bottom_up()->state_dict().size(), names.size() - first_bottom_up);
}

TEST(ResNetFpnBackbone, EqualsResNetThenFpnFromOneSeed) {
  const auto ctx = cpu_context();
  Generator gen_a(7), gen_b(7), gen_x(8);
  ResNetFpnBackbone backbone(small_resnet(), models::maskrcnn_fpn_options, 16, gen_a, ctx);
  models::ResNet resnet(small_resnet(), gen_b, ctx);
  models::FPNOptions fpn_options = models::maskrcnn_fpn_options(resnet);
  fpn_options.out_channels = 16;
  models::FPN fpn(fpn_options, gen_b, ctx);

  const Tensor images = Tensor::uniform({2, 3, 64, 96}, -1, 1, gen_x, ctx, DType::f32);
  NoGradGuard no_grad;
  const FeatureMap got = backbone.forward_images(images);
  const FeatureMap want = fpn.forward(resnet.forward(images).features());
  ASSERT_EQ(got.size(), want.size());
  for (const auto& [name, map] : want) {
    ASSERT_TRUE(got.count(name)) << name;
    EXPECT_TRUE(testing::tensors_close(got.at(name), map, 0, 0)) << name;
  }
}

TEST(ResNetFpnBackbone, Misuse) {
  const auto ctx = cpu_context();
  Generator gen(2);
  models::ResNetOptions classifier = small_resnet();
  classifier.num_classes = 10;
  testing::expect_error(
      [&] { ResNetFpnBackbone(classifier, models::fcos_fpn_options, 16, gen, ctx); },
      "num_classes 0");
  testing::expect_error([&] { ResNetFpnBackbone(small_resnet(), nullptr, 16, gen, ctx); },
                        "no FPN layout");
}

}  // namespace
}  // namespace wsvis
