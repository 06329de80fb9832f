#include "framework/io/safetensors.h"

#include <nlohmann/json.hpp>

#include <cstring>

#include "framework/core/error.h"
#include "framework/io/file_util.h"

namespace carnot {

namespace {

DType dtype_from_name(const std::string& s, const std::string& path) {
  if (s == "F32") return DType::F32;
  if (s == "F64") return DType::F64;
  throw Error("'" + path + "': tensor dtype " + s + " is not supported (F32, F64)");
}

}  // namespace

const SafetensorsTensor& SafetensorsFile::get(const std::string& name) const {
  for (const SafetensorsTensor& t : tensors)
    if (t.name == name) return t;
  std::string names;
  for (const SafetensorsTensor& t : tensors) names += (names.empty() ? "" : ", ") + t.name;
  throw Error("no tensor '" + name + "' in the file (it has: " + names + ")");
}

void write_safetensors(const std::string& path, const std::vector<SafetensorsTensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header;
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::size_t offset = 0;
  for (const SafetensorsTensor& t : tensors) {
    header[t.name] = {{"dtype", std::string(dtype_safetensors_name(t.dtype))},
                      {"shape", t.shape},
                      {"data_offsets", {offset, offset + t.bytes.size()}}};
    offset += t.bytes.size();
  }
  std::string json = header.dump();
  json.append((8 - json.size() % 8) % 8, ' ');  // keep the data 8-byte aligned
  std::string out(8, '\0');
  const std::uint64_t n = json.size();
  for (int i = 0; i < 8; ++i) out[i] = char((n >> (8 * i)) & 0xff);
  out += json;
  out.reserve(out.size() + offset);
  for (const SafetensorsTensor& t : tensors) out.append(t.bytes.data(), t.bytes.size());
  write_file_atomically(path, out);
}

SafetensorsFile read_safetensors(const std::string& path) {
  const std::string bytes = read_file(path);
  auto bad = [&](const std::string& why) { return Error("'" + path + "' is not a valid safetensors file: " + why); };
  if (bytes.size() < 8) throw bad("shorter than 8 bytes");
  std::uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= std::uint64_t(std::uint8_t(bytes[i])) << (8 * i);
  if (n > bytes.size() - 8) throw bad("header length " + std::to_string(n) + " exceeds the file");
  nlohmann::ordered_json header;
  try {
    header = nlohmann::ordered_json::parse(bytes.substr(8, n));
  } catch (const nlohmann::json::exception& e) {
    throw bad(std::string("header is not JSON: ") + e.what());
  }
  const std::size_t data_start = 8 + n, data_size = bytes.size() - data_start;
  SafetensorsFile file;
  for (auto& [key, value] : header.items()) {
    if (key == "__metadata__") {
      for (auto& [mk, mv] : value.items()) file.metadata[mk] = mv.get<std::string>();
      continue;
    }
    SafetensorsTensor t;
    t.name = key;
    try {
      t.dtype = dtype_from_name(value.at("dtype").get<std::string>(), path);
      t.shape = value.at("shape").get<std::vector<std::int64_t>>();
      const auto off = value.at("data_offsets").get<std::vector<std::size_t>>();
      std::size_t count = 1;
      for (std::int64_t d : t.shape) count *= std::size_t(d);
      if (off.size() != 2 || off[0] > off[1] || off[1] > data_size ||
          off[1] - off[0] != count * dtype_size(t.dtype))
        throw bad("tensor '" + key + "' has inconsistent data_offsets");
      t.bytes.assign(bytes.data() + data_start + off[0], bytes.data() + data_start + off[1]);
    } catch (const nlohmann::json::exception& e) {
      throw bad("tensor '" + key + "': " + e.what());
    }
    file.tensors.push_back(std::move(t));
  }
  return file;
}

}  // namespace carnot
