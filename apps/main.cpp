// The `wsvis` command line. Subcommands so far:
//   wsvis run CONFIG.json ...                   a method's stages end to end in one run folder,
//                                               with report.html (apps/run_cmd.h)
//   wsvis engine-demo [--out DIR] [--steps N] [--cpu] [--seed S]
//                                               the engine alone (apps/demo.h): the synthetic
//                                               set with strips and flow images, then a small
//                                               CNN's learning curve
//   wsvis info                                  build and device information
//   wsvis synth ...                             write a synthetic video set (apps/synth_cmd.h)
//   wsvis eval ...                              COCO / YouTube-VIS metrics (apps/eval_cmd.h)
//   wsvis draw ...                              overlays, strips and flow images (apps/draw_cmd.h)
//   wsvis stage1 ...                            flowIRN stage 1 in a run folder (apps/stage1_cmd.h)
//   wsvis boxinst ...                           motion-aided BoxInst in a run folder (apps/boxinst_cmd.h)
//   wsvis maskrcnn ...                          flowIRN stage 2 in a run folder (apps/maskrcnn_cmd.h)
//   wsvis split --gt F ...                      the paper's train_train / train_val split (apps/split_cmd.h)
//   wsvis import-davis ...                      one DAVIS sequence as a YTVIS set (apps/import_cmd.h)
// Errors from bad input exit with status 2; other errors with status 1.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "apps/demo.h"
#include "apps/draw_cmd.h"
#include "apps/eval_cmd.h"
#include "apps/boxinst_cmd.h"
#include "apps/maskrcnn_cmd.h"
#include "apps/run_cmd.h"
#include "apps/split_cmd.h"
#include "apps/stage1_cmd.h"
#include "apps/import_cmd.h"
#include "apps/synth_cmd.h"
#include "engine/device.h"
#include "engine/error.h"

namespace {

int usage(FILE* out) {
  std::fprintf(out,
               "usage: wsvis <command> [options]\n"
               "  run CONFIG.json [--run DIR] [--set key=value ...] [--force]\n        a method end to end (configs/): stages, metrics, report.html\n"
               "  engine-demo [--out DIR] [--steps N] [--seed S] [--cpu]\n        the engine alone: synthetic videos with strips and flow images, a small CNN trained on shapes\n"
               "  info                                  build and device information\n"
               "  synth --out DIR [--videos N] [--frames T] [--size WxH] [--seed S]\n        [--camouflage F] [--touching F] [--config FILE]   write a synthetic video set\n"
               "  eval --gt F --results F [--type segm|bbox|video|frame] [--out metrics.json]\n        [--flow-dir DIR]   COCO / YouTube-VIS metrics and temporal consistency\n"
               "  stage1 --config F --run DIR [STEP ...] [--set key=value ...] [--force]\n        flowIRN stage 1: CAM net, CAMs, IR labels, IRN, pseudo-labels, eval\n"
               "  boxinst --config F --run DIR [STEP ...] [--set key=value ...] [--force]\n        motion-aided BoxInst / BoxInst / CondInst: train, predict, eval\n"
               "  maskrcnn --config F --run DIR [STEP ...] [--set key=value ...] [--force]\n        stage 2: Mask R-CNN (+ MaskConsist, self-training), tracker, frame and video eval\n"
               "  draw --gt F --frames DIR [--results F] [--video ID] [--out DIR] [--strip N] [--flow DIR]   overlays, strips, flow PNGs\n"
               "  split --gt DIR/train.json [--per-category N] [--seed S]\n        the held-out split: DIR/train_train.json, DIR/train_val.json\n"
               "  import-davis --frames DIR --masks DIR --out DIR [--video NAME] [--category NAME]\n        [--binary]   one DAVIS sequence as a YouTube-VIS dataset\n");
  return out == stderr ? 2 : 0;
}

int info() {
  std::printf("wsvis: CUDA backend %s; %d CUDA device(s) visible\n",
              WSVIS_WITH_CUDA ? "built" : "not built", wsvis::cuda_device_count());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage(stderr);
  const std::string command = argv[1];
  std::vector<std::string> args(argv + 2, argv + argc);
  try {
    if (command == "run") return wsvis::apps::run_run_command(args);
    if (command == "engine-demo") return wsvis::apps::run_demo(args);
    if (command == "info") return info();
    if (command == "eval") return wsvis::apps::run_eval(args);
    if (command == "draw") return wsvis::apps::run_draw(args);
    if (command == "synth") return wsvis::apps::run_synth(args);
    if (command == "stage1") return wsvis::apps::run_stage1_command(args);
    if (command == "boxinst") return wsvis::apps::run_boxinst_command(args);
    if (command == "maskrcnn") return wsvis::apps::run_maskrcnn_command(args);
    if (command == "split") return wsvis::apps::run_split(args);
    if (command == "import-davis") return wsvis::apps::run_import_davis(args);
    if (command == "-h" || command == "--help" || command == "help") return usage(stdout);
    std::fprintf(stderr, "wsvis: unknown command '%s'\n", command.c_str());
    return usage(stderr);
  } catch (const wsvis::InputError& e) {
    std::fprintf(stderr, "wsvis: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "wsvis: error: %s\n", e.what());
    return 1;
  }
}
