// safetensors files (https://github.com/huggingface/safetensors): an 8-byte little-endian header
// length, a JSON header {name: {dtype, shape, data_offsets}, "__metadata__": {str: str}}, then
// the tensors' bytes back to back.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "kernels/dtype.h"

namespace carnot {

struct SafetensorsTensor {
  std::string name;
  DType dtype = DType::F32;
  std::vector<std::int64_t> shape;
  std::vector<char> bytes;
};

struct SafetensorsFile {
  std::vector<SafetensorsTensor> tensors;  // in file order
  std::map<std::string, std::string> metadata;
  const SafetensorsTensor& get(const std::string& name) const;  // throws naming the file's tensors
};

// Writes the tensors in the order given, atomically.
void write_safetensors(const std::string& path, const std::vector<SafetensorsTensor>& tensors,
                       const std::map<std::string, std::string>& metadata);
SafetensorsFile read_safetensors(const std::string& path);

}  // namespace carnot
