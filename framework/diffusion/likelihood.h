// The variational bound on the negative log-likelihood (Sohl-Dickstein et al. 2015; Ho et al. 2020
// eq. 5), in DDPM's 1-indexed notation with ᾱ_0 = 1, for continuous data:
//   L = KL(q(x_T | x_0) ‖ N(0, I))                                          prior
//     + Σ_{t=2..T} E_q KL(q(x_{t−1} | x_t, x_0) ‖ N(μ_θ(x_t, t), σ_t²))      denoising steps
//     − E_q log N(x_0; μ_θ(x_1, 1), β_1)                                     decoder
// with μ_θ(x_t, t) = (x_t − β_t / sqrt(1 − ᾱ_t) ε̂) / sqrt(α_t). Each expectation is one draw of x_t
// per sample (keyed by seed, t, sample index), so the sum is an unbiased estimate of L. With
// t_samples > 0 the denoising sum is itself estimated from that many uniform draws of t per point
// (Monte Carlo over t, for large T); the decoder and prior stay exact.
// σ_t² is the model's: DDPM's "fixed small" β̃_t, "fixed large" β_t, or learned (reverse_variance.h).
// For 8-bit data scaled to [−1, 1] (bin_half_width 1/255) the decoder is DDPM's discretised one
// (discretized_decoder.h), and nats / (dim ln 2) is bits per dimension; it needs a diagonal variance.
// For data N(0, 1) the true reverse step is N(sqrt(α_t) x_t, β_t), so with σ_t² = β_t
// and the exact ε the bound is tight: the tests use that as an exact answer.
#pragma once
#include <cstdint>
#include <vector>

#include "framework/diffusion/reverse_model.h"

namespace carnot {

struct BoundEstimate {
  std::vector<double> nats;          // per sample: the bound L in nats (all terms)
  std::vector<double> step_nats;     // per term, mean over samples: [0] decoder, [t−1] step t, [T] prior
};

// The prior's term, KL(q(x_T | x_0) ‖ N(0, I)), for one point x0[dim], in nats.
double prior_nats(const NoiseSchedule& s, std::int64_t dim, const float* x0);

// x0[n, dim] in the units the model was trained on.
BoundEstimate variational_bound(const ReverseModel& model, const NoiseSchedule& schedule,
                                std::uint64_t seed, std::int64_t n, std::int64_t dim,
                                const float* x0, std::int64_t chunk, int t_samples = 0,
                                double bin_half_width = 0);

}  // namespace carnot
