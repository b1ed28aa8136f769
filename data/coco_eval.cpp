// COCOeval for segm and bbox (see coco_eval.h): builds the (category, image) units the shared
// core evaluates, with pycocotools' loadRes and _prepare rules.
#include "data/coco_eval.h"

#include <algorithm>
#include <unordered_map>

#include "engine/error.h"

namespace wsvis::data {

namespace {

// A detection as COCO.loadRes leaves it.
struct Det {
  int64_t id = 0;
  double score = 0;
  double area = 0;
  BoxXywh bbox{0, 0, 0, 0};
  Rle rle;  // segm only
};

}  // namespace

EvalResult evaluate_coco(const CocoDataset& gt, const std::vector<CocoResult>& results,
                         const CocoEvalOptions& options) {
  const bool segm = options.iou_type == CocoIouType::segm;

  // p.imgIds / p.catIds: the GT's ids, ascending.
  std::vector<int64_t> image_ids, category_ids;
  for (const CocoImage& im : gt.images) image_ids.push_back(im.id);
  for (const Category& c : gt.categories) category_ids.push_back(c.id);
  std::sort(image_ids.begin(), image_ids.end());
  image_ids.erase(std::unique(image_ids.begin(), image_ids.end()), image_ids.end());
  std::sort(category_ids.begin(), category_ids.end());
  category_ids.erase(std::unique(category_ids.begin(), category_ids.end()), category_ids.end());
  std::unordered_map<int64_t, size_t> image_slot, category_slot;
  for (size_t i = 0; i < image_ids.size(); ++i) image_slot[image_ids[i]] = i;
  for (size_t k = 0; k < category_ids.size(); ++k) category_slot[category_ids[k]] = k;
  const size_t I = image_ids.size(), K = category_ids.size();
  std::unordered_map<int64_t, const CocoImage*> image_by_id;
  for (const CocoImage& im : gt.images) image_by_id.emplace(im.id, &im);

  // Ground truth grouped per unit, file order kept.
  std::vector<std::vector<size_t>> gt_of(K * I);
  for (size_t n = 0; n < gt.annotations.size(); ++n) {
    const CocoAnnotation& a = gt.annotations[n];
    const auto ii = image_slot.find(a.image_id);
    const auto kk = category_slot.find(a.category_id);
    if (ii == image_slot.end() || kk == category_slot.end()) continue;  // not in getAnnIds
    if (segm && !a.segmentation)
      throw InputError(options.gt_name + ": annotation " + std::to_string(a.id) +
                       " has no segmentation, which segm evaluation needs");
    gt_of[kk->second * I + ii->second].push_back(n);
  }

  // Results as loadRes prepares them; the branch is chosen by the first result.
  const bool bbox_branch = !results.empty() && results[0].bbox.has_value();
  std::vector<Det> dets;
  std::vector<std::vector<size_t>> dt_of(K * I);
  for (size_t n = 0; n < results.size(); ++n) {
    const CocoResult& r = results[n];
    const std::string where = options.results_name + ": results[" + std::to_string(n) + "]";
    const auto ii = image_slot.find(r.image_id);
    if (ii == image_slot.end())
      throw InputError(where + ".image_id is " + std::to_string(r.image_id) +
                       ", which the ground truth has no image for");
    if (bbox_branch && !r.bbox)
      throw InputError(where +
                       " has no bbox, but results[0] has one (pycocotools' loadRes then "
                       "reads every result's bbox)");
    if (!bbox_branch && !r.segmentation)
      throw InputError(where +
                       " has no segmentation, but results[0] has no bbox (pycocotools' "
                       "loadRes then reads every result's segmentation)");
    const auto kk = category_slot.find(r.category_id);
    if (kk == category_slot.end()) continue;  // a category the GT lacks: never evaluated
    const CocoImage& im = *image_by_id.at(r.image_id);
    Det d;
    d.id = static_cast<int64_t>(n) + 1;
    d.score = r.score;
    if (bbox_branch) {
      d.bbox = *r.bbox;
      d.area = d.bbox[2] * d.bbox[3];
    } else {
      d.area = static_cast<double>(rle_area(*r.segmentation));
      d.bbox = r.bbox ? *r.bbox : rle_to_bbox(*r.segmentation);
    }
    if (segm) {
      if (r.segmentation) {
        d.rle = *r.segmentation;
      } else {  // loadRes: [[x1, y1, x1, y2, x2, y2, x2, y1]]
        const BoxXywh& b = d.bbox;
        const double x1 = b[0], x2 = b[0] + b[2], y1 = b[1], y2 = b[1] + b[3];
        d.rle = rle_from_polygon({x1, y1, x1, y2, x2, y2, x2, y1}, im.height, im.width);
      }
    }
    dt_of[kk->second * I + ii->second].push_back(dets.size());
    dets.push_back(std::move(d));
  }

  // Units: GT in file order, detections by score, IoU (D, G).
  std::vector<Rle> gt_rle(segm ? gt.annotations.size() : 0);
  if (segm) {
    for (size_t u = 0; u < K * I; ++u)
      for (size_t n : gt_of[u]) {
        const CocoAnnotation& a = gt.annotations[n];
        const CocoImage& im = *image_by_id.at(a.image_id);
        gt_rle[n] = a.segmentation->to_rle(im.height, im.width);
      }
  }
  const size_t max_keep = static_cast<size_t>(std::max(options.params.max_dets.back(), 0));
  std::vector<EvalUnit> units(K * I);
  for (size_t u = 0; u < K * I; ++u) {
    EvalUnit& unit = units[u];
    std::vector<uint8_t> crowd;
    for (size_t n : gt_of[u]) {
      const CocoAnnotation& a = gt.annotations[n];
      unit.gt.push_back({a.id, a.area, a.iscrowd != 0});
      crowd.push_back(a.iscrowd != 0);
    }
    std::vector<double> scores;
    for (size_t j : dt_of[u]) scores.push_back(dets[j].score);
    const std::vector<size_t> order = order_by_score(scores, max_keep);
    for (size_t o : order) {
      const Det& d = dets[dt_of[u][o]];
      unit.dt.push_back({d.id, d.area, d.score});
    }
    if (unit.dt.empty() || unit.gt.empty()) continue;
    if (segm) {
      std::vector<Rle> dr, gr;
      for (size_t o : order) dr.push_back(dets[dt_of[u][o]].rle);
      for (size_t n : gt_of[u]) gr.push_back(gt_rle[n]);
      unit.iou = rle_iou(dr, gr, crowd);
    } else {
      std::vector<BoxXywh> db, gb;
      for (size_t o : order) db.push_back(dets[dt_of[u][o]].bbox);
      for (size_t n : gt_of[u]) gb.push_back(gt.annotations[n].bbox);
      unit.iou = bbox_iou(db, gb, crowd);
    }
  }
  return evaluate_units(units, category_ids, I, options.params);
}

}  // namespace wsvis::data
