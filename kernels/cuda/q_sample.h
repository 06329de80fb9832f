// The ε objective's inputs on the GPU: for sample j of [first, first + n) at `step`, draw t and ε
// with in-kernel Philox keyed exactly as the CPU twin (framework/diffusion/eps_objective.cpp) and
// form x_t = sqrt(ᾱ_t) x0 + sqrt(1 − ᾱ_t) ε. All pointers are device pointers.
#pragma once
#include <cstdint>

namespace carnot::cuda {

void q_sample_eps(const double* alphas_cumprod, int steps, std::uint64_t seed, std::uint32_t step,
                  std::uint32_t first, std::int64_t n, std::int64_t dim, const float* x0,
                  float* t, float* eps, float* x_t, void* stream = nullptr);

}  // namespace carnot::cuda
