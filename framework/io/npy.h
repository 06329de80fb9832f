// NumPy .npy files (format version 1.0), C order: little-endian float32/float64, and uint8 for
// reading (image arrays), and int64 for reading (labels).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/dtype.h"

namespace carnot {

struct NpyArray {
  DType dtype = DType::F32;  // when !uint8
  bool uint8 = false;        // bytes hold one unsigned byte per element
  bool int64 = false;        // bytes hold little-endian int64 (labels)
  std::vector<std::int64_t> shape;
  std::vector<char> bytes;
};

void write_npy(const std::string& path, DType dtype, const std::vector<std::int64_t>& shape,
               const void* data);
void write_npy_u8(const std::string& path, const std::vector<std::int64_t>& shape, const std::uint8_t* data);
NpyArray read_npy(const std::string& path);

}  // namespace carnot
