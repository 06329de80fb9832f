// The exact ε-prediction for Gaussian-mixture data under a discrete VP schedule:
// x_t | component k ~ N(sqrt(ᾱ_t) μ_k, ᾱ_t s_k² + 1 − ᾱ_t) per dimension, so
//   ∇ log p_t(x) = Σ_k r_k(x) (sqrt(ᾱ_t) μ_k − x) / v_k,   r_k ∝ w_k N(x; sqrt(ᾱ_t) μ_k, v_k),
//   ε̂(x, t) = E[ε | x_t = x] = −sqrt(1 − ᾱ_t) ∇ log p_t(x).
// `model.kind: exact` uses it, so samplers and likelihoods run end to end with no training.
#pragma once
#include "framework/core/tensor.h"
#include "framework/data/gaussian_mixture.h"
#include "framework/diffusion/schedule.h"

namespace carnot {

class ExactEps {
 public:
  ExactEps(GaussianMixture data, NoiseSchedule schedule)
      : data_(std::move(data)), schedule_(std::move(schedule)) {}
  // eps[n, D] for x[n, D] at integer times t[n] (as floats), computed in float64.
  void operator()(const Tensor& x, const float* t, const Tensor& eps) const;

 private:
  GaussianMixture data_;
  NoiseSchedule schedule_;
};

}  // namespace carnot
