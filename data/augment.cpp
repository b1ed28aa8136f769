#include "data/augment.h"

#include <algorithm>
#include <cmath>

#include "engine/error.h"

namespace wsvis::data {

std::pair<int, int> resize_shortest_edge(int w, int h, int short_side, int max_long) {
  WSVIS_CHECK(w > 0 && h > 0 && short_side > 0, "resize_shortest_edge: bad size ", w, "x", h,
              " -> ", short_side);
  double s = static_cast<double>(short_side) / std::min(w, h);
  if (max_long > 0) s = std::min(s, static_cast<double>(max_long) / std::max(w, h));
  return {static_cast<int>(w * s + 0.5), static_cast<int>(h * s + 0.5)};
}

AugmentParams sample_augment(const AugmentConfig& config, int w, int h, Generator& gen) {
  AugmentParams p;
  p.in_width = p.width = w;
  p.in_height = p.height = h;
  if (!config.short_sizes.empty()) {
    const int s = config.short_sizes[static_cast<size_t>(
        gen.randint(0, static_cast<int64_t>(config.short_sizes.size())))];
    std::tie(p.width, p.height) = resize_shortest_edge(w, h, s, config.max_long);
  }
  p.flip = gen.uniform(0, 1) < config.flip_prob;
  if (config.color_jitter > 0) {
    const double s = config.color_jitter;
    p.brightness = static_cast<float>(gen.uniform(1 - s, 1 + s));
    p.contrast = static_cast<float>(gen.uniform(1 - s, 1 + s));
    p.saturation = static_cast<float>(gen.uniform(1 - s, 1 + s));
  }
  return p;
}

namespace {

// Bilinear taps along one axis for align_corners = False with edge clamping.
struct Taps {
  std::vector<int> i0, i1;
  std::vector<float> w1;  // weight of i1; i0 gets 1 - w1
};
Taps make_taps(int in, int out) {
  Taps t;
  t.i0.resize(static_cast<size_t>(out));
  t.i1.resize(static_cast<size_t>(out));
  t.w1.resize(static_cast<size_t>(out));
  const double scale = static_cast<double>(in) / out;
  for (int o = 0; o < out; ++o) {
    double src = (o + 0.5) * scale - 0.5;
    src = std::min(std::max(src, 0.0), static_cast<double>(in - 1));
    const int i0 = static_cast<int>(std::floor(src));
    const size_t k = static_cast<size_t>(o);
    t.i0[k] = i0;
    t.i1[k] = std::min(i0 + 1, in - 1);
    t.w1[k] = static_cast<float>(src - i0);
  }
  return t;
}

// Separable bilinear resampling of an interleaved (h, w, c) float-convertible buffer.
template <typename In, typename Store>
void resample(const In* in, int w, int h, int c, int width, int height, Store store) {
  const Taps tx = make_taps(w, width), ty = make_taps(h, height);
  std::vector<float> row0(static_cast<size_t>(width) * c), row1(row0.size());
  auto hrow = [&](int y, std::vector<float>& row) {
    const In* src = in + static_cast<size_t>(y) * w * c;
    for (int x = 0; x < width; ++x) {
      const size_t k = static_cast<size_t>(x);
      const In* a = src + static_cast<size_t>(tx.i0[k]) * c;
      const In* b = src + static_cast<size_t>(tx.i1[k]) * c;
      for (int ch = 0; ch < c; ++ch)
        row[k * c + ch] = static_cast<float>(a[ch]) +
                          tx.w1[k] * (static_cast<float>(b[ch]) - static_cast<float>(a[ch]));
    }
  };
  for (int y = 0; y < height; ++y) {
    const size_t k = static_cast<size_t>(y);
    hrow(ty.i0[k], row0);
    hrow(ty.i1[k], row1);
    const float wy = ty.w1[k];
    for (size_t i = 0; i < row0.size(); ++i)
      store(k * row0.size() + i, row0[i] + wy * (row1[i] - row0[i]));
  }
}

}  // namespace

Image resize_image(const Image& image, int width, int height) {
  WSVIS_CHECK(width > 0 && height > 0, "resize_image: bad size ", width, "x", height);
  if (width == image.width && height == image.height) return image;
  Image out(width, height, image.channels);
  resample(image.data.data(), image.width, image.height, image.channels, width, height,
           [&](size_t i, float v) {
             out.data[i] = static_cast<uint8_t>(std::min(std::max(v + 0.5f, 0.f), 255.f));
           });
  return out;
}

Image flip_image(const Image& image) {
  Image out(image.width, image.height, image.channels);
  const int c = image.channels;
  for (int y = 0; y < image.height; ++y)
    for (int x = 0; x < image.width; ++x)
      for (int ch = 0; ch < c; ++ch) out.at(y, image.width - 1 - x, ch) = image.at(y, x, ch);
  return out;
}

Flow resize_flow(const Flow& flow, int width, int height) {
  WSVIS_CHECK(width > 0 && height > 0, "resize_flow: bad size ", width, "x", height);
  Flow out(width, height);
  const float sx = static_cast<float>(width) / flow.width;
  const float sy = static_cast<float>(height) / flow.height;
  resample(flow.uv.data(), flow.width, flow.height, 2, width, height,
           [&](size_t i, float v) { out.uv[i] = v * ((i & 1) ? sy : sx); });
  return out;
}

Flow flip_flow(const Flow& flow) {
  Flow out(flow.width, flow.height);
  for (int y = 0; y < flow.height; ++y)
    for (int x = 0; x < flow.width; ++x) {
      out.u(flow.width - 1 - x, y) = -flow.u(x, y);
      out.v(flow.width - 1 - x, y) = flow.v(x, y);
    }
  return out;
}

std::vector<uint8_t> resize_mask(const std::vector<uint8_t>& mask, int w, int h, int width,
                                 int height) {
  WSVIS_CHECK(mask.size() == static_cast<size_t>(w) * h, "resize_mask: mask is not ", w, "x", h);
  std::vector<uint8_t> out(static_cast<size_t>(width) * height);
  std::vector<int> sx(static_cast<size_t>(width));
  for (int x = 0; x < width; ++x)
    sx[static_cast<size_t>(x)] =
        std::min(w - 1, static_cast<int>(std::floor((x + 0.5) * w / static_cast<double>(width))));
  for (int y = 0; y < height; ++y) {
    const int src_y =
        std::min(h - 1, static_cast<int>(std::floor((y + 0.5) * h / static_cast<double>(height))));
    for (int x = 0; x < width; ++x)
      out[static_cast<size_t>(y) * width + x] =
          mask[static_cast<size_t>(src_y) * w + sx[static_cast<size_t>(x)]];
  }
  return out;
}

std::vector<uint8_t> flip_mask(const std::vector<uint8_t>& mask, int w, int h) {
  std::vector<uint8_t> out(mask.size());
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      out[static_cast<size_t>(y) * w + (w - 1 - x)] = mask[static_cast<size_t>(y) * w + x];
  return out;
}

void color_jitter(Image* image, float brightness, float contrast, float saturation) {
  WSVIS_CHECK(image->channels == 3, "color_jitter: needs an RGB image");
  const size_t n = static_cast<size_t>(image->width) * image->height;
  std::vector<float> px(n * 3);
  for (size_t i = 0; i < px.size(); ++i) px[i] = image->data[i] * brightness;
  auto grey = [&](size_t p) {
    return 0.299f * px[3 * p] + 0.587f * px[3 * p + 1] + 0.114f * px[3 * p + 2];
  };
  double mean = 0;
  for (size_t p = 0; p < n; ++p) mean += std::min(std::max(grey(p), 0.f), 255.f);
  const float m = static_cast<float>(mean / std::max<size_t>(n, 1));
  for (float& v : px) v = (v - m) * contrast + m;
  for (size_t p = 0; p < n; ++p) {
    const float g = grey(p);
    for (int c = 0; c < 3; ++c) px[3 * p + c] = (px[3 * p + c] - g) * saturation + g;
  }
  for (size_t i = 0; i < px.size(); ++i)
    image->data[i] = static_cast<uint8_t>(std::min(std::max(px[i] + 0.5f, 0.f), 255.f));
}

Image augment_image(const Image& image, const AugmentParams& p) {
  Image out = resize_image(image, p.width, p.height);
  if (p.flip) out = flip_image(out);
  if (p.brightness != 1 || p.contrast != 1 || p.saturation != 1)
    color_jitter(&out, p.brightness, p.contrast, p.saturation);
  return out;
}

Flow augment_flow(const Flow& flow, const AugmentParams& p) {
  Flow out = (p.width == flow.width && p.height == flow.height)
                 ? flow
                 : resize_flow(flow, p.width, p.height);
  return p.flip ? flip_flow(out) : out;
}

std::vector<uint8_t> augment_mask(const std::vector<uint8_t>& mask, const AugmentParams& p) {
  std::vector<uint8_t> out = resize_mask(mask, p.in_width, p.in_height, p.width, p.height);
  return p.flip ? flip_mask(out, p.width, p.height) : out;
}

std::vector<WeakBox> augment_boxes(const std::vector<WeakBox>& boxes, const AugmentParams& p) {
  const float sx = static_cast<float>(p.width) / p.in_width;
  const float sy = static_cast<float>(p.height) / p.in_height;
  std::vector<WeakBox> out = boxes;
  for (WeakBox& b : out) {
    b.x1 *= sx, b.x2 *= sx, b.y1 *= sy, b.y2 *= sy;
    if (p.flip) {
      const float x1 = static_cast<float>(p.width) - b.x2, x2 = static_cast<float>(p.width) - b.x1;
      b.x1 = x1, b.x2 = x2;
    }
  }
  return out;
}

}  // namespace wsvis::data
