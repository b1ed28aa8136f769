// The `wsvis` command line. Subcommands so far:
//   wsvis demo [--steps N] [--cpu] [--seed S]   train the toy CNN on generated shapes (the most
//                                               complete job the engine runs until the video
//                                               pipeline lands) and print its learning curve
//   wsvis info                                  build and device information
//   wsvis synth ...                             write a synthetic video set (apps/synth_cmd.h)
//   wsvis eval ...                              COCO / YouTube-VIS metrics (apps/eval_cmd.h)
//   wsvis draw ...                              overlays, strips and flow images (apps/draw_cmd.h)
// Errors from bad input exit with status 2; other errors with status 1.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "apps/draw_cmd.h"
#include "apps/eval_cmd.h"
#include "apps/synth_cmd.h"
#include "apps/toy_demo.h"
#include "engine/device.h"
#include "engine/error.h"

namespace {

int usage(FILE* out) {
  std::fprintf(out,
               "usage: wsvis <command> [options]\n"
               "  demo [--steps N] [--seed S] [--cpu]   train a small CNN on generated shapes\n"
               "  info                                  build and device information\n"
               "  synth --out DIR [--videos N] [--frames T] [--size WxH] [--seed S]\n        [--camouflage F] [--touching F] [--config FILE]   write a synthetic video set\n"
               "  eval --gt F --results F [--type segm|bbox|video|frame] [--out metrics.json]\n        [--flow-dir DIR]   COCO / YouTube-VIS metrics and temporal consistency\n"
               "  draw --gt F --frames DIR [--results F] [--video ID] [--out DIR] [--strip N] [--flow DIR]   overlays, strips, flow PNGs\n");
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
    if (command == "demo") return wsvis::apps::run_toy_demo(args);
    if (command == "info") return info();
    if (command == "eval") return wsvis::apps::run_eval(args);
    if (command == "draw") return wsvis::apps::run_draw(args);
    if (command == "synth") return wsvis::apps::run_synth(args);
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
