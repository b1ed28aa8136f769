// Tests of models/condinst_mask_branch.h: aligned_bilinear on a hand case, against a literal
// loop version of AdelaiDet's four steps, and its gradient; the mask branch's AdelaiDet
// state_dict names, parameter count (worked out by hand), output shape and errors.
#include <cmath>
#include <string>
#include <vector>

#include "engine/ops/elementwise.h"
#include "engine/ops/reduce.h"
#include "models/condinst_mask_branch.h"
#include "models/resnet.h"
#include "tests/support/testing.h"

namespace wsvis {
namespace {

using models::aligned_bilinear;
using models::MaskBranch;
using models::MaskBranchOptions;
using testing::cpu_context;

// AdelaiDet's aligned_bilinear step by step on one (h, w) plane: F.pad(replicate) right and
// bottom by 1; F.interpolate(bilinear, align_corners=True) to (f h + 1, f w + 1); F.pad
// (replicate) left and top by f / 2; crop to (f h, f w).
std::vector<double> reference_aligned_bilinear(const std::vector<double>& x, int h, int w, int f) {
  const int ph = h + 1, pw = w + 1;
  auto at = [&](const std::vector<double>& v, int width, int y, int c) {
    return v[size_t(y * width + c)];
  };
  std::vector<double> padded(size_t(ph * pw));
  for (int y = 0; y < ph; ++y)
    for (int c = 0; c < pw; ++c)
      padded[size_t(y * pw + c)] = at(x, w, std::min(y, h - 1), std::min(c, w - 1));
  const int oh = f * h + 1, ow = f * w + 1;
  std::vector<double> up(size_t(oh * ow));
  for (int y = 0; y < oh; ++y)
    for (int c = 0; c < ow; ++c) {
      const double sy = y * double(ph - 1) / (oh - 1), sx = c * double(pw - 1) / (ow - 1);
      const int y0 = int(std::floor(sy)), x0 = int(std::floor(sx));
      const int y1 = std::min(y0 + 1, ph - 1), x1 = std::min(x0 + 1, pw - 1);
      const double ly = sy - y0, lx = sx - x0;
      const double top = (1 - lx) * at(padded, pw, y0, x0) + lx * at(padded, pw, y0, x1);
      const double bottom = (1 - lx) * at(padded, pw, y1, x0) + lx * at(padded, pw, y1, x1);
      up[size_t(y * ow + c)] = (1 - ly) * top + ly * bottom;
    }
  const int s = f / 2;
  std::vector<double> out(size_t(f * h * f * w));
  for (int y = 0; y < f * h; ++y)
    for (int c = 0; c < f * w; ++c)
      out[size_t(y * f * w + c)] = at(up, ow, std::max(y - s, 0), std::max(c - s, 0));
  return out;
}

TEST(AlignedBilinear, HandCaseFactorTwo) {
  const auto ctx = cpu_context();
  const Tensor x = Tensor::from_vector(std::vector<double>{1, 2, 3, 4}, {1, 1, 2, 2}, ctx);
  // Rows and columns sample the input at max(r - 1, 0) / 2 = 0, 0, 0.5, 1.
  const std::vector<double> expected{1, 1, 1.5, 2,  //
                                     1, 1, 1.5, 2,  //
                                     2, 2, 2.5, 3,  //
                                     3, 3, 3.5, 4};
  const Tensor y = aligned_bilinear(x, 2);
  ASSERT_EQ(y.shape(), Shape({1, 1, 4, 4}));
  EXPECT_TRUE(testing::all_close(y.to_vector<double>(), expected, 1e-12, 0));
  EXPECT_TRUE(aligned_bilinear(x, 1).same_storage(x));  // factor 1 is the identity
}

TEST(AlignedBilinear, MatchesAdelaiDetStepsOnRandomPlanes) {
  const auto ctx = cpu_context();
  Generator gen(3);
  for (const int f : {2, 3, 4, 8})
    for (const auto& [h, w] : std::vector<std::pair<int, int>>{{1, 1}, {2, 3}, {5, 4}}) {
      const Tensor x = Tensor::uniform({2, 3, h, w}, -1, 1, gen, ctx, DType::f64);
      const Tensor y = aligned_bilinear(x, f);
      ASSERT_EQ(y.shape(), Shape({2, 3, f * h, f * w}));
      const std::vector<double> xv = x.to_vector<double>(), yv = y.to_vector<double>();
      for (int p = 0; p < 6; ++p) {
        const std::vector<double> plane(xv.begin() + p * h * w, xv.begin() + (p + 1) * h * w);
        const std::vector<double> got(yv.begin() + p * f * h * f * w,
                                      yv.begin() + (p + 1) * f * h * f * w);
        EXPECT_TRUE(
            testing::all_close(got, reference_aligned_bilinear(plane, h, w, f), 1e-12, 1e-12))
            << "factor " << f << " plane " << h << "x" << w;
      }
    }
}

TEST(AlignedBilinear, Gradcheck) {
  const auto ctx = cpu_context();
  Generator gen(4);
  for (const int f : {2, 4}) {
    const Tensor x = testing::random_input({1, 2, 3, 2}, gen, ctx);
    EXPECT_TRUE(testing::gradcheck(
        [f](const std::vector<Tensor>& in) { return aligned_bilinear(in[0], f); }, {x}));
  }
}

TEST(AlignedBilinear, RejectsBadInput) {
  const auto ctx = cpu_context();
  EXPECT_THROW(aligned_bilinear(Tensor::zeros({2, 2}, DType::f32, ctx), 2), Error);
  EXPECT_THROW(aligned_bilinear(Tensor::zeros({1, 1, 2, 2}, DType::f32, ctx), 0), Error);
}

using testing::names_of;

TEST(MaskBranch, AdelaiDetNamesAndParameterCount) {
  const auto ctx = cpu_context();
  Generator gen(1);
  MaskBranch branch(models::boxinst_mask_branch_options(), gen, ctx);
  std::vector<std::string> expected;
  const std::vector<std::string> bn{"weight", "bias", "running_mean", "running_var",
                                    "num_batches_tracked"};
  auto block = [&](const std::string& prefix) {
    expected.push_back(prefix + ".0.weight");  // conv without bias (followed by BN)
    for (const auto& b : bn) expected.push_back(prefix + ".1." + b);
  };
  for (int i = 0; i < 3; ++i) block("refine." + std::to_string(i));
  for (int i = 0; i < 4; ++i) block("tower." + std::to_string(i));
  expected.push_back("tower.4.weight");
  expected.push_back("tower.4.bias");
  EXPECT_EQ(names_of(branch.state_dict()), expected);
  // refine: 3 x (256*128*9 + 2*128) = 885,504; tower: 4 x (128*128*9 + 2*128) = 590,848;
  // last 1x1: 128*16 + 16 = 2,064. Total 1,478,416.
  EXPECT_EQ(models::count_parameters(branch), 1478416);
}

TEST(MaskBranch, OutputShapeAndGradientReachEveryParameter) {
  const auto ctx = cpu_context();
  Generator gen(2);
  MaskBranchOptions o;
  o.in_channels = 8;
  o.channels = 8;
  o.out_channels = 4;
  MaskBranch branch(o, gen, ctx);
  models::FeatureMap f;
  f["p3"] = Tensor::randn({2, 8, 8, 12}, gen, ctx);
  f["p4"] = Tensor::randn({2, 8, 4, 6}, gen, ctx);
  f["p5"] = Tensor::randn({2, 8, 2, 3}, gen, ctx);
  const Tensor y = branch.forward(f);
  ASSERT_EQ(y.shape(), Shape({2, 4, 8, 12}));
  ops::sum(ops::mul(y, y)).backward();
  for (const auto& [name, p] : branch.named_parameters()) {
    ASSERT_TRUE(p.grad().defined()) << name;
    double norm = 0;
    for (double g : p.grad().to_vector<double>()) norm += g * g;
    EXPECT_GT(norm, 0) << name;
  }
}

TEST(MaskBranch, RejectsMissingOrMisalignedFeatures) {
  const auto ctx = cpu_context();
  Generator gen(2);
  MaskBranchOptions o;
  o.in_channels = 4;
  o.channels = 4;
  MaskBranch branch(o, gen, ctx);
  models::FeatureMap f;
  f["p3"] = Tensor::randn({1, 4, 8, 8}, gen, ctx);
  f["p4"] = Tensor::randn({1, 4, 4, 4}, gen, ctx);
  EXPECT_THROW(branch.forward(f), Error);  // no p5
  f["p5"] = Tensor::randn({1, 4, 3, 3}, gen, ctx);
  EXPECT_THROW(branch.forward(f), Error);  // 8 is not a multiple of 3
}

}  // namespace
}  // namespace wsvis
