// Tensor: a shape, a dtype and a view (offset) into reference-counted storage on one context.
//
// Tensors are always contiguous in row-major (NCHW) order; a view differs from its base only
// by offset and shape (slicing along the first dimension, reshape, detach). Copying a Tensor
// copies the handle, not the data: `Tensor b = a;` shares storage and autograd state.
// Operations on tensors live in engine/ops/ (wsvis::ops); this file holds construction,
// inspection, host/device transfer and the autograd entry points.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "engine/context.h"
#include "engine/dtype.h"
#include "engine/random.h"

namespace wsvis {

using Shape = std::vector<int64_t>;
constexpr int kMaxDims = 5;

std::string shape_str(const Shape& shape);
int64_t shape_numel(const Shape& shape);

// Memory for one tensor or several views of it; returns itself to its context when freed.
class Storage {
 public:
  Storage(ContextPtr ctx, size_t bytes);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  const ContextPtr& context() const { return ctx_; }

 private:
  ContextPtr ctx_;
  void* data_ = nullptr;
  size_t bytes_ = 0;
};

class Tensor;
struct AutogradMeta;

class Tensor {
 public:
  Tensor() = default;  // undefined: holds nothing

  // ---- construction ----------------------------------------------------------------------
  static Tensor empty(const Shape& shape, DType dtype, const ContextPtr& ctx);
  static Tensor zeros(const Shape& shape, DType dtype, const ContextPtr& ctx);
  static Tensor ones(const Shape& shape, DType dtype, const ContextPtr& ctx);
  static Tensor full(const Shape& shape, double value, DType dtype, const ContextPtr& ctx);
  // Copies host values (converted to `dtype`) into a new tensor on ctx.
  template <typename T>
  static Tensor from_vector(const std::vector<T>& values, const Shape& shape, const ContextPtr& ctx,
                            DType dtype = dtype_of<T>::value);
  // Standard normal and uniform [lo, hi) samples drawn on the host from `gen`, so the same
  // seed gives the same tensor on every device.
  static Tensor randn(const Shape& shape, Generator& gen, const ContextPtr& ctx,
                      DType dtype = DType::f32);
  static Tensor uniform(const Shape& shape, double lo, double hi, Generator& gen,
                        const ContextPtr& ctx, DType dtype = DType::f32);

  // ---- inspection ------------------------------------------------------------------------
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const;
  int dim() const { return static_cast<int>(shape().size()); }
  int64_t size(int d) const;  // negative d counts from the end
  int64_t numel() const;
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype()); }
  DType dtype() const;
  Device device() const;
  Context& context() const;
  const ContextPtr& context_ptr() const;
  std::string shape_str() const { return wsvis::shape_str(shape()); }
  std::string describe() const;  // "f32 (2, 3) on cuda:0"
  bool same_storage(const Tensor& other) const;

  void* raw_data() const;
  template <typename T>
  T* data() const;  // checks that T matches the dtype

  // ---- transfer and copies ---------------------------------------------------------------
  Tensor to(const ContextPtr& ctx) const;  // copy to another context (same dtype); no autograd
  Tensor to_dtype(DType dtype) const;     // converted copy on the same context; no autograd
  Tensor clone() const;                   // deep copy on the same context; no autograd
  template <typename T>
  std::vector<T> to_vector() const;       // host copy, converted to T
  template <typename T>
  T item() const;                         // the single element, converted to T
  void copy_from(const Tensor& src);      // same shape and dtype; any contexts; in place
  void fill_(double value);               // in place, outside autograd

  // Views: share storage, record no autograd (the ops reshape/slice do).
  Tensor view(const Shape& shape) const;
  Tensor narrow0(int64_t start, int64_t length) const;  // rows [start, start+length)
  Tensor detach() const;

  // ---- autograd --------------------------------------------------------------------------
  bool requires_grad() const;
  Tensor& set_requires_grad(bool requires);
  bool is_leaf() const;
  const Tensor& grad() const;              // undefined until a backward reaches this tensor
  void set_grad(const Tensor& grad);       // e.g. a view into a model's contiguous grad buffer
  void zero_grad();                        // zeroes the grad in place if it exists
  void retain_grad();                      // keep the grad of a non-leaf after backward
  // Backpropagates from this tensor. A scalar (one element) seeds with 1; otherwise pass the
  // gradient. The graph is freed as it is walked, so a second backward through it fails.
  void backward() const;
  void backward(const Tensor& grad_output) const;

  // Internal: the autograd record of this tensor (created on demand).
  const std::shared_ptr<AutogradMeta>& autograd_meta() const;

 private:
  struct Impl {
    std::shared_ptr<Storage> storage;
    Shape shape;
    int64_t offset = 0;  // in elements
    DType dtype = DType::f32;
    std::shared_ptr<AutogradMeta> meta;  // null until autograd touches the tensor
  };
  explicit Tensor(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  const Impl& impl() const;

  std::shared_ptr<Impl> impl_;
};

}  // namespace wsvis

#include "engine/autograd.h"
#include "engine/tensor_inl.h"
