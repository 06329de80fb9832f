#include "framework/diffusion/objective.h"

#include <algorithm>
#include <cmath>

#include "framework/core/error.h"

namespace carnot {

Prediction prediction_of(const std::string& objective) {
  if (objective == "eps") return Prediction::kEps;
  if (objective == "x0") return Prediction::kX0;
  if (objective == "v") return Prediction::kV;
  throw Error("unknown diffusion.objective '" + objective + "'");
}

void objective_targets(Prediction p, const NoiseSchedule& s, std::int64_t n, std::int64_t dim,
                       const float* t, const float* x0, const float* eps, float* target) {
  for (std::int64_t j = 0; j < n; ++j) {
    const double ab = s.alphas_cumprod[std::size_t(t[j])], a = std::sqrt(ab), b = std::sqrt(1 - ab);
    for (std::int64_t d = 0; d < dim; ++d) {
      const std::int64_t k = j * dim + d;
      target[k] = p == Prediction::kEps ? eps[k]
                  : p == Prediction::kX0 ? x0[k]
                                         : float(a * eps[k] - b * x0[k]);
    }
  }
}

void min_snr_weights(Prediction p, const NoiseSchedule& s, std::int64_t n, const float* t,
                     double gamma, float* weights) {
  for (std::int64_t j = 0; j < n; ++j) {
    if (gamma <= 0) {
      weights[j] = 1.0f;
      continue;
    }
    const double ab = s.alphas_cumprod[std::size_t(t[j])], snr = ab / (1 - ab), m = std::min(snr, gamma);
    weights[j] = float(p == Prediction::kEps ? m / snr : p == Prediction::kX0 ? m : m / (snr + 1));
  }
}

EpsPredictor as_eps_predictor(Prediction p, const NoiseSchedule& s, EpsPredictor raw) {
  if (p == Prediction::kEps) return raw;
  return [p, s, raw](const Tensor& x, const float* t, const Tensor& out) {
    raw(x, t, out);
    const std::int64_t n = x.dim(0), dim = x.dim(1);
    float* o = out.data<float>();
    const float* xt = x.data<float>();
    for (std::int64_t j = 0; j < n; ++j) {
      const double ab = s.alphas_cumprod[std::size_t(t[j])], a = std::sqrt(ab), b = std::sqrt(1 - ab);
      for (std::int64_t d = 0; d < dim; ++d) {
        const std::int64_t k = j * dim + d;
        // x0: ε = (x_t − a x0)/b.   v: ε = a v + b x_t (since v = a ε − b x0 and x_t = a x0 + b ε).
        o[k] = float(p == Prediction::kX0 ? (xt[k] - a * o[k]) / b : a * o[k] + b * xt[k]);
      }
    }
  };
}

}  // namespace carnot
