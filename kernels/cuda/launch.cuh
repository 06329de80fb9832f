// Shared by the CUDA kernel files: launch shapes, the grid-stride loop, a deterministic block sum.
#pragma once
#include <cstddef>
#include <cstdint>

#include "kernels/cuda/cuda_check.cuh"

namespace carnot::cuda_kernels {

constexpr int kThreads = 256;

inline int blocks_for(std::int64_t n) {
  const std::int64_t b = (n + kThreads - 1) / kThreads;
  return int(b < 1 ? 1 : b > 65535 * 8 ? 65535 * 8 : b);
}

#define CARNOT_GRID_STRIDE(i, n) \
  for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < (n); i += std::int64_t(gridDim.x) * blockDim.x)

// Launches kernel over n elements (nothing for n ≤ 0) and checks the launch.
template <class Kernel, class... Args> void launch(std::int64_t n, Kernel kernel, Args... args) {
  if (n <= 0) return;
  kernel<<<blocks_for(n), kThreads>>>(args...);
  CARNOT_CUDA_CHECK(cudaGetLastError());
}

// Device scratch grown on demand and kept (a function-local static per use): allocations happen
// while sizes grow, not in a steady step loop.
class GrowingScratch {
 public:
  void* get(std::size_t bytes) {
    if (bytes > have_) {
      if (p_) CARNOT_CUDA_CHECK(cudaFree(p_));
      CARNOT_CUDA_CHECK(cudaMalloc(&p_, bytes));
      have_ = bytes;
    }
    return p_;
  }

 private:
  void* p_ = nullptr;
  std::size_t have_ = 0;
};

// The sum of v over the block's kThreads threads, in a fixed tree order (deterministic); every
// thread gets it. Call from all threads of a kThreads block.
__device__ inline double block_sum(double v) {
  __shared__ double cache[kThreads];
  __syncthreads();  // a previous call's readers are done with cache
  cache[threadIdx.x] = v;
  __syncthreads();
  for (int half = kThreads / 2; half > 0; half /= 2) {
    if (int(threadIdx.x) < half) cache[threadIdx.x] += cache[threadIdx.x + half];
    __syncthreads();
  }
  return cache[0];
}

}  // namespace carnot::cuda_kernels
