// SGD as torch.optim.SGD: learning rate, momentum, dampening, L2 weight decay added to the
// gradient, Nesterov; parameter groups, each with a learning-rate multiplier and its own weight
// decay; a step counter; and a FUSED update: one kernel launch updates every parameter of every
// group (kernels/optim.h). Parameters that are adjacent in memory with adjacent gradients - a
// packed model (layers::Module::pack_parameters) - collapse into one range per group.
//
//   optim::SgdOptions o;  o.lr = 0.1;  o.momentum = 0.9;  o.weight_decay = 1e-4;
//   optim::SGD opt({{"backbone", backbone_params}, {"classifier", cls_params, /*lr_mult=*/10}}, o);
//   loss.backward(); opt.step(); opt.zero_grad();
//
// Create the optimizer after the model has been moved to its device and packed: both replace
// the parameter tensors the optimizer would otherwise hold.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/tensor.h"

namespace wsvis::optim {

struct SgdOptions {
  double lr = 0.01;
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;  // default for groups that do not set their own
  bool nesterov = false;      // needs momentum > 0 and dampening == 0 (as torch)
};

// Parameters sharing a learning-rate multiplier and a weight decay (the IRN CAM classifier at
// 10x lr; detectron2's norm and bias parameters at weight decay 0 when configured).
struct ParamGroup {
  std::string name;  // for messages; may be empty
  std::vector<Tensor> params;
  double lr_mult = 1.0;                // the group's lr = optimizer lr * lr_mult
  std::optional<double> weight_decay;  // unset: SgdOptions::weight_decay
};

class SGD {
 public:
  // Every parameter must be a defined floating leaf tensor; all on one context with one dtype
  // (one launch per step), no parameter twice.
  SGD(std::vector<ParamGroup> groups, const SgdOptions& options);
  SGD(const std::vector<Tensor>& params, const SgdOptions& options);  // one group

  // Updates every parameter that has a gradient (others are skipped, as torch skips
  // grad=None); creates a parameter's momentum buffer on its first update (buf = d).
  // Increments step_count().
  void step();
  void zero_grad();  // zeroes every parameter's gradient in place

  double lr() const { return lr_; }  // the base learning rate that schedules set
  void set_lr(double lr);
  double group_lr(size_t g) const { return lr_ * groups_.at(g).lr_mult; }
  double group_weight_decay(size_t g) const;
  const SgdOptions& options() const { return options_; }
  size_t num_groups() const { return groups_.size(); }
  const ParamGroup& group(size_t g) const { return groups_.at(g); }
  int64_t step_count() const { return step_count_; }
  void set_step_count(int64_t steps) { step_count_ = steps; }

  // Off: one launch per parameter (the reference the fused path is tested against). On by default.
  void set_fused(bool fused) { fused_ = fused; }
  // How the last step() was scheduled: segments (contiguous ranges) and kernel launches.
  struct StepStats {
    int64_t segments = 0;
    int64_t launches = 0;
  };
  StepStats last_step_stats() const { return stats_; }

  // Parameter i of group g's momentum buffer: undefined until its first update (or momentum 0).
  Tensor momentum_buffer(size_t g, size_t i) const;

  // Optimizer state as named tensors "optim.<group>.<param_index>.momentum" (only buffers that
  // exist, as in torch's state dict), for checkpoints.
  std::vector<std::pair<std::string, Tensor>> state_tensors() const;
  // Restores the buffers from such tensors (copies; any context): every name must be a
  // momentum buffer of an existing parameter with the parameter's shape, else InputError
  // naming `source` (the checkpoint file). Buffers not listed become uninitialised, as in a
  // fresh optimizer. Clears nothing else (lr and step count are the caller's).
  void load_state_tensors(const std::vector<std::pair<std::string, Tensor>>& tensors,
                          const std::string& source);

 private:
  struct GroupState {
    Tensor flat_momentum;           // all of the group's buffers, in parameter order
    std::vector<int64_t> offsets;   // element offset of each parameter in flat_momentum
    std::vector<bool> initialised;  // buffer i holds state (torch: state[p] exists)
  };
  void ensure_momentum_storage(size_t g);
  Tensor buffer_view(size_t g, size_t i) const;

  std::vector<ParamGroup> groups_;
  std::vector<GroupState> state_;
  SgdOptions options_;
  double lr_;
  int64_t step_count_ = 0;
  bool fused_ = true;
  StepStats stats_;
  ContextPtr ctx_;
  DType dtype_ = DType::f32;
};

}  // namespace wsvis::optim
