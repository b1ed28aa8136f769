// assign_tool: solves linear sum assignment problems read from a file and prints the totals as
// JSON, so tests/python/test_assign_scipy.py can compare wsvis with scipy.
//
//   assign_tool [--device cpu|cuda] [--dtype double|float] FILE
//
// FILE (binary, little-endian): the 8 bytes "WSLSA1\0\0", an int64 problem count, then per
// problem int32 R, int32 C, int32 maximize (0/1), int32 reserved (0), and R*C float64 costs
// row-major (+inf / -inf for forbidden pairs, as for scipy).
// Output on stdout: {"device": "...", "dtype": "...", "results": [{"status": "ok",
// "total": 12.0}, ...]}, total null unless ok. Exit status: 0 solved (whatever the statuses),
// 2 bad arguments or file, 3 --device cuda without a usable CUDA device.
//
// The CPU path runs the batched entry point with one problem per call; the CUDA path packs
// consecutive problems with the same `maximize` into ragged batches (rows/cols per problem),
// so it exercises the batched layout the kernels document.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "kernels/assign.h"

#if WSVIS_WITH_CUDA
#include <cuda_runtime.h>
#endif

namespace {

using wsvis::kernels::assign_status_name;

struct Problem {
  int32_t R = 0, C = 0;
  bool maximize = false;
  std::vector<double> cost;
};

struct Result {
  int32_t status = 0;
  double total = 0;
};

[[noreturn]] void die(int code, const std::string& message) {
  std::fprintf(stderr, "assign_tool: %s\n", message.c_str());
  std::exit(code);
}

std::vector<Problem> read_problems(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) die(2, "cannot open " + path);
  char magic[8];
  int64_t count = 0;
  in.read(magic, 8);
  in.read(reinterpret_cast<char*>(&count), sizeof(count));
  if (!in || std::memcmp(magic, "WSLSA1\0\0", 8) != 0) die(2, path + ": not a WSLSA1 file");
  if (count < 0) die(2, path + ": negative problem count");
  std::vector<Problem> problems(static_cast<size_t>(count));
  for (Problem& p : problems) {
    int32_t header[4];
    in.read(reinterpret_cast<char*>(header), sizeof(header));
    if (!in || header[0] < 0 || header[1] < 0) die(2, path + ": truncated or bad problem header");
    p.R = header[0];
    p.C = header[1];
    p.maximize = header[2] != 0;
    p.cost.resize(size_t(p.R) * size_t(p.C));
    in.read(reinterpret_cast<char*>(p.cost.data()), std::streamsize(p.cost.size() * sizeof(double)));
    if (!in) die(2, path + ": truncated cost matrix");
  }
  return problems;
}

template <typename T>
std::vector<Result> solve_cpu(const std::vector<Problem>& problems) {
  std::vector<Result> results(problems.size());
  std::vector<char> ws;
  std::vector<int32_t> r2c;
  for (size_t k = 0; k < problems.size(); ++k) {
    const Problem& p = problems[k];
    const std::vector<T> cost(p.cost.begin(), p.cost.end());
    ws.resize(wsvis::kernels::cpu::assign_workspace_bytes(p.R, p.C));
    r2c.resize(size_t(p.R));
    wsvis::kernels::cpu::linear_sum_assignment_batched(cost.data(), 1, p.R, p.C, nullptr, nullptr,
                                                       p.maximize, r2c.data(), &results[k].total,
                                                       &results[k].status, ws.data(), ws.size());
  }
  return results;
}

#if WSVIS_WITH_CUDA
void cuda_ok(cudaError_t e, const char* what) {
  if (e != cudaSuccess) die(1, std::string(what) + ": " + cudaGetErrorString(e));
}

