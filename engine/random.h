// An explicit random generator: every random draw takes one, so a seed pins a whole run.
#pragma once

#include <cstdint>
#include <random>

namespace wsvis {

class Generator {
 public:
  explicit Generator(uint64_t seed = 0) : engine_(seed) {}
  double normal() { return normal_(engine_); }
  double uniform(double lo, double hi) { return lo + (hi - lo) * unit_(engine_); }
  int64_t randint(int64_t lo, int64_t hi_exclusive) {
    return lo + static_cast<int64_t>(engine_() % static_cast<uint64_t>(hi_exclusive - lo));
  }
  uint64_t next() { return engine_(); }
  std::mt19937_64& engine() { return engine_; }

 private:
  std::mt19937_64 engine_;
  std::normal_distribution<double> normal_{0.0, 1.0};
  std::uniform_real_distribution<double> unit_{0.0, 1.0};
};

}  // namespace wsvis
