// Synthetic videos, part 2: shapes, textures and the per-pixel renderer (colour, labels,
// exact forward/backward flow). See data/synth.h for the model.
#include <algorithm>
#include <cmath>

#include "data/synth.h"
#include "engine/error.h"

namespace wsvis::data {

namespace {

constexpr double kPi = 3.14159265358979323846;

// ---- shapes, in the instance's own frame (pixels at scale 1) ---------------------------------
// Star: five tips at radius r (one on +x), inner vertices at 0.45 r.
struct StarEdge {
  double tx, nx, ny;  // tip (tx, 0) and the outward normal of the tip-to-inner-vertex edge
};
StarEdge star_edge(double r) {
  const double ri = 0.45 * r, a = kPi / 5;
  const double ex = ri * std::cos(a) - r, ey = ri * std::sin(a);
  return {r, ey, -ex};
}

// ---- textures ---------------------------------------------------------------------------------
inline uint32_t hash2(int32_t ix, int32_t iy, uint32_t seed) {
  uint32_t h = static_cast<uint32_t>(ix) * 0x8DA6B343u ^ static_cast<uint32_t>(iy) * 0xD8163841u ^
               seed * 0xCB1AB31Fu;
  h ^= h >> 13;
  h *= 0x5BD1E995u;
  h ^= h >> 15;
  h *= 0x27D4EB2Du;
  h ^= h >> 16;
  return h;
}
inline float unit(uint32_t h) { return static_cast<float>(h >> 8) * (1.0f / 16777216.0f); }

// Value noise in [0, 1): lattice values, smoothstep-bilinear in between.
inline float value_noise(double x, double y, uint32_t seed) {
  const double fx = std::floor(x), fy = std::floor(y);
  const int32_t ix = static_cast<int32_t>(fx), iy = static_cast<int32_t>(fy);
  const float tx = static_cast<float>(x - fx), ty = static_cast<float>(y - fy);
  const float sx = tx * tx * (3 - 2 * tx), sy = ty * ty * (3 - 2 * ty);
  const float v00 = unit(hash2(ix, iy, seed)), v10 = unit(hash2(ix + 1, iy, seed));
  const float v01 = unit(hash2(ix, iy + 1, seed)), v11 = unit(hash2(ix + 1, iy + 1, seed));
  const float top = v00 + sx * (v10 - v00), bottom = v01 + sx * (v11 - v01);
  return top + sy * (bottom - top);
}

// A texture with its trigonometry done once per frame.
struct PreparedTexture {
  const SynthTexture* tex;
  double cs, sn, inv_period;
  explicit PreparedTexture(const SynthTexture& t)
      : tex(&t), cs(std::cos(t.angle)), sn(std::sin(t.angle)), inv_period(1.0 / t.period) {}

