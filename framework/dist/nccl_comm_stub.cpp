// make_nccl_comm where this build has no NCCL (CARNOT_CUDA=OFF, or NCCL not found).
#include "framework/core/error.h"
#include "framework/dist/nccl_comm.h"

namespace carnot {

bool nccl_available() { return false; }

std::unique_ptr<Comm> make_nccl_comm(Comm&, int) {
  throw UsageError(
      "distributed.backend nccl: this carnot was built without NCCL (configure with -DCARNOT_CUDA=ON on a "
      "machine with CUDA and NCCL); use backend mpi");
}

void set_compute_stream(Comm&, void*) { throw UsageError("set_compute_stream: this carnot has no NCCL"); }

}  // namespace carnot
