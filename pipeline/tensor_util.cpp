#include "pipeline/tensor_util.h"

#include "engine/ops.h"

namespace wsvis::pipeline {

Tensor flip_width(const Tensor& x) {
  const int64_t W = x.size(x.dim() - 1);
  std::vector<int64_t> reversed(static_cast<size_t>(W));
  for (int64_t i = 0; i < W; ++i) reversed[static_cast<size_t>(i)] = W - 1 - i;
  return ops::index_select(x, x.dim() - 1, Tensor::from_vector(reversed, {W}, x.context_ptr()));
}

Tensor crop_hw(const Tensor& x, int64_t h, int64_t w) {
  const int d = static_cast<int>(x.dim());
  Tensor out = x;
  if (x.size(d - 2) != h) out = ops::slice(out, d - 2, 0, h);
  if (x.size(d - 1) != w) out = ops::slice(out, d - 1, 0, w);
  return out;
}

Tensor normalise_planes_by_max(const Tensor& x, double eps) {
  WSVIS_CHECK(x.dim() == 3, "normalise_planes_by_max expects (C, H, W), got ", x.describe());
  const Tensor flat = ops::reshape(x, {x.size(0), -1});
  const Tensor max = ops::max(flat, 1, /*keepdim=*/true).values;  // (C, 1)
  return ops::reshape(flat / (max + eps), x.shape());
}

}  // namespace wsvis::pipeline
