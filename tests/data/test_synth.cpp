// The synthetic video generator (data/synth.h, `wsvis synth`): configuration, determinism,
// the written set against the in-memory generation, and CLI errors. The scenes themselves
// (flow against masks, camouflage, touching pairs): test_synth_scenes.cpp.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "data/file_util.h"
#include "data/synth.h"
#include "data/ytvis.h"
#include "engine/error.h"
#include "tests/data/data_paths.h"

namespace wsvis::data {
namespace {

using testing::ScratchDir;

// configs/synth_default.json: found from this file's path (absolute, or relative to the build
// directory when ccache rewrites it) or from the working directory and its parents.
std::string default_config_path() {
  std::vector<std::string> bases;
  std::string here = __FILE__;  // <repo>/tests/data/test_synth.cpp
  for (int up = 0; up < 3; ++up) {
    const size_t slash = here.find_last_of('/');
    here = slash == std::string::npos ? "." : here.substr(0, slash);
  }
  bases.push_back(here);
  std::filesystem::path dir = std::filesystem::current_path();
  for (int up = 0; up < 4; ++up, dir = dir.parent_path()) bases.push_back(dir.string());
  for (const std::string& b : bases)
    if (file_exists(b + "/configs/synth_default.json")) return b + "/configs/synth_default.json";
  return "";
}

// Every regular file under dir, relative path -> bytes.
std::map<std::string, std::string> read_tree(const std::string& dir) {
  std::map<std::string, std::string> files;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir))
    if (e.is_regular_file())
      files[std::filesystem::relative(e.path(), dir).string()] =
          testing::read_all(e.path().string());
  return files;
}

SynthConfig small_config() {
  SynthConfig c;
  c.videos = 3;
  c.frames = 4;
  c.width = 80;
  c.height = 64;
  c.seed = 7;
  c.camouflage = 0.3;
  c.touching = 0.5;
  return c;
}

// ---- configuration --------------------------------------------------------------------------
TEST(SynthConfig, EmbeddedDefaultsEqualTheConfigFile) {
  const std::string path = default_config_path();
  ASSERT_FALSE(path.empty()) << "configs/synth_default.json not found from " << __FILE__
                             << " or the working directory";
  EXPECT_TRUE(read_synth_config(path) == SynthConfig{})
      << "configs/synth_default.json and the defaults in data/synth.h differ:\n"
      << synth_config_to_json(read_synth_config(path)) << "vs\n"
      << synth_config_to_json({});
  const SynthConfig c = small_config();
  EXPECT_TRUE(synth_config_from_json_text(synth_config_to_json(c), "x.json") == c);
}

TEST(SynthConfig, BadValuesNameTheFileAndKey) {
  EXPECT_INPUT_ERROR(synth_config_from_json_text("{\"vidoes\": 3}", "c.json"), "c.json", "vidoes");
  EXPECT_INPUT_ERROR(synth_config_from_json_text("{\"frames\": \"3\"}", "c.json"), "frames");
  EXPECT_INPUT_ERROR(synth_config_from_json_text("{\"camouflage\": 1.5}", "c.json"), "camouflage");
  EXPECT_INPUT_ERROR(synth_config_from_json_text("{\"write_flow\": 1}", "c.json"), "write_flow");
  EXPECT_INPUT_ERROR(synth_config_from_json_text("[1, 2]", "c.json"), "c.json", "object");
  EXPECT_INPUT_ERROR(synth_config_from_json_text("{\"seed\": 1,", "c.json"), "c.json", "malformed");
  EXPECT_INPUT_ERROR(
      synth_config_from_json_text("{\"min_instances\": 3, \"max_instances\": 2}", "c.json"),
      "min_instances");
  EXPECT_INPUT_ERROR(synth_config_from_json_text("{\"max_instances\": 1}", "c.json"), "touching");
  EXPECT_INPUT_ERROR(read_synth_config("/nonexistent/synth.json"), "/nonexistent/synth.json");
}

// ---- determinism ----------------------------------------------------------------------------
TEST(Synth, SameSeedGivesByteIdenticalFiles) {
  ScratchDir a, b, c;
  SynthConfig cfg = small_config();
  write_synth_dataset(cfg, a.path());
  write_synth_dataset(cfg, b.path());
  const auto ta = read_tree(a.path()), tb = read_tree(b.path());
  ASSERT_EQ(ta.size(), tb.size());
  for (const auto& [name, bytes] : ta) {
    ASSERT_TRUE(tb.count(name)) << name;
    EXPECT_TRUE(bytes == tb.at(name)) << name << " differs between two runs with one seed";
    EXPECT_EQ(name.find(".tmp"), std::string::npos) << "temporary file left: " << name;
  }
  cfg.seed = 8;
  write_synth_dataset(cfg, c.path());
  EXPECT_NE(read_tree(c.path()).at("train.json"), ta.at("train.json"));
}

