// Checkpoints: safetensors files (engine/safetensors.h) loaded into modules by name, and the
// training state (model + optimizer + step) saved and restored for an exact resume.
//
// Names follow torchvision's state_dict ("layer1.0.bn1.running_mean"), so ImageNet weights
// exported by scripts/export_torchvision.py load directly:
//   auto file = load_safetensors("resnet50.safetensors", nullptr);
//   LoadReport r = load_state_dict(backbone, file, /*strict=*/false, {"fc."});
//
// It lives in layers/ because it reads and writes modules; the file format itself, which knows
// nothing of modules, is engine/safetensors.h.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "engine/safetensors.h"

namespace wsvis {

namespace layers {
class Module;
}
namespace optim {
class SGD;
}

struct LoadReport {
  std::vector<std::string> missing;     // in the model, not in the file
  std::vector<std::string> unexpected;  // in the file, not in the model
  std::vector<std::string> mismatched;  // "name: file (3, 3) vs model (3, 4)"
  bool ok() const { return missing.empty() && unexpected.empty() && mismatched.empty(); }
  // One line per list that is not empty, every name in it; "all tensors matched" when ok().
  std::string str() const;
};

// Copies matching tensors into module's parameters and buffers (in place, keeping packing).
// strict=true throws InputError listing every missing, unexpected and mis-shaped tensor, and
// then copies nothing; strict=false copies every tensor that matches and returns the report.
// `ignore` lists names to skip on both sides: an entry matches a name equal to it, a name it
// is a prefix of when it ends in '.' ("fc." skips fc.weight and fc.bias), or a name that ends
// in '.' + entry ("num_batches_tracked" skips every BatchNorm's counter). Floating tensors are
// converted between f32 and f64, integer ones between i32/i64/u8; floating <-> integer is a
// mismatch.
LoadReport load_state_dict(layers::Module& module, const NamedTensors& tensors, bool strict = true,
                           const std::vector<std::string>& ignore = {});
// The same from a file; errors name the file.
LoadReport load_state_dict_file(layers::Module& module, const std::string& path, bool strict = true,
                                const std::vector<std::string>& ignore = {});

// One safetensors file with the model's state_dict, the optimizer's momentum buffers
// ("optim.<group>.<param_index>.momentum") and, as metadata, the step, the optimizer's step
// count, base lr and group sizes, plus `extra` (keys must not start with "wsvis.").
void save_training_state(const std::string& path, const layers::Module& module,
                         const optim::SGD& optimizer, int64_t step,
                         const std::map<std::string, std::string>& extra = {});

struct TrainingState {
  int64_t step = 0;
  std::map<std::string, std::string> metadata;  // the `extra` given to save_training_state
};
// Restores the model (strict), the optimizer's buffers, step count and lr, so that the next
// step is the one the saved run would have taken. InputError naming the file when it is not a
// training state or does not fit the model or optimizer (group count and sizes, names, shapes).
// The model is checked completely before anything is copied; an optimizer-state error found
// after that leaves the model loaded, so treat both as unusable once this throws.
TrainingState load_training_state(const std::string& path, layers::Module& module,
                                  optim::SGD& optimizer);

}  // namespace wsvis
