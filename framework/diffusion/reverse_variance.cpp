#include "framework/diffusion/reverse_variance.h"

#include <algorithm>
#include <cmath>

#include "framework/core/error.h"

namespace carnot {

ReverseVariance reverse_variance_of(const std::string& name) {
  if (name == "fixed_small") return ReverseVariance::kPosterior;
  if (name == "fixed_large") return ReverseVariance::kBeta;
  if (name == "learned") return ReverseVariance::kLearned;
  throw Error("unknown diffusion.variance '" + name + "'");
}

double posterior_variance(const NoiseSchedule& s, int t) {
  if (t == 0) return 0.0;
  return (1 - s.alphas_cumprod[std::size_t(t - 1)]) / (1 - s.alphas_cumprod[std::size_t(t)]) * s.betas[std::size_t(t)];
}

double reverse_variance(const NoiseSchedule& s, int t, ReverseVariance v, double logit) {
  const double beta = s.betas[std::size_t(t)];
  switch (v) {
    case ReverseVariance::kPosterior:
      return t > 0 ? posterior_variance(s, t) : beta;
    case ReverseVariance::kBeta:
      return beta;
    case ReverseVariance::kLearned: {
      // sigmoid(logit + ln(β / (1 − β))), clamped so that σ² stays in (0, 1) with a finite log.
      const double u = std::clamp(logit + std::log(beta) - std::log1p(-beta), -30.0, 30.0);
      return u >= 0 ? 1 / (1 + std::exp(-u)) : std::exp(u) / (1 + std::exp(u));
    }
  }
  return beta;
}

BoundTerm bound_term(double posterior_var, double var, double sq, bool decoder) {
  const double log_var = std::log(var);
  const double c = decoder ? 0.5 * std::log(2 * M_PI) : -0.5 * (std::log(posterior_var) + 1);
  const double r = (posterior_var + sq) / var;
  return BoundTerm{0.5 * (log_var + r) + c, 0.5 / var, 0.5 * (1 - r)};
}

}  // namespace carnot
