// Template members of Tensor (included at the end of tensor.h).
#pragma once

#include <vector>

namespace wsvis {

namespace detail {
// Host memory <-> a tensor's memory on any context; both wait until the copy is done.
void copy_host_to(void* dst, const Context& dst_ctx, const void* host_src, size_t bytes);
void copy_to_host(void* host_dst, const void* src, const Context& src_ctx, size_t bytes);
}  // namespace detail

template <typename T>
T* Tensor::data() const {
  WSVIS_CHECK(defined(), "Tensor::data on an undefined tensor");
  WSVIS_CHECK(dtype_of<T>::value == dtype(), "Tensor::data<", dtype_name(dtype_of<T>::value),
              "> on a tensor of dtype ", dtype_name(dtype()), " ", shape_str());
  return static_cast<T*>(raw_data());
}

template <typename T>
Tensor Tensor::from_vector(const std::vector<T>& values, const Shape& shape, const ContextPtr& ctx,
                           DType dtype) {
  WSVIS_CHECK(static_cast<int64_t>(values.size()) == shape_numel(shape), "Tensor::from_vector: ",
              values.size(), " values for shape ", wsvis::shape_str(shape));
  Tensor out = empty(shape, dtype, ctx);
  WSVIS_DISPATCH_ALL(dtype, "Tensor::from_vector", [&] {
    std::vector<scalar_t> converted(values.size());
    for (size_t i = 0; i < values.size(); ++i) converted[i] = static_cast<scalar_t>(values[i]);
    detail::copy_host_to(out.raw_data(), out.context(), converted.data(),
                         converted.size() * sizeof(scalar_t));
  });
  return out;
}

template <typename T>
std::vector<T> Tensor::to_vector() const {
  WSVIS_CHECK(defined(), "Tensor::to_vector on an undefined tensor");
  std::vector<T> result(static_cast<size_t>(numel()));
  WSVIS_DISPATCH_ALL(dtype(), "Tensor::to_vector", [&] {
    std::vector<scalar_t> raw(result.size());
    detail::copy_to_host(raw.data(), raw_data(), context(), raw.size() * sizeof(scalar_t));
    for (size_t i = 0; i < raw.size(); ++i) result[i] = static_cast<T>(raw[i]);
  });
  return result;
}

template <typename T>
T Tensor::item() const {
  WSVIS_CHECK(numel() == 1, "Tensor::item on a tensor of shape ", shape_str(),
              " (needs exactly one element)");
  return to_vector<T>()[0];
}

}  // namespace wsvis
