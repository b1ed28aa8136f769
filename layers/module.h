// Module: the base of every layer and model. It names parameters and buffers the way torch does
// (so torchvision state_dicts line up name for name), switches train/eval recursively, moves to
// a device, and packs all trainable parameters into one contiguous buffer and their gradients
// into another (DESIGN.md: one memset zeroes them, one fused optimizer step updates them, one
// all-reduce syncs them).
//
// Parameter slots. A Tensor handle shares its Impl, and a view is a different Impl, so a handle
// cannot be re-pointed at the flat buffer after the fact. Module therefore owns the tensors in
// slots, and pack_parameters() / to() REPLACE the tensor in each slot (the flat-buffer view, or
// the copy on the new device). Layers never keep their own copy of a parameter handle: they read
// it back from the slot at every use (parameter_at / buffer_at, by registration index), so they
// always see the current tensor. Handles obtained from named_parameters(), state_dict() etc.
// before pack_parameters() or to() are stale afterwards (they keep the old storage alive);
// ask again. Writing through a current handle (copy_from, fill_) writes the module's tensor:
// this is how checkpoints load in place without breaking the packing.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/tensor.h"

namespace wsvis::layers {

class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // Recursive, torch-style dotted names in registration order: "conv1.weight",
  // "layer1.0.bn1.running_mean". Every registered parameter is listed, frozen ones included
  // (as torch's named_parameters); requires_grad() tells which are trained.
  std::vector<std::pair<std::string, Tensor>> named_parameters() const;
  // Running statistics, num_batches_tracked (i64, 0-d), FrozenBatchNorm2d's four tensors.
  std::vector<std::pair<std::string, Tensor>> named_buffers() const;
  std::vector<Tensor> parameters() const;
  // Parameters and buffers in the torchvision state_dict layout: for each module its own
  // parameters, then its own buffers, then its children in registration order (as torch).
  std::vector<std::pair<std::string, Tensor>> state_dict() const;

  // Recursive. Modules start in training mode (as torch). Virtual so that a model that keeps
  // a part in eval mode (the IRN's frozen backbone) does so however it is called.
  virtual void train(bool on = true);
  bool is_training() const { return training_; }

  // Moves every parameter and buffer to ctx by REPLACING the tensor in its slot with a copy on
  // ctx (shared handles cannot be re-pointed in place), keeping requires_grad; gradients are
  // not carried over. Host-resident buffers (BatchNorm2d's num_batches_tracked) stay on the
  // CPU. A module that was packed is packed again on ctx (fresh, zeroed gradient buffer).
  // Tensors already on ctx are left as they are (no copy). Call it on the root module (the one
  // that was packed): moving a child alone would leave the root's buffers behind.
  void to(const ContextPtr& ctx);

  // Packs every parameter that requires grad (in named_parameters() order, no gaps) into ONE
  // 1-D buffer and gives each a gradient that is a view into ONE 1-D gradient buffer of the same
  // size, zeroed. After this each such parameter is a view into flat_parameters() (its current
  // value copied in) and autograd accumulates (+=) straight into flat_gradients(). Frozen
  // parameters (requires_grad false) stay outside both buffers, so a fused update over the
  // buffer never touches them: freeze before packing. All packed parameters must share one
  // dtype and context. Call it on the root module; packing again (or to()) re-packs.
  // Replacing a packed parameter's gradient (set_grad) detaches it from the buffer.
  void pack_parameters();
  const Tensor& flat_parameters() const { return flat_parameters_; }  // undefined until packed
  const Tensor& flat_gradients() const { return flat_gradients_; }    // undefined until packed
  // One fill of the flat gradient buffer when packed; otherwise zeroes each existing gradient.
  void zero_grad();

 protected:
  // Registers a floating tensor as a trainable parameter (sets requires_grad) and returns it.
  // Layers keep the index (the count of parameters registered before it), not the handle.
  Tensor register_parameter(const std::string& name, Tensor t);
  Tensor register_buffer(const std::string& name, Tensor t);
  // A buffer that always lives on the CPU, whatever the module's device: a counter that no
  // device computation reads (num_batches_tracked), so updating it costs no launch and no sync.
  Tensor register_host_buffer(const std::string& name, Tensor t);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    add_child(name, m);
    return m;
  }

  // The current tensor in this module's i-th parameter / buffer slot (registration order).
  const Tensor& parameter_at(size_t i) const;
  const Tensor& buffer_at(size_t i) const;

 private:
  struct Slot {
    std::string name;
    Tensor tensor;
    bool host_resident = false;
  };
  void add_child(const std::string& name, std::shared_ptr<Module> m);
  void check_new_name(const std::string& name) const;
  // Every parameter slot of this module and its descendants, with its dotted name.
  void collect_parameter_slots(const std::string& prefix,
                               std::vector<std::pair<std::string, Slot*>>& out);
  void collect_named(const std::string& prefix, bool params, bool buffers,
                     std::vector<std::pair<std::string, Tensor>>& out) const;
  void move_slots(const ContextPtr& ctx);
  void drop_packing();  // forgets flat buffers here and below (the root re-packs)

  std::vector<Slot> parameters_;
  std::vector<Slot> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
  Tensor flat_parameters_;
  Tensor flat_gradients_;
};

// A module with one input and one output: what Sequential chains.
class Layer : public Module {
 public:
  virtual Tensor forward(const Tensor& x) = 0;
};

}  // namespace wsvis::layers
