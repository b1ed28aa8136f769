// `wsvis demo`: the most complete job the project runs so far, on the embedded default data.
//   1. generates the default synthetic video set (`wsvis synth` defaults) into OUT/synth;
//   2. reads it back and draws, per video, a strip of frames with the ground-truth instances in
//      their track colours and the flow of the first frame pair (OUT/strips, OUT/flow);
//   3. trains the toy CNN on generated shapes and prints its learning curve (the end-to-end
//      check of the engine: forward, backward and SGD through every kind of op).
// The video methods (flowIRN + MaskConsist, motion-aided BoxInst) join it as they land.
#pragma once

#include <string>
#include <vector>

namespace wsvis::apps {

int run_demo(const std::vector<std::string>& args);

}  // namespace wsvis::apps
