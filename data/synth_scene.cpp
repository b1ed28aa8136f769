// Synthetic videos, part 1: the configuration (JSON, validation) and the scene of one video
// (classes, textures, depth order, touching pairs, camouflage, motion). See data/synth.h.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <utility>

#include "data/file_util.h"
#include "data/json_util.h"
#include "data/synth.h"
#include "engine/error.h"
#include "engine/random.h"

namespace wsvis::data {

namespace {

constexpr double kPi = 3.14159265358979323846;

// ---- configuration fields, one table for reading, writing and comparing ------------------
enum class FieldType { integer, seed, number, boolean };
struct Field {
  const char* name;
  FieldType type;
  int* i = nullptr;
  uint64_t* u = nullptr;
  double* d = nullptr;
  bool* b = nullptr;
};

std::vector<Field> fields(SynthConfig& c) {
  return {{"videos", FieldType::integer, &c.videos},
          {"frames", FieldType::integer, &c.frames},
          {"width", FieldType::integer, &c.width},
          {"height", FieldType::integer, &c.height},
          {"seed", FieldType::seed, nullptr, &c.seed},
          {"classes", FieldType::integer, &c.classes},
          {"min_instances", FieldType::integer, &c.min_instances},
          {"max_instances", FieldType::integer, &c.max_instances},
          {"camouflage", FieldType::number, nullptr, nullptr, &c.camouflage},
          {"touching", FieldType::number, nullptr, nullptr, &c.touching},
          {"min_radius", FieldType::number, nullptr, nullptr, &c.min_radius},
          {"max_radius", FieldType::number, nullptr, nullptr, &c.max_radius},
          {"max_speed", FieldType::number, nullptr, nullptr, &c.max_speed},
          {"accel_sigma", FieldType::number, nullptr, nullptr, &c.accel_sigma},
          {"max_rotation", FieldType::number, nullptr, nullptr, &c.max_rotation},
          {"max_scale_rate", FieldType::number, nullptr, nullptr, &c.max_scale_rate},
          {"bg_speed", FieldType::number, nullptr, nullptr, &c.bg_speed},
          {"bg_zoom", FieldType::number, nullptr, nullptr, &c.bg_zoom},
          {"noise_sigma", FieldType::number, nullptr, nullptr, &c.noise_sigma},
          {"write_flow", FieldType::boolean, nullptr, nullptr, nullptr, &c.write_flow}};
}

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Class styles: shape, texture kind, period (pixels), base orientation, colour pair (RGB).
struct ClassStyle {
  SynthShape shape;
  SynthTextureKind texture;
  double period;
  double angle;
  std::array<float, 3> c0, c1;
};
const ClassStyle kStyles[kSynthClasses] = {
    {SynthShape::ellipse, SynthTextureKind::stripes, 6.0, 0.5, {200, 40, 40}, {250, 150, 60}},
    {SynthShape::box, SynthTextureKind::checker, 7.0, 0.2, {40, 70, 200}, {90, 200, 230}},
    {SynthShape::triangle, SynthTextureKind::dots, 6.0, 0.0, {120, 100, 20}, {235, 215, 60}},
    {SynthShape::cross, SynthTextureKind::stripes, 3.5, -0.8, {190, 40, 170}, {250, 170, 220}},
    {SynthShape::ring, SynthTextureKind::checker, 4.0, 0.8, {30, 150, 50}, {225, 240, 225}},
    {SynthShape::star, SynthTextureKind::noise, 5.0, 0.0, {100, 40, 160}, {195, 165, 245}},
};
// Background colour pairs: earthy, greyish, away from the class colours.
const std::array<float, 3> kBackground[4][2] = {
    {{70, 70, 64}, {165, 155, 130}},
    {{60, 80, 85}, {150, 165, 160}},
    {{95, 75, 55}, {175, 160, 125}},
    {{55, 60, 70}, {140, 140, 150}},
};

std::array<float, 3> jitter(const std::array<float, 3>& c, double amount, Generator& g) {
  std::array<float, 3> out;
  for (int i = 0; i < 3; ++i)
    out[static_cast<size_t>(i)] = static_cast<float>(
        std::clamp(c[static_cast<size_t>(i)] + g.uniform(-amount, amount), 0.0, 255.0));
  return out;
}

// Extent of the instance's shape along the +x axis of a frame in which the shape sits at the
// origin with rotation phi: the largest x with (x, 0) inside, marched in 1/64 px steps.
double extent_along_x(const SynthInstance& inst, double phi, double direction) {
  const Affine2 local_inv = Affine2::similarity(1.0, phi, 0, 0).inverse();
  for (double r = inst.bound; r > 0; r -= 1.0 / 64) {
    double ox, oy;
    local_inv.apply(direction * r, 0, &ox, &oy);
    if (synth_inside(inst, ox, oy)) return r;
  }
  return 0;
}

// Rotations that turn a broad side of each shape towards +x (the left member of a touching
// pair) and towards -x (the right member), so the pair's contact is wider than a point.
std::pair<double, double> contact_rotations(SynthShape s) {
  switch (s) {
    case SynthShape::ellipse:
      return {kPi / 2, kPi / 2};
    case SynthShape::triangle:
      return {0.0, kPi};
    case SynthShape::star:
      return {kPi, 0.0};
    default:
      return {0.0, 0.0};
  }
}

// Smooth random similarity motion of one rigid group over `frames` frames: per-frame poses.
std::vector<Affine2> random_motion(const SynthConfig& cfg, Generator& g, double spread) {
  const double w = cfg.width, h = cfg.height;
  double cx = g.uniform(0.5 - spread, 0.5 + spread) * w;
  double cy = g.uniform(0.5 - spread, 0.5 + spread) * h;
  double theta = g.uniform(0, 2 * kPi), log_scale = 0;
  const double dir = g.uniform(0, 2 * kPi), speed = g.uniform(0.3, 1.0) * cfg.max_speed;
  double vx = speed * std::cos(dir), vy = speed * std::sin(dir);
  double omega = g.uniform(-cfg.max_rotation, cfg.max_rotation);
  double scale_rate = g.uniform(-cfg.max_scale_rate, cfg.max_scale_rate);
  std::vector<Affine2> poses;
  for (int t = 0; t < cfg.frames; ++t) {
    poses.push_back(Affine2::similarity(std::exp(log_scale), theta, cx, cy));
    // Small random acceleration plus a soft spring back into the central 60% of the frame.
    const double ax = cfg.accel_sigma * g.normal() + 0.08 * (std::clamp(cx, 0.2 * w, 0.8 * w) - cx);
    const double ay = cfg.accel_sigma * g.normal() + 0.08 * (std::clamp(cy, 0.2 * h, 0.8 * h) - cy);
    vx += ax;
    vy += ay;
    const double v = std::hypot(vx, vy);
    if (v > cfg.max_speed) {
      vx *= v > 0 ? cfg.max_speed / v : 0;
      vy *= v > 0 ? cfg.max_speed / v : 0;
    }
    omega = std::clamp(omega + 0.1 * cfg.max_rotation * g.normal(), -cfg.max_rotation,
                       cfg.max_rotation);
    scale_rate = std::clamp(scale_rate + 0.1 * cfg.max_scale_rate * g.normal(), -cfg.max_scale_rate,
                            cfg.max_scale_rate);
    if (log_scale > std::log(1.25)) scale_rate = -std::fabs(scale_rate);
    if (log_scale < std::log(0.8)) scale_rate = std::fabs(scale_rate);
    cx += vx;
    cy += vy;
    theta += omega;
    log_scale += scale_rate;
  }
  return poses;
}

SynthInstance make_instance(const SynthConfig& cfg, int cls, double size_factor,
                            const SynthTexture& background, Generator& g) {
  const ClassStyle& st = kStyles[cls];
  SynthInstance inst;
  inst.class_id = cls;
  inst.shape = st.shape;
  inst.radius =
      size_factor * g.uniform(cfg.min_radius, cfg.max_radius) * std::min(cfg.width, cfg.height);
  inst.aspect = g.uniform(0.55, 0.85);
  const double r = inst.radius;
  switch (inst.shape) {
    case SynthShape::box:
      inst.bound = r * std::sqrt(1 + inst.aspect * inst.aspect);
      break;
    case SynthShape::cross:
      inst.bound = r * std::sqrt(1 + 0.34 * 0.34);
      break;
    case SynthShape::triangle:
      inst.bound = r * 1.0;
      break;  // circumradius r
    default:
      inst.bound = r;
  }
  inst.bound += 1e-6;
  SynthTexture& tex = inst.texture;
  tex.kind = st.texture;
  tex.period = st.period * g.uniform(0.9, 1.1);
  tex.angle = st.angle + g.uniform(-0.25, 0.25);
  tex.offset_x = g.uniform(0, 100);
  tex.offset_y = g.uniform(0, 100);
  tex.color0 = jitter(st.c0, 12, g);
  tex.color1 = jitter(st.c1, 12, g);
  tex.seed = static_cast<uint32_t>(g.next());
  tex.detail = 0.15f;
  // Drawn for every instance (so camouflage does not shift the random stream of the others).
  const double camo_draw = g.uniform(0, 1);
  const double camo_dx = g.uniform(0, 200), camo_dy = g.uniform(0, 200);
  if (camo_draw < cfg.camouflage) {
    inst.camouflaged = true;
    tex = background;  // same texture function, period and colours
    tex.offset_x += camo_dx;
    tex.offset_y += camo_dy;
  }
  return inst;
}

}  // namespace

const char* synth_class_name(int cls) {
  static const char* names[kSynthClasses] = {"ellipse", "box", "triangle", "cross", "ring", "star"};
  WSVIS_CHECK(cls >= 0 && cls < kSynthClasses, "synth_class_name: class ", cls, " out of range");
  return names[cls];
}

bool SynthConfig::operator==(const SynthConfig& o) const {
  SynthConfig a = *this, b = o;
  const std::vector<Field> fa = fields(a), fb = fields(b);
  for (size_t i = 0; i < fa.size(); ++i) {
    if (fa[i].i && *fa[i].i != *fb[i].i) return false;
    if (fa[i].u && *fa[i].u != *fb[i].u) return false;
    if (fa[i].d && *fa[i].d != *fb[i].d) return false;
    if (fa[i].b && *fa[i].b != *fb[i].b) return false;
  }
  return true;
}

void validate_synth_config(const SynthConfig& c, const std::string& source) {
  auto bad = [&](const char* field, const std::string& what) {
    throw InputError(source + ": " + field + " " + what);
  };
  auto in_range = [&](const char* field, double v, double lo, double hi) {
    if (!(v >= lo && v <= hi))
      bad(field, detail::concat("must be in [", lo, ", ", hi, "], got ", v));
  };
  in_range("videos", c.videos, 1, 100000);
  in_range("frames", c.frames, 1, 10000);
  in_range("width", c.width, 16, 4096);
  in_range("height", c.height, 16, 4096);
  in_range("classes", c.classes, 1, kSynthClasses);
  in_range("min_instances", c.min_instances, 1, 4);
  in_range("max_instances", c.max_instances, 1, 4);
  if (c.min_instances > c.max_instances)
    bad("min_instances",
        detail::concat("(", c.min_instances, ") exceeds max_instances (", c.max_instances, ")"));
  in_range("camouflage", c.camouflage, 0, 1);
  in_range("touching", c.touching, 0, 1);
  if (c.touching > 0 && c.max_instances < 2)
    bad("touching", "needs max_instances >= 2 (a touching pair is two instances)");
  in_range("min_radius", c.min_radius, 0.02, 0.45);
  in_range("max_radius", c.max_radius, 0.02, 0.45);
  if (c.min_radius > c.max_radius) bad("min_radius", "exceeds max_radius");
  in_range("max_speed", c.max_speed, 0, 50);
  in_range("accel_sigma", c.accel_sigma, 0, 10);
  in_range("max_rotation", c.max_rotation, 0, 1);
  in_range("max_scale_rate", c.max_scale_rate, 0, 0.2);
  in_range("bg_speed", c.bg_speed, 0, 50);
  in_range("bg_zoom", c.bg_zoom, 0, 0.1);
  in_range("noise_sigma", c.noise_sigma, 0, 64);
}

SynthConfig synth_config_from_json_text(const std::string& text, const std::string& source) {
  json::Json j;
  try {
    j = json::Json::parse(text);
  } catch (const json::Json::parse_error& e) {
    std::string what = e.what();
    const size_t pos = what.find("] ");
    if (pos != std::string::npos) what = what.substr(pos + 2);
    throw InputError(source + ": malformed JSON: " + what);
  }
  const json::Where top(source);
  json::require_object(j, top);
  SynthConfig c;
  std::vector<Field> fs = fields(c);
  for (auto it = j.begin(); it != j.end(); ++it) {
    const json::Where w = top.key(it.key());
    auto f = std::find_if(fs.begin(), fs.end(), [&](const Field& x) { return it.key() == x.name; });
    if (f == fs.end()) w.fail("is not a synth option (misspelt?)");
    switch (f->type) {
      case FieldType::integer:
        *f->i = json::get_int32(*it, w);
        break;
      case FieldType::seed: {
        const int64_t s = json::get_int(*it, w);
        if (s < 0) w.fail("must be >= 0, got " + it->dump());
        *f->u = static_cast<uint64_t>(s);
        break;
      }
      case FieldType::number:
        *f->d = json::get_number(*it, w);
        break;
      case FieldType::boolean:
        if (!it->is_boolean()) w.fail("must be true or false, got " + json::describe(*it));
        *f->b = it->get<bool>();
        break;
    }
  }
  validate_synth_config(c, source);
  return c;
}

SynthConfig read_synth_config(const std::string& path) {
  return synth_config_from_json_text(read_file_bytes(path), path);
}

std::string synth_config_to_json(const SynthConfig& config) {
  SynthConfig c = config;
  json::Json j = json::Json::object();
  for (const Field& f : fields(c)) {
    if (f.i) j[f.name] = *f.i;
    if (f.u) j[f.name] = *f.u;
    if (f.d) j[f.name] = *f.d;
    if (f.b) j[f.name] = *f.b;
  }
  return j.dump(2) + "\n";
}

// ---- the scene of one video ------------------------------------------------------------------
SynthScene make_synth_scene(const SynthConfig& cfg, int index) {
  validate_synth_config(cfg, "synth config");
  WSVIS_CHECK(index >= 0, "make_synth_scene: negative video index ", index);
  Generator g(splitmix64(splitmix64(cfg.seed) ^ (0x5851F42D4C957F2Dull * (uint64_t(index) + 1))));
  SynthScene s;
  s.width = cfg.width;
  s.height = cfg.height;
  s.frames = cfg.frames;
  s.id = index + 1;
  char name[32];
  std::snprintf(name, sizeof(name), "synth%04d", index + 1);
  s.name = name;
  s.noise_seed = g.next();
  s.noise_sigma = cfg.noise_sigma;

  // Background: two-octave value noise in an earthy colour pair; pans and zooms about the
  // frame centre: p = C + z^t (q - C) + t v.
  const int palette = static_cast<int>(g.randint(0, 4));
  s.background.kind = SynthTextureKind::noise;
  s.background.period = g.uniform(5.0, 7.0);
  s.background.angle = 0;
  s.background.offset_x = g.uniform(0, 1000);
  s.background.offset_y = g.uniform(0, 1000);
  s.background.color0 = jitter(kBackground[palette][0], 10, g);
  s.background.color1 = jitter(kBackground[palette][1], 10, g);
  s.background.seed = static_cast<uint32_t>(g.next());
  s.background.detail = 0.15f;
  const double bg_dir = g.uniform(0, 2 * kPi), bg_speed = g.uniform(0.3, 1.0) * cfg.bg_speed;
  const double zoom_rate = g.uniform(-cfg.bg_zoom, cfg.bg_zoom);
  const double cx = 0.5 * (cfg.width - 1), cy = 0.5 * (cfg.height - 1);
  for (int t = 0; t < cfg.frames; ++t) {
    const double z = std::pow(1.0 + zoom_rate, t);
    Affine2 p = Affine2::similarity(z, 0, cx * (1 - z) + t * bg_speed * std::cos(bg_dir),
                                    cy * (1 - z) + t * bg_speed * std::sin(bg_dir));
    s.background_pose.push_back(p);
  }

  // Instances, front-most first. A touching pair, when drawn, is instances 0 and 1.
  int n = static_cast<int>(g.randint(cfg.min_instances, cfg.max_instances + 1));
  const bool touching = g.uniform(0, 1) < cfg.touching && cfg.max_instances >= 2;
  if (touching) n = std::max(n, 2);
  std::vector<int> classes(static_cast<size_t>(n));
  for (int& c : classes) c = static_cast<int>(g.randint(0, cfg.classes));
  if (touching) classes[1] = classes[0];
  for (int k = 0; k < n; ++k)
    s.instances.push_back(make_instance(cfg, classes[static_cast<size_t>(k)],
                                        touching && k < 2 ? 0.75 : 1.0, s.background, g));
  int k0 = 0;
  if (touching) {
    // One rigid motion for the pair; member 0 on the left, member 1 on the right of the
    // group's x axis, broad sides facing, overlapping by one pixel along the axis: the front
    // one hides a one-pixel band of the other, so their masks share a border in every frame.
    SynthInstance& a = s.instances[0];
    SynthInstance& b = s.instances[1];
    a.touching = 1;
    b.touching = 0;
    const double phi_a = contact_rotations(a.shape).first;  // same shape: one pair of angles
    const double phi_b = contact_rotations(b.shape).second;
    const double ea = extent_along_x(a, phi_a, +1), eb = extent_along_x(b, phi_b, -1);
    const double overlap = 1.0;
    const Affine2 la = Affine2::similarity(1, phi_a, -ea + overlap / 2, 0);
    const Affine2 lb = Affine2::similarity(1, phi_b, eb - overlap / 2, 0);
    for (const Affine2& group : random_motion(cfg, g, 0.15)) {
      a.pose.push_back(group.compose(la));
      b.pose.push_back(group.compose(lb));
    }
    k0 = 2;
  }
  for (int k = k0; k < n; ++k)
    s.instances[static_cast<size_t>(k)].pose = random_motion(cfg, g, 0.3);
  return s;
}

}  // namespace wsvis::data
