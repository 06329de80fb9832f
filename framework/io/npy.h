// NumPy .npy files (format version 1.0), little-endian float32/float64, C order.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/dtype.h"

namespace carnot {

struct NpyArray {
  DType dtype = DType::F32;
  std::vector<std::int64_t> shape;
  std::vector<char> bytes;
};

void write_npy(const std::string& path, DType dtype, const std::vector<std::int64_t>& shape,
               const void* data);
NpyArray read_npy(const std::string& path);

}  // namespace carnot
