#include "engine/safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors stores little-endian bytes; this reader and writer copy them as they are"
#endif

namespace wsvis {

namespace {

using ordered_json = nlohmann::ordered_json;

// The Rust implementation refuses headers above 100 MB; so do we (a corrupt length would
// otherwise make us allocate whatever the first 8 bytes say).
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
constexpr size_t kHeaderAlignment = 8;

[[noreturn]] void bad_file(const std::string& path, const std::string& problem) {
  throw InputError("safetensors file " + path + ": " + problem);
}

// The format's dtype names that wsvis has no tensor type for.
bool is_foreign_dtype(const std::string& s) {
  static const std::set<std::string> names = {"BOOL",    "I8",  "I16",     "U16",     "U32",
                                              "U64",     "F16", "BF16",    "F8_E4M3", "F8_E5M2",
                                              "F8_E8M0", "F4",  "F6_E2M3", "F6_E3M2", "C64"};
  return names.count(s) != 0;
}

bool parse_dtype(const std::string& s, DType& out) {
  if (s == "F32")
    out = DType::f32;
  else if (s == "F64")
    out = DType::f64;
  else if (s == "I32")
    out = DType::i32;
  else if (s == "I64")
    out = DType::i64;
  else if (s == "U8")
    out = DType::u8;
  else
    return false;
  return true;
}

struct FileCloser {
  void operator()(std::FILE* f) const {
    if (f) std::fclose(f);
  }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

File open_for_read(const std::string& path, uint64_t& size) {
  File f(std::fopen(path.c_str(), "rb"));
  if (!f)
    throw InputError("safetensors file " + path + ": cannot open (" + std::strerror(errno) + ")");
  struct stat st;
  if (fstat(fileno(f.get()), &st) != 0 || !S_ISREG(st.st_mode))
    bad_file(path, "not a regular file");
  size = static_cast<uint64_t>(st.st_size);
  return f;
}

void read_exact(std::FILE* f, void* dst, uint64_t offset, uint64_t bytes, const std::string& path,
                const char* what) {
  if (bytes == 0) return;
  if (fseeko(f, static_cast<off_t>(offset), SEEK_SET) != 0 || std::fread(dst, 1, bytes, f) != bytes)
    bad_file(path, std::string("could not read ") + what + " (" + std::to_string(bytes) +
                       " bytes at offset " + std::to_string(offset) + ")");
}

// A non-negative JSON integer (nlohmann stores those as unsigned).
bool as_u64(const ordered_json& j, uint64_t& out) {
  if (!j.is_number_unsigned()) return false;
  out = j.get<uint64_t>();
  return true;
}

SafetensorsEntry parse_entry(const std::string& path, const std::string& name,
                             const ordered_json& info) {
  const std::string where = "tensor '" + name + "'";
  if (!info.is_object()) bad_file(path, where + ": expected an object, got " + info.dump());
  SafetensorsEntry e;
  e.name = name;
  for (const char* key : {"dtype", "shape", "data_offsets"})
    if (!info.contains(key)) bad_file(path, where + " has no \"" + key + "\"");

  const ordered_json& dtype = info["dtype"];
  if (!dtype.is_string())
    bad_file(path, where + ": \"dtype\" must be a string, got " + dtype.dump());
  const std::string dname = dtype.get<std::string>();
  if (!parse_dtype(dname, e.dtype)) {
    if (is_foreign_dtype(dname))
      bad_file(path, where + " has dtype " + dname +
                         ", which wsvis does not support (supported: F32, F64, I32, I64, U8)");
    bad_file(path, where + " has unknown dtype \"" + dname + "\"");
  }

  const ordered_json& shape = info["shape"];
  if (!shape.is_array())
    bad_file(path, where + ": \"shape\" must be an array, got " + shape.dump());
  if (shape.size() > static_cast<size_t>(kMaxDims))
    bad_file(path, where + " has " + std::to_string(shape.size()) +
                       " dimensions; wsvis tensors have at most " + std::to_string(kMaxDims));
  // numel * element size must fit in 63 bits; checked as the product grows.
  uint64_t numel = 1;
  bool overflow = false;
  for (const ordered_json& d : shape) {
    uint64_t v = 0;
    if (!as_u64(d, v))
      bad_file(path, where + ": shape " + shape.dump() + " must hold non-negative integers");
    if (v > (uint64_t(1) << 62)) overflow = true;
    e.shape.push_back(static_cast<int64_t>(v));
    if (v != 0 && numel > (uint64_t(1) << 62) / v) overflow = true;
    numel = overflow ? numel : numel * v;
  }
  if (overflow) bad_file(path, where + ": shape " + shape.dump() + " is too large");
  if (std::find(e.shape.begin(), e.shape.end(), 0) != e.shape.end()) numel = 0;

  const ordered_json& offsets = info["data_offsets"];
  if (!offsets.is_array() || offsets.size() != 2 || !as_u64(offsets[0], e.begin) ||
      !as_u64(offsets[1], e.end))
    bad_file(path, where +
                       ": \"data_offsets\" must be [begin, end] with non-negative integers, got " +
                       offsets.dump());
  if (e.begin > e.end)
    bad_file(path, where + ": data_offsets " + offsets.dump() + " end before they begin");
  const uint64_t expected = numel * dtype_size(e.dtype);
  if (e.end - e.begin != expected)
    bad_file(path, where + ": data_offsets " + offsets.dump() + " span " +
                       std::to_string(e.end - e.begin) + " bytes but " + dname + " " +
                       shape_str(e.shape) + " needs " + std::to_string(expected));
  return e;
}

SafetensorsHeader parse_header(std::FILE* f, uint64_t file_size, const std::string& path) {
  if (file_size < 8)
    bad_file(path, "truncated: " + std::to_string(file_size) +
                       " bytes, less than the 8-byte header length");
  unsigned char len_bytes[8];
  read_exact(f, len_bytes, 0, 8, path, "the header length");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | len_bytes[i];
  if (n > file_size - 8)
    bad_file(path, "header length " + std::to_string(n) + " runs beyond the end of the file (" +
                       std::to_string(file_size) + " bytes)");
  if (n > kMaxHeaderBytes)
    bad_file(path, "header length " + std::to_string(n) + " exceeds the format's limit of " +
                       std::to_string(kMaxHeaderBytes) + " bytes");
  std::string text(n, '\0');
  read_exact(f, text.data(), 8, n, path, "the header");
  if (n == 0 || text[0] != '{')
    bad_file(path, "the header does not start with '{' (not a JSON object)");

  // Duplicate top-level keys would silently overwrite each other: catch them while parsing.
  std::set<std::string> keys;
  std::string duplicate;
  ordered_json::parser_callback_t callback = [&](int depth, nlohmann::json::parse_event_t event,
                                                 ordered_json& parsed) {
    if (event == nlohmann::json::parse_event_t::key && depth == 1 &&
        !keys.insert(parsed.get<std::string>()).second && duplicate.empty())
      duplicate = parsed.get<std::string>();
    return true;
  };
  ordered_json header;
  try {
    header = ordered_json::parse(text, callback);
  } catch (const nlohmann::json::exception& e) {
    bad_file(path, std::string("invalid header JSON: ") + e.what());
  }
  if (!header.is_object()) bad_file(path, "the header is not a JSON object");
  if (!duplicate.empty()) bad_file(path, "'" + duplicate + "' appears twice in the header");

  SafetensorsHeader out;
  out.data_start = 8 + n;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (!it.value().is_object()) bad_file(path, "\"__metadata__\" must be an object of strings");
      for (auto m = it.value().begin(); m != it.value().end(); ++m) {
        if (!m.value().is_string())
          bad_file(path, "\"__metadata__\" value of '" + m.key() +
                             "' is not a string: " + m.value().dump());
        out.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    out.tensors.push_back(parse_entry(path, it.key(), it.value()));
  }

  // The ranges must tile [0, data size) exactly, as the Rust implementation validates.
  const uint64_t data_size = file_size - out.data_start;
  std::vector<const SafetensorsEntry*> by_offset;
  for (const SafetensorsEntry& e : out.tensors) {
    if (e.end > data_size)
      bad_file(path, "tensor '" + e.name + "': data_offsets [" + std::to_string(e.begin) + ", " +
                         std::to_string(e.end) + "] run beyond the data section (" +
                         std::to_string(data_size) + " bytes)");
    by_offset.push_back(&e);
  }
  std::stable_sort(by_offset.begin(), by_offset.end(), [](const auto* a, const auto* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  uint64_t covered = 0;
  const SafetensorsEntry* owner = nullptr;  // the tensor that ends at `covered`
  for (const SafetensorsEntry* e : by_offset) {
    if (e->begin < covered)
      bad_file(path, "tensor '" + e->name + "' (bytes " + std::to_string(e->begin) + ".." +
                         std::to_string(e->end) + ") overlaps tensor '" + owner->name +
                         "' (bytes " + std::to_string(owner->begin) + ".." +
                         std::to_string(owner->end) + ")");
    if (e->begin > covered)
      bad_file(path, "bytes " + std::to_string(covered) + ".." + std::to_string(e->begin) +
                         " of the data section belong to no tensor (a gap before '" + e->name +
                         "')");
    if (e->end > covered) {
      covered = e->end;
      owner = e;
    }
  }
  if (covered != data_size)
    bad_file(path, "the data section has " + std::to_string(data_size) +
                       " bytes but the tensors cover " + std::to_string(covered) +
                       " (trailing bytes or a truncated file)");
  return out;
}

// Closes and removes the temporary file if the write does not complete.
struct TempFile {
  std::string path;
  std::FILE* f = nullptr;
  bool done = false;
  ~TempFile() {
    if (f) std::fclose(f);
    if (!done) std::remove(path.c_str());
  }
};

[[noreturn]] void write_failed(const std::string& path, const std::string& what) {
  throw InputError("safetensors file " + path + ": " + what + " (" + std::strerror(errno) + ")");
}

void write_all(TempFile& tmp, const void* data, size_t bytes, const std::string& path) {
  if (bytes && std::fwrite(data, 1, bytes, tmp.f) != bytes) write_failed(path, "write failed");
}

}  // namespace

const char* safetensors_dtype_name(DType dtype) {
  switch (dtype) {
    case DType::f32:
      return "F32";
    case DType::f64:
      return "F64";
    case DType::i32:
      return "I32";
    case DType::i64:
      return "I64";
    case DType::u8:
      return "U8";
  }
  return "?";
}

void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata) {
  std::set<std::string> names;
  for (const auto& [name, t] : tensors) {
    WSVIS_CHECK(!name.empty(), "save_safetensors(", path, "): a tensor has an empty name");
    WSVIS_CHECK(name != "__metadata__", "save_safetensors(", path,
                "): \"__metadata__\" is reserved by the format");
    WSVIS_CHECK(names.insert(name).second, "save_safetensors(", path, "): tensor '", name,
                "' given twice");
    WSVIS_CHECK(t.defined(), "save_safetensors(", path, "): tensor '", name, "' is undefined");
  }
  // Data order: larger elements first (stable), so that every tensor is aligned to its element
  // size given the 8-aligned data start; the header keeps the caller's order.
  std::vector<size_t> order(tensors.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return dtype_size(tensors[a].second.dtype()) > dtype_size(tensors[b].second.dtype());
  });
  std::vector<uint64_t> begin(tensors.size());
  uint64_t offset = 0;
  for (size_t i : order) {
    begin[i] = offset;
    offset += tensors[i].second.nbytes();
  }
  ordered_json header = ordered_json::object();
  if (!metadata.empty()) {
    ordered_json meta = ordered_json::object();
    for (const auto& [k, v] : metadata) meta[k] = v;
    header["__metadata__"] = meta;
  }
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i].second;
    ordered_json shape = ordered_json::array();
    for (int64_t d : t.shape()) shape.push_back(d);
    header[tensors[i].first] = {{"dtype", safetensors_dtype_name(t.dtype())},
                                {"shape", shape},
                                {"data_offsets", {begin[i], begin[i] + t.nbytes()}}};
  }
  std::string text = header.dump();
  text.append((kHeaderAlignment - text.size() % kHeaderAlignment) % kHeaderAlignment, ' ');
  unsigned char len_bytes[8];
  for (int i = 0; i < 8; ++i)
    len_bytes[i] = static_cast<unsigned char>(uint64_t(text.size()) >> (8 * i));

