// `wsvis import-davis`: one DAVIS sequence as a YouTube-VIS 2019 dataset (data/davis_import.h).
//
//   wsvis import-davis --frames DIR --masks DIR --out DIR [--video NAME] [--category NAME]
//                      [--binary]
//
//   --frames DIR      the sequence's frames, e.g. DAVIS/JPEGImages/480p/car-shadow
//   --masks DIR       its annotations, e.g. DAVIS/Annotations/480p/car-shadow
//   --out DIR         writes DIR/JPEGImages/<video>/<frame files> and DIR/train.json
//   --video NAME      the video folder name (default: the name of the --frames folder)
//   --category NAME   the one category's name (default "object")
//   --binary          DAVIS 2016 greyscale 0/255 masks (>127 = object 1); without it the masks
//                     are DAVIS 2017 index masks (index k > 0 = object k, 255 = void)
// Prints what it wrote and the command that makes the flow (scripts/compute_flow.py).
// Bad arguments or input throw wsvis::InputError (exit status 2).
#pragma once

#include <string>
#include <vector>

namespace wsvis::apps {

int run_import_davis(const std::vector<std::string>& args);

}  // namespace wsvis::apps
