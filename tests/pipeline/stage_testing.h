// What the stage tests share: a fresh scratch folder, the tiny synthetic set the BoxInst tests
// train on, and ImageNet-style weights as torchvision names them.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <string>

#include "data/synth.h"
#include "engine/context.h"
#include "engine/random.h"
#include "engine/safetensors.h"
#include "models/resnet.h"

namespace wsvis::testing {

// An empty folder <tmp>/wsvis_<area>_<name>_<pid> (removed first if a crashed run left it).
inline std::filesystem::path scratch_folder(const std::string& area, const std::string& name) {
  namespace fs = std::filesystem;
  const fs::path p = fs::temp_directory_path() / ("wsvis_" + area + "_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

// 3 videos x 3 frames of 64x64, three classes, up to two large instances (radius 0.2-0.3 of
// the frame), half of them camouflaged; written to <dir>/data.
inline void write_tiny_boxinst_set(const std::filesystem::path& dir) {
  data::SynthConfig sc;
  sc.videos = 3;
  sc.frames = 3;
  sc.width = sc.height = 64;
  sc.seed = 5;
  sc.classes = 3;
  sc.max_instances = 2;
  sc.camouflage = 0.5;
  sc.min_radius = 0.2;
  sc.max_radius = 0.3;
  data::write_synth_dataset(sc, (dir / "data").string());
}

// A random ResNet-18 saved under torchvision's names: what `model.pretrained` reads.
inline void write_torchvision_resnet18(const std::string& path, uint64_t seed, const ContextPtr& ctx) {
  Generator gen(seed);
  models::ResNetOptions ro;
  ro.depth = 18;
  models::ResNet torchvision_resnet(ro, gen, ctx);
  save_safetensors(path, torchvision_resnet.state_dict());
}

}  // namespace wsvis::testing
