// safetensors_tool: writes and reads safetensors files with engine/safetensors.h, so that
// tests/python/test_safetensors_interop.py can compare wsvis with the Python `safetensors`
// package value for value.
//
//   safetensors_tool write <out.safetensors> <spec.json>
//       spec: {"tensors": [{"name": "w", "dtype": "F32", "shape": [2, 3], "values": [...]}, ...],
//              "metadata": {"key": "value"}}
//       values: flat, row-major; numbers, or "nan" / "inf" / "-inf" for floating dtypes.
//   safetensors_tool read <in.safetensors>
//       prints the same JSON layout on stdout, tensors in header order. Floating values are
//       printed so that they parse back to the same double (F32 values are widened exactly);
//       integers exactly (I64 beyond 2^53 too).
// Errors (a malformed file, a bad spec) go to stderr as "error: <message>", exit status 2.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>

#include "engine/safetensors.h"

using nlohmann::json;
using namespace wsvis;

namespace {

DType parse_dtype(const std::string& s) {
  if (s == "F32") return DType::f32;
  if (s == "F64") return DType::f64;
  if (s == "I32") return DType::i32;
  if (s == "I64") return DType::i64;
  if (s == "U8") return DType::u8;
  throw InputError("spec: unsupported dtype " + s);
}

double float_value(const json& v) {
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    if (s == "nan") return std::numeric_limits<double>::quiet_NaN();
    if (s == "inf") return std::numeric_limits<double>::infinity();
    if (s == "-inf") return -std::numeric_limits<double>::infinity();
    throw InputError("spec: bad value " + s);
  }
  return v.get<double>();
}

// Builds the tensor from exact JSON values (integers stay integers: no trip through double).
Tensor make_tensor(const json& spec, const ContextPtr& ctx) {
  const DType dtype = parse_dtype(spec.at("dtype").get<std::string>());
  const Shape shape = spec.at("shape").get<Shape>();
  const json& values = spec.at("values");
  if (static_cast<int64_t>(values.size()) != shape_numel(shape))
    throw InputError("spec: tensor " + spec.at("name").get<std::string>() + " has " +
                     std::to_string(values.size()) + " values for shape " + shape_str(shape));
  Tensor t = Tensor::empty(shape, dtype, ctx);
  WSVIS_DISPATCH_ALL(dtype, "safetensors_tool", [&] {
    scalar_t* out = t.data<scalar_t>();
    for (size_t i = 0; i < values.size(); ++i) {
      if constexpr (std::is_floating_point_v<scalar_t>)
        out[i] = static_cast<scalar_t>(float_value(values[i]));
      else
        out[i] = values[i].get<scalar_t>();
    }
  });
  return t;
}

json values_json(const Tensor& t) {
  json out = json::array();
  WSVIS_DISPATCH_ALL(t.dtype(), "safetensors_tool", [&] {
    const scalar_t* v = t.data<scalar_t>();
    for (int64_t i = 0; i < t.numel(); ++i) {
      if constexpr (std::is_floating_point_v<scalar_t>) {
        const double d = static_cast<double>(v[i]);
        if (std::isnan(d))
          out.push_back("nan");
        else if (std::isinf(d))
          out.push_back(d > 0 ? "inf" : "-inf");
        else
          out.push_back(d);
      } else if constexpr (std::is_same_v<scalar_t, uint8_t>) {
        out.push_back(static_cast<unsigned>(v[i]));
      } else {
        out.push_back(v[i]);
      }
    }
  });
  return out;
}

int run(int argc, char** argv) {
  const std::string usage =
      "usage: safetensors_tool write <out.safetensors> <spec.json> | read <in.safetensors>";
  if (argc < 3) throw InputError(usage);
  const std::string cmd = argv[1];
  auto ctx = Context::create(Device::cpu());
  if (cmd == "write" && argc == 4) {
    std::ifstream in(argv[3]);
    if (!in) throw InputError(std::string("cannot open spec ") + argv[3]);
    const json spec = json::parse(in);
    NamedTensors tensors;
    for (const json& t : spec.at("tensors"))
      tensors.emplace_back(t.at("name").get<std::string>(), make_tensor(t, ctx));
    std::map<std::string, std::string> metadata;
    if (spec.contains("metadata"))
      metadata = spec.at("metadata").get<std::map<std::string, std::string>>();
    save_safetensors(argv[2], tensors, metadata);
    return 0;
  }
  if (cmd == "read" && argc == 3) {
    json out;
    out["tensors"] = json::array();
    for (const auto& [name, t] : load_safetensors(argv[2], ctx))
      out["tensors"].push_back({{"name", name},
                                {"dtype", safetensors_dtype_name(t.dtype())},
                                {"shape", t.shape()},
                                {"values", values_json(t)}});
    out["metadata"] = load_safetensors_metadata(argv[2]);
    std::cout << out.dump() << "\n";
    return 0;
  }
  throw InputError(usage);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  }
}
