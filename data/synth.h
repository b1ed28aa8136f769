// Synthetic videos with exact ground truth: the project's embedded default dataset for demos
// and tests (`wsvis synth`).
//
// A video is a textured background plane that pans (and zooms slightly) and 1-4 instances,
// each an analytic shape of its class carrying its class's procedural texture, moving with a
// smooth random similarity motion (translation, rotation, scale: constant velocities with
// small random accelerations and a soft pull back into the frame), in a fixed depth order.
//   classes (category id = class + 1): 1 ellipse (stripes), 2 box (rounded rectangle,
//   checker), 3 triangle (dots), 4 cross (fine diagonal stripes), 5 ring (checker, the hole
//   shows what is behind), 6 star (value noise), each with its own colour pair.
// Two cases the weakly supervised methods care about:
//   - touching pairs (IRN's hard case): in a share of videos two instances of the same class
//     ride one rigid motion side by side with their shapes overlapping by one pixel, so
//     their masks are adjacent in every frame; the pair is in front of the other instances;
//   - camouflaged instances (the motion-aided BoxInst case): they carry the BACKGROUND's
//     texture function and colours (at a random offset, in their own moving frame), so in one
//     frame their colours are distributed as the background's and only motion reveals them.
//
// Geometry is exact. Pixel (x, y) is the point (x, y) of the image plane (pixel centres at
// integer coordinates, the convention of kernels/warp.h). Its colour, its instance label and
// its flow all come from the front-most surface at that point: instance shapes are tested
// analytically under the inverse of their pose, and textures are evaluated in the surface's
// own frame, so texture moves with the surface. No anti-aliasing: masks and colours agree
// pixel for pixel. Mild per-pixel noise (config noise_sigma) is added to colours only.
//
// Flow: for pixel p of frame t with front surface S, forward flow = A_S(t+1)(A_S(t)^-1 p) - p
// (where that surface point is at t+1), backward flow = A_S(t-1)(A_S(t)^-1 p) - p. This is
// the exact motion of the visible surface, also where that point becomes hidden at the next
// frame. Consequently, warping frame t's masks with the flow of the TARGET frame (sampling
// the source at p + flow(p)) reproduces the target's masks exactly wherever the visible
// surface point was also visible in the source (up to the sampling of a boundary between
// pixel centres); it differs at disocclusions (the surface was hidden in the source frame)
// and, by sampling, within a pixel of a boundary. So: frame t+1's masks from frame t's with
// the backward flow stored at t+1 (t+1 -> t); frame t's from frame t+1's with the forward
// flow stored at t. (tests/data/test_synth.cpp: 97-98% of pixels land on their own label
// with nearest-neighbour sampling, ~2% are disoccluded, the rest lie within a pixel of a
// boundary.)
//
// Output layout (write_synth_dataset):
//   <out>/JPEGImages/<video>/<frame>.png   frames, RGB PNG (lossless); <video> = "synthNNNN",
//                                          <frame> = "00000", "00001", ...
//   <out>/flow/<video>/<frame>_fw.flo      flow frame t -> t+1, stored at t (t = 0..T-2)
//   <out>/flow/<video>/<frame>_bw.flo      flow frame t -> t-1, stored at t (t = 1..T-1)
//   <out>/train.json                       YouTube-VIS 2019 JSON, RLE masks (uncompressed
//                                          counts lists, as YTVIS train GT), boxes, areas;
//                                          null where an instance is not visible
//   <out>/synth_config.json, README.txt    the configuration used and a description
//   <out>/attributes.json                  {"camouflaged": [annotation ids], "touching": [...]}:
//                                          the instances of each hard case, for subset AP
// Every file is written atomically (temp + rename) and train.json last, so a run that stops
// early leaves no half-written file and no JSON pointing at missing frames.
// Determinism: video i depends only on (seed, i) and the geometry/texture parameters, not on
// the number of videos; the same configuration gives byte-identical files with the same build
// (across platforms, std::normal_distribution and the maths library's sin/exp are not pinned).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "data/flow_io.h"
#include "data/image_io.h"
#include "data/ytvis.h"

namespace wsvis::data {

constexpr int kSynthClasses = 6;
enum class SynthShape { ellipse = 0, box = 1, triangle = 2, cross = 3, ring = 4, star = 5 };
// "ellipse", "box", "triangle", "cross", "ring", "star".
const char* synth_class_name(int cls);

// The defaults here are the embedded default configuration; configs/synth_default.json holds
// the same values (a test keeps them equal).
struct SynthConfig {
  int videos = 8;
  int frames = 12;
  int width = 128;
  int height = 128;
  uint64_t seed = 1;
  int classes = kSynthClasses;  // the first `classes` shape families are used (1..6)
  int min_instances = 1;
  int max_instances = 4;
  double camouflage = 0.15;  // probability that an instance is camouflaged
  double touching = 0.25;    // share of videos with a touching same-class pair
  double min_radius = 0.10;  // instance size, fraction of min(width, height)
  double max_radius = 0.20;
  double max_speed = 2.0;         // instance translation, pixels per frame
  double accel_sigma = 0.15;      // random acceleration, pixels per frame^2
  double max_rotation = 0.06;     // radians per frame
  double max_scale_rate = 0.015;  // relative scale change per frame
  double bg_speed = 1.5;          // background pan, pixels per frame
  double bg_zoom = 0.004;         // background zoom, relative per frame
  double noise_sigma = 2.0;       // per-pixel colour noise (0..255 levels), 0 = none
  bool write_flow = true;

