#include "apps/import_cmd.h"

#include <cstdio>

#include "data/davis_import.h"
#include "engine/error.h"

namespace wsvis::apps {

namespace {

[[noreturn]] void bad(const std::string& what) { throw InputError("import-davis: " + what); }

data::DavisImportOptions parse(const std::vector<std::string>& args) {
  data::DavisImportOptions o;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> const std::string& {
      if (i + 1 >= args.size() || args[i + 1].empty()) bad(a + " needs a non-empty value");
      return args[++i];
    };
    if (a == "--frames") o.frames_dir = value();
    else if (a == "--masks") o.masks_dir = value();
    else if (a == "--out") o.out_dir = value();
    else if (a == "--video") o.video = value();
    else if (a == "--category") o.category = value();
    else if (a == "--binary") o.binary = true;
    else
      bad("unknown option '" + a + "' (usage: wsvis import-davis --frames DIR --masks DIR "
          "--out DIR [--video NAME] [--category NAME] [--binary])");
  }
  if (o.frames_dir.empty()) bad("--frames DIR is required");
  if (o.masks_dir.empty()) bad("--masks DIR is required");
  if (o.out_dir.empty()) bad("--out DIR is required");
  return o;
}

}  // namespace

int run_import_davis(const std::vector<std::string>& args) {
  const data::DavisImportOptions o = parse(args);
  const data::DavisImportStats s = data::import_davis(o);
  std::printf("wsvis import-davis: %s: %d frames of %dx%d, %d object(s) (%s masks) -> %s/train.json\n",
              s.video.c_str(), s.frames, s.width, s.height, s.objects,
              o.binary ? "binary" : "index", o.out_dir.c_str());
  std::printf("  read and checked in %.2f s; %.1f MB of frames copied and train.json written in %.2f s\n",
              s.read_seconds, static_cast<double>(s.bytes_copied) / 1e6, s.write_seconds);
  std::printf("  flow: python3 scripts/compute_flow.py %s/JPEGImages %s/flow\n", o.out_dir.c_str(),
              o.out_dir.c_str());
  return 0;
}

}  // namespace wsvis::apps
