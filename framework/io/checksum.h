// File checksums for checkpoints: xxHash64 (seed 0), written as 16 hex digits.
#pragma once
#include <string>

namespace carnot {

std::string xxh64_hex(const std::string& bytes);
// The checksum of a file's contents; throws if it cannot be read.
std::string xxh64_file_hex(const std::string& path);

}  // namespace carnot
