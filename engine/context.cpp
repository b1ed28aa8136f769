#include "engine/context.h"

#include <cstdlib>
#include <cstring>

#include "engine/cuda_check.h"
#include "engine/error.h"

namespace wsvis {

#if WSVIS_WITH_CUDA
namespace {

// Raw device memory, events and synchronisation for the caching allocator.
class CudaMemoryBackend : public MemoryBackend {
 public:
  explicit CudaMemoryBackend(int device) : device_(device) {}
  void* raw_alloc(size_t bytes) override {
    void* ptr = nullptr;
    cudaError_t err = cudaMalloc(&ptr, bytes);
    if (err == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();  // clear the sticky-free error so later checks are not blamed
      return nullptr;
    }
    CUDA_CHECK(err);
    return ptr;
  }
  void raw_free(void* ptr) override { CUDA_CHECK_PRINT(cudaFree(ptr)); }
  void synchronize() override { CUDA_CHECK(cudaDeviceSynchronize()); }
  EventHandle record_event(StreamHandle stream) override {
    cudaEvent_t event;
    CUDA_CHECK(cudaEventCreateWithFlags(&event, cudaEventDisableTiming));
    CUDA_CHECK(cudaEventRecord(event, static_cast<cudaStream_t>(stream)));
    return event;
  }
  bool event_done(EventHandle event) override {
    cudaError_t err = cudaEventQuery(static_cast<cudaEvent_t>(event));
    if (err == cudaErrorNotReady) return false;
    CUDA_CHECK(err);
    return true;
  }
  void destroy_event(EventHandle event) override {
    CUDA_CHECK_PRINT(cudaEventDestroy(static_cast<cudaEvent_t>(event)));
  }
  std::string describe() const override {
    size_t free_bytes = 0, total_bytes = 0;
    cudaMemGetInfo(&free_bytes, &total_bytes);
    return detail::concat("cuda:", device_, " has ", free_bytes >> 20, " MiB free of ",
                          total_bytes >> 20, " MiB");
  }

 private:
  int device_;
};

}  // namespace
#endif

bool cuda_available() { return cuda_device_count() > 0; }

int cuda_device_count() {
#if WSVIS_WITH_CUDA
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    (void)cudaGetLastError();
    return 0;
  }
  return count;
#else
  return 0;
#endif
}

ContextPtr Context::create(Device device) {
  if (device.is_cuda()) {
#if WSVIS_WITH_CUDA
    const int count = cuda_device_count();
    WSVIS_CHECK(device.index >= 0 && device.index < count, "Context::create: ", device.str(),
                " is not available (", count, " CUDA device(s) visible)");
#else
    WSVIS_FAIL("Context::create: ", device.str(), " requested but wsvis was built without CUDA");
#endif
  }
  return ContextPtr(new Context(device));
}

Context::Context(Device device) : device_(device) {
#if WSVIS_WITH_CUDA
  if (device_.is_cuda()) {
    DeviceGuard guard(*this);
    CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    allocator_ = std::make_unique<CachingAllocator>(std::make_unique<CudaMemoryBackend>(device_.index));
  }
#endif
}

Context::~Context() {
#if WSVIS_WITH_CUDA
  if (device_.is_cuda()) {
    DeviceGuard guard(*this);
    CUDA_CHECK_PRINT(cudaStreamSynchronize(stream_));
    if (workspace_) allocator_->deallocate(workspace_);
    allocator_.reset();
    if (cudnn_) cudnnDestroy(cudnn_);
    if (cublas_) cublasDestroy(cublas_);
    CUDA_CHECK_PRINT(cudaStreamDestroy(stream_));
    return;
  }
#endif
  std::free(workspace_);
}