  TempFile tmp;
  tmp.path = path + ".tmp";
  tmp.f = std::fopen(tmp.path.c_str(), "wb");
  if (!tmp.f) write_failed(tmp.path, "cannot create");
  write_all(tmp, len_bytes, 8, tmp.path);
  write_all(tmp, text.data(), text.size(), tmp.path);
  std::vector<char> staging;
  for (size_t i : order) {
    const Tensor& t = tensors[i].second;
    if (t.nbytes() == 0) continue;
    if (t.device().is_cpu()) {
      write_all(tmp, t.raw_data(), t.nbytes(), tmp.path);
    } else {
      staging.resize(t.nbytes());
      detail::copy_to_host(staging.data(), t.raw_data(), t.context(), t.nbytes());
      write_all(tmp, staging.data(), staging.size(), tmp.path);
    }
  }
  if (std::fflush(tmp.f) != 0) write_failed(tmp.path, "flush failed");
  if (fsync(fileno(tmp.f)) != 0) write_failed(tmp.path, "fsync failed");
  const int close_status = std::fclose(tmp.f);
  tmp.f = nullptr;
  if (close_status != 0) write_failed(tmp.path, "close failed");
  if (std::rename(tmp.path.c_str(), path.c_str()) != 0)
    write_failed(path, "rename from " + tmp.path + " failed");
  tmp.done = true;
  // Make the rename itself durable: fsync the directory (best effort: some file systems refuse).
  const size_t slash = path.find_last_of('/');
  const std::string dir =
      slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  const int dfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    (void)fsync(dfd);
    close(dfd);
  }
}

