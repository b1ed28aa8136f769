#include "pipeline/config_schema.h"

#include <cmath>
#include <filesystem>
#include <set>

#include "data/file_util.h"
#include "engine/error.h"

namespace wsvis::pipeline {

namespace fs = std::filesystem;

namespace {

std::string describe(const Json& j) {
  std::string dumped = j.dump();
  if (dumped.size() > 60) dumped = dumped.substr(0, 57) + "...";
  if (j.is_string()) return "string " + dumped;
  if (j.is_boolean()) return "boolean " + dumped;
  if (j.is_number()) return "number " + dumped;
  if (j.is_null()) return "null";
  if (j.is_array()) return "array " + dumped;
  return "object " + dumped;
}

[[noreturn]] void fail(const std::string& where, const std::string& what) {
  throw InputError(where + " " + what);
}

int64_t as_integer(const Json& j, const std::string& where) {
  if (j.is_number_integer() || j.is_number_unsigned()) return j.get<int64_t>();
  if (j.is_number_float()) {
    const double d = j.get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9e15) return static_cast<int64_t>(d);
  }
  fail(where, "must be an integer, got " + describe(j));
}

double as_number(const Json& j, const std::string& where) {
  if (!j.is_number()) fail(where, "must be a number, got " + describe(j));
  const double d = j.get<double>();
  if (!std::isfinite(d)) fail(where, "must be finite, got " + describe(j));
  return d;
}

std::vector<std::string> split_key(const std::string& key) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    const size_t dot = key.find('.', start);
    parts.push_back(key.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return parts;
}

Json parse_json(const std::string& text, const std::string& source) {
  try {
    return Json::parse(text);
  } catch (const Json::parse_error& e) {
    std::string what = e.what();
    const size_t pos = what.find("] ");
    if (pos != std::string::npos) what = what.substr(pos + 2);
    throw InputError(source + ": malformed JSON: " + what);
  }
}

}  // namespace

ConfigSchema::Binding& ConfigSchema::bind(const std::string& relative_key) {
  const std::string key = prefix_ + relative_key;
  for (const Binding& b : bindings_)
    WSVIS_CHECK(b.key != key, "ConfigSchema: key '", key, "' bound twice");
  bindings_.push_back(Binding{key, nullptr, nullptr, false});
  return bindings_.back();
}

void ConfigSchema::integer(const std::string& key, int* field, int min, int max) {
  Binding& b = bind(key);
  b.set = [=](const Json& j, const std::string& where) {
    const int64_t v = as_integer(j, where);
    if (v < min || v > max)
      fail(where, "must be in [" + std::to_string(min) + ", " + std::to_string(max) + "], got " +
                      std::to_string(v));
    *field = static_cast<int>(v);
  };
  b.get = [=] { return Json(*field); };
}

void ConfigSchema::number(const std::string& key, double* field, double min, double max) {
  Binding& b = bind(key);
  b.set = [=](const Json& j, const std::string& where) {
    const double v = as_number(j, where);
    if (v < min || v > max)
      fail(where, "must be in [" + Json(min).dump() + ", " + Json(max).dump() + "], got " +
                      Json(v).dump());
    *field = v;
  };
  b.get = [=] { return Json(*field); };
}

void ConfigSchema::boolean(const std::string& key, bool* field) {
  Binding& b = bind(key);
  b.set = [=](const Json& j, const std::string& where) {
    if (!j.is_boolean()) fail(where, "must be true or false, got " + describe(j));
    *field = j.get<bool>();
  };
  b.get = [=] { return Json(*field); };
}

void ConfigSchema::string(const std::string& key, std::string* field) {
  Binding& b = bind(key);
  b.set = [=](const Json& j, const std::string& where) {
    if (!j.is_string()) fail(where, "must be a string, got " + describe(j));
    *field = j.get<std::string>();
  };
  b.get = [=] { return Json(*field); };
}