  // Colour at texture-frame point (u, v).
  void color(double u, double v, float rgb[3]) const {
    const SynthTexture& t = *tex;
    const double x = u + t.offset_x, y = v + t.offset_y;
    const double a = (x * cs + y * sn) * inv_period, b = (-x * sn + y * cs) * inv_period;
    float s = 0;
    switch (t.kind) {
      case SynthTextureKind::stripes:
        s = 0.5f + 0.5f * static_cast<float>(std::sin(2 * kPi * a));
        break;
      case SynthTextureKind::checker:
        s = static_cast<float>(
            (static_cast<int64_t>(std::floor(a)) + static_cast<int64_t>(std::floor(b))) & 1);
        break;
      case SynthTextureKind::dots: {
        const double da = a - std::floor(a) - 0.5, db = b - std::floor(b) - 0.5;
        s = da * da + db * db < 0.09 ? 1.f : 0.f;
        break;
      }
      case SynthTextureKind::noise: {
        const float n =
            0.65f * value_noise(a, b, t.seed) + 0.35f * value_noise(2.2 * a, 2.2 * b, t.seed + 1);
        s = std::clamp((n - 0.5f) * 2.2f + 0.5f, 0.f, 1.f);
        break;
      }
    }
    // Fine detail everywhere (2.5-pixel value noise) so flat parts still carry texture.
    const float d = value_noise(x * 0.4, y * 0.4, t.seed + 2);
    s = s * (1 - t.detail) + t.detail * d;
    for (int c = 0; c < 3; ++c) rgb[c] = t.color0[c] + s * (t.color1[c] - t.color0[c]);
  }
};

// Per-frame preparation: inverse poses and conservative pixel boxes of every instance.
struct PreparedFrame {
  struct Inst {
    Affine2 inv;           // image -> instance frame at t
    double cx, cy, reach;  // disc holding the shape in the image
    int x0, x1, y0, y1;    // its pixel box (inclusive, clipped)
  };
  std::vector<Inst> inst;
  Affine2 bg_inv;
};

PreparedFrame prepare(const SynthScene& scene, int t) {
  WSVIS_CHECK(t >= 0 && t < scene.frames, "synth: frame ", t, " out of range [0, ", scene.frames,
              ")");
  PreparedFrame pf;
  pf.bg_inv = scene.background_pose[static_cast<size_t>(t)].inverse();
  for (const SynthInstance& in : scene.instances) {
    const Affine2& p = in.pose[static_cast<size_t>(t)];
    PreparedFrame::Inst q;
    q.inv = p.inverse();
    q.cx = p.tx;
    q.cy = p.ty;
    q.reach = in.bound * std::sqrt(std::fabs(p.a * p.d - p.b * p.c));
    q.x0 = std::max(0, static_cast<int>(std::ceil(q.cx - q.reach)));
    q.x1 = std::min(scene.width - 1, static_cast<int>(std::floor(q.cx + q.reach)));
    q.y0 = std::max(0, static_cast<int>(std::ceil(q.cy - q.reach)));
    q.y1 = std::min(scene.height - 1, static_cast<int>(std::floor(q.cy + q.reach)));
    pf.inst.push_back(q);
  }
  return pf;
}

// Front-most surface at (x, y): its label and the point in its own frame.
inline int surface(const SynthScene& scene, const PreparedFrame& pf, double x, double y, double* u,
                   double* v) {
  for (size_t k = 0; k < pf.inst.size(); ++k) {
    const PreparedFrame::Inst& q = pf.inst[k];
    if (std::fabs(x - q.cx) > q.reach || std::fabs(y - q.cy) > q.reach) continue;
    q.inv.apply(x, y, u, v);
    if (synth_inside(scene.instances[k], *u, *v)) return static_cast<int>(k) + 1;
  }
  pf.bg_inv.apply(x, y, u, v);
  return 0;
}

// Per-pixel colour noise: a sum of three uniforms (10 bits each of one hash; variance about
// 1/4), scaled to sigma.
inline float pixel_noise(uint64_t seed, int t, size_t i, int c, double sigma) {
  const uint32_t s = static_cast<uint32_t>(seed) ^ static_cast<uint32_t>(seed >> 32) ^
                     (static_cast<uint32_t>(t) * 0x9E3779B9u);
  const uint32_t h = hash2(static_cast<int32_t>(i), c, s);
  const float sum = static_cast<float>((h & 1023u) + ((h >> 10) & 1023u) + ((h >> 20) & 1023u));
  return static_cast<float>(2 * sigma) * (sum * (1.0f / 1024.0f) - 1.5f);
}

}  // namespace

// ---- Affine2 ---------------------------------------------------------------------------------
Affine2 Affine2::inverse() const {
  const double det = a * d - b * c;
  WSVIS_CHECK(det != 0 && std::isfinite(det), "Affine2::inverse: singular map");
  Affine2 r;
  r.a = d / det;
  r.b = -b / det;
  r.c = -c / det;
  r.d = a / det;
  r.tx = -(r.a * tx + r.b * ty);
  r.ty = -(r.c * tx + r.d * ty);
  return r;
}

Affine2 Affine2::compose(const Affine2& o) const {
  Affine2 r;
  r.a = a * o.a + b * o.c;
  r.b = a * o.b + b * o.d;
  r.c = c * o.a + d * o.c;
  r.d = c * o.b + d * o.d;
  r.tx = a * o.tx + b * o.ty + tx;
  r.ty = c * o.tx + d * o.ty + ty;
  return r;
}

Affine2 Affine2::similarity(double s, double theta, double tx_, double ty_) {
  Affine2 r;
  const double cs = s * std::cos(theta), sn = s * std::sin(theta);
  r.a = cs;
  r.b = -sn;
  r.c = sn;
  r.d = cs;
  r.tx = tx_;
  r.ty = ty_;
  return r;
}

bool synth_inside(const SynthInstance& in, double x, double y) {
  const double r = in.radius;
  switch (in.shape) {
    case SynthShape::ellipse: {
      const double b = in.aspect * r;
      return x * x * (b * b) + y * y * (r * r) <= (r * r) * (b * b);
    }
    case SynthShape::box: {
      const double hb = in.aspect * r, rc = 0.3 * hb;
      const double dx = std::fabs(x) - (r - rc), dy = std::fabs(y) - (hb - rc);
      if (dx > rc || dy > rc) return false;
      return dx <= 0 || dy <= 0 || dx * dx + dy * dy <= rc * rc;
    }
    case SynthShape::triangle: {
      // Outward edge normals at 0, 120 and 240 degrees; inradius r/2 (circumradius r).
      const double h = 0.5 * r, c = -0.5, s = 0.8660254037844386;
      return x <= h && c * x + s * y <= h && c * x - s * y <= h;
    }
    case SynthShape::cross: {
      const double w = 0.34 * r, ax = std::fabs(x), ay = std::fabs(y);
      return (ax <= r && ay <= w) || (ax <= w && ay <= r);
    }
    case SynthShape::ring: {
      const double d2 = x * x + y * y, ri = 0.55 * r;
      return d2 <= r * r && d2 >= ri * ri;
    }
    case SynthShape::star: {
      const double rho2 = x * x + y * y;
      if (rho2 > r * r) return false;
      if (rho2 <= 0.13 * r * r)
        return true;  // in the inner pentagon (inradius 0.45 r cos 36 > 0.361 r)
      // Fold the angle into [0, pi/5] (the half-sector between a tip and an inner vertex).
      const double sector = 2 * kPi / 5;
      double phi = std::atan2(y, x);
      phi -= sector * std::floor(phi / sector);
      if (phi > sector / 2) phi = sector - phi;
      const double rho = std::sqrt(rho2);
      const StarEdge e = star_edge(r);
      return e.nx * (rho * std::cos(phi) - e.tx) + e.ny * (rho * std::sin(phi)) <= 0;
    }
  }
  return false;
}

int synth_surface_at(const SynthScene& scene, int t, double x, double y) {
  const PreparedFrame pf = prepare(scene, t);
  double u, v;
  return surface(scene, pf, x, y, &u, &v);
}

SynthFrame render_synth_frame(const SynthScene& scene, int t, bool with_flow) {
  const PreparedFrame pf = prepare(scene, t);
  const int W = scene.width, H = scene.height;
  const size_t K = scene.instances.size();
  WSVIS_CHECK(K < 255, "synth: too many instances (", K, ")");
  std::vector<PreparedTexture> tex;
  tex.emplace_back(scene.background);
  for (const SynthInstance& in : scene.instances) tex.emplace_back(in.texture);
  // Surface poses at t-1 and t+1 (index 0: background, k+1: instance k).
  const bool fw = with_flow && t + 1 < scene.frames, bw = with_flow && t > 0;
  std::vector<Affine2> next(K + 1), prev(K + 1);
  for (size_t s = 0; s <= K; ++s) {
    const std::vector<Affine2>& poses =
        s == 0 ? scene.background_pose : scene.instances[s - 1].pose;
    if (fw) next[s] = poses[static_cast<size_t>(t) + 1];
    if (bw) prev[s] = poses[static_cast<size_t>(t) - 1];
  }

  SynthFrame f;
  f.image = Image(W, H, 3);
  f.labels.assign(static_cast<size_t>(W) * H, 0);
  if (fw) f.forward = Flow(W, H);
  if (bw) f.backward = Flow(W, H);
  for (int y = 0; y < H; ++y) {
    for (int x = 0; x < W; ++x) {
      const size_t i = static_cast<size_t>(y) * W + x;
      double u, v;
      const int s = surface(scene, pf, x, y, &u, &v);
      f.labels[i] = static_cast<uint8_t>(s);
      float rgb[3];
      tex[static_cast<size_t>(s)].color(u, v, rgb);
      for (int c = 0; c < 3; ++c) {
        float value = rgb[c];
        if (scene.noise_sigma > 0)
          value += pixel_noise(scene.noise_seed, t, i, c, scene.noise_sigma);
        f.image.data[3 * i + static_cast<size_t>(c)] =
            static_cast<uint8_t>(std::lround(std::clamp(value, 0.f, 255.f)));
      }
      // The surface point (u, v) sits at pose(t +- 1)(u, v) in the neighbouring frames.
      if (fw) {
        double nx, ny;
        next[static_cast<size_t>(s)].apply(u, v, &nx, &ny);
        f.forward.uv[2 * i] = static_cast<float>(nx - x);
        f.forward.uv[2 * i + 1] = static_cast<float>(ny - y);
      }
      if (bw) {
        double px, py;
        prev[static_cast<size_t>(s)].apply(u, v, &px, &py);
        f.backward.uv[2 * i] = static_cast<float>(px - x);
        f.backward.uv[2 * i + 1] = static_cast<float>(py - y);
      }
    }
  }
  return f;
}

std::vector<uint8_t> synth_instance_mask(const SynthFrame& frame, int k) {
  std::vector<uint8_t> m(frame.labels.size());
  for (size_t i = 0; i < m.size(); ++i) m[i] = frame.labels[i] == k + 1 ? 1 : 0;
  return m;
}

std::vector<uint8_t> synth_amodal_mask(const SynthScene& scene, int k, int t) {
  WSVIS_CHECK(k >= 0 && static_cast<size_t>(k) < scene.instances.size(), "synth: instance ", k,
              " out of range");
  WSVIS_CHECK(t >= 0 && t < scene.frames, "synth: frame ", t, " out of range");
  const Affine2 inv =
      scene.instances[static_cast<size_t>(k)].pose[static_cast<size_t>(t)].inverse();
  std::vector<uint8_t> m(static_cast<size_t>(scene.width) * scene.height, 0);
  for (int y = 0; y < scene.height; ++y)
    for (int x = 0; x < scene.width; ++x) {
      double u, v;
      inv.apply(x, y, &u, &v);
      m[static_cast<size_t>(y) * scene.width + x] =
          synth_inside(scene.instances[static_cast<size_t>(k)], u, v) ? 1 : 0;
    }
  return m;
}

}  // namespace wsvis::data
