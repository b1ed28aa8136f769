// Context: everything that work on one device needs, held explicitly instead of in globals.
//
// A CPU context is cheap (it only names the device). A CUDA context owns a stream, the cuBLAS
// and cuDNN handles bound to that stream (created lazily, on first use), the caching
// allocator, a growable workspace, and per-shape caches such as the cuDNN algorithm choice.
// Every tensor's storage keeps its context alive, so a context is destroyed after the last
// tensor on it, and before main returns when main owns the last reference.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <unordered_map>

#include "engine/caching_allocator.h"
#include "engine/device.h"

#if WSVIS_WITH_CUDA
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>
#endif

namespace wsvis {

class Context;
using ContextPtr = std::shared_ptr<Context>;

class Context {
 public:
  // Creates a context for `device`. For CUDA it throws an Error naming the reason when the
  // build has no CUDA backend or no such device is visible.
  static ContextPtr create(Device device);
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  Device device() const { return device_; }
  bool is_cuda() const { return device_.is_cuda(); }

  // Memory for tensors: host memory (64-byte aligned) on the CPU, the caching allocator on CUDA.
  void* allocate(size_t bytes);
  void deallocate(void* ptr);
  AllocatorStats allocator_stats() const;
  void release_cached_memory();

  // Scratch memory valid until the next workspace() call on this context; stream-ordered,
  // so a kernel that uses it finishes before the next user can overwrite it.
  void* workspace(size_t bytes);

  // Waits until all work queued on this context has finished (no-op on the CPU).
  void synchronize();

  // TF32 tensor-core math for cuBLAS and cuDNN (on by default, as in PyTorch's convolutions).
  bool tf32() const { return tf32_; }
  void set_tf32(bool enabled);

  // Per-context memo of small decisions keyed by a string (e.g. the cuDNN algorithm chosen
  // for a convolution shape). Values are opaque integers owned by the caller's convention.
  std::unordered_map<std::string, long long>& memo() { return memo_; }

#if WSVIS_WITH_CUDA
  cudaStream_t stream() const { return stream_; }
  cublasHandle_t cublas();
  cudnnHandle_t cudnn();
#endif

 private:
  explicit Context(Device device);

  Device device_;
  bool tf32_ = true;
  std::unique_ptr<CachingAllocator> allocator_;  // CUDA only
  void* workspace_ = nullptr;
  size_t workspace_bytes_ = 0;
  std::unordered_map<std::string, long long> memo_;
#if WSVIS_WITH_CUDA
  cudaStream_t stream_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  cudnnHandle_t cudnn_ = nullptr;
#endif
};

// Makes the context's device current on this thread for the lifetime of the guard.
class DeviceGuard {
 public:
  explicit DeviceGuard(const Context& ctx);
  ~DeviceGuard();
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = -1;
};

}  // namespace wsvis
