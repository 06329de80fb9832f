#include "framework/train/train_device.h"

#include "framework/core/error.h"
#include "framework/dist/nccl_comm.h"

#if CARNOT_WITH_CUDA
#include "kernels/cuda/cuda_ops.h"
#endif

namespace carnot {

TrainDevice make_train_device(const DeviceChoice& choice, Comm& host, const std::string& backend,
                              const std::string& job) {
  TrainDevice d;
  if (!choice.gpu) {
    if (backend == "nccl")
      throw_on_all_ranks(UsageError(job + ": distributed.backend nccl reduces GPU buffers, and this run is on " +
                                    choice.description + "; use backend auto or mpi"));
    d.ops = &cpu_ops();
    d.comm = &host;
    if (choice.guarded) {
      d.guarded = std::make_unique<GuardedDevice>();
      d.ops = &d.guarded->ops();
      d.owned_comm = d.guarded->wrap(host);
      d.comm = d.owned_comm.get();
    }
    return d;
  }
  if (backend == "mpi")
    throw_on_all_ranks(UsageError(job + ": distributed.backend mpi reduces host buffers, and this run keeps its "
                                        "gradients on the GPU; use backend auto or nccl (or --device cpu)"));
  if (!nccl_available())
    throw_on_all_ranks(UsageError(job + ": training on the GPU reduces gradients through NCCL, and this carnot was "
                                        "built without it (install libnccl-dev and rebuild, or --device cpu)"));
#if CARNOT_WITH_CUDA
  d.ops = &cuda_ops();
  d.owned_comm = make_nccl_comm(host, choice.index);
  d.comm = d.owned_comm.get();
  return d;
#else
  throw_on_all_ranks(Error("a GPU was chosen in a build without CUDA"));
#endif
}

}  // namespace carnot
