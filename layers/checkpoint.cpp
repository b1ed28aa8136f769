#include "layers/checkpoint.h"

#include <cstdio>
#include <sstream>
#include <unordered_map>

#include "engine/optim/sgd.h"
#include "layers/module.h"

namespace wsvis {

namespace {

constexpr const char* kReservedPrefix = "wsvis.";
constexpr const char* kKindKey = "wsvis.kind";
constexpr const char* kKind = "training_state";
constexpr const char* kStepKey = "wsvis.step";
constexpr const char* kOptimStepKey = "wsvis.optim.step_count";
constexpr const char* kOptimLrKey = "wsvis.optim.lr";
constexpr const char* kOptimGroupsKey = "wsvis.optim.group_sizes";

bool ignored(const std::string& name, const std::vector<std::string>& ignore) {
  for (const std::string& e : ignore) {
    if (e.empty()) continue;
    if (name == e) return true;
    if (e.back() == '.' && name.compare(0, e.size(), e) == 0) return true;
    if (name.size() > e.size() && name.compare(name.size() - e.size(), e.size(), e) == 0 &&
        name[name.size() - e.size() - 1] == '.')
      return true;
  }
  return false;
}

void join(std::ostringstream& os, const char* label, const std::vector<std::string>& names) {
  if (names.empty()) return;
  if (os.tellp() > 0) os << "\n";
  os << label << " (" << names.size() << "): ";
  for (size_t i = 0; i < names.size(); ++i) os << (i ? ", " : "") << names[i];
}

std::string format_double(double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.17g", v);
  return buf;
}

int64_t parse_int(const std::string& path, const std::string& key, const std::string& value) {
  size_t used = 0;
  long long v = 0;
  try {
    v = std::stoll(value, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != value.size())
    throw InputError(path + ": metadata " + key + " = '" + value + "' is not an integer");
  return v;
}

std::string group_sizes(const optim::SGD& opt) {
  std::string s;
  for (size_t g = 0; g < opt.num_groups(); ++g)
    s += (g ? "," : "") + std::to_string(opt.group(g).params.size());
  return s;
}

}  // namespace

std::string LoadReport::str() const {
  if (ok()) return "all tensors matched";
  std::ostringstream os;
  join(os, "missing", missing);
  join(os, "unexpected", unexpected);
  join(os, "mis-shaped", mismatched);
  return os.str();
}

LoadReport load_state_dict(layers::Module& module, const NamedTensors& tensors, bool strict,
                           const std::vector<std::string>& ignore) {
  const NamedTensors model = module.state_dict();
  std::unordered_map<std::string, const Tensor*> file;
  for (const auto& [name, t] : tensors) {
    WSVIS_CHECK(file.emplace(name, &t).second, "load_state_dict: tensor '", name, "' given twice");
  }
  LoadReport report;
  std::vector<std::pair<Tensor, const Tensor*>> copies;  // (model tensor, file tensor)
  std::unordered_map<std::string, bool> in_model;
  for (const auto& [name, dst] : model) {
    in_model[name] = true;
    if (ignored(name, ignore)) continue;
    auto it = file.find(name);
    if (it == file.end()) {
      report.missing.push_back(name);
      continue;
    }
    const Tensor& src = *it->second;
    const bool kinds_match = is_floating(src.dtype()) == is_floating(dst.dtype());
    if (src.shape() != dst.shape() || !kinds_match) {
      std::string line = name + ": file " + src.shape_str() + " vs model " + dst.shape_str();
      if (!kinds_match)
        line = name + ": file " + dtype_name(src.dtype()) + " " + src.shape_str() + " vs model " +
               dtype_name(dst.dtype()) + " " + dst.shape_str();
      report.mismatched.push_back(line);
      continue;
    }
    copies.emplace_back(dst, &src);
  }
  for (const auto& [name, t] : tensors)
    if (!in_model.count(name) && !ignored(name, ignore)) report.unexpected.push_back(name);
  if (strict && !report.ok()) throw InputError("load_state_dict: " + report.str());
  NoGradGuard no_grad;
  for (auto& [dst, src] : copies)
    dst.copy_from(src->dtype() == dst.dtype() ? *src : src->to_dtype(dst.dtype()));
  return report;
}

LoadReport load_state_dict_file(layers::Module& module, const std::string& path, bool strict,
                                const std::vector<std::string>& ignore) {
  const NamedTensors tensors = load_safetensors(path, nullptr);
  try {
    return load_state_dict(module, tensors, strict, ignore);
  } catch (const InputError& e) {
    throw InputError(path + ": " + e.what());
  }
}

void save_training_state(const std::string& path, const layers::Module& module,
                         const optim::SGD& optimizer, int64_t step,
                         const std::map<std::string, std::string>& extra) {
  std::map<std::string, std::string> metadata;
  for (const auto& [k, v] : extra) {
    WSVIS_CHECK(k.compare(0, 6, kReservedPrefix) != 0, "save_training_state(", path,
                "): metadata key '", k, "' uses the reserved prefix ", kReservedPrefix);
    metadata[k] = v;
  }
  metadata[kKindKey] = kKind;
  metadata[kStepKey] = std::to_string(step);
  metadata[kOptimStepKey] = std::to_string(optimizer.step_count());
  metadata[kOptimLrKey] = format_double(optimizer.lr());
  metadata[kOptimGroupsKey] = group_sizes(optimizer);
  NamedTensors tensors = module.state_dict();
  for (const auto& [name, t] : tensors)
    WSVIS_CHECK(name.compare(0, 6, "optim.") != 0, "save_training_state(", path,
                "): model tensor '", name, "' collides with the optimizer's names");
  for (auto& entry : optimizer.state_tensors()) tensors.push_back(std::move(entry));
  save_safetensors(path, tensors, metadata);
}

TrainingState load_training_state(const std::string& path, layers::Module& module,
                                  optim::SGD& optimizer) {
  const std::map<std::string, std::string> metadata = load_safetensors_metadata(path);
  auto get = [&](const char* key) {
    auto it = metadata.find(key);
    if (it == metadata.end())
      throw InputError(path + ": not a wsvis training state (no metadata " + key + ")");
    return it->second;
  };
  if (get(kKindKey) != kKind)
    throw InputError(path + ": metadata " + kKindKey + " is '" + get(kKindKey) + "', expected '" +
                     kKind + "'");
  if (get(kOptimGroupsKey) != group_sizes(optimizer))
    throw InputError(path + ": saved optimizer groups have sizes [" + get(kOptimGroupsKey) +
                     "] but this optimizer's are [" + group_sizes(optimizer) + "]");
  TrainingState state;
  state.step = parse_int(path, kStepKey, get(kStepKey));
  const int64_t optim_steps = parse_int(path, kOptimStepKey, get(kOptimStepKey));
  const std::string lr_text = get(kOptimLrKey);
  char* end = nullptr;
  const double lr = std::strtod(lr_text.c_str(), &end);
  if (lr_text.empty() || *end != '\0')
    throw InputError(path + ": metadata " + kOptimLrKey + " = '" + lr_text + "' is not a number");

  NamedTensors model_tensors, optim_tensors;
  for (auto& entry : load_safetensors(path, nullptr))
    (entry.first.compare(0, 6, "optim.") == 0 ? optim_tensors : model_tensors)
        .push_back(std::move(entry));
  try {
    load_state_dict(module, model_tensors, /*strict=*/true);
  } catch (const InputError& e) {
    throw InputError(path + ": " + e.what());
  }
  optimizer.load_state_tensors(optim_tensors, path);
  optimizer.set_step_count(optim_steps);
  optimizer.set_lr(lr);
  for (const auto& [k, v] : metadata)
    if (k.compare(0, 6, kReservedPrefix) != 0) state.metadata[k] = v;
  return state;
}

}  // namespace wsvis
