#include "engine/optim/sgd.h"

#include <set>
#include <sstream>

#include "kernels/optim.h"

namespace wsvis::optim {

namespace {

std::string group_label(const ParamGroup& group, size_t g) {
  return group.name.empty() ? "group " + std::to_string(g)
                            : "group " + std::to_string(g) + " (" + group.name + ")";
}

// "optim.<g>.<i>.momentum" -> (g, i); false when the name has another form.
bool parse_state_name(const std::string& name, size_t& g, size_t& i) {
  const std::string prefix = "optim.", suffix = ".momentum";
  if (name.size() <= prefix.size() + suffix.size() || name.compare(0, prefix.size(), prefix) != 0 ||
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
    return false;
  const std::string middle =
      name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
  const size_t dot = middle.find('.');
  if (dot == std::string::npos || dot == 0 || dot + 1 == middle.size()) return false;
  const std::string a = middle.substr(0, dot), b = middle.substr(dot + 1);
  for (const std::string& part : {a, b})
    for (char c : part)
      if (c < '0' || c > '9') return false;
  if (a.size() > 9 || b.size() > 9) return false;
  g = std::stoul(a);
  i = std::stoul(b);
  return true;
}

template <typename T>
void run_step(const std::vector<kernels::SgdSegment<T>>& segs, Context& ctx, bool fused,
              int64_t& launches) {
  std::vector<kernels::SgdSegment<T>> table = segs;
  if (table.empty()) return;
  // Fused: one launch over the whole table. Unfused: one launch per segment (the reference).
  const size_t batches = fused ? 1 : table.size();
  for (size_t b = 0; b < batches; ++b) {
    kernels::SgdSegment<T>* first = fused ? table.data() : table.data() + b;
    const int64_t count = fused ? int64_t(table.size()) : 1;
    kernels::plan_chunks(first, count);
    if (ctx.device().is_cpu()) {
      kernels::cpu::sgd_step(first, count);
    } else {
#if WSVIS_WITH_CUDA
      DeviceGuard guard(ctx);
      void* scratch = ctx.workspace(kernels::cuda::sgd_scratch_bytes(count));
      kernels::cuda::sgd_step(ctx.stream(), first, count, scratch);
#else
      WSVIS_FAIL("SGD::step: a CUDA tensor in a build without the CUDA backend");
#endif
    }
    ++launches;
  }
}

}  // namespace

SGD::SGD(std::vector<ParamGroup> groups, const SgdOptions& options)
    : groups_(std::move(groups)), options_(options), lr_(options.lr) {
  WSVIS_CHECK(options_.lr >= 0, "SGD: lr must be >= 0, got ", options_.lr);
  WSVIS_CHECK(options_.momentum >= 0, "SGD: momentum must be >= 0, got ", options_.momentum);
  WSVIS_CHECK(options_.weight_decay >= 0, "SGD: weight_decay must be >= 0, got ",
              options_.weight_decay);
  WSVIS_CHECK(!options_.nesterov || (options_.momentum > 0 && options_.dampening == 0),
              "SGD: Nesterov momentum requires momentum > 0 and zero dampening (got momentum ",
              options_.momentum, ", dampening ", options_.dampening, ")");
  std::set<const void*> seen;
  for (size_t g = 0; g < groups_.size(); ++g) {
    const ParamGroup& group = groups_[g];
    WSVIS_CHECK(group.lr_mult >= 0, "SGD: ", group_label(group, g), " has lr_mult ", group.lr_mult);
    WSVIS_CHECK(!group.weight_decay || *group.weight_decay >= 0, "SGD: ", group_label(group, g),
                " has weight decay ", *group.weight_decay);
    for (size_t i = 0; i < group.params.size(); ++i) {
      const Tensor& p = group.params[i];
      WSVIS_CHECK(p.defined(), "SGD: parameter ", i, " of ", group_label(group, g),
                  " is undefined");
      WSVIS_CHECK(is_floating(p.dtype()), "SGD: parameter ", i, " of ", group_label(group, g),
                  " is ", p.describe(), "; parameters must be f32 or f64");
      if (!ctx_) {
        ctx_ = p.context_ptr();
        dtype_ = p.dtype();
      }
      WSVIS_CHECK(&p.context() == ctx_.get() && p.dtype() == dtype_, "SGD: parameter ", i, " of ",
                  group_label(group, g), " is ", p.describe(), " but the first parameter is ",
                  dtype_name(dtype_), " on ", ctx_->device().str(),
                  "; one optimizer updates one device and dtype in one launch");
      // The same element range twice would be updated twice per step.
      WSVIS_CHECK(seen.insert(p.raw_data()).second || p.numel() == 0, "SGD: parameter ", i, " of ",
                  group_label(group, g), " (", p.describe(), ") appears more than once");
    }
  }
  state_.resize(groups_.size());
  for (size_t g = 0; g < groups_.size(); ++g)
    state_[g].initialised.assign(groups_[g].params.size(), false);
}

SGD::SGD(const std::vector<Tensor>& params, const SgdOptions& options)
    : SGD(std::vector<ParamGroup>{ParamGroup{"", params, 1.0, std::nullopt}}, options) {}

void SGD::set_lr(double lr) {
  WSVIS_CHECK(lr >= 0, "SGD::set_lr: lr must be >= 0, got ", lr);
  lr_ = lr;
}

double SGD::group_weight_decay(size_t g) const {
  const ParamGroup& group = groups_.at(g);
  return group.weight_decay ? *group.weight_decay : options_.weight_decay;
}

void SGD::ensure_momentum_storage(size_t g) {
  GroupState& st = state_[g];
  if (st.flat_momentum.defined()) return;
  const std::vector<Tensor>& params = groups_[g].params;
  st.offsets.resize(params.size());
  int64_t total = 0;
  for (size_t i = 0; i < params.size(); ++i) {
    st.offsets[i] = total;
    total += params[i].numel();
  }
  // One buffer per group, laid out like the group's parameters, so that a packed group's
  // parameters, gradients and buffers are all adjacent and merge into one range.
  st.flat_momentum = Tensor::zeros({total}, dtype_, ctx_);
}

Tensor SGD::buffer_view(size_t g, size_t i) const {
  const GroupState& st = state_[g];
  const Tensor& p = groups_[g].params[i];
  return st.flat_momentum.narrow0(st.offsets[i], p.numel()).view(p.shape());
}

Tensor SGD::momentum_buffer(size_t g, size_t i) const {
  WSVIS_CHECK(g < groups_.size() && i < groups_[g].params.size(),
              "SGD::momentum_buffer: no parameter ", i, " in group ", g);
  if (!state_[g].flat_momentum.defined() || !state_[g].initialised[i]) return Tensor();
  return buffer_view(g, i);
}

void SGD::step() {
  NoGradGuard no_grad;
  const bool has_momentum = options_.momentum != 0;
  // The contiguous ranges to update, dtype-free; the hyper-parameters are narrowed to the
  // parameter dtype below, as torch narrows its Python-float scalars.
  struct Range {
    void* param;
    const void* grad;
    void* buf;
    int64_t n;
    size_t group;
    bool init;
  };
  std::vector<Range> ranges;
  const size_t elem = dtype_size(dtype_);
  auto adjacent = [elem](const void* a, int64_t n, const void* b) {
    return a && b && static_cast<const char*>(a) + size_t(n) * elem == static_cast<const char*>(b);
  };
  for (size_t g = 0; g < groups_.size(); ++g) {
    const ParamGroup& group = groups_[g];
    for (size_t i = 0; i < group.params.size(); ++i) {
      const Tensor& p = group.params[i];
      const Tensor& grad = p.grad();
      if (!grad.defined()) continue;
      WSVIS_CHECK(
          grad.shape() == p.shape() && grad.dtype() == p.dtype() && &grad.context() == &p.context(),
          "SGD::step: parameter ", i, " of ", group_label(group, g), " is ", p.describe(),
          " but its gradient is ", grad.describe());
      if (p.numel() == 0) continue;
      void* buf = nullptr;
      bool init = false;
      if (has_momentum) {
        ensure_momentum_storage(g);
        buf = buffer_view(g, i).raw_data();
        init = !state_[g].initialised[i];
        state_[g].initialised[i] = true;
      }
      Range r{p.raw_data(), grad.raw_data(), buf, p.numel(), g, init};
      // Merge with the previous range when everything continues it in memory (packed model).
      if (!ranges.empty()) {
        Range& last = ranges.back();
        if (fused_ && last.group == g && last.init == init &&
            adjacent(last.param, last.n, r.param) && adjacent(last.grad, last.n, r.grad) &&
            (!has_momentum || adjacent(last.buf, last.n, r.buf))) {
          last.n += r.n;
          continue;
        }
      }
      ranges.push_back(r);
    }
  }
  stats_ = StepStats{int64_t(ranges.size()), 0};
  const double one_minus_dampening = 1.0 - options_.dampening;
  WSVIS_DISPATCH_FLOATING(dtype_, "SGD::step", [&] {
    std::vector<kernels::SgdSegment<scalar_t>> segs(ranges.size());
    for (size_t k = 0; k < ranges.size(); ++k) {
      const Range& r = ranges[k];
      kernels::SgdSegment<scalar_t>& s = segs[k];
      s.param = static_cast<scalar_t*>(r.param);
      s.grad = static_cast<const scalar_t*>(r.grad);
      s.momentum_buffer = static_cast<scalar_t*>(r.buf);
      s.n = r.n;
      s.lr = static_cast<scalar_t>(group_lr(r.group));
      s.weight_decay = static_cast<scalar_t>(group_weight_decay(r.group));
      s.momentum = static_cast<scalar_t>(options_.momentum);
      s.one_minus_dampening = static_cast<scalar_t>(one_minus_dampening);
      s.nesterov = options_.nesterov ? 1 : 0;
      s.init_momentum = r.init ? 1 : 0;
    }
    if (ctx_) run_step(segs, *ctx_, fused_, stats_.launches);
  });
  ++step_count_;
}

void SGD::zero_grad() {
  for (ParamGroup& group : groups_)
    for (Tensor& p : group.params) p.zero_grad();
}

std::vector<std::pair<std::string, Tensor>> SGD::state_tensors() const {
  std::vector<std::pair<std::string, Tensor>> out;
  for (size_t g = 0; g < groups_.size(); ++g)
    for (size_t i = 0; i < groups_[g].params.size(); ++i) {
      Tensor buf = momentum_buffer(g, i);
      if (buf.defined())
        out.emplace_back("optim." + std::to_string(g) + "." + std::to_string(i) + ".momentum", buf);
    }
  return out;
}

void SGD::load_state_tensors(const std::vector<std::pair<std::string, Tensor>>& tensors,
                             const std::string& source) {
  std::vector<std::vector<const Tensor*>> found(groups_.size());
  for (size_t g = 0; g < groups_.size(); ++g) found[g].assign(groups_[g].params.size(), nullptr);
  for (const auto& [name, t] : tensors) {
    size_t g = 0, i = 0;
    if (!parse_state_name(name, g, i))
      throw InputError(
          source + ": '" + name +
          "' is not an optimizer state name (expected optim.<group>.<param>.momentum)");
    if (g >= groups_.size() || i >= groups_[g].params.size())
      throw InputError(source + ": '" + name + "' names parameter " + std::to_string(i) +
                       " of group " + std::to_string(g) + ", but the optimizer has " +
                       std::to_string(groups_.size()) + " groups" +
                       (g < groups_.size() ? " and " + std::to_string(groups_[g].params.size()) +
                                                 " parameters in that group"
                                           : std::string()));
    const Tensor& p = groups_[g].params[i];
    if (t.shape() != p.shape())
      throw InputError(source + ": '" + name + "' has shape " + t.shape_str() +
                       " but the parameter has shape " + p.shape_str());
    if (!is_floating(t.dtype()))
      throw InputError(source + ": '" + name + "' has dtype " + dtype_name(t.dtype()) +
                       "; momentum buffers are floating");
    if (options_.momentum == 0)
      throw InputError(source + ": '" + name +
                       "' is a momentum buffer but this optimizer has momentum 0");
    if (found[g][i]) throw InputError(source + ": '" + name + "' appears twice");
    found[g][i] = &t;
  }
  for (size_t g = 0; g < groups_.size(); ++g) {
    bool any = false;
    for (const Tensor* t : found[g]) any = any || t;
    if (!any && !state_[g].flat_momentum.defined()) continue;
    ensure_momentum_storage(g);
    for (size_t i = 0; i < groups_[g].params.size(); ++i) {
      state_[g].initialised[i] = found[g][i] != nullptr;
      if (!found[g][i]) continue;
      Tensor src = found[g][i]->dtype() == dtype_ ? *found[g][i] : found[g][i]->to_dtype(dtype_);
      buffer_view(g, i).copy_from(src);
    }
  }
}

}  // namespace wsvis::optim
