#include "engine/tensor.h"

#include <cstring>
#include <sstream>

#include "engine/cuda_check.h"
#include "kernels/basic.h"

namespace wsvis {

std::string shape_str(const Shape& shape) {
  std::ostringstream os;
  os << "(";
  for (size_t i = 0; i < shape.size(); ++i) os << (i ? ", " : "") << shape[i];
  os << (shape.size() == 1 ? ",)" : ")");
  return os.str();
}

int64_t shape_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
}

Storage::Storage(ContextPtr ctx, size_t bytes) : ctx_(std::move(ctx)), bytes_(bytes) {
  data_ = ctx_->allocate(bytes);
}

Storage::~Storage() { ctx_->deallocate(data_); }

namespace detail {

void copy_host_to(void* dst, const Context& dst_ctx, const void* host_src, size_t bytes) {
  if (bytes == 0) return;
  if (dst_ctx.device().is_cpu()) {
    std::memcpy(dst, host_src, bytes);
    return;
  }
#if WSVIS_WITH_CUDA
  CUDA_CHECK(cudaMemcpyAsync(dst, host_src, bytes, cudaMemcpyHostToDevice, dst_ctx.stream()));
  CUDA_CHECK(cudaStreamSynchronize(dst_ctx.stream()));
#endif
}

void copy_to_host(void* host_dst, const void* src, const Context& src_ctx, size_t bytes) {
  if (bytes == 0) return;
  if (src_ctx.device().is_cpu()) {
    std::memcpy(host_dst, src, bytes);
    return;
  }
#if WSVIS_WITH_CUDA
  CUDA_CHECK(cudaMemcpyAsync(host_dst, src, bytes, cudaMemcpyDeviceToHost, src_ctx.stream()));
  CUDA_CHECK(cudaStreamSynchronize(src_ctx.stream()));
#endif
}

}  // namespace detail

// ---- construction ------------------------------------------------------------------------

Tensor Tensor::empty(const Shape& shape, DType dtype, const ContextPtr& ctx) {
  WSVIS_CHECK(ctx != nullptr, "Tensor::empty: null context");
  WSVIS_CHECK(static_cast<int>(shape.size()) <= kMaxDims, "Tensor::empty: shape ",
              wsvis::shape_str(shape), " has more than ", kMaxDims, " dimensions");
  for (int64_t s : shape)
    WSVIS_CHECK(s >= 0, "Tensor::empty: negative size in shape ", wsvis::shape_str(shape));
  auto fresh = std::make_shared<Impl>();
  fresh->storage = std::make_shared<Storage>(ctx, static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype));
  fresh->shape = shape;
  fresh->dtype = dtype;
  return Tensor(std::move(fresh));
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, const ContextPtr& ctx) {
  return full(shape, 0.0, dtype, ctx);
}

Tensor Tensor::ones(const Shape& shape, DType dtype, const ContextPtr& ctx) {
  return full(shape, 1.0, dtype, ctx);
}

Tensor Tensor::full(const Shape& shape, double value, DType dtype, const ContextPtr& ctx) {
  Tensor out = empty(shape, dtype, ctx);
  out.fill_(value);
  return out;
}

Tensor Tensor::randn(const Shape& shape, Generator& gen, const ContextPtr& ctx, DType dtype) {
  std::vector<double> values(static_cast<size_t>(shape_numel(shape)));
  for (double& v : values) v = gen.normal();
  return from_vector(values, shape, ctx, dtype);
}

Tensor Tensor::uniform(const Shape& shape, double lo, double hi, Generator& gen,
                       const ContextPtr& ctx, DType dtype) {
  std::vector<double> values(static_cast<size_t>(shape_numel(shape)));
  for (double& v : values) v = gen.uniform(lo, hi);
  return from_vector(values, shape, ctx, dtype);
}

// ---- inspection --------------------------------------------------------------------------

const Tensor::Impl& Tensor::impl() const {
  WSVIS_CHECK(impl_ != nullptr, "use of an undefined tensor");
  return *impl_;
}

const Shape& Tensor::shape() const { return impl().shape; }

int64_t Tensor::size(int d) const {
  const int n = dim();
  const int axis = d < 0 ? d + n : d;
  WSVIS_CHECK(axis >= 0 && axis < n, "Tensor::size: dimension ", d, " out of range for shape ",
              shape_str());
  return impl().shape[static_cast<size_t>(axis)];
}

