// DDP-style gradient bucketing over a packed model's ONE flat gradient buffer
// (layers::Module::pack_parameters): the buffer is split into buckets of contiguous parameters,
// filled in reverse parameter order (the order backward produces gradients, as torch DDP
// does), and a bucket's all-reduce (average over ranks) starts as soon as every gradient in it
// is final: autograd's grad_ready_hook on each parameter counts down its bucket. On CUDA the
// all-reduce runs on the communication stream while backward continues on the compute stream;
// on the CPU it runs synchronously inside the hook (MPI; there is nothing to overlap with).
//
//   model.pack_parameters();
//   dist::GradientBucketer bucketer(model.flat_gradients(), trained_params, comm);
//   loss.backward();      // buckets launch during backward
//   bucketer.finish();    // the rest launch; compute stream waits; gradients are averages
//   opt.step();  model.zero_grad();
//
// Buckets are launched strictly in bucket order (a ready bucket waits for earlier ones), so
// every rank issues the same collectives in the same order even if readiness order differed.
// Parameters that no backward reached (unused in this step) leave their bucket pending until
// finish(), which launches it with whatever the buffer holds (zeros after zero_grad).
// One backward per finish(): accumulating several micro-batches before one all-reduce is not
// supported (a second backward before finish() is an error).
// At world size 1 (an inactive Communicator) no hooks are set and finish() does nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "engine/distributed.h"
#include "engine/tensor.h"

namespace wsvis::dist {

// torch DDP's default bucket_cap_mb.
constexpr size_t kDefaultBucketBytes = size_t(25) << 20;

// Elements [offset, offset + count) of the flat gradient buffer, holding parameters
// [first_param, end_param) in pack order.
struct GradientBucket {
  int64_t offset = 0;
  int64_t count = 0;
  size_t first_param = 0;
  size_t end_param = 0;
};

// Bucket layout for parameters of `numels` elements packed in this order, `element_bytes`
// each. Bucket 0 ends with the last parameter; going backwards, a bucket closes once it holds
// at least `bucket_bytes` (so a bucket exceeds it by less than one parameter, and a parameter
// larger than the cap gets a bucket of its own), as torch's compute_bucket_assignment_by_size.
std::vector<GradientBucket> plan_gradient_buckets(const std::vector<int64_t>& numels,
                                                  size_t element_bytes, size_t bucket_bytes);

class GradientBucketer {
 public:
  // `params`: the packed, trained parameters in pack order; each one's gradient must be its
  // view into `flat_gradients`, the views tiling the buffer without gaps. Create it after
  // pack_parameters() and after moving the model (both replace the parameter tensors).
  GradientBucketer(const Tensor& flat_gradients, const std::vector<Tensor>& params,
                   Communicator& comm, size_t bucket_bytes = kDefaultBucketBytes);
  ~GradientBucketer();  // clears the hooks
  GradientBucketer(const GradientBucketer&) = delete;
  GradientBucketer& operator=(const GradientBucketer&) = delete;

  const std::vector<GradientBucket>& buckets() const { return buckets_; }

  // Launches the buckets still pending, makes the compute stream wait for all of them and
  // re-arms the counters for the next backward. After it, each gradient is the average over
  // ranks.
  void finish();

  // Of the last finish()ed step, the buckets launched from hooks during backward: the overlap.
  size_t launched_during_backward() const { return launched_during_backward_; }

 private:
  void on_grad_ready(size_t param);
  void launch_ready_buckets();
  void launch(size_t bucket);
  void rearm();

  Tensor flat_gradients_;
  std::vector<Tensor> params_;
  Communicator& comm_;
  std::vector<GradientBucket> buckets_;
  std::vector<size_t> bucket_of_param_;
  std::vector<size_t> pending_;   // per bucket: gradients not yet final in this backward
  std::vector<bool> param_ready_;  // per parameter, this backward
  size_t next_to_launch_ = 0;      // buckets [0, next_to_launch_) are launched
  size_t launched_during_backward_ = 0;
  bool hooks_set_ = false;
};

}  // namespace wsvis::dist
