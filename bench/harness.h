// The benchmark harness behind `wsvis_bench`: a registry of named entries, a Runner that
// times work the way every entry must (validate against the CPU twin first, then warm-up,
// L2 flush before each timed run, median of N with CUDA events), and one output format for
// the terminal and for JSON lines.
//
//   wsvis_bench [--json out.jsonl] [--filter substr] [--cpu] [--runs N]
//
// Without a GPU (or with --cpu) the entries run their CPU paths at smaller sizes, timed with
// std::chrono (median of N), so `make bench` works on any machine.
#pragma once

#include <cstdint>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace wsvis::bench {

// Dense datasheet peaks of the H100 SXM (also the H200's: same GH100 compute), TFLOP/s.
constexpr double kH100Tf32DenseTflops = 494.7;
constexpr double kH100Fp32SimtTflops = 66.9;

struct Options {
  std::string json_path;  // empty: no JSON
  std::string filter;     // substring of entry names; empty: all
  bool cpu_only = false;
  int runs = 0;           // timed runs per measurement; 0: the entry's default
};

struct Measurement {
  double median_ms = 0, min_ms = 0;
  int runs = 0;
};

// One timed line: what ran, how long, how much work.
struct Result {
  std::string name;       // "conv2d_fwd/res2_3x3"
  std::string shape;      // human-readable operand shapes
  std::string precision;  // "tf32", "fp32", "fp64"
  Measurement time;
  double flops = 0;  // compute-bound entries: judged as TFLOP/s against the GEMM ceiling
  double bytes = 0;  // bandwidth-bound entries (flops 0): bytes read + written, judged as GB/s
                     // against the measured copy bandwidth
};

class Runner {
 public:
  explicit Runner(const Options& options);
  ~Runner();
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;

  // True when entries run on the GPU (one is present and --cpu was not given).
  bool gpu() const { return gpu_ != nullptr; }
  // The context entries time on (the GPU's, or the CPU's), and the CPU one for references.
  const ContextPtr& ctx() const { return gpu_ ? gpu_ : cpu_; }
  const ContextPtr& cpu_ctx() const { return cpu_; }
  const std::string& device_name() const { return device_name_; }
  const Options& options() const { return options_; }

  // Times fn, which must queue its work on ctx(). GPU: CUDA events on ctx()'s stream, an L2
  // flush (a 256 MiB memset) before every timed run, `warmup` untimed runs first. CPU:
  // std::chrono around each run. Returns the median (and min) of `runs` runs.
  Measurement time(const std::function<void()>& fn, int warmup, int runs);

  // Compares a GPU result with its CPU twin: max |result - reference| must not exceed
  // rel_tol * max |reference| (a norm-wise bound: TF32 errors scale with the output's
  // magnitude, not each element's). Prints the verdict; false means abort the entry.
  bool validate(const std::string& what, const Tensor& result, const Tensor& reference,
                double rel_tol);

  // Best TFLOP/s of large square SGEMMs (cuBLAS on the GPU with TF32 on or off, OpenBLAS on
  // the CPU), measured once per precision on first use: the "measured ceiling".
  double measured_gemm_ceiling(bool tf32);

  // Bytes per second (read + written) of a large SM copy kernel on the GPU, or memcpy on the
  // CPU, measured once on first use: the ceiling of bandwidth-bound entries, in GB/s.
  double measured_copy_bandwidth();

  // Prints the result with its throughput and fractions of the ceilings, appends a JSON line.
  void report(const Result& result);

  int entries_failed = 0;  // validation failures and exceptions so far

 private:
  Options options_;
  ContextPtr cpu_, gpu_;
  std::string device_name_;
  void* flush_buffer_ = nullptr;
  size_t flush_bytes_ = 0;
  double ceiling_tf32_ = 0, ceiling_fp32_ = 0, copy_gbps_ = 0;
  bool validated_ = false;  // a validate() passed since the last report(): written to the JSON
  std::unique_ptr<std::ofstream> json_;
};

using EntryFn = std::function<void(Runner&)>;
struct Entry {
  std::string name;
  EntryFn fn;
};
std::vector<Entry>& registry();

struct Registrar {
  Registrar(const char* name, EntryFn fn) { registry().push_back({name, std::move(fn)}); }
};

// Parses the command line, runs the matching entries in registration order, returns the exit
// status (0, or 1 when an entry failed validation or threw, 2 on a bad command line).
int run_main(int argc, char** argv);

// Formats "(8, 64, 56, 56)"-style shapes into an entry's shape string.
std::string shapes(const std::vector<std::pair<const char*, Shape>>& named);

}  // namespace wsvis::bench
