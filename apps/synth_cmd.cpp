#include "apps/synth_cmd.h"

#include <cstdio>

namespace wsvis::apps {

int run_synth(const std::vector<std::string>& args) {
  const data::SynthArgs o = data::parse_synth_args(args);
  const data::SynthWriteStats s = data::write_synth_dataset(o.config, o.out);
  std::printf(
      "wsvis synth: %d videos, %d frames of %dx%d in %s (%d instances, %d camouflaged, "
      "%d touching pairs)\n",
      s.videos, s.frames, o.config.width, o.config.height, o.out.c_str(), s.instances,
      s.camouflaged, s.touching_pairs);
  std::printf(
      "  generation %.0f frames/s per core (image, masks, forward and backward "
      "flow, RLE); end to end %.0f frames/s with PNG and .flo files written\n",
      s.render_seconds > 0 ? s.frames / s.render_seconds : 0.0,
      s.total_seconds > 0 ? s.frames / s.total_seconds : 0.0);
  return 0;
}

}  // namespace wsvis::apps
