// The safetensors file format (https://github.com/huggingface/safetensors), as the Rust and
// Python implementations write and validate it:
//
//   8 bytes   N, little-endian u64: the header's length
//   N bytes   JSON: {"__metadata__": {str: str}, name: {"dtype": "F32", "shape": [..],
//             "data_offsets": [begin, end]}, ...}, padded with spaces to a multiple of 8
//   the rest  the tensors' bytes, little-endian, row-major; offsets relative to byte 8 + N;
//             the ranges tile the data section exactly (no gap, no overlap, nothing after)
//
// dtypes: F32, F64, I32, I64, U8 (wsvis' own); the format's others (BOOL, F16, BF16, I8, ...)
// are rejected on read with a message naming them, and never written. The writer puts tensors
// with larger elements first, so every tensor starts at a multiple of its element size, and
// keeps the caller's order in the header, which the reader returns.
//
// Loading wsvis state into modules (load_state_dict) and training-state resume live in
// layers/checkpoint.h.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "engine/tensor.h"

namespace wsvis {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// Writes path + ".tmp", flushes it to disk (fsync) and renames it over `path`, so a reader
// never sees a half-written file. Throws InputError naming the path when it cannot write, and
// Error for invalid arguments (duplicate or empty names, "__metadata__" as a name, undefined
// tensors). Tensors on a GPU are copied to the host one at a time.
void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// Loads every tensor to `ctx` (the CPU when null), in header order. InputError naming the file
// and the problem on any malformed file: truncated header length, header length beyond the file,
// invalid or non-object JSON, missing or ill-typed dtype/shape/data_offsets, unknown or
// unsupported dtype, offsets out of range, overlapping, leaving gaps or inconsistent with
// shape x element size, duplicate names.
NamedTensors load_safetensors(const std::string& path, const ContextPtr& ctx);
std::map<std::string, std::string> load_safetensors_metadata(const std::string& path);

// The validated header alone (no tensor data read): for tools that list a file's contents.
struct SafetensorsEntry {
  std::string name;
  DType dtype = DType::f32;
  Shape shape;
  uint64_t begin = 0, end = 0;  // relative to the data section
};
struct SafetensorsHeader {
  std::vector<SafetensorsEntry> tensors;  // header order
  std::map<std::string, std::string> metadata;
  uint64_t data_start = 0;  // 8 + N
};
SafetensorsHeader read_safetensors_header(const std::string& path);

// "F32" <-> DType::f32 and so on.
const char* safetensors_dtype_name(DType dtype);

}  // namespace wsvis
