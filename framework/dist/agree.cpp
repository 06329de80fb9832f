#include "framework/dist/agree.h"

#include <xxhash.h>

#include <cstdint>
#include <vector>

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

void check_replicas_identical(Comm& comm, const void* data, std::int64_t bytes, const std::string& what) {
  std::uint64_t hash = XXH64(data, std::size_t(bytes), 0), root_hash = hash;
  comm.broadcast(&root_hash, sizeof root_hash, 0);
  std::vector<double> differs(std::size_t(comm.size()), 0.0);
  differs[std::size_t(comm.rank())] = hash != root_hash ? 1.0 : 0.0;
  comm.allreduce_sum(differs.data(), std::int64_t(differs.size()));
  std::string ranks;
  for (int r = 0; r < comm.size(); ++r)
    if (differs[std::size_t(r)] > 0) ranks += (ranks.empty() ? "" : ", ") + std::to_string(r);
  if (!ranks.empty())
    throw_on_all_ranks(Error(what + " differ across ranks: rank(s) " + ranks + " disagree with rank 0; the " +
                             "replicas have diverged (the last checkpoint that was written is still good)"));
}

}  // namespace carnot