TEST(Synth, VideoDependsOnlyOnSeedAndIndex) {
  SynthConfig few = small_config(), many = small_config();
  many.videos = 50;
  const SynthFrame f1 = render_synth_frame(make_synth_scene(few, 2), 1);
  const SynthFrame f2 = render_synth_frame(make_synth_scene(many, 2), 1);
  EXPECT_EQ(f1.image.data, f2.image.data);
  EXPECT_EQ(f1.forward.uv, f2.forward.uv);
}

// ---- the written set loads back and equals the in-memory generation -------------------------
TEST(Synth, OutputLoadsBackAndAgreesWithGeneration) {
  ScratchDir dir;
  const SynthConfig cfg = small_config();
  const SynthWriteStats stats = write_synth_dataset(cfg, dir.path());
  EXPECT_EQ(stats.frames, cfg.videos * cfg.frames);
  const YtvisDataset ds = read_ytvis(dir.file("train.json"));
  ASSERT_EQ(ds.videos.size(), static_cast<size_t>(cfg.videos));
  ASSERT_EQ(ds.categories.size(), static_cast<size_t>(kSynthClasses));
  EXPECT_EQ(ds.categories[5].name, "star");
  EXPECT_TRUE(file_exists(dir.file("README.txt")));
  EXPECT_TRUE(read_synth_config(dir.file("synth_config.json")) == cfg);
  // attributes.json lists the annotation ids of the camouflaged and touching instances.
  const nlohmann::json attributes = nlohmann::json::parse(read_file_bytes(dir.file("attributes.json")));
  std::set<int64_t> camouflaged, touching;
  size_t ann = 0;
  for (int i = 0; i < cfg.videos; ++i) {
    const SynthScene scene = make_synth_scene(cfg, i);
    for (size_t k = 0; k < scene.instances.size(); ++k) {
      if (scene.instances[k].camouflaged) camouflaged.insert(ds.annotations[ann + k].id);
      if (scene.instances[k].touching >= 0) touching.insert(ds.annotations[ann + k].id);
    }
    const YtvisVideo& v = ds.videos[static_cast<size_t>(i)];
    EXPECT_EQ(v.id, i + 1);
    EXPECT_EQ(v.width, cfg.width);
    EXPECT_EQ(v.height, cfg.height);
    ASSERT_EQ(v.length, cfg.frames);
    for (int t = 0; t < cfg.frames; ++t) {
      const SynthFrame f = render_synth_frame(scene, t);
      char frame_name[16];
      std::snprintf(frame_name, sizeof(frame_name), "%05d", t);
      const std::string stem = scene.name + "/" + frame_name;  // "synth0001/00003"
      EXPECT_EQ(v.file_names[static_cast<size_t>(t)], stem + ".png");
      const Image img = read_image(dir.file("JPEGImages/" + v.file_names[static_cast<size_t>(t)]));
      EXPECT_EQ(img.data, f.image.data) << "frame " << t << " of " << scene.name;
      const std::string flow_base = dir.file("flow/" + stem);
      if (t + 1 < cfg.frames)
        EXPECT_EQ(read_flo(flow_base + "_fw.flo").uv, f.forward.uv);
      else
        EXPECT_FALSE(file_exists(flow_base + "_fw.flo"));
      if (t > 0)
        EXPECT_EQ(read_flo(flow_base + "_bw.flo").uv, f.backward.uv);
      else
        EXPECT_FALSE(file_exists(flow_base + "_bw.flo"));
      for (size_t k = 0; k < scene.instances.size(); ++k) {
        const YtvisAnnotation& a = ds.annotations[ann + k];
        EXPECT_EQ(a.video_id, v.id);
        EXPECT_EQ(a.category_id, scene.instances[k].class_id + 1);
        const std::vector<uint8_t> mask = synth_instance_mask(f, static_cast<int>(k));
        const Rle rle = rle_encode(mask, cfg.height, cfg.width);
        const auto& seg = a.segmentations[static_cast<size_t>(t)];
        if (rle_area(rle) == 0) {
          EXPECT_FALSE(seg.has_value());
          EXPECT_FALSE(a.areas[static_cast<size_t>(t)].has_value());
          continue;
        }
        ASSERT_TRUE(seg.has_value());
        EXPECT_EQ(seg->to_rle(cfg.height, cfg.width), rle);
        EXPECT_EQ(*a.areas[static_cast<size_t>(t)], static_cast<double>(rle_area(rle)));
        EXPECT_EQ(*a.bboxes[static_cast<size_t>(t)], rle_to_bbox(rle));
      }
    }
    ann += scene.instances.size();
  }
  EXPECT_EQ(ds.annotations.size(), ann);
  EXPECT_EQ(attributes["camouflaged"].get<std::set<int64_t>>(), camouflaged);
  EXPECT_EQ(attributes["touching"].get<std::set<int64_t>>(), touching);
}


