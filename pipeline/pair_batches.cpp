#include "pipeline/pair_batches.h"

#include "engine/error.h"

namespace wsvis::pipeline {

PairBatches::PairBatches(data::PairLoader& loader)
    : loader_(loader), per_epoch_(loader.batches_per_epoch()) {
  WSVIS_CHECK(per_epoch_ > 0, "PairBatches: the loader has no batch per epoch");
}

void PairBatches::at(int64_t step, data::PairBatch* batch) {
  const int64_t epoch = step / per_epoch_, index = step % per_epoch_;
  if (epoch != epoch_ || index != next_) {
    loader_.start_epoch(epoch);
    epoch_ = epoch;
    for (next_ = 0; next_ < index; ++next_) loader_.next(batch);
  }
  WSVIS_CHECK(loader_.next(batch), "PairBatches: the loader ran out of batches at step ", step);
  ++next_;
}

}  // namespace wsvis::pipeline
