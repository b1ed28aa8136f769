// Small value types shared by op signatures.
#pragma once

namespace wsvis::ops {

// A (height, width) pair for kernel sizes, strides, padding and dilation; an int means square.
struct Size2 {
  int h = 0, w = 0;
  Size2(int both) : h(both), w(both) {}  // NOLINT(google-explicit-constructor): ops::conv2d(x, w, b, {2})
  Size2(int height, int width) : h(height), w(width) {}
};

// How a loss combines its per-element values (torch's `reduction`).
enum class Reduction { none, mean, sum };

}  // namespace wsvis::ops
