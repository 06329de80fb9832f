// The probability-flow ODE in EDM's variables (Karras et al. 2022): with σ_t = sqrt((1 − ᾱ_t)/ᾱ_t)
// and x̃ = x / sqrt(ᾱ_t), dx̃/dσ = ε̂(sqrt(ᾱ_t) x̃, t). Steps run over K of the training times,
// evenly spaced from T−1 down to 0, then to σ = 0.
//   euler: x̃ += (σ_next − σ) ε̂                       (the same update as DDIM with η = 0)
//   heun:  Euler, then the average of the slopes at both ends (2K − 1 network evaluations).
// EDM's own σ spacing (ρ = 7) is not here yet: with evenly spaced t the first steps are long.
#pragma once
#include "framework/diffusion/ddpm_sampler.h"

namespace carnot {

enum class OdeMethod { kEuler, kHeun };

void ode_sample(const EpsPredictor& predict, const NoiseSchedule& schedule, int steps, OdeMethod method,
                std::uint64_t seed, std::uint32_t first, std::int64_t n, std::int64_t dim,
                std::int64_t chunk, float* out);

}  // namespace carnot