template <typename T>
std::vector<Result> solve_cuda(const std::vector<Problem>& problems) {
  std::vector<Result> results(problems.size());
  // Slots of one batch are max R x max C; cap a batch's padded size so memory stays modest.
  const size_t kMaxElements = size_t(1) << 25;
  size_t begin = 0;
  while (begin < problems.size()) {
    const bool maximize = problems[begin].maximize;
    int64_t R = 0, C = 0;
    size_t end = begin;
    while (end < problems.size() && problems[end].maximize == maximize) {
      const int64_t r = std::max<int64_t>(R, problems[end].R), c = std::max<int64_t>(C, problems[end].C);
      if (end > begin && size_t(end - begin + 1) * size_t(r) * size_t(c) > kMaxElements) break;
      R = r;
      C = c;
      ++end;
    }
    const int64_t B = int64_t(end - begin);
    std::vector<T> cost(size_t(B * R * C), T(0));
    const size_t nb = static_cast<size_t>(B);
    std::vector<int32_t> rows(nb), cols(nb);
    for (int64_t b = 0; b < B; ++b) {
      const Problem& p = problems[begin + size_t(b)];
      rows[size_t(b)] = p.R;
      cols[size_t(b)] = p.C;
      for (int64_t i = 0; i < p.R; ++i)
        for (int64_t j = 0; j < p.C; ++j)
          cost[size_t((b * R + i) * C + j)] = T(p.cost[size_t(i * p.C + j)]);
    }
    T* d_cost = nullptr;
    int32_t *d_rows = nullptr, *d_cols = nullptr, *d_r2c = nullptr, *d_status = nullptr;
    double* d_total = nullptr;
    cuda_ok(cudaMalloc(&d_cost, std::max<size_t>(cost.size(), 1) * sizeof(T)), "cudaMalloc");
    cuda_ok(cudaMalloc(&d_rows, size_t(B) * sizeof(int32_t)), "cudaMalloc");
    cuda_ok(cudaMalloc(&d_cols, size_t(B) * sizeof(int32_t)), "cudaMalloc");
    cuda_ok(cudaMalloc(&d_r2c, std::max<size_t>(size_t(B * R), 1) * sizeof(int32_t)), "cudaMalloc");
    cuda_ok(cudaMalloc(&d_status, size_t(B) * sizeof(int32_t)), "cudaMalloc");
    cuda_ok(cudaMalloc(&d_total, size_t(B) * sizeof(double)), "cudaMalloc");
    cuda_ok(cudaMemcpy(d_cost, cost.data(), cost.size() * sizeof(T), cudaMemcpyHostToDevice), "upload");
    cuda_ok(cudaMemcpy(d_rows, rows.data(), rows.size() * sizeof(int32_t), cudaMemcpyHostToDevice), "upload");
    cuda_ok(cudaMemcpy(d_cols, cols.data(), cols.size() * sizeof(int32_t), cudaMemcpyHostToDevice), "upload");
    wsvis::kernels::cuda::linear_sum_assignment_batched<T>(nullptr, d_cost, B, R, C, d_rows, d_cols,
                                                           maximize, d_r2c, d_total, d_status);
    cuda_ok(cudaDeviceSynchronize(), "solve");
    std::vector<int32_t> status(nb);
    std::vector<double> total(nb);
    cuda_ok(cudaMemcpy(status.data(), d_status, status.size() * sizeof(int32_t), cudaMemcpyDeviceToHost), "download");
    cuda_ok(cudaMemcpy(total.data(), d_total, total.size() * sizeof(double), cudaMemcpyDeviceToHost), "download");
    for (int64_t b = 0; b < B; ++b) results[begin + size_t(b)] = Result{status[size_t(b)], total[size_t(b)]};
    for (void* p : {static_cast<void*>(d_cost), static_cast<void*>(d_rows), static_cast<void*>(d_cols),
                    static_cast<void*>(d_r2c), static_cast<void*>(d_status), static_cast<void*>(d_total)})
      cuda_ok(cudaFree(p), "cudaFree");
    begin = end;
  }
  return results;
}
#endif

}  // namespace

int main(int argc, char** argv) {
  std::string device = "cpu", dtype = "double", path;
  for (int a = 1; a < argc; ++a) {
    const std::string arg = argv[a];
    if (arg == "--device" && a + 1 < argc) {
      device = argv[++a];
    } else if (arg == "--dtype" && a + 1 < argc) {
      dtype = argv[++a];
    } else if (!arg.empty() && arg[0] != '-' && path.empty()) {
      path = arg;
    } else {
      die(2, "usage: assign_tool [--device cpu|cuda] [--dtype double|float] FILE");
    }
  }
  if (path.empty() || (device != "cpu" && device != "cuda") || (dtype != "double" && dtype != "float"))
    die(2, "usage: assign_tool [--device cpu|cuda] [--dtype double|float] FILE");
  const std::vector<Problem> problems = read_problems(path);

  std::vector<Result> results;
  if (device == "cpu") {
    results = dtype == "double" ? solve_cpu<double>(problems) : solve_cpu<float>(problems);
  } else {
#if WSVIS_WITH_CUDA
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) die(3, "no CUDA device");
    results = dtype == "double" ? solve_cuda<double>(problems) : solve_cuda<float>(problems);
#else
    die(3, "built without CUDA");
#endif
  }

  std::printf("{\"device\": \"%s\", \"dtype\": \"%s\", \"results\": [", device.c_str(), dtype.c_str());
  for (size_t k = 0; k < results.size(); ++k) {
    const Result& r = results[k];
    std::printf("%s{\"status\": \"%s\", \"total\": ", k ? ", " : "", assign_status_name(r.status));
    if (r.status == wsvis::kernels::kAssignOk && std::isfinite(r.total))
      std::printf("%.17g}", r.total);
    else
      std::printf("null}");
  }
  std::printf("]}\n");
  return 0;
}
