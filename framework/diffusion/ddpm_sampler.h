// DDPM ancestral sampling (Ho et al. 2020, Algorithm 2) with the model's reverse variance σ_t²
// (β̃_t, β_t or learned):
//   x_{t-1} = (x_t − β_t / sqrt(1 − ᾱ_t) ε̂(x_t, t)) / sqrt(1 − β_t) + σ_t z,  z = 0 at t = 0.
// With clip_x0 > 0 (images: their range [−1, 1]), as DDPM's code does for images: x̂0 =
// (x_t − sqrt(1 − ᾱ_t) ε̂) / sqrt(ᾱ_t) clipped to ±clip_x0, then the posterior mean
//   μ = sqrt(ᾱ_{t−1}) β_t / (1 − ᾱ_t) x̂0 + sqrt(1 − β_t) (1 − ᾱ_{t−1}) / (1 − ᾱ_t) x_t
// (equal to the line above while nothing is clipped).
#pragma once
#include <cstdint>
#include <functional>

#include "framework/core/tensor.h"
#include "framework/diffusion/reverse_model.h"
#include "framework/diffusion/schedule.h"

namespace carnot {


// x_T for samples [first, first + m): standard normals keyed by (seed, 0, sample index), shared by
// every sampler so that they all start from the same noise.
void draw_initial_noise(std::uint64_t seed, std::uint32_t first, std::int64_t m, std::int64_t dim,
                        float* x);

// Generates samples [first, first + n) into out[n, dim], in chunks of at most `chunk` rows.
// Sample i's initial noise and every step's noise come from Philox keyed by (seed, step, i), so
// the result does not depend on how samples are split across ranks or chunks.
void ddpm_sample(const ReverseModel& model, const NoiseSchedule& schedule, std::uint64_t seed,
                 std::uint32_t first, std::int64_t n, std::int64_t dim, std::int64_t chunk,
                 float* out, double clip_x0 = 0);

}  // namespace carnot
