#include "framework/core/device.h"

#include "framework/core/error.h"

#if CARNOT_WITH_CUDA
#include "kernels/cuda/cuda_runtime.h"
#endif

namespace carnot {

DeviceChoice choose_device(const std::string& mode, int local_rank) {
  if (mode != "auto" && mode != "cpu" && mode != "cuda" && mode != "guarded")
    throw UsageError("--device must be auto, cpu, cuda or guarded, not '" + mode + "'");
  if (mode == "cpu") return {false, -1, "CPU (--device cpu)"};
  if (mode == "guarded")
    return {false, -1, "the guarded device (the GPU code path on the CPU, device memory behind page protection)", true};
#if CARNOT_WITH_CUDA
  const int count = cuda::device_count_or_zero();
  const int index = count > 0 ? local_rank % count : 0;
  std::string what, why;
  if (cuda::device_usable(index, &what, &why)) {
    cuda::set_device(index);
    return {true, index, what};
  }
  if (mode == "cuda") throw UsageError("--device cuda: " + why);
  return {false, -1, "CPU (" + why + ")"};
#else
  (void)local_rank;
  if (mode == "cuda") throw UsageError("--device cuda: this carnot was built without CUDA (CARNOT_CUDA=OFF)");
  return {false, -1, "CPU (built without CUDA)"};
#endif
}

}  // namespace carnot
