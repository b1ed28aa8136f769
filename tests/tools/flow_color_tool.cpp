// flow_color_tool: colours a .flo file with data/flow_color.h, for
// tests/python/test_flow_color_flowvis.py to compare with the flow_vis package.
//
//   flow_color_tool <in.flo> <flow_vis|raft> <out.rgb>        (H*W*3 raw RGB bytes)
//   flow_color_tool --legend <size> <flow_vis|raft> <out.rgb>
// Exit status 2 with a message on stderr for bad arguments or a bad .flo file.
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include "data/file_util.h"
#include "data/flow_color.h"
#include "engine/error.h"

using namespace wsvis::data;

int main(int argc, char** argv) {
  try {
    if (argc != 4 && !(argc == 5 && std::string(argv[1]) == "--legend")) {
      std::cerr << "usage: flow_color_tool <in.flo> <flow_vis|raft> <out.rgb>\n"
                   "       flow_color_tool --legend <size> <flow_vis|raft> <out.rgb>\n";
      return 2;
    }
    const bool legend = argc == 5;
    const std::string variant_name = argv[legend ? 3 : 2];
    if (variant_name != "flow_vis" && variant_name != "raft") {
      std::cerr << "flow_color_tool: unknown variant " << variant_name << "\n";
      return 2;
    }
    const FlowWheel variant = variant_name == "raft" ? FlowWheel::raft : FlowWheel::flow_vis;
    const Image img = legend ? flow_color_legend(std::atoi(argv[2]), variant)
                             : flow_to_color(read_flo(argv[1]), variant);
    write_file_atomic(argv[legend ? 4 : 3], img.data.data(), img.data.size());
    return 0;
  } catch (const wsvis::Error& e) {
    std::cerr << "flow_color_tool: " << e.what() << "\n";
    return 2;
  }
}
