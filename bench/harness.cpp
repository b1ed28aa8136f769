#include "bench/harness.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <thread>

#include "engine/cuda_check.h"
#include "engine/ops/linalg.h"
#include "kernels/basic.h"

namespace wsvis::bench {

namespace {

// Larger than the L2 of any current GPU (50 MiB on H100, 60 MiB on H200) by a wide margin.
constexpr size_t kL2FlushBytes = size_t(256) << 20;

std::string json_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace

std::vector<Entry>& registry() {
  static std::vector<Entry> entries;  // filled by static Registrars before main runs
  return entries;
}

std::string shapes(const std::vector<std::pair<const char*, Shape>>& named) {
  std::string out;
  for (const auto& [name, shape] : named) {
    if (!out.empty()) out += " ";
    out += name;
    out += shape_str(shape);
  }
  return out;
}

Runner::Runner(const Options& options) : options_(options), cpu_(Context::create(Device::cpu())) {
  if (!options_.cpu_only && cuda_available()) {
    gpu_ = Context::create(Device::cuda(0));
#if WSVIS_WITH_CUDA
    cudaDeviceProp prop{};
    CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
    device_name_ = prop.name;
    flush_bytes_ = kL2FlushBytes;
    flush_buffer_ = gpu_->allocate(flush_bytes_);
#endif
  } else {
    device_name_ = "cpu (" + std::to_string(std::thread::hardware_concurrency()) + " threads)";
  }
  if (!options_.json_path.empty()) {
    json_ = std::make_unique<std::ofstream>(options_.json_path, std::ios::app);
    WSVIS_CHECK(json_->good(), "wsvis_bench: cannot open ", options_.json_path, " for writing");
  }
}

Runner::~Runner() {
  if (flush_buffer_) gpu_->deallocate(flush_buffer_);
}

Measurement Runner::time(const std::function<void()>& fn, int warmup, int runs) {
  if (options_.runs > 0) runs = options_.runs;
  std::vector<double> ms;
  ms.reserve(static_cast<size_t>(runs));
  for (int i = 0; i < warmup; ++i) fn();
  ctx()->synchronize();
#if WSVIS_WITH_CUDA
  if (gpu_) {
    const cudaStream_t stream = gpu_->stream();
    DeviceGuard guard(*gpu_);
    cudaEvent_t start, stop;
    CUDA_CHECK(cudaEventCreate(&start));
    CUDA_CHECK(cudaEventCreate(&stop));
    for (int i = 0; i < runs; ++i) {
      // Evict the operands from L2 so every run reads them from HBM, as in a real network.
      CUDA_CHECK(cudaMemsetAsync(flush_buffer_, i & 0xff, flush_bytes_, stream));
      CUDA_CHECK(cudaEventRecord(start, stream));
      fn();
      CUDA_CHECK(cudaEventRecord(stop, stream));
      CUDA_CHECK(cudaEventSynchronize(stop));
      float elapsed = 0;
      CUDA_CHECK(cudaEventElapsedTime(&elapsed, start, stop));
      ms.push_back(elapsed);
    }
    CUDA_CHECK(cudaEventDestroy(start));
    CUDA_CHECK(cudaEventDestroy(stop));
  }
#endif
  if (!gpu_) {
    for (int i = 0; i < runs; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      fn();
      const auto t1 = std::chrono::steady_clock::now();
      ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    }
  }
  Measurement m;
  m.runs = runs;
  m.median_ms = median_of(ms);
  m.min_ms = *std::min_element(ms.begin(), ms.end());
  return m;
}

bool Runner::validate(const std::string& what, const Tensor& result, const Tensor& reference,
                      double rel_tol) {
  if (result.shape() != reference.shape()) {
    std::printf("  VALIDATION FAILED %s: shape %s vs reference %s\n", what.c_str(),
                result.shape_str().c_str(), reference.shape_str().c_str());
    return false;
  }
  const std::vector<double> a = result.to_vector<double>(), e = reference.to_vector<double>();
  double max_ref = 0, max_err = 0;
  size_t worst = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    max_ref = std::max(max_ref, std::fabs(e[i]));
    const double err = std::fabs(a[i] - e[i]);
    if (!(err <= max_err)) {  // also catches NaN
      max_err = std::isnan(err) ? INFINITY : err;
      worst = i;
    }
  }
  const bool ok = max_err <= rel_tol * std::max(max_ref, 1e-30);
  std::printf("  %s %s: max |err| %.3g at [%zu], max |ref| %.3g, bound %.3g * max |ref|\n",
              ok ? "validated" : "VALIDATION FAILED", what.c_str(), max_err, worst, max_ref,
              rel_tol);
  if (!ok) ++entries_failed;
  validated_ = ok;
  return ok;
}

double Runner::measured_gemm_ceiling(bool tf32) {
  double& cached = tf32 ? ceiling_tf32_ : ceiling_fp32_;
  if (cached > 0) return cached;
  const bool previous_tf32 = ctx()->tf32();
  ctx()->set_tf32(tf32);
  Generator gen(3);
  // GPU: 4096^3 and 8192^3 (big enough to saturate the tensor cores); CPU: 512^3 and 1024^3.
  const std::vector<int64_t> sizes = gpu_ ? std::vector<int64_t>{4096, 8192}
                                          : std::vector<int64_t>{512, 1024};
  double best = 0;
  for (int64_t n : sizes) {
    const Tensor a = Tensor::uniform({n, n}, -1, 1, gen, ctx());
    const Tensor b = Tensor::uniform({n, n}, -1, 1, gen, ctx());
    Tensor c = Tensor::empty({n, n}, DType::f32, ctx());
    const Measurement m =
        time([&] { ops::detail::gemm_into(false, false, 1, n, n, n, a, b, 0.0, c); }, 3, 10);
    best = std::max(best, 2.0 * n * n * n / (m.min_ms * 1e-3) / 1e12);
  }
  ctx()->set_tf32(previous_tf32);
  std::printf("  (measured ceiling: best square %s SGEMM = %.2f TFLOP/s)\n",
              gpu_ ? (tf32 ? "cuBLAS TF32" : "cuBLAS FP32") : "OpenBLAS", best);
  cached = best;
  return cached;
}

double Runner::measured_copy_bandwidth() {
  if (copy_gbps_ > 0) return copy_gbps_;
  // 1 GiB each way on the GPU (far beyond L2); 256 MiB on the CPU (beyond its caches).
  const int64_t n = (gpu_ ? (int64_t(1) << 30) : (int64_t(1) << 28)) / 4;
  const Tensor src = Tensor::zeros({n}, DType::f32, ctx());
  Tensor dst = Tensor::empty({n}, DType::f32, ctx());
  const Measurement m = time(
      [&] {
        if (gpu_) {
#if WSVIS_WITH_CUDA
          // A grid-stride SM copy kernel: copy engines under-read HBM bandwidth.
          kernels::cuda::cast<float, float>(gpu_->stream(), dst.data<float>(), src.data<float>(), n);
#endif
        } else {
          std::memcpy(dst.raw_data(), src.raw_data(), static_cast<size_t>(n) * 4);
        }
      },
      2, 10);
  copy_gbps_ = 2.0 * 4.0 * static_cast<double>(n) / (m.min_ms * 1e-3) / 1e9;
  std::printf("  (measured copy bandwidth: %.1f GB/s, read + write, %s)\n", copy_gbps_,
              gpu_ ? "SM copy kernel" : "memcpy");
  return copy_gbps_;
}

void Runner::report(const Result& r) {
  if (r.flops == 0 && r.bytes > 0) {
    const double gbps = r.bytes / (r.time.median_ms * 1e-3) / 1e9;
    const double copy = measured_copy_bandwidth();
    std::printf("%-34s %-44s %9.4f ms (min %.4f, n=%d) %9.2f MB %9.1f GB/s  %5.1f%% of measured "
                "copy bandwidth\n",
                r.name.c_str(), r.shape.c_str(), r.time.median_ms, r.time.min_ms, r.time.runs,
                r.bytes / 1e6, gbps, 100 * gbps / copy);
    std::fflush(stdout);
    if (json_) {
      *json_ << "{\"name\": \"" << json_escape(r.name) << "\", \"shape\": \""
             << json_escape(r.shape) << "\", \"device\": \"" << json_escape(device_name_)
             << "\", \"precision\": \"" << r.precision << "\", \"time_ms\": " << r.time.median_ms
             << ", \"min_ms\": " << r.time.min_ms << ", \"runs\": " << r.time.runs
             << ", \"bytes\": " << r.bytes << ", \"gbps\": " << gbps
             << ", \"copy_gbps\": " << copy << ", \"fraction_of_ceiling\": " << gbps / copy
             << ", \"validated\": " << (validated_ ? "true" : "false") << "}\n";
      json_->flush();
    }
    validated_ = false;
    return;
  }
  const double tflops = r.flops / (r.time.median_ms * 1e-3) / 1e12;
  const bool tf32 = r.precision == "tf32";
  const double ceiling = measured_gemm_ceiling(tf32);
  const double fraction = tflops / ceiling;
  const double datasheet = gpu_ ? (tf32 ? kH100Tf32DenseTflops : kH100Fp32SimtTflops) : 0.0;
  std::printf("%-34s %-44s %9.3f ms (min %.3f, n=%d) %9.2f GFLOP %8.2f TFLOP/s  %5.1f%% of "
              "measured %s GEMM",
              r.name.c_str(), r.shape.c_str(), r.time.median_ms, r.time.min_ms, r.time.runs,
              r.flops / 1e9, tflops, 100 * fraction, r.precision.c_str());
  if (datasheet > 0)
    std::printf("  %5.1f%% of datasheet %.1f", 100 * tflops / datasheet, datasheet);
  std::printf("\n");
  std::fflush(stdout);
  if (json_) {
    *json_ << "{\"name\": \"" << json_escape(r.name) << "\", \"shape\": \"" << json_escape(r.shape)
           << "\", \"device\": \"" << json_escape(device_name_) << "\", \"precision\": \""
           << r.precision << "\", \"time_ms\": " << r.time.median_ms
           << ", \"min_ms\": " << r.time.min_ms << ", \"runs\": " << r.time.runs
           << ", \"flops\": " << r.flops << ", \"tflops\": " << tflops
           << ", \"ceiling_tflops\": " << ceiling << ", \"fraction_of_ceiling\": " << fraction
           << ", \"datasheet_tflops\": " << datasheet
           << ", \"validated\": " << (validated_ ? "true" : "false") << "}\n";
    json_->flush();
  }
  validated_ = false;
}

int run_main(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&](const char* flag) -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "wsvis_bench: %s needs a value\n", flag);
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--json") {
      options.json_path = value("--json");
    } else if (arg == "--filter") {
      options.filter = value("--filter");
    } else if (arg == "--cpu") {
      options.cpu_only = true;
    } else if (arg == "--runs") {
      options.runs = std::atoi(value("--runs").c_str());
      if (options.runs <= 0) {
        std::fprintf(stderr, "wsvis_bench: --runs needs a positive integer\n");
        return 2;
      }
    } else if (arg == "--list") {
      for (const Entry& e : registry()) std::printf("%s\n", e.name.c_str());
      return 0;
    } else {
      std::fprintf(stderr,
                   "usage: wsvis_bench [--json out.jsonl] [--filter substr] [--cpu] [--runs N] "
                   "[--list]\n(unknown argument '%s')\n",
                   arg.c_str());
      return 2;
    }
  }

  int failed = 0, ran = 0;
  {
    Runner runner(options);
    if (runner.gpu())
      std::printf("wsvis_bench on %s: CUDA events, L2 flush, median\n",
                  runner.device_name().c_str());
    else
      std::printf("wsvis_bench: %s, so the CPU paths run at reduced sizes (std::chrono, "
                  "median); GPU figures need the GPU machine\n",
                  options.cpu_only ? "--cpu given" : "no CUDA GPU present");
    for (const Entry& entry : registry()) {
      if (!options.filter.empty() && entry.name.find(options.filter) == std::string::npos)
        continue;
      ++ran;
      std::printf("[%s]\n", entry.name.c_str());
      const int before = runner.entries_failed;
      try {
        entry.fn(runner);
      } catch (const std::exception& e) {
        std::printf("  ENTRY FAILED: %s\n", e.what());
        ++runner.entries_failed;
      }
      if (runner.entries_failed > before) ++failed;
    }
  }  // the contexts go before main returns
  if (ran == 0) std::printf("no entry matches --filter '%s' (try --list)\n", options.filter.c_str());
  if (failed) std::printf("%d entr%s failed\n", failed, failed == 1 ? "y" : "ies");
  return failed ? 1 : 0;
}

}  // namespace wsvis::bench
