// The variance σ_t² of the reverse step p(x_{t−1} | x_t) = N(μ_θ(x_t, t), σ_t²), and one
// dimension's term of the variational bound given it. Times are the model's 0-indexed t; t = 0 is
// the decoder step p(x_0 | x_1) in DDPM's 1-indexed notation.
//   fixed_small: β̃_t = (1 − ᾱ_{t−1}) / (1 − ᾱ_t) β_t (the decoder uses β since β̃ = 0 there)
//   fixed_large: β_t
//   learned:     sigmoid(v + logit β_t), v per element from the network: the 2015 paper's
//                parameterisation (v = 0 is fixed_large), free in (0, 1) so that near the data a
//                thin manifold's reverse step can be far narrower than β̃.
#pragma once
#include <string>

#include "framework/diffusion/schedule.h"

namespace carnot {

enum class ReverseVariance { kPosterior, kBeta, kLearned };
ReverseVariance reverse_variance_of(const std::string& name);  // fixed_small | fixed_large | learned

// β̃_t (0 at t = 0).
double posterior_variance(const NoiseSchedule& s, int t);
// σ_t²; `logit` is only read for kLearned.
double reverse_variance(const NoiseSchedule& s, int t, ReverseVariance v, double logit = 0);

// One dimension of the bound's term at t, in nats:
//   t ≥ 1: KL(N(μ̃, β̃) ‖ N(μ, σ²)) = ½ (ln σ² − ln β̃ + (β̃ + (μ̃ − μ)²) / σ² − 1)
//   t = 0: −ln N(x_0; μ, σ²)        = ½ (ln σ² + ln 2π + (x_0 − μ)² / σ²)
// with sq = (μ̃ − μ)², or (x_0 − μ)² at t = 0 (where β̃ = 0 makes the two forms one).
struct BoundTerm {
  double nats;
  double d_sq;       // ∂nats/∂sq
  double d_log_var;  // ∂nats/∂ln σ²
};
BoundTerm bound_term(double posterior_var, double var, double sq, bool decoder);

}  // namespace carnot
