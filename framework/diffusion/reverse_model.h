// What samplers and the bound ask of a trained network or an exact model at (x_t, t): ε̂, and for
// learned reverse variances also the per-element logits v of σ_t² (see reverse_variance.h).
#pragma once
#include <functional>
#include <type_traits>
#include <utility>

#include "framework/core/error.h"
#include "framework/core/tensor.h"
#include "framework/diffusion/reverse_variance.h"

namespace carnot {

// ε̂ for x[n, dim] at times t[n] into eps[n, dim].
using EpsPredictor = std::function<void(const Tensor& x, const float* t, const Tensor& eps)>;
// ε̂ and the variance logits, each [n, dim].
using EpsVarPredictor =
    std::function<void(const Tensor& x, const float* t, const Tensor& eps, const Tensor& var_logit)>;

class ReverseModel {
 public:
  // A fixed variance: fixed_small (β̃) or fixed_large (β). Any ε callable converts implicitly.
  template <class F, std::enable_if_t<std::is_invocable_v<F&, const Tensor&, const float*, const Tensor&>, int> = 0>
  ReverseModel(F eps, ReverseVariance variance = ReverseVariance::kPosterior)
      : variance_(variance), eps_(std::move(eps)) {
    CARNOT_CHECK(variance != ReverseVariance::kLearned, "a learned variance needs an EpsVarPredictor");
  }
  explicit ReverseModel(EpsVarPredictor eps_and_var)
      : variance_(ReverseVariance::kLearned), learned_(std::move(eps_and_var)) {}

  ReverseVariance variance() const { return variance_; }
  // var_logit is written only when the variance is learned.
  void predict(const Tensor& x, const float* t, const Tensor& eps, const Tensor& var_logit) const {
    if (learned_)
      learned_(x, t, eps, var_logit);
    else
      eps_(x, t, eps);
  }
  // σ² at time t for one element whose logit (learned variances only) is var_logit[k].
  double var(const NoiseSchedule& s, int t, const float* var_logit, std::int64_t k) const {
    return reverse_variance(s, t, variance_, learned_ ? double(var_logit[k]) : 0.0);
  }

 private:
  ReverseVariance variance_;
  EpsPredictor eps_;
  EpsVarPredictor learned_;
};

}  // namespace carnot
