// Learned noise schedules, as the 2015 paper learns β₂…β_T: with a base schedule's β_t (any VP
// schedule) and one logit p_t per step after the first,
//   β_1 = β_1^base,   β_t = sigmoid(p_t + logit β_t^base) for t ≥ 2   (p = 0 is the base schedule).
// The bound is the only loss that can train β (diffusion.loss vlb): each sample's unbiased estimate
// of it, (T L_t + L_prior) / dim, depends on β through the closed-form terms at t (β_t, ᾱ_t,
// ᾱ_{t−1}), through x_t = sqrt(ᾱ_t) x_0 + sqrt(1 − ᾱ_t) ε and the network, and through the prior's
// ᾱ_T; ᾱ_t depends on every β_s with s ≤ t.
#pragma once
#include <cstdint>

#include "framework/diffusion/likelihood.h"  // prior_nats
#include "framework/diffusion/vlb_loss.h"

namespace carnot {

// The schedule for logits p[T − 1] (the model's 0-indexed steps 1..T−1).
NoiseSchedule learned_schedule(const NoiseSchedule& base, const float* logits);

// Adds to g_logits[T − 1] grad_scale times the gradient, with respect to the logits, of the sum
// over the n rows of (T L_t + L_prior) / dim. out[n, width] is the network's output at x_t and
// dx[n, dim] the gradient of the same scaled loss with respect to x_t (from the network's
// backward of bound_loss's dout with loss vlb). The closed-form terms' partials in β_t, ᾱ_t and
// ᾱ_{t−1} are taken by central differences of the row's bound, in float64.
void add_beta_logit_gradient(const NoiseSchedule& s, ReverseVariance variance,
                             std::int64_t n, std::int64_t dim, const float* t, const float* x0, const float* eps,
                             const float* out, const float* dx, double grad_scale, float* g_logits);

}  // namespace carnot
