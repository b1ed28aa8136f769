// `wsvis split --gt DIR/train.json [--per-category N] [--seed S]`: the paper's held-out split
// of a YouTube-VIS train set (data/split.h): writes DIR/train_train.json and
// DIR/train_val.json beside it, which configs/ytvis_*.json name as data and val.
#pragma once

#include <string>
#include <vector>

namespace wsvis::apps {

int run_split(const std::vector<std::string>& args);

}  // namespace wsvis::apps
