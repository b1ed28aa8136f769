// model_sizes_tool: the parameters of each model a run config builds, as docs/scaling.md counts
// them: all, trained (requires_grad: what data-parallel training all-reduces every step) and
// the f32 gradient bytes per step. Models are built from the config's sections with random
// weights (no files read), for `classes` categories.
//
//   model_sizes_tool CONFIG.json [classes]      (a `wsvis run` config; classes default 40)
//
// Output: one JSON object per line: {"model", "parameters", "trained", "gradient_bytes"}.
#include <cstdio>
#include <cstdlib>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/random.h"
#include "pipeline/boxinst_stage.h"
#include "pipeline/cam_stage.h"
#include "pipeline/irn_stage.h"
#include "pipeline/maskrcnn_stage.h"
#include "pipeline/run_config.h"
#include "pipeline/stage1.h"

namespace {

void print(const std::string& name, const wsvis::layers::Module& model) {
  int64_t all = 0, trained = 0;
  for (const auto& [key, p] : model.named_parameters()) {
    all += p.numel();
    if (p.requires_grad()) trained += p.numel();
  }
  std::printf("%s\n", nlohmann::json{{"model", name}, {"parameters", all}, {"trained", trained},
                                     {"gradient_bytes", 4 * trained}}
                          .dump()
                          .c_str());
}

}  // namespace

int main(int argc, char** argv) {
  using namespace wsvis;
  if (argc < 2) {
    std::fprintf(stderr, "usage: model_sizes_tool CONFIG.json [classes]\n");
    return 2;
  }
  const int classes = argc > 2 ? std::atoi(argv[2]) : 40;
  // Paths in the config are not needed to build the models: clear them.
  pipeline::RunConfig config = pipeline::read_run_config_file(
      argv[1], {"data.root=", "val.root=", "synth.enabled=true", "stage1.cam.pretrained=",
                "stage1.irn.pretrained=", "stage2.model.pretrained=", "boxinst.model.pretrained="});
  const ContextPtr ctx = pipeline::context_for("cpu");
  Generator gen(0);
  print("cam_net", *pipeline::make_cam_net(config.stage1, classes, gen, ctx));
  print("irn", *pipeline::make_irn_net(config.stage1, ctx));
  print("mask_rcnn", *pipeline::make_maskrcnn_model(config.stage2, classes, gen, ctx));
  pipeline::BoxInstConfig boxinst = config.boxinst;
  boxinst.model.variant = "boxinst";
  print("boxinst", *pipeline::make_boxinst_model(boxinst, classes, gen, ctx));
  boxinst.model.variant = "motion_boxinst";
  print("motion_boxinst", *pipeline::make_boxinst_model(boxinst, classes, gen, ctx));
  return 0;
}
