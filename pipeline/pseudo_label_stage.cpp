#include "pipeline/pseudo_label_stage.h"


#include "data/augment.h"
#include "data/coco_eval.h"
#include "data/file_util.h"
#include "data/loader.h"
#include "data/ytvis_eval.h"
#include "engine/log.h"
#include "engine/ops.h"
#include "kernels/irn_displacement.h"
#include "layers/checkpoint.h"
#include "pipeline/cam_stage.h"
#include "pipeline/fcam.h"
#include "pipeline/irn_stage.h"
#include "pipeline/metrics.h"
#include "pipeline/per_frame.h"
#include "pipeline/tensor_util.h"

namespace wsvis::pipeline {

namespace {

std::string pseudo_path(const RunDir& run, const FrameRef& f) {
  return run.path("pseudo/" + f.key + ".json");
}

// The padded size IRN's network sees: the crop when the frame fits in it, else the next
// multiple of 16 per side.
int padded_side(int side, int crop, bool fits) {
  return fits ? crop : static_cast<int>(ceil_div(side, 16) * 16);
}

nlohmann::json to_json(const std::vector<PseudoInstance>& instances) {
  nlohmann::json a = nlohmann::json::array();
  for (const PseudoInstance& p : instances)
    a.push_back({{"category_index", p.category_index},
                 {"score", p.score},
                 {"h", p.mask.h},
                 {"w", p.mask.w},
                 {"counts", data::rle_to_string(p.mask)}});
  return a;
}

std::vector<PseudoInstance> from_json(const std::string& path, int num_classes) {
  std::vector<PseudoInstance> out;
  try {
    const nlohmann::json a = nlohmann::json::parse(data::read_file_bytes(path));
    for (const auto& j : a) {
      PseudoInstance p;
      p.category_index = j.at("category_index").get<int>();
      p.score = j.at("score").get<double>();
      p.mask = data::rle_from_string(j.at("counts").get<std::string>(), j.at("h").get<int>(),
                                     j.at("w").get<int>());
      if (p.category_index < 0 || p.category_index >= num_classes)
        throw InputError(path + ": category_index " + std::to_string(p.category_index) + " out of range");
      out.push_back(std::move(p));
    }
  } catch (const nlohmann::json::exception& e) {
    throw InputError(path + ": malformed pseudo-label file: " + e.what());
  }
  return out;
}

}  // namespace

std::vector<PseudoInstance> irn_frame_instances(models::IrnNet& net, const data::Image& image,
                                                const Tensor& cams, const std::vector<int>& classes,
                                                const Stage1Config& config, const ContextPtr& ctx) {
  std::vector<PseudoInstance> out;
  if (classes.empty()) return out;
  NoGradGuard no_grad;
  const int H = image.height, W = image.width;
  const int64_t h4 = ceil_div(H, 4), w4 = ceil_div(W, 4);
  const bool fits = H <= config.irn.crop && W <= config.irn.crop;
  const int Hp = padded_side(H, config.irn.crop, fits), Wp = padded_side(W, config.irn.crop, fits);

  // (2, 3, Hp, Wp): the image and its flip, each zero-padded bottom/right.
  std::vector<float> batch(static_cast<size_t>(2) * 3 * Hp * Wp, 0.f);
  const data::Image flipped = data::flip_image(image);
  for (int k = 0; k < 2; ++k) {
    std::vector<float> planes(static_cast<size_t>(3) * H * W);
    data::normalise_image_into(k == 0 ? image : flipped, data::PixelNorm::torchvision_rgb,
                               planes.data(), H, W);
    float* dst = batch.data() + static_cast<size_t>(k) * 3 * Hp * Wp;
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < H; ++y)
        std::copy_n(planes.data() + (static_cast<size_t>(c) * H + y) * W, W,
                    dst + (static_cast<size_t>(c) * Hp + y) * Wp);
  }
  net.train(false);
  const models::IrnOutput o = net.forward(Tensor::from_vector(batch, {2, 3, Hp, Wp}, ctx));
  const Tensor edge = crop_hw(o.edge_logit, h4, w4);  // (2, 1, h4, w4)
  const Tensor edge_mean = (ops::slice(edge, 0, 0, 1) + flip_width(ops::slice(edge, 0, 1, 2))) * 0.5;
  const Tensor boundary = ops::sigmoid(edge_mean).view({h4, w4});
  const Tensor disp = crop_hw(ops::slice(o.displacement, 0, 0, 1), h4, w4).view({2, h4, w4});

