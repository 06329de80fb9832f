// What a trainer runs on: an op table and the communicator its device buffers go through. On the
// CPU, the CPU oracle and the host communicator (MPI); on a GPU, the CUDA table and NCCL over the
// host communicator; on the guarded device, its CPU table and the host communicator wrapped.
#pragma once
#include <memory>
#include <string>

#include "framework/core/device.h"
#include "framework/debug/guarded_device.h"
#include "framework/dist/comm.h"
#include "kernels/ops.h"

namespace carnot {

struct TrainDevice {
  Ops* ops = nullptr;
  Comm* comm = nullptr;  // for the trainer and the broadcasts of its buffers; host work keeps the host comm
  std::unique_ptr<GuardedDevice> guarded;
  std::unique_ptr<Comm> owned_comm;
};

// `backend` is the job's distributed.backend (auto | mpi | nccl); `job` names the spec in errors.
// Refuses, on every rank, NCCL without a GPU, MPI with one, and a GPU in a build without NCCL.
TrainDevice make_train_device(const DeviceChoice& choice, Comm& host, const std::string& backend,
                              const std::string& job);

}  // namespace carnot
