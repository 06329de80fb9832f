#include "framework/io/npy.h"

#include <cstring>
#include <fstream>
#include <regex>

#include "framework/core/error.h"
#include "framework/io/file_util.h"

namespace carnot {

namespace {
constexpr char kMagic[] = "\x93NUMPY";
}

namespace {

void write_array(const std::string& path, const char* descr, std::size_t element_bytes,
                 const std::vector<std::int64_t>& shape, const void* data) {
  std::string dims;
  std::int64_t count = 1;
  for (std::int64_t d : shape) dims += std::to_string(d) + ", ", count *= d;
  if (shape.size() > 1) dims.resize(dims.size() - 2);
  std::string header = std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': (" + dims + "), }";
  // Magic (6) + version (2) + length (2) + header + '\n' is a multiple of 64.
  const std::size_t total = (10 + header.size() + 1 + 63) / 64 * 64;
  header.append(total - 10 - header.size() - 1, ' ');
  header += '\n';
  std::string out(kMagic, 6);
  out += '\x01';
  out += '\x00';
  out += char(header.size() & 0xff);
  out += char(header.size() >> 8);
  out += header;
  out.append(static_cast<const char*>(data), std::size_t(count) * element_bytes);
  write_file_atomically(path, out);
}

}  // namespace

void write_npy(const std::string& path, DType dtype, const std::vector<std::int64_t>& shape, const void* data) {
  write_array(path, dtype == DType::F32 ? "<f4" : "<f8", dtype_size(dtype), shape, data);
}

void write_npy_u8(const std::string& path, const std::vector<std::int64_t>& shape, const std::uint8_t* data) {
  write_array(path, "|u1", 1, shape, data);
}

NpyArray read_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot read '" + path + "': " + std::strerror(errno));
  char pre[10];
  in.read(pre, 10);
  if (!in || std::memcmp(pre, kMagic, 6) != 0 || pre[6] != 1)
    throw Error("'" + path + "' is not a version-1 .npy file");
  const std::size_t header_len = std::uint8_t(pre[8]) | (std::size_t(std::uint8_t(pre[9])) << 8);
  std::string header(header_len, '\0');
  in.read(header.data(), std::streamsize(header_len));
  std::smatch m;
  NpyArray a;
  if (!std::regex_search(header, m, std::regex("'descr':\\s*'([^']*)'")))
    throw Error("'" + path + "': no 'descr' (element type) in the header");
  const std::string descr = m[1].str();
  if (descr == "<f4" || descr == "<f8") {
    a.dtype = descr == "<f4" ? DType::F32 : DType::F64;
  } else if (descr == "|u1" || descr == "<u1") {
    a.uint8 = true;
  } else if (descr == "<i8") {
    a.int64 = true;
  } else {
    throw Error("'" + path + "': elements of type '" + descr +
                "'; only little-endian float32 ('<f4'), float64 ('<f8'), uint8 ('|u1') and int64 ('<i8') are supported");
  }
  if (std::regex_search(header, std::regex("'fortran_order':\\s*True")))
    throw Error("'" + path + "': Fortran-ordered arrays are not supported");
  if (!std::regex_search(header, m, std::regex("'shape':\\s*\\(([0-9, ]*)\\)")))
    throw Error("'" + path + "': no shape in the header");
  std::int64_t count = 1;
  const std::string dims = m[1].str();
  const std::regex number("[0-9]+");
  for (std::sregex_iterator it(dims.begin(), dims.end(), number), end; it != end; ++it)
    a.shape.push_back(std::stoll(it->str())), count *= a.shape.back();
  a.bytes.resize(std::size_t(count) * (a.uint8 ? 1 : a.int64 ? 8 : dtype_size(a.dtype)));
  in.read(a.bytes.data(), std::streamsize(a.bytes.size()));
  if (!in)
    throw Error(str_cat("'", path, "' is truncated: its header promises ", a.bytes.size(), " bytes of data, the file holds ",
                        in.gcount()));
  return a;
}

}  // namespace carnot
