// COCO detection / instance segmentation metrics, identical to pycocotools' COCOeval with
// iouType 'segm' or 'bbox' (the 12 summary numbers, the precision/recall arrays):
//
//   gt.images (ascending id) x gt.categories (ascending id) units; GT per unit in file order,
//   "ignore" = iscrowd; results numbered 1..N in order, as COCO.loadRes does, with its rule for
//   the detection area: when the FIRST result has a bbox, every result's area is bbox w*h (also
//   for segm, where a result without a segmentation is scored as the polygon of its box);
//   otherwise area = RLE pixel count and bbox = toBbox(segmentation). IoU: pycocotools mask.iou
//   (rle_iou / bbox_iou, |d ∩ g| / |d| against crowds). Results of categories absent from the
//   GT are left out (COCOeval only looks at the GT's catIds). Then the shared core
//   (eval_common.h) with areas split at 32^2 / 96^2 and maxDets 1, 10, 100.
//
// Errors: a result whose image is not in the GT, or one that lacks what loadRes needs (a bbox
// when results[0] has one; a segmentation otherwise), and GT without a segmentation for segm,
// throw wsvis::InputError naming options.results_name / options.gt_name.
#pragma once

#include <string>
#include <vector>

#include "data/coco.h"
#include "data/eval_common.h"

namespace wsvis::data {

enum class CocoIouType { segm, bbox };

struct CocoEvalOptions {
  CocoIouType iou_type = CocoIouType::segm;
  EvalParams params = EvalParams::coco();
  std::string gt_name = "ground truth";  // used in error messages (the CLI passes file paths)
  std::string results_name = "results";
};

EvalResult evaluate_coco(const CocoDataset& gt, const std::vector<CocoResult>& results,
                         const CocoEvalOptions& options = {});

}  // namespace wsvis::data
