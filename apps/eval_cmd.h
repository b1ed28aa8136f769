// `wsvis eval`: scores predictions against ground truth and writes metrics.json.
//
//   wsvis eval --gt FILE --results FILE [--type segm|bbox|video|frame] [--out metrics.json]
//              [--flow-dir DIR] [--tc-warp nearest|bilinear]
//
//   segm, bbox  COCO instances JSON + COCO results list: pycocotools COCOeval's 12 numbers
//               (data/coco_eval.h), plus AP per category.
//   video       YouTube-VIS JSON + YTVIS results list: the YouTube-VIS metrics (spatio-temporal
//               IoU, avg_area ranges 128^2 / 256^2; data/ytvis_eval.h), plus AP per category.
//               With --flow-dir, also the temporal consistency of the predictions
//               (data/temporal_consistency.h, option (a)): the forward flow from frame t to t+1
//               of a video is read from DIR/<file_names[t] without its extension>_fw.flo, e.g.
//               DIR/0043f083b5/00000_fw.flo (the layout `wsvis synth` writes under <out>/flow);
//               a missing flow file is an error.
//   frame       YouTube-VIS JSON + YTVIS results list: frame-level COCO segm metrics (frame AP
//               of a VIS method): every frame an image, every present per-frame mask an object
//               or a result with its track's score (ytvis_frames_as_coco / ytvis_results_as_coco).
//   Without --type: video when the ground-truth JSON has a top-level "videos", else segm.
// Prints a table; --out writes the metrics as JSON (atomically). Bad input throws
// wsvis::InputError naming the file (the CLI exits with status 2).
#pragma once

#include <string>
#include <vector>

namespace wsvis::apps {

int run_eval(const std::vector<std::string>& args);

}  // namespace wsvis::apps
