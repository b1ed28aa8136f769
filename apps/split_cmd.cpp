#include "apps/split_cmd.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "data/split.h"
#include "engine/error.h"

namespace wsvis::apps {

int run_split(const std::vector<std::string>& args) {
  std::string gt;
  long per_category = 10, seed = 0;
  for (size_t i = 0; i < args.size(); ++i) {
    auto number = [&](const char* flag, long min) {
      if (i + 1 >= args.size()) throw InputError(std::string("split: ") + flag + " needs a value");
      const std::string v = args[++i];
      char* end = nullptr;
      const long x = std::strtol(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || x < min)
        throw InputError(std::string("split: ") + flag + " must be an integer >= " + std::to_string(min) +
                         ", got '" + v + "'");
      return x;
    };
    if (args[i] == "--gt" && i + 1 < args.size()) gt = args[++i];
    else if (args[i] == "--per-category") per_category = number("--per-category", 1);
    else if (args[i] == "--seed") seed = number("--seed", 0);
    else throw InputError("split: unexpected argument '" + args[i] +
                          "' (usage: wsvis split --gt DIR/train.json [--per-category N] [--seed S])");
  }
  if (gt.empty()) throw InputError("split: --gt FILE is required");
  const data::YtvisSplit split =
      data::split_train_val(data::read_ytvis(gt), static_cast<int>(per_category), static_cast<uint64_t>(seed));
  const std::string dir = std::filesystem::path(gt).parent_path().string();
  data::write_split(split, dir.empty() ? "." : dir);
  std::printf("wsvis split: %zu training and %zu held-out videos in %s/train_train.json and train_val.json\n",
              split.train_train.videos.size(), split.train_val.videos.size(), dir.empty() ? "." : dir.c_str());
  return 0;
}

}  // namespace wsvis::apps
