// Where a YouTube-VIS-format dataset lies on disk, as every run config names it (under a
// section such as "data" or "val"):
//   <root>/<annotations>          YouTube-VIS JSON
//   <root>/<images>/<file_name>   frames (the JSON's file_names)
//   <root>/<flow>/<video>/<frame>_fw.flo, _bw.flo   optical flow ("" = none)
#pragma once

#include <string>

#include "pipeline/config_schema.h"

namespace wsvis::pipeline {

struct DatasetPaths {
  std::string root;                        // dataset folder
  std::string annotations = "train.json";  // relative to root
  std::string images = "JPEGImages";
  std::string flow = "flow";

  std::string annotations_path() const { return root + "/" + annotations; }
  std::string image_root() const { return root + "/" + images; }
  std::string flow_root() const { return flow.empty() ? "" : root + "/" + flow; }
};

// Binds <section>.root (a directory, required when `required`), .annotations, .images, .flow.
void bind_dataset_paths(ConfigSchema& schema, const std::string& section, DatasetPaths* paths,
                        bool required = true);

}  // namespace wsvis::pipeline