SafetensorsHeader read_safetensors_header(const std::string& path) {
  uint64_t size = 0;
  File f = open_for_read(path, size);
  return parse_header(f.get(), size, path);
}

std::map<std::string, std::string> load_safetensors_metadata(const std::string& path) {
  return read_safetensors_header(path).metadata;
}

NamedTensors load_safetensors(const std::string& path, const ContextPtr& ctx) {
  uint64_t size = 0;
  File f = open_for_read(path, size);
  const SafetensorsHeader header = parse_header(f.get(), size, path);
  const ContextPtr target = ctx ? ctx : Context::create(Device::cpu());
  NamedTensors out;
  out.reserve(header.tensors.size());
  std::vector<char> staging;
  for (const SafetensorsEntry& e : header.tensors) {
    Tensor t = Tensor::empty(e.shape, e.dtype, target);
    const uint64_t bytes = e.end - e.begin;
    const std::string what = "the data of tensor '" + e.name + "'";
    if (target->device().is_cpu()) {
      read_exact(f.get(), t.raw_data(), header.data_start + e.begin, bytes, path, what.c_str());
    } else if (bytes > 0) {
      staging.resize(bytes);
      read_exact(f.get(), staging.data(), header.data_start + e.begin, bytes, path, what.c_str());
      detail::copy_host_to(t.raw_data(), *target, staging.data(), bytes);
    }
    out.emplace_back(e.name, std::move(t));
  }
  return out;
}

}  // namespace wsvis
