// `wsvis demo` for now: trains models::ToyCnn on generated toy shapes and prints the curve.
#pragma once

#include <string>
#include <vector>

namespace wsvis::apps {

int run_toy_demo(const std::vector<std::string>& args);

}  // namespace wsvis::apps
