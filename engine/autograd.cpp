#include "engine/autograd.h"

#include <unordered_set>

#include "engine/cuda_check.h"
#include "engine/tensor.h"
#include "kernels/basic.h"

namespace wsvis {

AutogradMeta::AutogradMeta() = default;
AutogradMeta::~AutogradMeta() = default;

namespace autograd {

namespace {
// Grad mode is per thread, like PyTorch's: a data-loading thread never sees the training
// thread's NoGradGuard.
thread_local bool t_grad_mode = true;

// leaf_grad += g, in place (the leaf's grad buffer may be a view into a model's grad buffer).
void accumulate_in_place(Tensor& dst, const Tensor& g) {
  const int64_t n = dst.numel();
  WSVIS_DISPATCH_FLOATING(dst.dtype(), "autograd accumulate", [&] {
    if (dst.device().is_cpu()) {
      kernels::cpu::axpy<scalar_t>(dst.data<scalar_t>(), g.data<scalar_t>(), n, scalar_t(1));
    } else {
#if WSVIS_WITH_CUDA
      kernels::cuda::axpy<scalar_t>(dst.context().stream(), dst.data<scalar_t>(),
                                    g.data<scalar_t>(), n, scalar_t(1));
#endif
    }
  });
}

void accumulate(AutogradMeta& meta, const Tensor& g, const char* producer) {
  WSVIS_CHECK(g.shape() == meta.shape && static_cast<int>(g.dtype()) == meta.dtype,
              "autograd: backward of ", producer, " returned a gradient ", g.describe(),
              " for an input of shape ", shape_str(meta.shape));
  const bool leaf = meta.node == nullptr;
  if (!meta.grad) {
    // A leaf keeps its own copy: later accumulation is in place and must not write into a
    // tensor some other node still reads. An intermediate can alias: it is only added to.
    meta.grad = std::make_unique<Tensor>(leaf ? g.clone() : g);
    return;
  }
  WSVIS_CHECK(meta.grad->device() == g.device(), "autograd: gradient on ", g.device().str(),
              " for a tensor whose gradient lives on ", meta.grad->device().str());
  if (leaf) {
    accumulate_in_place(*meta.grad, g);
  } else {
    Tensor sum = meta.grad->clone();
    accumulate_in_place(sum, g);
    *meta.grad = sum;
  }
}
}  // namespace

bool grad_mode_enabled() { return t_grad_mode; }
void set_grad_mode(bool enabled) { t_grad_mode = enabled; }

bool needs_record(std::initializer_list<const Tensor*> inputs) {
  if (!t_grad_mode) return false;
  for (const Tensor* t : inputs)
    if (t && t->requires_grad()) return true;
  return false;
}

bool needs_record(const std::vector<Tensor>& inputs) {
  if (!t_grad_mode) return false;
  for (const Tensor& t : inputs)
    if (t.requires_grad()) return true;
  return false;
}

void record(Tensor& output, const char* name, const std::vector<Tensor>& inputs, BackwardFn fn) {
  auto node = std::make_shared<GradNode>();
  node->name = name;
  node->backward = std::move(fn);
  for (const Tensor& in : inputs) {
    const bool needs = in.requires_grad();
    node->inputs.push_back(needs ? in.autograd_meta() : nullptr);
    node->needs_grad.push_back(needs);
  }
  const auto& meta = output.autograd_meta();
  meta->requires_grad = true;
  meta->node = std::move(node);
}

void run_backward(const Tensor& root, const Tensor& grad_output) {
  WSVIS_CHECK(root.requires_grad(), "backward on ", root.describe(),
              " which does not require grad (no input of its graph requires grad)");
  WSVIS_CHECK(grad_output.shape() == root.shape() && grad_output.dtype() == root.dtype() &&
                  grad_output.device() == root.device(),
              "backward: gradient ", grad_output.describe(), " does not match output ",
              root.describe());
  const std::shared_ptr<AutogradMeta>& root_meta = root.autograd_meta();
  WSVIS_CHECK(!root_meta->graph_released, "backward through a graph that was already freed by an "
                                          "earlier backward");

  // Topological order by iterative depth-first search over the metas (no recursion: deep
  // networks would overflow the stack). `order` ends up with every input before its users.
  // It holds owning pointers: freeing a node below may drop the last other reference to an
  // input's meta that is still waiting for its gradient.
  std::vector<std::shared_ptr<AutogradMeta>> order;
  std::unordered_set<AutogradMeta*> visited;
  std::vector<std::pair<std::shared_ptr<AutogradMeta>, size_t>> stack;
  stack.emplace_back(root_meta, 0);
  visited.insert(root_meta.get());
  while (!stack.empty()) {
    GradNode* node = stack.back().first->node.get();
    size_t& next_input = stack.back().second;
    if (node && next_input < node->inputs.size()) {
      const std::shared_ptr<AutogradMeta>& child = node->inputs[next_input++];
      if (child && visited.insert(child.get()).second) stack.emplace_back(child, 0);
      continue;
    }
    order.push_back(std::move(stack.back().first));
    stack.pop_back();
  }

  NoGradGuard no_grad;
  accumulate(*root_meta, grad_output, "backward seed");
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    AutogradMeta* meta = it->get();
    if (!meta->node) {
      WSVIS_CHECK(!meta->graph_released, "backward through a graph that was already freed by an "
                                         "earlier backward");
      // A leaf: every user ran before it in this order, so its gradient is final. It stays
      // where users read it.
      if (meta->grad_ready_hook) meta->grad_ready_hook();
      continue;
    }
    // Free the node (closure and captured tensors) as soon as it has run.
    std::shared_ptr<GradNode> node = std::move(meta->node);
    meta->graph_released = true;
    if (!meta->grad) continue;  // no path from the root reached a needed gradient here
    const Tensor grad_out = *meta->grad;
    if (!meta->retain_grad) meta->grad.reset();
    std::vector<Tensor> grads = node->backward(grad_out, node->needs_grad);
    WSVIS_CHECK(grads.size() == node->inputs.size(), "autograd: backward of ", node->name,
                " returned ", grads.size(), " gradients for ", node->inputs.size(), " inputs");
    for (size_t i = 0; i < grads.size(); ++i) {
      if (!node->inputs[i]) continue;
      WSVIS_CHECK(grads[i].defined(), "autograd: backward of ", node->name,
                  " returned no gradient for input ", i, " which needs one");
      accumulate(*node->inputs[i], grads[i], node->name);
    }
  }
}

void set_grad_ready_hook(const Tensor& leaf, std::function<void()> hook) {
  WSVIS_CHECK(leaf.is_leaf() && leaf.requires_grad(), "set_grad_ready_hook: ",
              leaf.describe(), " is not a leaf that requires grad");
  leaf.autograd_meta()->grad_ready_hook = std::move(hook);
}

}  // namespace autograd
}  // namespace wsvis
