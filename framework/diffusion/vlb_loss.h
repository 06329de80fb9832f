// Training losses built on the variational bound, for a network that predicts ε (and, with learned
// variances, their parameters; reverse_variance.h):
//   simple: ‖ε̂ − ε‖² / dim (DDPM's L_simple).
//   vlb:    T · L_t / dim for the sample's uniform t, with L_t the bound's term at t
//           (likelihood.h): an unbiased estimate of the bound less its prior term, in nats per
//           dimension (the trainer adds the prior's, which only learned β can change). It trains ε̂ with the bound's weights and, when learned, σ². The 2015 paper
//           trains this way.
//   hybrid: simple + vlb_weight · vlb with the mean's gradient stopped inside vlb, so that the
//           bound trains only σ² (Nichol & Dhariwal 2021, λ = 0.001).
// Every term is written through ε̂: μ̃ − μ = k_t (ε̂ − ε) with k_t = β_t / sqrt(α_t (1 − ᾱ_t)),
// also at the decoder, where x_0 − μ has the same form.
#pragma once
#include <cstdint>
#include <string>

#include "framework/diffusion/reverse_variance.h"

namespace carnot {

enum class LossKind { kSimple, kVlb, kHybrid };
LossKind loss_kind_of(const std::string& name);  // simple | vlb | hybrid

struct BoundLossConfig {
  LossKind kind = LossKind::kVlb;
  ReverseVariance variance = ReverseVariance::kPosterior;
  double vlb_weight = 1e-3;  // hybrid's λ
};

// out[n, width]: ε̂ in columns [0, dim) and, for learned variances, the variance parameters after
// them (width = dim + variance_outputs). t[n] are 0-indexed times, eps[n, dim] the true noise. Writes dout[n, width]
// = grad_scale · ∂loss/∂out and returns the sum of the per-row losses.
double bound_loss(const BoundLossConfig& config, const NoiseSchedule& s, std::int64_t n,
                  std::int64_t dim, const float* t, const float* eps, const float* out,
                  double grad_scale, float* dout);

}  // namespace carnot
