// The training batch of a given step from a data::PairLoader, for training loops that count
// steps across epochs (pipeline/train_loop.h): step s is batch s % B of epoch s / B (B batches
// per epoch). After a resume, the batches of the epoch before the resumed step are built and
// skipped: each depends only on (seed, epoch, index), so the run continues on the same data.
#pragma once

#include <cstdint>

#include "data/loader.h"

namespace wsvis::pipeline {

class PairBatches {
 public:
  explicit PairBatches(data::PairLoader& loader);  // loader must outlive this
  int64_t batches_per_epoch() const { return per_epoch_; }
  // The batch of training step `step` into *batch.
  void at(int64_t step, data::PairBatch* batch);

 private:
  data::PairLoader& loader_;
  int64_t per_epoch_;
  int64_t epoch_ = -1, next_ = 0;
};

}  // namespace wsvis::pipeline