// ---- the command line -------------------------------------------------------------------------
TEST(SynthCli, ParsesFlagsOverTheConfigFile) {
  ScratchDir dir;
  const std::string cfg_path = dir.write("c.json", "{\"videos\": 5, \"frames\": 3, \"seed\": 4}");
  const SynthArgs o =
      parse_synth_args({"--frames", "7", "--out", dir.file("out"), "--config", cfg_path, "--size",
                        "96x64", "--camouflage", "0.5", "--touching", "0", "--seed", "9"});
  EXPECT_EQ(o.out, dir.file("out"));
  EXPECT_EQ(o.config.videos, 5);
  EXPECT_EQ(o.config.frames, 7);
  EXPECT_EQ(o.config.width, 96);
  EXPECT_EQ(o.config.height, 64);
  EXPECT_EQ(o.config.seed, 9u);
  EXPECT_EQ(o.config.camouflage, 0.5);
  EXPECT_EQ(o.config.touching, 0.0);
  EXPECT_TRUE(parse_synth_args({"--out", "x"}).config == SynthConfig{});
}

TEST(SynthCli, BadArgumentsAreInputErrorsNamingTheProblem) {
  EXPECT_INPUT_ERROR(parse_synth_args({}), "--out");
  EXPECT_INPUT_ERROR(parse_synth_args({"--videos", "3"}), "--out");
  EXPECT_INPUT_ERROR(parse_synth_args({"--out", "d", "--vidoes", "3"}), "unknown option",
                     "--vidoes");
  EXPECT_INPUT_ERROR(parse_synth_args({"--out", "d", "--videos"}), "--videos", "needs a value");
  EXPECT_INPUT_ERROR(parse_synth_args({"--out", "d", "--videos", "0"}), "--videos", "'0'");
  EXPECT_INPUT_ERROR(parse_synth_args({"--out", "d", "--videos", "3x"}), "--videos", "'3x'");
  EXPECT_INPUT_ERROR(parse_synth_args({"--out", "d", "--frames", "-2"}), "--frames");
  EXPECT_INPUT_ERROR(parse_synth_args({"--out", "d", "--seed", "-1"}), "--seed");
  EXPECT_INPUT_ERROR(parse_synth_args({"--out", "d", "--size", "128"}), "--size", "WxH");
  EXPECT_INPUT_ERROR(parse_synth_args({"--out", "d", "--size", "128x"}), "--size height");
  EXPECT_INPUT_ERROR(parse_synth_args({"--out", "d", "--size", "8x8"}), "--size width");
  EXPECT_INPUT_ERROR(parse_synth_args({"--out", "d", "--camouflage", "1.5"}), "--camouflage");
  EXPECT_INPUT_ERROR(parse_synth_args({"--out", "d", "--touching", "nan"}), "--touching");
  EXPECT_INPUT_ERROR(parse_synth_args({"--out", "d", "--config", "/nonexistent/c.json"}),
                     "/nonexistent/c.json");
  ScratchDir dir;
  const std::string bad = dir.write("bad.json", "{\"frames\": 0}");
  EXPECT_INPUT_ERROR(parse_synth_args({"--out", "d", "--config", bad}), bad, "frames");
  // An output path that is a file.
  const std::string file = dir.write("file", "x");
  SynthConfig c = small_config();
  c.videos = 1;
  EXPECT_INPUT_ERROR(write_synth_dataset(c, file), file, "not a directory");
}

// The real command: exit status 2 and the message on stderr for bad input, 0 and a complete
// set otherwise. The binary is <build>/apps/wsvis beside <build>/tests/ (skipped when the
// wsvis_cli target has not been built).
TEST(SynthCli, CommandExitsWithStatus2OnBadInput) {
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe");
  const std::string wsvis = (self.parent_path().parent_path() / "apps" / "wsvis").string();
  if (!file_exists(wsvis)) GTEST_SKIP() << wsvis << " not built (target wsvis_cli)";
  ScratchDir dir;
  auto run = [&](const std::string& args) {
    const int status = std::system(
        (wsvis + " synth " + args + " > " + dir.file("stdout") + " 2> " + dir.file("stderr"))
            .c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  };
  EXPECT_EQ(run("--out " + dir.file("a") + " --videos zero"), 2);
  EXPECT_NE(testing::read_all(dir.file("stderr")).find("--videos"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(dir.file("a")));
  EXPECT_EQ(run("--videos 2"), 2);
  EXPECT_NE(testing::read_all(dir.file("stderr")).find("--out"), std::string::npos);
  EXPECT_EQ(run("--out " + dir.file("b") + " --videos 2 --frames 3 --size 48x40 --seed 3"), 0);
  const YtvisDataset ds = read_ytvis(dir.file("b/train.json"));
  ASSERT_EQ(ds.videos.size(), 2u);
  EXPECT_EQ(ds.videos[0].width, 48);
  EXPECT_EQ(ds.videos[0].height, 40);
  EXPECT_NE(testing::read_all(dir.file("stdout")).find("frames/s"), std::string::npos);
}

}  // namespace
}  // namespace wsvis::data