int64_t Tensor::numel() const { return shape_numel(impl().shape); }
DType Tensor::dtype() const { return impl().dtype; }
Device Tensor::device() const { return impl().storage->context()->device(); }
Context& Tensor::context() const { return *impl().storage->context(); }
const ContextPtr& Tensor::context_ptr() const { return impl().storage->context(); }

std::string Tensor::describe() const {
  if (!defined()) return "undefined tensor";
  return detail::concat(dtype_name(dtype()), " ", shape_str(), " on ", device().str());
}

bool Tensor::same_storage(const Tensor& other) const {
  return defined() && other.defined() && impl_->storage == other.impl_->storage;
}

void* Tensor::raw_data() const {
  const Impl& i = impl();
  return static_cast<char*>(i.storage->data()) + i.offset * static_cast<int64_t>(dtype_size(i.dtype));
}

// ---- transfer and copies -----------------------------------------------------------------

void Tensor::copy_from(const Tensor& src) {
  WSVIS_CHECK(src.shape() == shape() && src.dtype() == dtype(), "Tensor::copy_from: source ",
              src.describe(), " does not match destination ", describe());
  const size_t bytes = nbytes();
  if (bytes == 0) return;
  const Context& sc = src.context();
  const Context& dc = context();
  if (sc.device().is_cpu()) {
    detail::copy_host_to(raw_data(), dc, src.raw_data(), bytes);
  } else if (dc.device().is_cpu()) {
    detail::copy_to_host(raw_data(), src.raw_data(), sc, bytes);
  } else {
#if WSVIS_WITH_CUDA
    // Device to device: order after the source's pending work, then run on the destination.
    CUDA_CHECK(cudaStreamSynchronize(sc.stream()));
    CUDA_CHECK(cudaMemcpyAsync(raw_data(), src.raw_data(), bytes, cudaMemcpyDefault, dc.stream()));
#endif
  }
}

Tensor Tensor::to(const ContextPtr& ctx) const {
  if (ctx.get() == &context()) return clone();
  Tensor out = empty(shape(), dtype(), ctx);
  out.copy_from(*this);
  return out;
}

Tensor Tensor::clone() const {
  Tensor out = empty(shape(), dtype(), context_ptr());
  if (nbytes() == 0) return out;
  if (device().is_cpu()) {
    std::memcpy(out.raw_data(), raw_data(), nbytes());
  } else {
#if WSVIS_WITH_CUDA
    CUDA_CHECK(cudaMemcpyAsync(out.raw_data(), raw_data(), nbytes(), cudaMemcpyDeviceToDevice,
                               context().stream()));
#endif
  }
  return out;
}

namespace {
template <typename Src>
void cast_from(const Tensor& src, Tensor& out) {
  const int64_t n = src.numel();
  WSVIS_DISPATCH_ALL(out.dtype(), "Tensor::to_dtype", [&] {
    if (src.device().is_cpu()) {
      kernels::cpu::cast<scalar_t, Src>(out.data<scalar_t>(), src.data<Src>(), n);
    } else {
#if WSVIS_WITH_CUDA
      kernels::cuda::cast<scalar_t, Src>(src.context().stream(), out.data<scalar_t>(),
                                         src.data<Src>(), n);
#endif
    }
  });
}
}  // namespace

Tensor Tensor::to_dtype(DType target) const {
  if (target == dtype()) return clone();
  Tensor out = empty(shape(), target, context_ptr());
  WSVIS_DISPATCH_ALL(dtype(), "Tensor::to_dtype", [&] { cast_from<scalar_t>(*this, out); });
  return out;
}

void Tensor::fill_(double value) {
  const int64_t n = numel();
  WSVIS_DISPATCH_ALL(dtype(), "Tensor::fill_", [&] {
    const scalar_t v = static_cast<scalar_t>(value);
    if (device().is_cpu()) {
      kernels::cpu::fill<scalar_t>(data<scalar_t>(), n, v);
    } else {
#if WSVIS_WITH_CUDA
      kernels::cuda::fill<scalar_t>(context().stream(), data<scalar_t>(), n, v);
#endif
    }
  });
}

