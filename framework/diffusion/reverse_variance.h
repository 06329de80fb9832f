// The covariance Σ_t of the reverse step p(x_{t−1} | x_t) = N(μ_θ(x_t, t), Σ_t), and one row's
// term of the variational bound given it. Times are the model's 0-indexed t; t = 0 is the decoder
// step p(x_0 | x_1) in DDPM's 1-indexed notation.
//   fixed_small:  β̃_t I, β̃_t = (1 − ᾱ_{t−1}) / (1 − ᾱ_t) β_t (the decoder uses β since β̃ = 0 there)
//   fixed_large:  β_t I
//   learned:      diag σ², σ_d² = sigmoid(v_d + logit β_t) with v from the network: the 2015 paper's
//                 parameterisation (v = 0 is fixed_large), free in (0, 1) so that near the data a
//                 thin manifold's reverse step can be far narrower than β̃.
//   learned_full: Σ = β_t M Mᵀ with M lower-triangular, M_ii = exp(a_i), M_ij = b_ij (a = b = 0 is
//                 fixed_large): a full covariance, for low-dimensional data, whose reverse steps
//                 near a curved thin manifold are narrow across it and wide along it, which no
//                 diagonal can be unless the manifold runs along an axis.
#pragma once
#include <cstdint>
#include <string>

#include "framework/diffusion/schedule.h"

namespace carnot {

enum class ReverseVariance { kPosterior, kBeta, kLearned, kLearnedFull };
// fixed_small | fixed_large | learned | learned_full
ReverseVariance reverse_variance_of(const std::string& name);
// The network's variance outputs per row: 0, dim (learned) or dim (dim + 1) / 2 (learned_full).
std::int64_t variance_outputs(ReverseVariance v, std::int64_t dim);

// β̃_t (0 at t = 0).
double posterior_variance(const NoiseSchedule& s, int t);
// The diagonal σ_t² of the fixed and `learned` variances; `logit` is read only for learned.
double reverse_variance(const NoiseSchedule& s, int t, ReverseVariance v, double logit = 0);

// One dimension of the bound's term at t with a diagonal variance, in nats:
//   t ≥ 1: KL(N(μ̃, β̃) ‖ N(μ, σ²)) = ½ (ln σ² − ln β̃ + (β̃ + (μ̃ − μ)²) / σ² − 1)
//   t = 0: −ln N(x_0; μ, σ²)        = ½ (ln σ² + ln 2π + (x_0 − μ)² / σ²)
// with sq = (μ̃ − μ)², or (x_0 − μ)² at t = 0 (where β̃ = 0 makes the two forms one).
struct BoundTerm {
  double nats;
  double d_sq;       // ∂nats/∂sq
  double d_log_var;  // ∂nats/∂ln σ²
};
BoundTerm bound_term(double posterior_var, double var, double sq, bool decoder);

// One row of the bound at t for any variance: delta[dim] = μ̃ − μ (x_0 − μ at t = 0), params the
// row's variance outputs (variance_outputs of them). The general form is
//   ½ (β̃ tr Σ⁻¹ + δᵀ Σ⁻¹ δ + ln det Σ) + c,  c = −½ dim (ln β̃ + 1), or ½ dim ln 2π at t = 0.
// With g_delta non-null also writes ∂nats/∂δ and, for learned variances, ∂nats/∂params.
double row_bound_nats(const NoiseSchedule& s, int t, ReverseVariance v, std::int64_t dim, const double* delta,
                      const float* params, double* g_delta = nullptr, double* g_params = nullptr);

// The reverse step's noise Σ_t^{1/2} z for standard normal z[dim] (Cholesky factor for learned_full).
void reverse_noise(const NoiseSchedule& s, int t, ReverseVariance v, std::int64_t dim, const float* params,
                   const double* z, double* out);

}  // namespace carnot
