// One thread per (sample, group of 4 noise values): each draws the sample's t (4 Philox words) and
// its group's 4 normals, so that a 4096-value latent is 1024 threads, not one thread's loop (that
// was 2.9 ms of DiT-B/2's step at batch 512). Memory bound; the draws are the host's, bit for bit.
#include <algorithm>

#include "framework/core/random.h"
#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/q_sample.h"

namespace carnot::cuda {

namespace {

__global__ void q_sample_eps_kernel(const double* __restrict__ abar, int steps, std::uint64_t seed,
                                    std::uint32_t step, std::uint32_t first, std::int64_t n,
                                    std::int64_t dim, std::int64_t groups, const float* __restrict__ x0,
                                    float* __restrict__ t, float* __restrict__ eps,
                                    float* __restrict__ x_t) {
  const std::int64_t id = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (id >= n * groups) return;
  const std::int64_t j = id / groups, d0 = id % groups * 4;
  const std::uint32_t i = first + std::uint32_t(j);
  const Philox4x32 r = philox_draw(seed, step, i, RngStream::kDiffusionTime, 0);
  const std::uint32_t ti = uniform_below(r.v[0], std::uint32_t(steps));
  if (d0 == 0) t[j] = float(ti);
  const double a = sqrt(abar[ti]), b = sqrt(1.0 - abar[ti]);
  const Philox4x32 w = philox_draw(seed, step, i, RngStream::kNoise, std::uint32_t(d0 / 4));
  double z[4];
  box_muller(w.v[0], w.v[1], &z[0], &z[1]);
  box_muller(w.v[2], w.v[3], &z[2], &z[3]);
  for (int q = 0; q < 4 && d0 + q < dim; ++q) {
    const std::int64_t k = j * dim + d0 + q;
    const float e = float(z[q]);
    eps[k] = e;
    x_t[k] = float(a * x0[k] + b * e);
  }
}

}  // namespace

void q_sample_eps(const double* alphas_cumprod, int steps, std::uint64_t seed, std::uint32_t step,
                  std::uint32_t first, std::int64_t n, std::int64_t dim, const float* x0,
                  float* t, float* eps, float* x_t, void* stream) {
  if (n == 0) return;
  constexpr int kThreads = 256;
  const std::int64_t groups = std::max<std::int64_t>(1, (dim + 3) / 4);  // one even for dim 0: t is drawn
  const unsigned blocks = unsigned((n * groups + kThreads - 1) / kThreads);
  q_sample_eps_kernel<<<blocks, kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      alphas_cumprod, steps, seed, step, first, n, dim, groups, x0, t, eps, x_t);
  CARNOT_CUDA_CHECK(cudaGetLastError());
}

}  // namespace carnot::cuda
