#include "framework/dist/agree.h"

#include <cstdint>

#include "framework/core/error.h"

namespace carnot {

std::string broadcast_string(Comm& comm, const std::string& s) {
  std::int64_t n = std::int64_t(s.size());
  comm.broadcast(&n, sizeof n, 0);
  std::string out = comm.rank() == 0 ? s : std::string(std::size_t(n), '\0');
  if (n > 0) comm.broadcast(out.data(), n, 0);
  return out;
}

void run_on_root_and_agree(Comm& comm, const std::function<void()>& fn) {
  std::int32_t code = 0;
  std::string message;
  if (comm.rank() == 0) {
    try {
      fn();
    } catch (const Error& e) {
      code = std::int32_t(e.code());
      message = e.what();
    }
  }
  comm.broadcast(&code, sizeof code, 0);
  if (code == 0) return;
  message = broadcast_string(comm, message);
  throw_on_all_ranks(Error(message, ExitCode(code)));
}

}  // namespace carnot