  const Tensor centroids = ops::find_centroids(disp, kernels::kIrnCentroidIterations);
  const ops::CentroidClusters clusters =
      ops::cluster_centroids(disp, centroids, kernels::kIrnWeakDisplacementThreshold);
  const int64_t K = clusters.count;
  const int64_t C = static_cast<int64_t>(classes.size());
  const Tensor seeds = ops::instance_seeds(cams, clusters.instance_map, K);  // (C*K, h4, w4)
  const kernels::IrnPairSet pairs = kernels::irn_pair_set(kernels::kIrnInferRadius);
  const Tensor walked = ops::irn_random_walk(boundary, seeds, pairs, config.inference.beta,
                                             1 << config.inference.exp_times, /*mask_seeds=*/true);
  const Tensor up = ops::upsample_bilinear2d(walked.view({1, C * K, h4, w4}), static_cast<int>(4 * h4),
                                             static_cast<int>(4 * w4))
                        .view({C * K, 4 * h4, 4 * w4});
  const ops::WalkLabels labels = ops::irn_walk_labels(up, H, W, config.inference.bg_threshold);
  for (const ops::IrnInstance& inst :
       ops::irn_instances(labels.labels, labels.normalised, config.inference.min_area)) {
    if (inst.score < config.inference.min_score) continue;
    PseudoInstance p;
    p.category_index = classes[static_cast<size_t>(inst.channel / K)];
    p.score = inst.score;
    p.mask = data::rle_encode(inst.mask, H, W);
    out.push_back(std::move(p));
  }
  return out;
}

void make_pseudo_labels(const Stage1Config& config, const Stage1Data& data, const RunDir& run,
                        const ContextPtr& ctx) {
  if (run.stage_done("pseudo")) {
    log::info("pseudo: done already");
    return;
  }
  auto net = make_irn_net(config, ctx);
  load_state_dict_file(*net, run.path("irn/model.safetensors"));
  net->train(false);
  const double threshold = config.flowirn.fcam ? flow_threshold(config, data, run) : 0.0;

  const PerFrameStats stats = for_each_missing_output(
      data.frames, "pseudo labels", [&](const FrameRef& f) { return pseudo_path(run, f); },
      [&](const FrameRef& f, const std::string& out) {
        const FrameCams cams = read_cams(cam_path(run, f), ctx);
        std::vector<PseudoInstance> instances;
        if (!cams.classes.empty()) {
          const data::Image image = data.read_image(f);
          Tensor seeds = cams.strided;
          if (config.flowirn.fcam)
            seeds = flow_amplified_cams(seeds, motion_magnitude(data, f, seeds.size(1), seeds.size(2), ctx),
                                        threshold, config.flowirn.amplification);
          instances = irn_frame_instances(*net, image, seeds, cams.classes, config, ctx);
        }
        data::write_file_atomic(out, to_json(instances).dump() + "\n");
      });

  // Assemble: every instance an annotation of its one frame, and a result with its score.
  data::YtvisDataset labels;
  labels.videos = data.dataset.videos;
  labels.categories = data.dataset.categories;
  std::vector<data::YtvisResult> results;
  int64_t next_id = 1, total = 0;
  for (const FrameRef& f : data.frames) {
    const data::YtvisVideo& video = data.dataset.videos[f.video];
    for (PseudoInstance& p : from_json(pseudo_path(run, f), data.num_classes)) {
      const int64_t category_id = data.dataset.categories[static_cast<size_t>(p.category_index)].id;
      data::YtvisAnnotation a;
      a.id = next_id++;
      a.video_id = video.id;
      a.category_id = category_id;
      a.segmentations.assign(static_cast<size_t>(video.length), std::nullopt);
      a.bboxes.assign(static_cast<size_t>(video.length), std::nullopt);
      a.areas.assign(static_cast<size_t>(video.length), std::nullopt);
      a.segmentations[static_cast<size_t>(f.t)] = data::Segmentation::from_rle(p.mask);
      a.bboxes[static_cast<size_t>(f.t)] = data::rle_to_bbox(p.mask);
      a.areas[static_cast<size_t>(f.t)] = static_cast<double>(data::rle_area(p.mask));
      labels.annotations.push_back(a);
      data::YtvisResult r;
      r.video_id = video.id;
      r.category_id = category_id;
      r.score = p.score;
      r.segmentations.assign(static_cast<size_t>(video.length), std::nullopt);
      r.segmentations[static_cast<size_t>(f.t)] = p.mask;
      results.push_back(std::move(r));
      ++total;
    }
  }
  labels.reindex();
  data::write_ytvis(labels, run.path("pseudo_labels.json"));
  data::write_ytvis_results(results, run.path("pseudo_results.json"));
  nlohmann::json summary = stats.summary();
  summary["instances"] = total;
  summary["fcam_seeds"] = config.flowirn.fcam;
  run.mark_done("pseudo", summary);
  log::info("pseudo: ", total, " instances over ", data.frames.size(), " frames");
}

nlohmann::json evaluate_pseudo_labels(const Stage1Data& data, const RunDir& run) {
  const std::string results_path = run.path("pseudo_results.json");
  const std::vector<data::YtvisResult> results = data::read_ytvis_results(results_path, &data.dataset);
  data::CocoEvalOptions o;
  o.gt_name = data.annotations_path;
  o.results_name = results_path;
  const data::EvalResult e = data::evaluate_coco(data::ytvis_frames_as_coco(data.dataset),
                                                 data::ytvis_results_as_coco(results, data.dataset, results_path), o);
  nlohmann::json metrics = {
      {"pseudo_labels", {{"frame_segm", stats_json(e)}, {"instances", results.size()}}}};
  data::write_file_atomic(run.path("metrics.json"), metrics.dump(2) + "\n");
  return metrics;
}

}  // namespace wsvis::pipeline
