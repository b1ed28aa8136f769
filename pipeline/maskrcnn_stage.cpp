// The model and the training step of stage 2 (pipeline/maskrcnn_stage.h): Mask R-CNN with or
// without MaskConsist on frame pairs (t, t + delta).
#include "pipeline/maskrcnn_stage.h"

#include <algorithm>
#include <unordered_map>

#include "data/augment.h"
#include "data/loader.h"
#include "engine/log.h"
#include "engine/ops.h"
#include "engine/optim/sgd.h"
#include "models/mask_paste.h"
#include "pipeline/annotation_masks.h"
#include "pipeline/detector_training.h"
#include "pipeline/pair_batches.h"
#include "pipeline/train_loop.h"
#include "video/instance_set.h"
#include "video/mask_consist.h"

namespace wsvis::pipeline {

namespace {

// Category id -> index into dataset.categories (the model's class).
std::unordered_map<int64_t, int64_t> category_indices(const data::YtvisDataset& dataset) {
  std::unordered_map<int64_t, int64_t> out;
  for (size_t i = 0; i < dataset.categories.size(); ++i) out[dataset.categories[i].id] = int64_t(i);
  return out;
}

// The labels of frame a (or b = a + delta) of pair i, augmented as the batch's images, at
// the resized size (h, w). Instances that vanish in resizing are dropped.
video::InstanceSet frame_labels(const data::PairBatch& batch, size_t i, bool frame_b, int delta,
                                const AnnotationMasks& masks) {
  const data::AugmentParams& p = batch.params[i];
  video::InstanceSet out(p.height, p.width);
  const int frame = batch.refs[i].t + (frame_b ? delta : 0);
  for (const data::WeakBox& b : frame_b ? batch.boxes_b[i] : batch.boxes_a[i]) {
    const std::vector<uint8_t> m =
        data::augment_mask(masks.frame_mask(b.annotation_id, batch.refs[i].video_index, frame), p);
    if (std::find(m.begin(), m.end(), uint8_t(1)) == m.end()) continue;
    out.add(m.data(), b.category_id, 1.f);
  }
  return out;
}

// Mask R-CNN targets from instance masks: tight boxes, class indices, the masks themselves.
models::RcnnInstances rcnn_targets(const video::InstanceSet& labels,
                                   const std::unordered_map<int64_t, int64_t>& class_of) {
  models::RcnnInstances gt;
  gt.mask_h = int(labels.height);
  gt.mask_w = int(labels.width);
  for (int64_t k = 0; k < labels.size(); ++k) {
    const std::array<float, 4> box = video::mask_box(labels.mask(k), labels.height, labels.width);
    if (!(box[2] > box[0])) continue;  // empty mask
    gt.boxes.push_back(box);
    gt.classes.push_back(class_of.at(labels.category_ids[size_t(k)]));
    gt.masks.insert(gt.masks.end(), labels.mask(k), labels.mask(k) + labels.pixels());
  }
  return gt;
}

// One image's detections as instances at (h, w) (the input pixels of the unpadded image).
video::InstanceSet prediction_set(const models::RcnnDetections& d, int64_t h, int64_t w,
                                  const data::YtvisDataset& dataset) {
  video::InstanceSet out(h, w);
  const std::vector<uint8_t> masks = models::paste_masks(d.mask_probs, d.mask_size, d.boxes, int(h), int(w));
  for (int64_t k = 0; k < d.size(); ++k)
    out.add(masks.data() + k * h * w, dataset.categories[size_t(d.classes[size_t(k)])].id,
            d.scores[size_t(k)]);
  return out;
}

// Image i's flow from a padded (B, 2, Hp, Wp) batch tensor, cropped to (h, w).
data::Flow flow_of(const std::vector<float>& planes, int64_t i, int64_t Hp, int64_t Wp, int h, int w) {
  data::Flow f(w, h);
  const float* u = planes.data() + i * 2 * Hp * Wp;
  const float* v = u + Hp * Wp;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      f.u(x, y) = u[y * Wp + x];
      f.v(x, y) = v[y * Wp + x];
    }
  return f;
}

video::MaskConsistOptions maskconsist_options(const MaskRcnnConfig::MaskConsist& c) {
  video::MaskConsistOptions o;
  o.top_k = c.top_k;
  o.match_box_iou = c.match_box_iou;
  o.iom_nms = c.iom_threshold;
  o.intra_frame = c.intra_frame;
  o.inter_frame = c.inter_frame;
  o.iom_nms_on = c.iom_nms;
  return o;
}

}  // namespace

const std::vector<std::string>& maskrcnn_steps() {
  static const std::vector<std::string> steps = {"train", "self-label", "train-2", "predict", "eval"};
  return steps;
}

std::unique_ptr<models::MaskRcnn> make_maskrcnn_model(const MaskRcnnConfig& config, int num_classes,
                                                      Generator& gen, const ContextPtr& ctx) {
  const MaskRcnnConfig::Model& m = config.model;
  models::MaskRcnnOptions o;
  o.backbone = detector_backbone(m.depth, m.freeze_at, m.pretrained).resnet;
  o.fpn_channels = m.fpn_channels;
  o.rpn.anchor_sizes = m.anchor_sizes;
  o.rpn.batch_size_per_image = m.rpn_batch_per_image;
  o.rpn.post_nms_topk_train = m.rpn_post_nms_train;
  o.rpn.post_nms_topk_test = m.rpn_post_nms_test;
  o.roi_heads.num_classes = num_classes;
  o.roi_heads.box_fc_dim = m.box_fc_dim;
  o.roi_heads.mask_conv_dim = m.mask_conv_dim;
  o.roi_heads.batch_size_per_image = m.roi_batch_per_image;
  o.roi_heads.inference.score_threshold = config.test.score_threshold;
  o.roi_heads.inference.nms_threshold = config.test.nms;
  o.roi_heads.inference.detections_per_image = config.test.max_detections;
  auto model = std::make_unique<models::MaskRcnn>(o, gen, ctx);
  load_detector_backbone(*model->backbone()->bottom_up(), m.pretrained);
  return model;
}

