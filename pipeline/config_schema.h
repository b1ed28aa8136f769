// Strict JSON configs for runs: every option a run reads is bound once, by its dotted key
// ("cam.batch"), to a field of a C++ struct, with its type and its check. Reading a config
// then rejects what a user most often gets wrong, each as an InputError naming the file and
// the key:
//   - an unknown key (a misspelt option would otherwise be ignored silently),
//   - a wrong type ("cam.batch must be an integer, got string \"16\""),
//   - a value out of range, a path that does not exist, a missing required key.
// `--set key=value` overrides are applied to the JSON before binding, so they get the same
// checks; the value is parsed as JSON when it parses ("16", "true", "[1, 2]") and taken as a
// string otherwise ("--set data.root=/x"). The bound, checked config is written back out as
// JSON (every key, defaults included) into the run folder: the config as run.
//
//   ConfigSchema s;
//   s.integer("cam.batch", &c.cam.batch, 1);         // min 1
//   s.number("cam.lr", &c.cam.lr, 0.0);
//   s.path("data.root", &c.data.root, PathKind::directory);
//   s.read(json_text, "configs/demo.json", {"cam.batch=8"});
#pragma once

#include <functional>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace wsvis::pipeline {

using Json = nlohmann::json;

enum class PathKind { any, file, directory };  // `any`: not checked (an output location)

class ConfigSchema {
 public:
  // Each binding keeps the field's current value as the default. min/max are inclusive.
  void integer(const std::string& key, int* field, int min = std::numeric_limits<int>::min(),
               int max = std::numeric_limits<int>::max());
  void number(const std::string& key, double* field,
              double min = -std::numeric_limits<double>::infinity(),
              double max = std::numeric_limits<double>::infinity());
  void boolean(const std::string& key, bool* field);
  void string(const std::string& key, std::string* field);
  // One of `choices`.
  void choice(const std::string& key, std::string* field, std::vector<std::string> choices);
  // A path; a relative path in the file is resolved against the file's folder (so a config in
  // configs/ can name ../runs/x), one given by --set against the working directory; "" means
  // "none". Existence is checked for
  // file/directory kinds when the value is not empty.
  void path(const std::string& key, std::string* field, PathKind kind);
  void integers(const std::string& key, std::vector<int>* field, size_t min_size, size_t max_size,
                int min = std::numeric_limits<int>::min());
  void numbers(const std::string& key, std::vector<double>* field, size_t min_size,
               size_t max_size, double min = -std::numeric_limits<double>::infinity());
  // A key with no default: reading fails when the JSON does not give it.
  void require(const std::string& key);
  // A check across fields, run after every field is bound: return "" when fine, else the
  // message, which starts with the key it is about (prefixed with the file name, and inside a
  // section with the section's name: "stage2." + "train.batch must be even").
  void check(std::function<std::string()> rule);
  // Fields computed from bound ones (a nested config's copy of the shared data paths): run
  // after every field is bound and before the checks, in the order given.
  void derive(std::function<void()> compute);
  // A config nested in another: the keys that `bind_fields` binds get the prefix "<name>."
  // ("stage1" + "cam.batch" = "stage1.cam.batch"), so one struct's bind() serves both its own
  // file and a section of a larger one.
  void section(const std::string& name, const std::function<void()>& bind_fields);

  // Binds `text` (a JSON object, keys nested by section) after applying `overrides`
  // ("a.b=value"). `source` names the file in errors and anchors relative paths.
  void read(const std::string& text, const std::string& source,
            const std::vector<std::string>& overrides = {});
  // Every bound key with its current value, nested by section, pretty-printed.
  std::string dump() const;

 private:
  struct Binding {
    std::string key;
    std::function<void(const Json&, const std::string& where)> set;
    std::function<Json()> get;
    bool required = false;
  };
  Binding& bind(const std::string& key);
  std::vector<Binding> bindings_;
  std::vector<std::function<std::string()>> checks_;
  std::vector<std::function<void()>> derived_;
  std::string prefix_;  // inside section(): the section's name and a dot
  std::string base_dir_;
  std::set<std::string> overridden_;  // keys given by --set
};

// Reads `path` (InputError when it cannot be read) and binds it with the overrides.
void read_config_file(ConfigSchema& schema, const std::string& path,
                      const std::vector<std::string>& overrides);

// A run config (a struct with bind(ConfigSchema&)) read from `path` with the overrides;
// *dumped (when given) receives the config as run: every key, defaults included.
template <typename Config>
Config read_run_config(const std::string& path, const std::vector<std::string>& overrides,
                       std::string* dumped) {
  Config config;
  ConfigSchema schema;
  config.bind(schema);
  read_config_file(schema, path, overrides);
  if (dumped) *dumped = schema.dump();
  return config;
}

}  // namespace wsvis::pipeline
