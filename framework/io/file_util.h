// Files written whole or not at all: a temporary beside the target, fsync, rename.
#pragma once
#include <string>

namespace carnot {

void write_file_atomically(const std::string& path, const std::string& contents);
std::string read_file(const std::string& path);

}  // namespace carnot
