#include "engine/gradient_bucketer.h"

#include "engine/error.h"

namespace wsvis::dist {

std::vector<GradientBucket> plan_gradient_buckets(const std::vector<int64_t>& numels,
                                                  size_t element_bytes, size_t bucket_bytes) {
  WSVIS_CHECK(element_bytes > 0 && bucket_bytes > 0, "plan_gradient_buckets: element size ",
              element_bytes, ", bucket size ", bucket_bytes);
  std::vector<int64_t> offsets(numels.size() + 1, 0);
  for (size_t i = 0; i < numels.size(); ++i) {
    WSVIS_CHECK(numels[i] >= 0, "plan_gradient_buckets: parameter ", i, " has ", numels[i],
                " elements");
    offsets[i + 1] = offsets[i] + numels[i];
  }
  std::vector<GradientBucket> buckets;
  size_t end = numels.size();
  while (end > 0) {
    size_t first = end;
    int64_t bytes = 0;
    // Take parameters backwards until the bucket holds at least bucket_bytes.
    while (first > 0 && bytes < static_cast<int64_t>(bucket_bytes)) {
      --first;
      bytes += numels[first] * static_cast<int64_t>(element_bytes);
    }
    buckets.push_back({offsets[first], offsets[end] - offsets[first], first, end});
    end = first;
  }
  return buckets;
}

GradientBucketer::GradientBucketer(const Tensor& flat_gradients, const std::vector<Tensor>& params,
                                   Communicator& comm, size_t bucket_bytes)
    : flat_gradients_(flat_gradients), params_(params), comm_(comm) {
  WSVIS_CHECK(flat_gradients_.defined() && flat_gradients_.dim() == 1 &&
                  is_floating(flat_gradients_.dtype()),
              "GradientBucketer: the flat gradient buffer must be a 1-D floating tensor (pack the "
              "model first), got ",
              flat_gradients_.defined() ? flat_gradients_.describe() : std::string("undefined"));
  WSVIS_CHECK(flat_gradients_.context_ptr() == comm_.context(), "GradientBucketer: gradients on ",
              flat_gradients_.device().str(), " but the communicator is for ",
              comm_.context()->device().str());
  const size_t element = dtype_size(flat_gradients_.dtype());
  const char* base = static_cast<const char*>(flat_gradients_.raw_data());
  std::vector<int64_t> numels;
  int64_t expected_offset = 0;
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& g = params_[i].grad();
    WSVIS_CHECK(g.defined() && g.dtype() == flat_gradients_.dtype() &&
                    g.same_storage(flat_gradients_) &&
                    static_cast<const char*>(g.raw_data()) - base ==
                        expected_offset * static_cast<int64_t>(element),
                "GradientBucketer: parameter ", i, " ", params_[i].describe(),
                " does not have its gradient at element ", expected_offset,
                " of the flat buffer (pass the packed trained parameters in pack order, "
                "after pack_parameters())");
    numels.push_back(g.numel());
    expected_offset += g.numel();
  }
  WSVIS_CHECK(expected_offset == flat_gradients_.numel(), "GradientBucketer: parameters cover ",
              expected_offset, " of the ", flat_gradients_.numel(),
              " elements of the flat gradient buffer");
  buckets_ = plan_gradient_buckets(numels, element, bucket_bytes);
  bucket_of_param_.assign(params_.size(), 0);
  for (size_t b = 0; b < buckets_.size(); ++b)
    for (size_t p = buckets_[b].first_param; p < buckets_[b].end_param; ++p) bucket_of_param_[p] = b;
  rearm();
  if (!comm_.active()) return;  // one rank: nothing to average
  for (size_t i = 0; i < params_.size(); ++i)
    autograd::set_grad_ready_hook(params_[i], [this, i] { on_grad_ready(i); });
  hooks_set_ = true;
}

GradientBucketer::~GradientBucketer() {
  if (!hooks_set_) return;
  for (const Tensor& p : params_) autograd::set_grad_ready_hook(p, nullptr);
}

void GradientBucketer::rearm() {
  pending_.resize(buckets_.size());
  for (size_t b = 0; b < buckets_.size(); ++b)
    pending_[b] = buckets_[b].end_param - buckets_[b].first_param;
  param_ready_.assign(params_.size(), false);
  next_to_launch_ = 0;
}

void GradientBucketer::on_grad_ready(size_t param) {
  WSVIS_CHECK(!param_ready_[param], "GradientBucketer: parameter ", param,
              " got a second backward before finish() (one backward per all-reduce)");
  param_ready_[param] = true;
  if (--pending_[bucket_of_param_[param]] == 0) launch_ready_buckets();
}

void GradientBucketer::launch_ready_buckets() {
  while (next_to_launch_ < buckets_.size() && pending_[next_to_launch_] == 0) launch(next_to_launch_++);
}

void GradientBucketer::launch(size_t bucket) {
  const GradientBucket& b = buckets_[bucket];
  char* data = static_cast<char*>(flat_gradients_.raw_data()) +
               b.offset * static_cast<int64_t>(dtype_size(flat_gradients_.dtype()));
  comm_.all_reduce_async(data, b.count, flat_gradients_.dtype(), /*average=*/true);
}

void GradientBucketer::finish() {
  if (!comm_.active()) return;
  launched_during_backward_ = next_to_launch_;  // every launch so far came from a hook
  while (next_to_launch_ < buckets_.size()) launch(next_to_launch_++);
  comm_.join_async();
  rearm();
}

}  // namespace wsvis::dist
