// `wsvis synth`: writes a synthetic video set (data/synth.h) in YouTube-VIS layout.
//   wsvis synth --out DIR [--videos N] [--frames T] [--size WxH] [--seed S]
//               [--camouflage FRACTION] [--touching FRACTION] [--config FILE]
// --config is read first (configs/synth_default.json holds the defaults); the other flags
// override it whatever their order. Bad arguments throw wsvis::InputError (exit status 2).
#pragma once

#include <string>
#include <vector>

#include "data/synth.h"

namespace wsvis::apps {

// Parses the arguments (data::parse_synth_args), writes the set, prints what it wrote and
// the frames per second of generation and of writing.
int run_synth(const std::vector<std::string>& args);

}  // namespace wsvis::apps
