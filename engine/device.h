// Where a tensor lives: the host, or one CUDA device by index.
#pragma once

#include <string>

namespace wsvis {

struct Device {
  enum class Kind : uint8_t { cpu, cuda };
  Kind kind = Kind::cpu;
  int index = 0;

  static Device cpu() { return {Kind::cpu, 0}; }
  static Device cuda(int index = 0) { return {Kind::cuda, index}; }
  bool is_cpu() const { return kind == Kind::cpu; }
  bool is_cuda() const { return kind == Kind::cuda; }
  bool operator==(const Device& o) const { return kind == o.kind && index == o.index; }
  bool operator!=(const Device& o) const { return !(*this == o); }
  std::string str() const { return is_cpu() ? "cpu" : "cuda:" + std::to_string(index); }
};

// True when the build has the CUDA backend and the driver reports at least one device.
bool cuda_available();
// Number of visible CUDA devices (0 without a driver, a GPU, or the CUDA backend).
int cuda_device_count();

}  // namespace wsvis