void ConfigSchema::choice(const std::string& key, std::string* field,
                          std::vector<std::string> choices) {
  Binding& b = bind(key);
  b.set = [=](const Json& j, const std::string& where) {
    if (!j.is_string()) fail(where, "must be a string, got " + describe(j));
    const std::string v = j.get<std::string>();
    for (const std::string& c : choices)
      if (v == c) {
        *field = v;
        return;
      }
    std::string list;
    for (const std::string& c : choices) list += (list.empty() ? "" : ", ") + c;
    fail(where, "must be one of " + list + ", got \"" + v + "\"");
  };
  b.get = [=] { return Json(*field); };
}

void ConfigSchema::path(const std::string& relative_key, std::string* field, PathKind kind) {
  Binding& b = bind(relative_key);
  const std::string key = b.key;
  b.set = [=](const Json& j, const std::string& where) {
    if (!j.is_string()) fail(where, "must be a path string, got " + describe(j));
    std::string v = j.get<std::string>();
    if (!v.empty() && fs::path(v).is_relative() && !base_dir_.empty() && !overridden_.count(key))
      v = (fs::path(base_dir_) / v).lexically_normal().string();
    if (!v.empty() && kind == PathKind::file && !fs::is_regular_file(v))
      fail(where, "names a file that does not exist: " + v);
    if (!v.empty() && kind == PathKind::directory && !fs::is_directory(v))
      fail(where, "names a folder that does not exist: " + v);
    *field = v;
  };
  b.get = [=] { return Json(*field); };
}

void ConfigSchema::integers(const std::string& key, std::vector<int>* field, size_t min_size,
                            size_t max_size, int min) {
  Binding& b = bind(key);
  b.set = [=](const Json& j, const std::string& where) {
    if (!j.is_array()) fail(where, "must be an array of integers, got " + describe(j));
    if (j.size() < min_size || j.size() > max_size)
      fail(where, "must have " + std::to_string(min_size) + ".." + std::to_string(max_size) +
                      " entries, got " + std::to_string(j.size()));
    std::vector<int> out;
    for (size_t i = 0; i < j.size(); ++i) {
      const std::string w = where + "[" + std::to_string(i) + "]";
      const int64_t v = as_integer(j[i], w);
      if (v < min || v > std::numeric_limits<int>::max())
        fail(w, "must be >= " + std::to_string(min) + ", got " + std::to_string(v));
      out.push_back(static_cast<int>(v));
    }
    *field = out;
  };
  b.get = [=] { return Json(*field); };
}

void ConfigSchema::numbers(const std::string& key, std::vector<double>* field, size_t min_size,
                           size_t max_size, double min) {
  Binding& b = bind(key);
  b.set = [=](const Json& j, const std::string& where) {
    if (!j.is_array()) fail(where, "must be an array of numbers, got " + describe(j));
    if (j.size() < min_size || j.size() > max_size)
      fail(where, "must have " + std::to_string(min_size) + ".." + std::to_string(max_size) +
                      " entries, got " + std::to_string(j.size()));
    std::vector<double> out;
    for (size_t i = 0; i < j.size(); ++i) {
      const std::string w = where + "[" + std::to_string(i) + "]";
      const double v = as_number(j[i], w);
      if (v < min) fail(w, "must be >= " + Json(min).dump() + ", got " + Json(v).dump());
      out.push_back(v);
    }
    *field = out;
  };
  b.get = [=] { return Json(*field); };
}

void ConfigSchema::require(const std::string& relative_key) {
  const std::string key = prefix_ + relative_key;
  for (Binding& b : bindings_)
    if (b.key == key) {
      b.required = true;
      return;
    }
  WSVIS_CHECK(false, "ConfigSchema::require: key '", key, "' is not bound");
}

void ConfigSchema::check(std::function<std::string()> rule) {
  if (prefix_.empty()) {
    checks_.push_back(std::move(rule));
    return;
  }
  // A rule's message starts with the key it is about: inside a section, the key's full name.
  checks_.push_back([prefix = prefix_, rule = std::move(rule)] {
    const std::string message = rule();
    return message.empty() ? message : prefix + message;
  });
}

