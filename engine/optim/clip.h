// Gradient clipping, as torch.nn.utils.clip_grad_norm_ and clip_grad_value_, over every
// parameter's gradient in one multi-tensor launch (parameters without a gradient are skipped).
#pragma once

#include <vector>

#include "engine/tensor.h"

namespace wsvis::optim {

// Scales all gradients by min(1, max_norm / (total_norm + 1e-6)), where total_norm is the L2
// norm of all gradients together, and returns total_norm. The sum of squares is accumulated in
// double in a fixed order (kernels/optim.h), so the result is identical run to run; on CUDA this
// waits for the norm to reach the host. A non-finite norm throws when error_if_nonfinite, and
// otherwise scales by NaN like torch's default.
double clip_grad_norm(const std::vector<Tensor>& params, double max_norm,
                      bool error_if_nonfinite = false);
// The L2 norm of all gradients together without changing them.
double grad_norm(const std::vector<Tensor>& params);
// Clamps every gradient element to [-clip_value, clip_value].
void clip_grad_value(const std::vector<Tensor>& params, double clip_value);

}  // namespace wsvis::optim
