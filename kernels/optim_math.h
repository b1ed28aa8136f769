// Per-element maths of the optimizer family, shared by the CPU and CUDA twins
// (kernels/cpu/optim.cpp, kernels/cuda/optim.cu) so that they differ only in how work is scheduled.
#pragma once

#include "kernels/common.h"

namespace wsvis::kernels {

// One SGD update of one element, in the order torch.optim.SGD applies it (single-tensor and
// foreach paths alike):
//   d = g + wd * p                              (L2 weight decay added to the gradient)
//   momentum: buf = init ? d : mu * buf + (1 - dampening) * d    (torch's first step sets buf = d)
//             d = nesterov ? d + mu * buf : buf
//   p = p - lr * d
// Returns the new parameter; `buf` is read and written only when has_momentum.
// (1 - dampening) arrives precomputed, as torch computes it in double and passes it as alpha.
template <typename T>
WSVIS_HD inline T sgd_element(T p, T g, T& buf, T lr, T weight_decay, T momentum,
                              T one_minus_dampening, bool has_momentum, bool nesterov, bool init) {
  T d = g;
  if (weight_decay != T(0)) d = d + weight_decay * p;
  if (has_momentum) {
    const T b = init ? d : momentum * buf + one_minus_dampening * d;
    buf = b;
    d = nesterov ? d + momentum * b : b;
  }
  return p - lr * d;
}

template <typename T>
WSVIS_HD inline T clamp_element(T x, T lo, T hi) {
  // NaN stays NaN (both comparisons are false), as torch.clamp_ does.
  return x < lo ? lo : (x > hi ? hi : x);
}

}  // namespace wsvis::kernels
