// CUDA_CHECK: every runtime call is checked; a failure throws with the call, file, line and
// the error's name and text.
#pragma once
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#define CARNOT_CUDA_CHECK(call)                                                              \
  do {                                                                                       \
    const cudaError_t carnot_cuda_err = (call);                                              \
    if (carnot_cuda_err != cudaSuccess)                                                      \
      throw std::runtime_error(std::string(#call) + " failed at " + __FILE__ + ":" +        \
                               std::to_string(__LINE__) + ": " +                             \
                               cudaGetErrorName(carnot_cuda_err) + " (" +                    \
                               cudaGetErrorString(carnot_cuda_err) + ")");                   \
  } while (0)