  bool operator==(const SynthConfig& o) const;
  bool operator!=(const SynthConfig& o) const { return !(*this == o); }
};

// InputError naming `source` and the field unless every value is in range.
void validate_synth_config(const SynthConfig& config, const std::string& source);
// JSON object with any subset of the fields above (others keep their defaults); unknown keys,
// wrong types and out-of-range values throw InputError naming the file and the key.
SynthConfig synth_config_from_json_text(const std::string& text, const std::string& source);
SynthConfig read_synth_config(const std::string& path);
std::string synth_config_to_json(const SynthConfig& config);  // pretty-printed, all fields

// A 2-D affine map p' = (a*x + b*y + tx, c*x + d*y + ty).
struct Affine2 {
  double a = 1, b = 0, c = 0, d = 1, tx = 0, ty = 0;
  void apply(double x, double y, double* ox, double* oy) const {
    *ox = a * x + b * y + tx;
    *oy = c * x + d * y + ty;
  }
  Affine2 inverse() const;
  // (*this)(other(p)).
  Affine2 compose(const Affine2& other) const;
  // Scale s, rotation theta (radians, counter-clockwise in (x right, y down) image terms:
  // x' = s(cos x - sin y)), then translation.
  static Affine2 similarity(double s, double theta, double tx, double ty);
};

enum class SynthTextureKind { stripes, checker, dots, noise };

// A procedural texture, evaluated in its surface's own frame (pixel units at scale 1).
struct SynthTexture {
  SynthTextureKind kind = SynthTextureKind::noise;
  double period = 8;                  // pixels per cycle / cell
  double angle = 0;                   // orientation of stripes, checker and dot lattices
  double offset_x = 0, offset_y = 0;  // texture-space shift (a per-instance phase)
  std::array<float, 3> color0{}, color1{};
  uint32_t seed = 0;     // for the value noise
  float detail = 0.15f;  // amplitude of the fine value-noise modulation
};

struct SynthInstance {
  int class_id = 0;  // 0-based; YTVIS category id = class_id + 1
  SynthShape shape = SynthShape::ellipse;
  double radius = 10;   // shape size in its own frame, pixels
  double aspect = 0.7;  // minor / major extent (ellipse, box)
  double bound = 10;    // radius of a disc around the origin holding the shape
  SynthTexture texture;
  bool camouflaged = false;   // texture is the background's (colours and function)
  int touching = -1;          // index of the same-class instance it touches, or -1
  std::vector<Affine2> pose;  // per frame: object frame -> image
};

struct SynthScene {
  int width = 0, height = 0, frames = 0;
  std::string name;  // "synth0001"
  int64_t id = 0;    // YTVIS video id (1-based)
  SynthTexture background;
  std::vector<Affine2> background_pose;  // per frame: background plane -> image
  // Front-most first: instances[0] occludes all others. Labels below are 1 + index here.
  std::vector<SynthInstance> instances;
  uint64_t noise_seed = 0;
  double noise_sigma = 0;
};

// Video `index` (0-based) of the set `config` describes; depends only on the config's seed,
// size, frame count and motion/texture parameters, and on index.
SynthScene make_synth_scene(const SynthConfig& config, int index);

// Label of the front-most surface at the continuous image point (x, y) of frame t:
// 0 background, k + 1 instance k. The renderer uses exactly this test at pixel centres.
int synth_surface_at(const SynthScene& scene, int t, double x, double y);
// Whether (x, y) in instance k's own frame is inside its shape.
bool synth_inside(const SynthInstance& instance, double x, double y);

struct SynthFrame {
  Image image;                  // (H, W, 3) RGB
  std::vector<uint8_t> labels;  // (H, W): 0 background, k + 1 instance k (front-most)
  Flow forward;                 // t -> t+1; empty (0x0) for the last frame or without flow
  Flow backward;                // t -> t-1; empty for frame 0 or without flow
};
SynthFrame render_synth_frame(const SynthScene& scene, int t, bool with_flow = true);

// (H, W) 0/1 mask of instance k at frame t: visible (occlusion applied) = labels == k + 1,
// or amodal (the whole shape, ignoring the other instances; for tests).
std::vector<uint8_t> synth_instance_mask(const SynthFrame& frame, int k);
std::vector<uint8_t> synth_amodal_mask(const SynthScene& scene, int k, int t);

// The YTVIS video and annotations (ids from first_annotation_id) of one rendered video.
void synth_annotate(const SynthScene& scene, const std::vector<SynthFrame>& frames,
                    int64_t first_annotation_id, YtvisVideo* video,
                    std::vector<YtvisAnnotation>* annotations);
std::vector<Category> synth_categories(int classes);

struct SynthWriteStats {
  int videos = 0, frames = 0, instances = 0, camouflaged = 0, touching_pairs = 0;
  double render_seconds = 0;  // CPU time of generating scenes, frames, flow, masks, RLEs
                              // (one thread; the files are written by others)
  double total_seconds = 0;   // the whole run, wall clock: generation on this thread, PNG and
                              // .flo encoding and writing on 8 writer threads, then the JSON
};
// The arguments of `wsvis synth` (after the command word):
//   --out DIR [--videos N] [--frames T] [--size WxH] [--seed S] [--camouflage FRACTION]
//   [--touching FRACTION] [--config FILE]
// --config is read first; the other flags override it whatever their order. Unknown options,
// missing values and bad numbers throw InputError naming the flag and the value.
struct SynthArgs {
  std::string out;
  SynthConfig config;
};
SynthArgs parse_synth_args(const std::vector<std::string>& args);

// Writes the set to out_dir (created if needed) in the layout above. Throws InputError when
// the directory or a file cannot be written.
SynthWriteStats write_synth_dataset(const SynthConfig& config, const std::string& out_dir);

}  // namespace wsvis::data