void* Context::allocate(size_t bytes) {
  if (device_.is_cpu()) {
    // 64-byte alignment for vector loads; aligned_alloc needs a multiple of the alignment.
    const size_t rounded = (bytes + 63) / 64 * 64;
    void* ptr = std::aligned_alloc(64, rounded == 0 ? 64 : rounded);
    WSVIS_CHECK(ptr != nullptr, "out of host memory: asked for ", bytes, " bytes");
    return ptr;
  }
#if WSVIS_WITH_CUDA
  DeviceGuard guard(*this);
  return allocator_->allocate(bytes, stream_);
#else
  WSVIS_FAIL("unreachable: CUDA context without CUDA backend");
#endif
}

void Context::deallocate(void* ptr) {
  if (device_.is_cpu()) {
    std::free(ptr);
    return;
  }
  allocator_->deallocate(ptr);
}

AllocatorStats Context::allocator_stats() const {
  return allocator_ ? allocator_->stats() : AllocatorStats{};
}

void Context::release_cached_memory() {
  if (allocator_) allocator_->release_cache();
}

void* Context::workspace(size_t bytes) {
  if (bytes <= workspace_bytes_) return workspace_;
  if (device_.is_cpu()) {
    std::free(workspace_);
    workspace_ = nullptr;
  } else if (workspace_) {
    allocator_->deallocate(workspace_);  // stream-ordered: safe to reuse on this stream
    workspace_ = nullptr;
  }
  workspace_bytes_ = 0;
  workspace_ = allocate(bytes);
  workspace_bytes_ = bytes;
  return workspace_;
}

void Context::synchronize() {
#if WSVIS_WITH_CUDA
  if (device_.is_cuda()) CUDA_CHECK(cudaStreamSynchronize(stream_));
#endif
}

void Context::set_tf32(bool enabled) {
  tf32_ = enabled;
#if WSVIS_WITH_CUDA
  if (cublas_)
    CUBLAS_CHECK(cublasSetMathMode(cublas_, enabled ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
#endif
}

#if WSVIS_WITH_CUDA
cublasHandle_t Context::cublas() {
  WSVIS_CHECK(device_.is_cuda(), "Context::cublas on a ", device_.str(), " context");
  if (!cublas_) {
    DeviceGuard guard(*this);
    CUBLAS_CHECK(cublasCreate(&cublas_));
    CUBLAS_CHECK(cublasSetStream(cublas_, stream_));
    CUBLAS_CHECK(cublasSetMathMode(cublas_, tf32_ ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
  }
  return cublas_;
}

cudnnHandle_t Context::cudnn() {
  WSVIS_CHECK(device_.is_cuda(), "Context::cudnn on a ", device_.str(), " context");
  if (!cudnn_) {
    DeviceGuard guard(*this);
    CUDNN_CHECK(cudnnCreate(&cudnn_));
    CUDNN_CHECK(cudnnSetStream(cudnn_, stream_));
  }
  return cudnn_;
}
#endif

DeviceGuard::DeviceGuard(const Context& ctx) {
#if WSVIS_WITH_CUDA
  if (ctx.device().is_cuda()) {
    CUDA_CHECK(cudaGetDevice(&previous_));
    if (previous_ != ctx.device().index) CUDA_CHECK(cudaSetDevice(ctx.device().index));
  }
#endif
}

DeviceGuard::~DeviceGuard() {
#if WSVIS_WITH_CUDA
  if (previous_ >= 0) CUDA_CHECK_PRINT(cudaSetDevice(previous_));
#endif
}

namespace detail {
#if WSVIS_WITH_CUDA
bool sync_debug_enabled() {
  static const bool enabled = [] {
    const char* v = std::getenv("WSVIS_SYNC_DEBUG");
    return v && std::strcmp(v, "0") != 0 && v[0] != '\0';
  }();
  return enabled;
}

const char* cublas_status_name(cublasStatus_t status) {
  switch (status) {
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    default: return "CUBLAS_STATUS_UNKNOWN";
  }
}
#endif
}  // namespace detail

}  // namespace wsvis
