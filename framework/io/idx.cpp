#include "framework/io/idx.h"

#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "framework/core/error.h"

namespace carnot {

IdxArray read_idx(const std::string& path) {
  std::unique_ptr<gzFile_s, int (*)(gzFile)> f(gzopen(path.c_str(), "rb"), gzclose);
  if (!f) throw Error("cannot read '" + path + "': " + std::strerror(errno));
  auto read = [&](void* dst, std::size_t n) {
    std::size_t got = 0;
    while (got < n) {
      const int r = gzread(f.get(), static_cast<char*>(dst) + got, unsigned(std::min<std::size_t>(n - got, 1u << 30)));
      if (r < 0) {
        int code = 0;
        throw Error("'" + path + "': " + gzerror(f.get(), &code));
      }
      if (r == 0) break;
      got += std::size_t(r);
    }
    return got;
  };
  std::uint8_t head[4];
  if (read(head, 4) != 4 || head[0] != 0 || head[1] != 0 || head[3] == 0 || head[3] > 4)
    throw Error("'" + path + "' is not an IDX file (its first bytes are not 0 0 TYPE DIMS)");
  if (head[2] != 0x08)
    throw Error(str_cat("'", path, "': IDX element type 0x", std::hex, int(head[2]),
                        "; only unsigned bytes (0x08) are supported"));
  IdxArray a;
  std::int64_t count = 1;
  for (int d = 0; d < head[3]; ++d) {
    std::uint8_t b[4];
    if (read(b, 4) != 4) throw Error("'" + path + "' is truncated inside its header");
    const std::int64_t n = (std::int64_t(b[0]) << 24) | (b[1] << 16) | (b[2] << 8) | b[3];
    a.shape.push_back(n);
    count *= n;
  }
  a.data.resize(std::size_t(count));
  const std::size_t got = read(a.data.data(), a.data.size());
  if (got != a.data.size())
    throw Error(str_cat("'", path, "' is truncated: its dimensions promise ", a.data.size(), " bytes, it holds ", got));
  return a;
}

}  // namespace carnot
