// Small file helpers shared by the data readers and writers.
//
// write_file_atomic writes to a temporary file in the same directory and renames it over the
// target, so a reader never sees a half-written file and a failed write leaves the old file
// (if any) untouched. Failures throw wsvis::InputError naming the path and the reason.
#pragma once

#include <string>
#include <vector>

namespace wsvis::data {

// Reads the whole file; InputError "<path>: cannot open (<reason>)" when it cannot be read.
std::string read_file_bytes(const std::string& path);

void write_file_atomic(const std::string& path, const std::string& bytes);
void write_file_atomic(const std::string& path, const void* data, size_t size);

// True if the path names an existing regular file (or a link to one).
bool file_exists(const std::string& path);

}  // namespace wsvis::data
