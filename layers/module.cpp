#include "layers/module.h"

#include "engine/error.h"

namespace wsvis::layers {

namespace {
std::string join(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}
}  // namespace

// ---- registration --------------------------------------------------------------------------

void Module::check_new_name(const std::string& name) const {
  WSVIS_CHECK(!name.empty() && name.find('.') == std::string::npos, "Module: invalid name '", name,
              "' (non-empty, no dots)");
  for (const Slot& s : parameters_)
    WSVIS_CHECK(s.name != name, "Module: parameter '", name, "' registered twice");
  for (const Slot& s : buffers_)
    WSVIS_CHECK(s.name != name, "Module: '", name, "' already registered as a buffer");
  for (const auto& c : children_)
    WSVIS_CHECK(c.first != name, "Module: '", name, "' already registered as a submodule");
}

Tensor Module::register_parameter(const std::string& name, Tensor t) {
  check_new_name(name);
  WSVIS_CHECK(t.defined() && is_floating(t.dtype()), "Module: parameter '", name,
              "' must be a floating tensor, got ", t.describe());
  t.set_requires_grad(true);
  parameters_.push_back({name, t, false});
  return t;
}

Tensor Module::register_buffer(const std::string& name, Tensor t) {
  check_new_name(name);
  WSVIS_CHECK(t.defined(), "Module: buffer '", name, "' is undefined");
  buffers_.push_back({name, t, false});
  return t;
}

Tensor Module::register_host_buffer(const std::string& name, Tensor t) {
  check_new_name(name);
  WSVIS_CHECK(t.defined() && t.device().is_cpu(), "Module: host buffer '", name,
              "' must be a CPU tensor, got ", t.describe());
  buffers_.push_back({name, t, true});
  return t;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> m) {
  check_new_name(name);
  WSVIS_CHECK(m != nullptr, "Module: submodule '", name, "' is null");
  children_.emplace_back(name, std::move(m));
}

const Tensor& Module::parameter_at(size_t i) const {
  WSVIS_CHECK(i < parameters_.size(), "Module: parameter slot ", i, " of ", parameters_.size());
  return parameters_[i].tensor;
}

const Tensor& Module::buffer_at(size_t i) const {
  WSVIS_CHECK(i < buffers_.size(), "Module: buffer slot ", i, " of ", buffers_.size());
  return buffers_[i].tensor;
}

// ---- naming --------------------------------------------------------------------------------

void Module::collect_named(const std::string& prefix, bool params, bool buffers,
                           std::vector<std::pair<std::string, Tensor>>& out) const {
  if (params)
    for (const Slot& s : parameters_) out.emplace_back(join(prefix, s.name), s.tensor);
  if (buffers)
    for (const Slot& s : buffers_) out.emplace_back(join(prefix, s.name), s.tensor);
  for (const auto& c : children_)
    c.second->collect_named(join(prefix, c.first), params, buffers, out);
}

std::vector<std::pair<std::string, Tensor>> Module::named_parameters() const {
  std::vector<std::pair<std::string, Tensor>> out;
  collect_named("", true, false, out);
  return out;
}

std::vector<std::pair<std::string, Tensor>> Module::named_buffers() const {
  std::vector<std::pair<std::string, Tensor>> out;
  collect_named("", false, true, out);
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& named : named_parameters()) out.push_back(std::move(named.second));
  return out;
}

std::vector<std::pair<std::string, Tensor>> Module::state_dict() const {
  std::vector<std::pair<std::string, Tensor>> out;
  collect_named("", true, true, out);
  return out;
}

void Module::collect_parameter_slots(const std::string& prefix,
                                     std::vector<std::pair<std::string, Slot*>>& out) {
  for (Slot& s : parameters_) out.emplace_back(join(prefix, s.name), &s);
  for (auto& c : children_) c.second->collect_parameter_slots(join(prefix, c.first), out);
}

// ---- modes and devices ---------------------------------------------------------------------

void Module::train(bool on) {
  training_ = on;
  for (auto& c : children_) c.second->train(on);
}

void Module::move_slots(const ContextPtr& ctx) {
  for (Slot& s : parameters_) {
    if (s.tensor.context_ptr() == ctx) continue;
    const bool requires = s.tensor.requires_grad();
    s.tensor = s.tensor.to(ctx);
    if (requires) s.tensor.set_requires_grad(true);
  }
  for (Slot& s : buffers_)
    if (!s.host_resident && s.tensor.context_ptr() != ctx) s.tensor = s.tensor.to(ctx);
  for (auto& c : children_) c.second->move_slots(ctx);
}

void Module::drop_packing() {
  flat_parameters_ = Tensor();
  flat_gradients_ = Tensor();
  for (auto& c : children_) c.second->drop_packing();
}

void Module::to(const ContextPtr& ctx) {
  WSVIS_CHECK(ctx != nullptr, "Module::to: null context");
  const bool was_packed = flat_parameters_.defined();
  if (was_packed && flat_parameters_.context_ptr() == ctx) {
    move_slots(ctx);  // only unpacked tensors (frozen parameters, buffers) can be elsewhere
    return;
  }
  move_slots(ctx);
  if (was_packed) pack_parameters();
}

// ---- contiguous parameters and gradients ---------------------------------------------------

void Module::pack_parameters() {
  std::vector<std::pair<std::string, Slot*>> all;
  collect_parameter_slots("", all);
  std::vector<std::pair<std::string, Slot*>> packed;
  for (auto& entry : all)
    if (entry.second->tensor.requires_grad()) packed.push_back(entry);
  drop_packing();
  if (packed.empty()) return;

  const Tensor& first = packed.front().second->tensor;
  const ContextPtr ctx = first.context_ptr();
  const DType dtype = first.dtype();
  int64_t total = 0;
  for (auto& [name, slot] : packed) {
    WSVIS_CHECK(slot->tensor.context_ptr() == ctx && slot->tensor.dtype() == dtype,
                "pack_parameters: parameter '", name, "' is ", slot->tensor.describe(), " but '",
                packed.front().first, "' is ", first.describe(),
                " (all packed parameters share one dtype and context)");
    total += slot->tensor.numel();
  }

  Tensor flat_params = Tensor::empty({total}, dtype, ctx);
  Tensor flat_grads = Tensor::zeros({total}, dtype, ctx);
  int64_t offset = 0;
  for (auto& entry : packed) {
    Slot& slot = *entry.second;
    const int64_t n = slot.tensor.numel();
    // narrow0 then view: a view keeps the storage and the offset, so writes through the
    // parameter land in the flat buffer (and back).
    Tensor p = flat_params.narrow0(offset, n).view(slot.tensor.shape());
    p.copy_from(slot.tensor);
    p.set_requires_grad(true);
    p.set_grad(flat_grads.narrow0(offset, n).view(slot.tensor.shape()));
    slot.tensor = p;
    offset += n;
  }
  flat_parameters_ = flat_params;
  flat_gradients_ = flat_grads;
}

void Module::zero_grad() {
  if (flat_gradients_.defined()) flat_gradients_.fill_(0.0);
  // Gradients outside the buffer (unpacked modules, or a frozen parameter that was given one)
  // are zeroed one by one.
  std::vector<std::pair<std::string, Slot*>> all;
  collect_parameter_slots("", all);
  for (auto& entry : all) {
    Tensor& t = entry.second->tensor;
    if (flat_gradients_.defined() && t.grad().defined() && t.grad().same_storage(flat_gradients_))
      continue;  // already zeroed by the single fill
    t.zero_grad();
  }
}

}  // namespace wsvis::layers