void ConfigSchema::derive(std::function<void()> compute) { derived_.push_back(std::move(compute)); }

void ConfigSchema::section(const std::string& name, const std::function<void()>& bind_fields) {
  const std::string outer = prefix_;
  prefix_ = outer + name + ".";
  try {
    bind_fields();
  } catch (...) {
    prefix_ = outer;
    throw;
  }
  prefix_ = outer;
}

void ConfigSchema::read(const std::string& text, const std::string& source,
                        const std::vector<std::string>& overrides) {
  base_dir_ = fs::path(source).parent_path().string();
  overridden_.clear();
  Json root = parse_json(text, source);
  if (!root.is_object()) throw InputError(source + ": must hold a JSON object, got " + describe(root));

  // The sections: every proper prefix of a bound key.
  std::set<std::string> sections;
  for (const Binding& b : bindings_) {
    const std::vector<std::string> parts = split_key(b.key);
    std::string prefix;
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
      prefix += (i ? "." : "") + parts[i];
      sections.insert(prefix);
    }
  }
  auto find_binding = [&](const std::string& key) -> Binding* {
    for (Binding& b : bindings_)
      if (b.key == key) return &b;
    return nullptr;
  };

  for (const std::string& o : overrides) {
    const size_t eq = o.find('=');
    if (eq == std::string::npos || eq == 0)
      throw InputError("--set " + o + ": expected key=value");
    const std::string key = o.substr(0, eq), value = o.substr(eq + 1);
    if (!find_binding(key)) throw InputError("--set " + key + ": not a config key (misspelt?)");
    overridden_.insert(key);
    Json parsed;
    try {
      parsed = Json::parse(value);
    } catch (const Json::parse_error&) {
      parsed = Json(value);  // a bare string: --set data.root=/data/ytvis
    }
    Json* node = &root;
    const std::vector<std::string> parts = split_key(key);
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
      Json& child = (*node)[parts[i]];
      if (child.is_null()) child = Json::object();
      if (!child.is_object()) throw InputError(source + ": " + parts[i] + " must be an object");
      node = &child;
    }
    (*node)[parts.back()] = parsed;
  }

  std::set<std::string> given;
  std::function<void(const Json&, const std::string&)> walk = [&](const Json& obj,
                                                                   const std::string& prefix) {
    for (auto it = obj.begin(); it != obj.end(); ++it) {
      const std::string key = prefix.empty() ? it.key() : prefix + "." + it.key();
      const std::string where = source + ": " + key;
      if (sections.count(key)) {
        if (!it->is_object()) fail(where, "must be an object (a section), got " + describe(*it));
        walk(*it, key);
        continue;
      }
      Binding* b = find_binding(key);
      if (!b) fail(where, "is not a config key (misspelt?)");
      b->set(*it, where);
      given.insert(key);
    }
  };
  walk(root, "");
  for (const Binding& b : bindings_)
    if (b.required && !given.count(b.key))
      throw InputError(source + ": " + b.key + " is required and missing");
  for (const auto& compute : derived_) compute();
  for (const auto& rule : checks_) {
    const std::string message = rule();
    if (!message.empty()) throw InputError(source + ": " + message);
  }
}

std::string ConfigSchema::dump() const {
  Json root = Json::object();
  for (const Binding& b : bindings_) {
    Json* node = &root;
    const std::vector<std::string> parts = split_key(b.key);
    for (size_t i = 0; i + 1 < parts.size(); ++i) node = &(*node)[parts[i]];
    (*node)[parts.back()] = b.get();
  }
  return root.dump(2) + "\n";
}

void read_config_file(ConfigSchema& schema, const std::string& path,
                      const std::vector<std::string>& overrides) {
  std::string text;
  try {
    text = data::read_file_bytes(path);
  } catch (const InputError&) {
    throw;
  } catch (const std::exception& e) {
    throw InputError(path + ": cannot read the config: " + e.what());
  }
  schema.read(text, path, overrides);
}

}  // namespace wsvis::pipeline
