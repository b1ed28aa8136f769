#include "pipeline/test_inputs.h"

#include <algorithm>
#include <vector>

#include "data/augment.h"
#include "data/loader.h"
#include "models/motion_encoder.h"

namespace wsvis::pipeline {

TestImage test_image(const data::Image& image, int short_size, int max_long, data::PixelNorm norm,
                     const ContextPtr& ctx) {
  const auto [w, h] = data::resize_shortest_edge(image.width, image.height, short_size, max_long);
  const int64_t Hp = (int64_t(h) + 31) / 32 * 32, Wp = (int64_t(w) + 31) / 32 * 32;
  std::vector<float> planes(size_t(3 * Hp * Wp), 0.f);
  data::normalise_image_into(data::resize_image(image, w, h), norm,
                             planes.data(), int(Hp), int(Wp));
  TestImage out;
  out.resized = {h, w};
  out.image = Tensor::from_vector(planes, {1, 3, Hp, Wp}, ctx);
  return out;
}

Tensor test_flow_image(const data::Flow& flow, const TestImage& image, const models::PixelNormalization& norm,
                       const ContextPtr& ctx) {
  const int64_t Hp = image.image.size(2), Wp = image.image.size(3);
  const int64_t h = image.resized[0], w = image.resized[1];
  std::vector<float> uv(size_t(2 * Hp * Wp), 0.f);
  data::flow_planes_into(data::resize_flow(flow, int(w), int(h)), uv.data(), int(Hp), int(Wp));
  std::vector<uint8_t> valid(size_t(Hp * Wp), 0);
  for (int64_t y = 0; y < h; ++y) std::fill_n(valid.begin() + y * Wp, w, uint8_t(1));
  return models::flow_color_inputs(Tensor::from_vector(uv, {1, 2, Hp, Wp}, ctx),
                                   Tensor::from_vector(valid, {1, Hp, Wp}, ctx, DType::u8),
                                   kernels::FlowWheelVariant::flow_vis, norm)
      .input;
}

}  // namespace wsvis::pipeline
