// The ε-prediction objective (DDPM's L_simple): for global sample i of step s draw t ~ U{0..T-1}
// and ε ~ N(0, I) from Philox, form x_t = sqrt(ᾱ_t) x_0 + sqrt(1 − ᾱ_t) ε, and regress ε. The
// arithmetic is the op table's q_sample_eps (CPU and GPU twins); this is its host form.
#pragma once
#include <cstdint>

#include "framework/diffusion/schedule.h"

namespace carnot {

// Fills t[n] (as floats, the model's time input), eps[n, dim] and x_t[n, dim] for samples
// [first, first + n) of `step`, given their clean points x0[n, dim] (host memory).
void eps_objective_inputs(const NoiseSchedule& schedule, std::uint64_t seed, std::uint32_t step,
                          std::uint32_t first, std::int64_t n, std::int64_t dim, const float* x0,
                          float* t, float* eps, float* x_t);

}  // namespace carnot
