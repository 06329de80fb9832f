// Which device this rank computes on: the GPU of its local rank when one is usable, else the CPU.
#pragma once
#include <string>

namespace carnot {

struct DeviceChoice {
  bool gpu = false;
  int index = -1;           // the GPU's index when gpu
  std::string description;  // "GPU 0 (NVIDIA H100 80GB HBM3, sm_90, 79 GiB)" or "CPU (why)"
  bool guarded = false;     // the guarded device (debug/guarded_device.h): the GPU path on the CPU
};

// mode "auto": the GPU numbered local_rank modulo the visible count when usable, else the CPU
// (no device, no driver or one too old all mean CPU); "cpu"; "cuda": a GPU or a UsageError;
// "guarded": the guarded device, for developers.
DeviceChoice choose_device(const std::string& mode, int local_rank);

}  // namespace carnot
