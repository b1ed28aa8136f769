// The tiny synthetic set the BoxInst stage tests train on: 3 videos x 3 frames of 64x64, three
// classes, up to two large instances (radius 0.2-0.3 of the frame), half of them camouflaged.
#pragma once

#include <filesystem>

#include "data/synth.h"

namespace wsvis::testing {

// Writes the set to <dir>/data.
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

}  // namespace wsvis::testing
