#include "data/toy_shapes.h"

#include <algorithm>

#include "engine/error.h"

namespace wsvis::data {

ToyShapesBatch make_toy_shapes(int count, int size, Generator& gen) {
  WSVIS_CHECK(count >= 0 && size >= 8, "make_toy_shapes: need count >= 0 and size >= 8, got ",
              count, " and ", size);
  ToyShapesBatch batch;
  batch.count = count;
  batch.size = size;
  batch.images.assign(static_cast<size_t>(count) * size * size, 0.f);
  batch.labels.resize(static_cast<size_t>(count));
  for (int n = 0; n < count; ++n) {
    float* img = batch.images.data() + static_cast<size_t>(n) * size * size;
    for (int i = 0; i < size * size; ++i) img[i] = static_cast<float>(0.25 * gen.normal());
    const int label = static_cast<int>(gen.randint(0, kToyShapeClasses));
    batch.labels[static_cast<size_t>(n)] = label;
    const float contrast = static_cast<float>(gen.uniform(0.6, 1.0));
    const int length = static_cast<int>(gen.randint(size / 2, size - 1));
    const int thick = static_cast<int>(gen.randint(1, 3));
    auto put = [&](int y, int x) {
      if (y >= 0 && y < size && x >= 0 && x < size) img[y * size + x] += contrast;
    };
    const int y0 = static_cast<int>(gen.randint(0, size - std::max(thick, label == 2 ? length / 2 : 1) + 1));
    const int x0 = static_cast<int>(gen.randint(0, size - length / 2));
    switch (label) {
      case 0:  // horizontal bar
        for (int t = 0; t < thick; ++t)
          for (int i = 0; i < length; ++i) put(y0 + t, std::min(x0, size - length) + i);
        break;
      case 1:  // vertical bar: the transpose of the horizontal one
        for (int t = 0; t < thick; ++t)
          for (int i = 0; i < length; ++i) put(std::min(x0, size - length) + i, y0 + t);
        break;
      case 2: {  // filled square of side length / 2
        const int side = length / 2;
        for (int dy = 0; dy < side; ++dy)
          for (int dx = 0; dx < side; ++dx) put(y0 + dy, x0 + dx);
        break;
      }
      default: {  // diagonal line going down-right
        const int start = static_cast<int>(gen.randint(0, size - length + 1));
        for (int t = 0; t < thick; ++t)
          for (int i = 0; i < length; ++i) put(start + i, start + i + t);
        break;
      }
    }
  }
  return batch;
}

}  // namespace wsvis::data
