// DDIM (Song et al. 2021) over K of the T training times, evenly spaced from T−1 down to 0:
//   x̂0 = (x_t − sqrt(1 − ᾱ_t) ε̂) / sqrt(ᾱ_t)
//   σ = η sqrt((1 − ᾱ_s)/(1 − ᾱ_t)) sqrt(1 − ᾱ_t/ᾱ_s)
//   x_s = sqrt(ᾱ_s) x̂0 + sqrt(1 − ᾱ_s − σ²) ε̂ + σ z,   s the next time (ᾱ = 1 after the last).
// η = 0 is the deterministic sampler; η = 1 is DDPM's ancestral sampler on the respaced chain.
// With clip_x0 > 0 (images), x̂0 is clipped to ±clip_x0 and ε̂ recomputed from it, as
// improved-diffusion's DDIM does.
#pragma once
#include <vector>

#include "framework/diffusion/ddpm_sampler.h"

namespace carnot {

// K times, descending from T−1 to 0, evenly spaced (rounded).
std::vector<int> sampling_times(int T, int K);

// Like ddpm_sample: samples [first, first + n) into out[n, dim]; noise keyed by (seed, t, i).
void ddim_sample(const EpsPredictor& predict, const NoiseSchedule& schedule, int steps, double eta,
                 std::uint64_t seed, std::uint32_t first, std::int64_t n, std::int64_t dim,
                 std::int64_t chunk, float* out, double clip_x0 = 0);

}  // namespace carnot
