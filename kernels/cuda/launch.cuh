// Shared by the CUDA kernel files: launch shapes, the grid-stride loop, a deterministic block sum.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <type_traits>

#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/element.cuh"

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

// Calls f(std::integral_constant<int, K>{}) for K = k, 1 ≤ k ≤ 8: one instantiation of a kernel per
// K, so that its register arrays are sized exactly. False (and no call) for other k.
template <class F> bool with_constant_1_to_8(int k, F&& f) {
  switch (k) {
    case 1: f(std::integral_constant<int, 1>{}); return true;
    case 2: f(std::integral_constant<int, 2>{}); return true;
    case 3: f(std::integral_constant<int, 3>{}); return true;
    case 4: f(std::integral_constant<int, 4>{}); return true;
    case 5: f(std::integral_constant<int, 5>{}); return true;
    case 6: f(std::integral_constant<int, 6>{}); return true;
    case 7: f(std::integral_constant<int, 7>{}); return true;
    case 8: f(std::integral_constant<int, 8>{}); return true;
    default: return false;
  }
}

// CARNOT_CUDA_PLAIN=1: the plain kernels only — no cuDNN, no cuBLASLt epilogues, no fused
// attention, no vectorised bf16 paths — to tell a library path's or a fast path's fault from the
// general kernels', or to time what the fused and vectorised paths win.
inline bool plain_kernels_only() {
  static const bool plain = [] {
    const char* v = std::getenv("CARNOT_CUDA_PLAIN");
    return v != nullptr && std::strcmp(v, "1") == 0;
  }();
  return plain;
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

// The workspace cuBLAS (gemm.cu) and cuBLASLt (linear_lt.cu) share: 32 MiB, NVIDIA's advice for
// Hopper (split-K and staged kernels want it; cuBLAS's default pool is smaller). Their calls all
// queue on one stream, so never run at once; made at the first GEMM, so the step loop allocates
// nothing.
constexpr std::size_t kBlasWorkspaceBytes = std::size_t(32) << 20;
inline void* blas_workspace() {
  static GrowingScratch scratch;
  return scratch.get(kBlasWorkspaceBytes);
}

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

// The mean and 1/√(variance + eps) of x[0, n), by the whole block (two passes, float64, as the
// CPU twins' norms); every thread gets both.
template <class T> __device__ void block_moments(const T* x, std::int64_t n, double eps, double* mu, double* inv) {
  double s = 0;
  for (std::int64_t i = threadIdx.x; i < n; i += blockDim.x) s += double(ld(x[i]));
  *mu = block_sum(s) / double(n);
  double ss = 0;
  for (std::int64_t i = threadIdx.x; i < n; i += blockDim.x) ss += (double(ld(x[i])) - *mu) * (double(ld(x[i])) - *mu);
  *inv = 1.0 / sqrt(block_sum(ss) / double(n) + eps);
}

}  // namespace carnot::cuda_kernels
