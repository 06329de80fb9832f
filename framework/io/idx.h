// IDX files, as MNIST and Fashion-MNIST ship them (gzip-compressed or plain; zlib reads both):
// bytes 0 0, a type byte (0x08: unsigned byte, the only type image sets use), the number of
// dimensions, each dimension as a big-endian int32, then the data in C order.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace carnot {

struct IdxArray {
  std::vector<std::int64_t> shape;
  std::vector<std::uint8_t> data;
};

// Throws naming the file and what is wrong: unreadable, not gzip or IDX (wrong magic), a type
// other than unsigned byte, or fewer bytes than the dimensions promise.
IdxArray read_idx(const std::string& path);

}  // namespace carnot
