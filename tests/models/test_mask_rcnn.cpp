// Mask R-CNN assembled: detectron2 state_dict names, the heads' parameter counts at the R50-FPN
// widths worked out by hand, and a tiny training run (ResNet-18, narrow heads, two 64 x 64
// synthetic frames with two classes of filled shapes) where the summed loss must fall and the
// mask AP50 on the training frames (data/coco_eval, pycocotools semantics) must exceed 0.5.
#include <array>
#include <cmath>
#include <cstdio>
#include <vector>

#include "data/coco.h"
#include "data/coco_eval.h"
#include "data/rle.h"
#include "engine/optim/sgd.h"
#include "models/mask_paste.h"
#include "models/mask_rcnn.h"
#include "tests/support/testing.h"

namespace wsvis {
namespace {

TEST(MaskRcnn, DetectronNamesAndHeadParameterCounts) {
  const auto ctx = testing::cpu_context();
  Generator gen(3);
  models::MaskRcnnOptions o;
  o.backbone = models::detectron2_resnet_options(18);
  models::MaskRcnn model(o, gen, ctx);
  const auto names = testing::names_of(model.state_dict());
  for (const char* n :
       {"backbone.fpn_lateral2.weight", "backbone.fpn_output5.bias",
        "backbone.bottom_up.conv1.weight", "proposal_generator.rpn_head.conv.weight",
        "proposal_generator.rpn_head.objectness_logits.weight",
        "proposal_generator.rpn_head.anchor_deltas.bias", "roi_heads.box_head.fc1.weight",
        "roi_heads.box_head.fc2.bias", "roi_heads.box_predictor.cls_score.weight",
        "roi_heads.box_predictor.bbox_pred.weight", "roi_heads.mask_head.mask_fcn1.weight",
        "roi_heads.mask_head.mask_fcn4.bias", "roi_heads.mask_head.deconv.weight",
        "roi_heads.mask_head.predictor.weight"})
    EXPECT_TRUE(testing::find(model.state_dict(), n).defined()) << n;
  // By hand, COCO widths: RPN conv 3x3 256->256, 1x1 -> 3 and -> 12.
  EXPECT_EQ(models::count_parameters(*model.rpn()),
            (256 * 256 * 9 + 256) + (256 * 3 + 3) + (256 * 12 + 12));
  const int64_t box = (12544LL * 1024 + 1024) + (1024 * 1024 + 1024) + (1024 * 81 + 81) +
                      (1024 * 320 + 320);
  const int64_t mask = 4 * (256 * 256 * 9 + 256) + (256 * 256 * 4 + 256) + (256 * 80 + 80);
  EXPECT_EQ(models::count_parameters(*model.roi_heads()), box + mask);
  EXPECT_EQ(models::count_parameters(*model.roi_heads()->mask_head()), mask);
  EXPECT_EQ(testing::find(model.state_dict(), "roi_heads.mask_head.predictor.weight").shape(),
            Shape({80, 256, 1, 1}));
}

constexpr int kSize = 64;

struct Frame {
  std::vector<float> pixels;  // (3, H, W) normalised
  models::RcnnInstances gt;
};

// Grey background; class 0 = red ellipse, class 1 = blue rectangle.
Frame make_frame(const std::vector<std::array<int, 5>>& objects) {
  Frame f;
  f.pixels.assign(size_t(3 * kSize * kSize), 0.f);
  f.gt.mask_h = f.gt.mask_w = kSize;
  for (const auto& [cls, x1, y1, x2, y2] : objects) {
    std::vector<uint8_t> m(size_t(kSize * kSize), 0);
    const double cx = (x1 + x2) / 2.0, cy = (y1 + y2) / 2.0, rx = (x2 - x1) / 2.0,
                 ry = (y2 - y1) / 2.0;
    int bx1 = kSize, by1 = kSize, bx2 = 0, by2 = 0;
    for (int y = 0; y < kSize; ++y)
      for (int x = 0; x < kSize; ++x) {
        const double u = (x + 0.5 - cx) / rx, v = (y + 0.5 - cy) / ry;
        const bool in = cls == 0 ? u * u + v * v <= 1.0 : (x >= x1 && x < x2 && y >= y1 && y < y2);
        if (!in) continue;
        m[size_t(y * kSize + x)] = 1;
        bx1 = std::min(bx1, x), by1 = std::min(by1, y), bx2 = std::max(bx2, x + 1),
        by2 = std::max(by2, y + 1);
        const float colour[2][3] = {{1.5f, -1.f, -1.f}, {-1.f, -1.f, 1.5f}};
        for (int c = 0; c < 3; ++c) f.pixels[size_t((c * kSize + y) * kSize + x)] = colour[cls][c];
      }
    f.gt.boxes.push_back({float(bx1), float(by1), float(bx2), float(by2)});
    f.gt.classes.push_back(cls);
    f.gt.masks.insert(f.gt.masks.end(), m.begin(), m.end());
  }
  return f;
}

TEST(MaskRcnn, TinyTrainingRunLearnsMasks) {
  const auto ctx = testing::cpu_context();
  Generator gen(5), sampling(6);
  models::MaskRcnnOptions o;
  o.backbone = models::detectron2_resnet_options(18);
  o.fpn_channels = 32;
  o.rpn.batch_size_per_image = 64;
  o.rpn.pre_nms_topk_train = o.rpn.pre_nms_topk_test = 200;
  o.rpn.post_nms_topk_train = o.rpn.post_nms_topk_test = 50;
  o.roi_heads.num_classes = 2;
  o.roi_heads.batch_size_per_image = 64;
  o.roi_heads.box_fc_dim = 128;
  o.roi_heads.mask_conv_dim = 32;
  models::MaskRcnn model(o, gen, ctx);

  const std::vector<Frame> frames{make_frame({{0, 6, 8, 30, 36}, {1, 36, 30, 58, 56}}),
                                  make_frame({{1, 10, 34, 34, 58}, {0, 30, 4, 60, 30}})};
  std::vector<float> pixels;
  std::vector<models::RcnnInstances> gts;
  for (const Frame& f : frames) {
    pixels.insert(pixels.end(), f.pixels.begin(), f.pixels.end());
    gts.push_back(f.gt);
  }
  const Tensor images = Tensor::from_vector(pixels, {2, 3, kSize, kSize}, ctx);
  const std::vector<models::ImageSize> sizes(2, {kSize, kSize});

  std::vector<Tensor> params;
  for (const Tensor& p : model.parameters())
    if (p.requires_grad()) params.push_back(p);
  optim::SgdOptions so;
  so.lr = 0.02;
  so.momentum = 0.9;
  so.weight_decay = 1e-4;
  optim::SGD opt(params, so);
  constexpr int kSteps = 60;
  double first = 0, last = 0;
  for (int step = 0; step < kSteps; ++step) {
    const models::MaskRcnnOutput out = model.forward(images, sizes, &gts, &sampling);
    const Tensor loss = out.total_loss();
    if (step == 0) first = loss.item<double>();
    if (step >= kSteps - 5) last += loss.item<double>() / 5;
    opt.zero_grad();
    loss.backward();
    opt.step();
  }

  model.train(false);
  const models::MaskRcnnOutput out = model.forward(images, sizes);
  data::CocoDataset gt;
  gt.categories = {{1, "ellipse", ""}, {2, "rectangle", ""}};
  std::vector<data::CocoResult> results;
  int64_t ann = 0;
  for (size_t n = 0; n < frames.size(); ++n) {
    gt.images.push_back({int64_t(n + 1), kSize, kSize, ""});
    for (int64_t g = 0; g < frames[n].gt.size(); ++g) {
      data::CocoAnnotation a;
      a.id = ++ann;
      a.image_id = int64_t(n + 1);
      a.category_id = frames[n].gt.classes[size_t(g)] + 1;
      data::Segmentation s;
      s.rle = data::rle_encode(&frames[n].gt.masks[size_t(g * kSize * kSize)], kSize, kSize);
      a.area = double(data::rle_area(s.rle));
      a.bbox = data::rle_to_bbox(s.rle);
      a.segmentation = s;
      gt.annotations.push_back(a);
    }
    const models::RcnnDetections& d = out.detections[n];
    const std::vector<uint8_t> masks =
        models::paste_masks(d.mask_probs, d.mask_size, d.boxes, kSize, kSize);
    for (int64_t i = 0; i < d.size(); ++i) {
      data::CocoResult r;
      r.image_id = int64_t(n + 1);
      r.category_id = d.classes[size_t(i)] + 1;
      r.score = d.scores[size_t(i)];
      r.segmentation = data::rle_encode(&masks[size_t(i * kSize * kSize)], kSize, kSize);
      results.push_back(r);
    }
  }
  gt.reindex();
  const double ap50 = results.empty() ? 0.0 : data::evaluate_coco(gt, results).stats[1];
  std::printf("Mask R-CNN tiny run: loss %.4f -> %.4f (mean of last 5), %zu detections, mask AP50 %.3f\n",
              first, last, results.size(), ap50);
  EXPECT_LT(last, 0.6 * first);
  EXPECT_GT(ap50, 0.5);
}

}  // namespace
}  // namespace wsvis