void train_maskrcnn(const MaskRcnnConfig& config, const std::string& labels_path,
                    const std::string& stage, const RunDir& run, const ContextPtr& ctx,
                    dist::Communicator* comm) {
  if (run.stage_done(stage)) {
    log::info(stage, ": trained already");
    return;
  }
  const DetectorTrain& tc = config.train;
  const MaskRcnnConfig::MaskConsist& mc = config.maskconsist;
  const data::YtvisDataset labels = data::read_ytvis(labels_path);
  if (labels.categories.empty()) throw InputError(labels_path + ": has no categories");
  data::PairLoader loader(
      labels,
      detector_loader_config(config.data, tc, mc.delta, tc.batch / 2, mc.enabled, config.seed,
                             detector_backbone(config.model.depth, config.model.freeze_at, config.model.pretrained)
                                 .loader_norm,
                             comm),
      ctx);
  if (loader.batches_per_epoch() == 0)
    throw InputError(labels_path + ": " + std::to_string(loader.num_pairs()) + " frame pairs (t, t + " +
                     std::to_string(mc.delta) + "), fewer than train.batch / 2 = " +
                     std::to_string(tc.batch / 2));

  Generator init_gen(data::sample_seed(static_cast<uint64_t>(config.seed), -2, 0));
  auto model = make_maskrcnn_model(config, int(labels.categories.size()), init_gen, ctx);
  model->pack_parameters();
  model->train(true);
  const std::unique_ptr<optim::SGD> optimizer = detector_optimizer(*model, tc);

  const AnnotationMasks masks(labels);
  const auto class_of = category_indices(labels);
  const video::MaskConsistOptions mco = maskconsist_options(mc);
  PairBatches batches(loader);
  data::PairBatch batch;
  const TrainSummary s = run_train_loop(run, detector_loop_options(stage, tc, comm), *model, *optimizer, [&](int64_t step, int64_t, int64_t) {
    batches.at(step, &batch);
    // RPN / RoI sampling draws from a generator of (seed, step), so a resumed run samples as
    // an uninterrupted one.
    Generator sampling(data::sample_seed(static_cast<uint64_t>(config.seed), -3, step));
    const size_t B = batch.refs.size();
    // Images: the B first frames, then the B second frames of the pairs.
    const Tensor images = ops::concat({batch.images_a, batch.images_b}, 0);
    std::vector<models::ImageSize> sizes;
    std::vector<video::InstanceSet> frame_sets;  // (2B) labels, same order
    for (int pass = 0; pass < 2; ++pass)
      for (size_t i = 0; i < B; ++i) {
        sizes.push_back({batch.image_sizes[i][0], batch.image_sizes[i][1]});
        frame_sets.push_back(frame_labels(batch, i, pass == 1, mc.delta, masks));
      }
    nlohmann::json record;
    models::MaskRcnnOutput out;
    if (!mc.enabled) {
      std::vector<models::RcnnInstances> gts;
      for (const video::InstanceSet& l : frame_sets) gts.push_back(rcnn_targets(l, class_of));
      out = model->forward(images, sizes, &gts, &sampling);
    } else {
      const int64_t Hp = batch.flow_fw.size(2), Wp = batch.flow_fw.size(3);
      const std::vector<float> fw = batch.flow_fw.to_vector<float>(), bw = batch.flow_bw.to_vector<float>();
      video::MaskConsistStats total;
      out = model->forward_self_labelled(images, sizes, [&](const std::vector<models::RcnnDetections>& preds) {
        std::vector<models::RcnnInstances> gts(2 * B);
        for (size_t i = 0; i < B; ++i) {
          const int h = sizes[i].height, w = sizes[i].width;
          const video::MaskConsistResult r = video::mask_consist(
              frame_sets[i], frame_sets[B + i], prediction_set(preds[i], h, w, labels),
              prediction_set(preds[B + i], h, w, labels), flow_of(bw, int64_t(i), Hp, Wp, h, w),
              flow_of(fw, int64_t(i), Hp, Wp, h, w), mco);
          gts[i] = rcnn_targets(r.labels_t, class_of);
          gts[B + i] = rcnn_targets(r.labels_u, class_of);
          total.matched += r.stats.matched;
          total.transferred_to_t += r.stats.transferred_to_t;
          total.transferred_to_u += r.stats.transferred_to_u;
          total.labels_t += r.stats.labels_t;
          total.labels_u += r.stats.labels_u;
        }
        return gts;
      }, &sampling);
      int64_t pseudo = 0;
      for (const video::InstanceSet& l : frame_sets) pseudo += l.size();
      record["mc_matched"] = total.matched;
      record["mc_transferred"] = total.transferred_to_t + total.transferred_to_u;
      record["mc_labels"] = total.labels_t + total.labels_u;
      record["pseudo_labels"] = pseudo;
    }
    for (const auto& [name, term] : out.losses) record[name] = term.item<double>();
    return StepOutput{out.total_loss(), record};
  });
  nlohmann::json summary = detector_train_summary(s, tc.batch);
  summary["labels"] = labels_path;
  run.mark_done(stage, summary);
  log::info(stage, ": trained ", s.steps, " steps, loss ", s.first_loss, " -> ", s.last_loss);
}

}  // namespace wsvis::pipeline
