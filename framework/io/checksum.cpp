#include "framework/io/checksum.h"

#include <xxhash.h>

#include <cstdio>

#include "framework/io/file_util.h"

namespace carnot {

std::string xxh64_hex(const std::string& bytes) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx",
                static_cast<unsigned long long>(XXH64(bytes.data(), bytes.size(), 0)));
  return buf;
}

std::string xxh64_file_hex(const std::string& path) { return xxh64_hex(read_file(path)); }

}  // namespace carnot
