// Reverse-mode autograd as a graph of nodes with backward closures (flashlight style).
//
// An op records a GradNode on its output only when grad mode is on and at least one input
// requires grad. The node holds edges to its inputs' AutogradMeta (not to their data) and a
// closure that captures exactly what its backward reads. Backward walks the nodes in reverse
// topological order, hands each closure the gradient of its output, and accumulates the
// returned input gradients: into leaves in place (`+=`, so a model's grad buffer can be
// preallocated), into intermediates out of place. Each node and each intermediate gradient is
// released as soon as it has been used, so memory falls as backward proceeds.
//
// Backward closures run under NoGradGuard: there is no double backward.
#pragma once

#include <functional>
#include <memory>
#include <vector>

namespace wsvis {

class Tensor;
struct GradNode;

// Per-tensor autograd state, shared by the tensor and by the graph edges that point at it.
struct AutogradMeta {
  bool requires_grad = false;
  bool retain_grad = false;
  bool graph_released = false;       // its node ran and was freed
  std::unique_ptr<Tensor> grad;      // accumulated gradient (null until one arrives)
  std::shared_ptr<GradNode> node;    // the op that produced this tensor; null for leaves
  std::vector<int64_t> shape;        // to check gradient shapes
  int dtype = 0;
  // Leaves only: called once per backward, when every gradient for this leaf has been
  // accumulated (all its users in the graph have run). Gradient bucketing starts an all-reduce
  // from here (engine/distributed.h). Queued device work (the accumulation) may still be running.
  std::function<void()> grad_ready_hook;
  AutogradMeta();
  ~AutogradMeta();
};

// Gradients for each input of a node, in order; undefined where none is needed.
using BackwardFn = std::function<std::vector<Tensor>(const Tensor& grad_output,
                                                     const std::vector<bool>& needs_grad)>;

struct GradNode {
  const char* name;
  std::vector<std::shared_ptr<AutogradMeta>> inputs;  // null where the input needs no grad
  std::vector<bool> needs_grad;
  BackwardFn backward;
};

namespace autograd {

bool grad_mode_enabled();
void set_grad_mode(bool enabled);

// True when an op over `inputs` must record a node: grad mode on and some input requires grad.
bool needs_record(std::initializer_list<const Tensor*> inputs);
bool needs_record(const std::vector<Tensor>& inputs);

// Attaches a node named `name` to `output`. `inputs` are in the order the closure returns
// their gradients.
void record(Tensor& output, const char* name, const std::vector<Tensor>& inputs, BackwardFn fn);

void run_backward(const Tensor& root, const Tensor& grad_output);

// Sets (or with an empty function clears) `leaf`'s grad_ready_hook. `leaf` must be a leaf that
// requires grad. The hook belongs to the tensor's autograd record: a module that re-packs its
// parameters (new tensors) needs its hooks set again.
void set_grad_ready_hook(const Tensor& leaf, std::function<void()> hook);

}  // namespace autograd

// Disables recording for its lifetime (inference, optimizer steps, backward closures).
class NoGradGuard {
 public:
  NoGradGuard() : previous_(autograd::grad_mode_enabled()) { autograd::set_grad_mode(false); }
  ~NoGradGuard() { autograd::set_grad_mode(previous_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

}  // namespace wsvis
