// `wsvis draw`: overlays of ground truth or predictions on the frames of YouTube-VIS videos,
// a strip of frames per video, and optionally the flow as colour images (data/draw.h).
//
//   wsvis draw --gt FILE --frames DIR [--results FILE] [--video ID] [--out DIR] [--strip N]
//              [--strip-height H] [--score-thr T] [--flow DIR]
//
//   --gt FILE        YouTube-VIS JSON (videos, categories; annotations unless --results)
//   --frames DIR     the frames: DIR/<file_names[t]> (a JPEGImages root; for a `wsvis synth`
//                    set, <set>/JPEGImages)
//   --results FILE   draw these predictions (YTVIS results list) instead of the ground truth:
//                    the results of each video with score >= --score-thr (default 0.5), colour
//                    by score rank, labelled "class 0.87"; without it the annotations, colour
//                    by annotation order within the video, labelled with the class name
//   --video ID       only the video with this id (default: every video)
//   --out DIR        output root (default "vis"):
//                      DIR/<video>/<frame>.png          every frame with its instances drawn
//                      DIR/<video>_strip.png            the strip (below)
//                      DIR/<video>/<frame>_flow.png     with --flow: the forward flow, colour
//                                                       wheel normalised per frame
//                    where <video> is the folder of the video's file_names ("synth0001") and
//                    <frame> the file name without extension ("00000").
//   --strip N        N frames spread evenly over the video (first and last included), each
//                    resized to --strip-height rows (default 128), side by side with a 2-pixel
//                    white gap, instances in their track colours; default 8, 0 = no strip
//   --flow DIR       the flow root (<set>/flow): DIR/<video>/<frame>_fw.flo for every frame
//                    but the last (the layout of `wsvis synth` and scripts/compute_flow.py)
// Bad input (unreadable or malformed JSON, a missing or corrupt frame, a frame whose size is
// not the video's, a bad flow file, an unknown --video, bad options) throws wsvis::InputError
// naming the file or the option (the CLI exits with status 2).
#pragma once

#include <string>
#include <vector>

namespace wsvis::apps {

int run_draw(const std::vector<std::string>& args);

}  // namespace wsvis::apps
