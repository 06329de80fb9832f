// What samplers and the bound ask of a trained network or an exact model at (x_t, t): ε̂, and for
// learned reverse variances also the row's variance parameters (see reverse_variance.h).
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
// ε̂ [n, dim] and the variance parameters [n, variance_outputs(v, dim)].
using EpsVarPredictor =
    std::function<void(const Tensor& x, const float* t, const Tensor& eps, const Tensor& var_logit)>;

class ReverseModel {
 public:
  // A fixed variance: fixed_small (β̃) or fixed_large (β). Any ε callable converts implicitly.
  template <class F, std::enable_if_t<std::is_invocable_v<F&, const Tensor&, const float*, const Tensor&>, int> = 0>
  ReverseModel(F eps, ReverseVariance variance = ReverseVariance::kPosterior)
      : variance_(variance), eps_(std::move(eps)) {
    CARNOT_CHECK(variance_outputs(variance, 1) == 0, "a learned variance needs an EpsVarPredictor");
  }
  ReverseModel(EpsVarPredictor eps_and_var, ReverseVariance variance)
      : variance_(variance), learned_(std::move(eps_and_var)) {
    CARNOT_CHECK(variance_outputs(variance, 1) > 0, "an EpsVarPredictor needs a learned variance");
  }

  ReverseVariance variance() const { return variance_; }
  // var_params ([n, variance_outputs(variance(), dim)]) is written only when the variance is learned.
  void predict(const Tensor& x, const float* t, const Tensor& eps, const Tensor& var_logit) const {
    if (learned_)
      learned_(x, t, eps, var_logit);
    else
      eps_(x, t, eps);
  }
 private:
  ReverseVariance variance_;
  EpsPredictor eps_;
  EpsVarPredictor learned_;
};

}  // namespace carnot
