// eval_tool: runs the COCO / YouTube-VIS evaluators (data/coco_eval.h, data/ytvis_eval.h) on
// files and prints the full result as JSON, so tests/python/test_coco_eval_pycocotools.py and
// tests/python/test_ytvis_eval_reference.py can compare more than the 12 summary numbers.
//
//   eval_tool segm|bbox|video|frame GT.json RESULTS.json
//   (frame: YouTube-VIS files scored per frame, ytvis_frames_as_coco + ytvis_results_as_coco)
//
// Output (stdout): {"stats": [12], "shape": [T, R, K, A, M], "precision": [T*R*K*A*M, row-major],
// "recall": [T*K*A*M], "category_ids": [K]}. Errors: message on stderr, exit status 2 for bad
// input, 1 otherwise.
#include <cstdio>
#include <iostream>
#include <string>

#include <nlohmann/json.hpp>

#include "data/coco.h"
#include "data/coco_eval.h"
#include "data/ytvis.h"
#include "data/ytvis_eval.h"
#include "engine/error.h"

using namespace wsvis::data;

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: eval_tool segm|bbox|video|frame GT.json RESULTS.json\n");
    return 2;
  }
  const std::string type = argv[1], gt_path = argv[2], res_path = argv[3];
  try {
    EvalResult r;
    if (type == "video") {
      const YtvisDataset gt = read_ytvis(gt_path);
      YtvisEvalOptions o;
      o.gt_name = gt_path;
      o.results_name = res_path;
      r = evaluate_ytvis(gt, read_ytvis_results(res_path, &gt), o);
    } else if (type == "frame") {
      const YtvisDataset gt = read_ytvis(gt_path);
      CocoEvalOptions o;
      o.gt_name = gt_path;
      o.results_name = res_path;
      r = evaluate_coco(ytvis_frames_as_coco(gt),
                        ytvis_results_as_coco(read_ytvis_results(res_path, &gt), gt, res_path), o);
    } else if (type == "segm" || type == "bbox") {
      const CocoDataset gt = read_coco(gt_path);
      CocoEvalOptions o;
      o.iou_type = type == "bbox" ? CocoIouType::bbox : CocoIouType::segm;
      o.gt_name = gt_path;
      o.results_name = res_path;
      r = evaluate_coco(gt, read_coco_results(res_path, &gt), o);
    } else {
      std::fprintf(stderr, "eval_tool: unknown type '%s'\n", type.c_str());
      return 2;
    }
    nlohmann::json out = {{"stats", r.stats},
                          {"shape", {r.T(), r.R(), r.K(), r.A(), r.M()}},
                          {"precision", r.precision},
                          {"recall", r.recall},
                          {"category_ids", r.category_ids}};
    std::cout << out.dump() << "\n";
    return 0;
  } catch (const wsvis::InputError& e) {
    std::fprintf(stderr, "eval_tool: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "eval_tool: error: %s\n", e.what());
    return 1;
  }
}
