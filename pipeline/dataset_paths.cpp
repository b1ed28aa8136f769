#include "pipeline/dataset_paths.h"

#include <filesystem>

namespace wsvis::pipeline {

void bind_dataset_paths(ConfigSchema& s, const std::string& section, DatasetPaths* paths,
                        bool required) {
  s.path(section + ".root", &paths->root, PathKind::directory);
  if (required) s.require(section + ".root");
  s.string(section + ".annotations", &paths->annotations);
  s.string(section + ".images", &paths->images);
  s.string(section + ".flow", &paths->flow);
  // The parts under the root must be there too, so that a misnamed file fails on load and
  // not an hour into a run.
  s.check([section, paths]() -> std::string {
    namespace fs = std::filesystem;
    if (paths->root.empty()) return "";
    if (!fs::is_regular_file(paths->annotations_path()))
      return section + ".annotations names a file that does not exist: " + paths->annotations_path();
    if (!fs::is_directory(paths->image_root()))
      return section + ".images names a folder that does not exist: " + paths->image_root();
    if (!paths->flow.empty() && !fs::is_directory(paths->flow_root()))
      return section + ".flow names a folder that does not exist: " + paths->flow_root() +
             " (\"\" for a dataset without flow)";
    return "";
  });
}

}  // namespace wsvis::pipeline