Tensor Tensor::view(const Shape& new_shape) const {
  Shape resolved = new_shape;
  int infer = -1;
  int64_t known = 1;
  for (size_t i = 0; i < resolved.size(); ++i) {
    if (resolved[i] == -1) {
      WSVIS_CHECK(infer < 0, "Tensor::view: more than one -1 in ", wsvis::shape_str(new_shape));
      infer = static_cast<int>(i);
    } else {
      known *= resolved[i];
    }
  }
  if (infer >= 0) {
    WSVIS_CHECK(known > 0 && numel() % known == 0, "Tensor::view: cannot view ", shape_str(),
                " as ", wsvis::shape_str(new_shape));
    resolved[static_cast<size_t>(infer)] = numel() / known;
  }
  WSVIS_CHECK(shape_numel(resolved) == numel() && static_cast<int>(resolved.size()) <= kMaxDims,
              "Tensor::view: cannot view ", shape_str(), " (", numel(), " elements) as ",
              wsvis::shape_str(new_shape));
  auto viewed = std::make_shared<Impl>(impl());
  viewed->shape = resolved;
  viewed->meta.reset();
  return Tensor(std::move(viewed));
}

Tensor Tensor::narrow0(int64_t start, int64_t length) const {
  WSVIS_CHECK(dim() >= 1, "Tensor::narrow0 on a 0-d tensor");
  WSVIS_CHECK(start >= 0 && length >= 0 && start + length <= size(0), "Tensor::narrow0: rows [",
              start, ", ", start + length, ") out of range for shape ", shape_str());
  auto narrowed = std::make_shared<Impl>(impl());
  narrowed->shape[0] = length;
  narrowed->offset += start * (size(0) == 0 ? 0 : numel() / size(0));
  narrowed->meta.reset();
  return Tensor(std::move(narrowed));
}

Tensor Tensor::detach() const {
  auto detached = std::make_shared<Impl>(impl());
  detached->meta.reset();
  return Tensor(std::move(detached));
}

// ---- autograd entry points ---------------------------------------------------------------

const std::shared_ptr<AutogradMeta>& Tensor::autograd_meta() const {
  const Impl& i = impl();
  if (!i.meta) {
    auto meta = std::make_shared<AutogradMeta>();
    meta->shape = i.shape;
    meta->dtype = static_cast<int>(i.dtype);
    const_cast<Impl&>(i).meta = std::move(meta);
  }
  return i.meta;
}

bool Tensor::requires_grad() const { return defined() && impl_->meta && impl_->meta->requires_grad; }

Tensor& Tensor::set_requires_grad(bool requires) {
  const auto& meta = autograd_meta();
  WSVIS_CHECK(meta->node == nullptr || requires, "set_requires_grad(false) on a non-leaf tensor ",
              describe(), ": use detach()");
  if (requires)
    WSVIS_CHECK(is_floating(dtype()), "set_requires_grad on a ", dtype_name(dtype()),
                " tensor: only floating tensors take gradients");
  meta->requires_grad = requires;
  return *this;
}

bool Tensor::is_leaf() const { return !defined() || !impl_->meta || impl_->meta->node == nullptr; }

const Tensor& Tensor::grad() const {
  static const Tensor undefined;  // immutable sentinel, not state
  const auto& meta = impl().meta;
  return meta && meta->grad ? *meta->grad : undefined;
}

void Tensor::set_grad(const Tensor& grad) {
  if (grad.defined())
    WSVIS_CHECK(grad.shape() == shape() && grad.dtype() == dtype() && grad.device() == device(),
                "set_grad: gradient ", grad.describe(), " does not match tensor ", describe());
  autograd_meta()->grad = grad.defined() ? std::make_unique<Tensor>(grad) : nullptr;
}

void Tensor::zero_grad() {
  const auto& meta = impl().meta;
  if (meta && meta->grad) meta->grad->fill_(0.0);
}

void Tensor::retain_grad() { autograd_meta()->retain_grad = true; }

void Tensor::backward() const {
  WSVIS_CHECK(numel() == 1, "backward() without a gradient needs a single-element tensor, got ",
              describe(), "; pass the gradient of the output");
  autograd::run_backward(*this, Tensor::ones(shape(), dtype(), context_ptr()));
}

void Tensor::backward(const Tensor& grad_output) const {
  autograd::run_backward(*this, grad_output);
}

}  // namespace wsvis
