#include "pipeline/dataset_paths.h"

namespace wsvis::pipeline {

void bind_dataset_paths(ConfigSchema& s, const std::string& section, DatasetPaths* paths,
                        bool required) {
  s.path(section + ".root", &paths->root, PathKind::directory);
  if (required) s.require(section + ".root");
  s.string(section + ".annotations", &paths->annotations);
  s.string(section + ".images", &paths->images);
  s.string(section + ".flow", &paths->flow);
}

}  // namespace wsvis::pipeline
