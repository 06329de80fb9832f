#include "framework/diffusion/exact_eps.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace carnot {

void ExactEps::operator()(const Tensor& x, const float* t, const Tensor& eps) const {
  const std::int64_t n = x.dim(0), D = data_.dim();
  const std::size_t K = data_.components();
  std::vector<double> logr(K), score(static_cast<std::size_t>(D));
  // Per-time constants, recomputed only when t changes (samplers pass one t for all rows).
  std::vector<double> inv_v(K * std::size_t(D)), centre(K * std::size_t(D)), log_norm(K);
  double ab = -1, sab = 0;
  float cached_t = -1;
  for (std::int64_t j = 0; j < n; ++j) {
    if (t[j] != cached_t) {
      cached_t = t[j];
      ab = schedule_.alphas_cumprod[std::size_t(t[j])], sab = std::sqrt(ab);
      for (std::size_t k = 0; k < K; ++k) {
        log_norm[k] = std::log(data_.weights[k]);
        for (std::int64_t d = 0; d < D; ++d) {
          const double v = ab * data_.stds[k][d] * data_.stds[k][d] + 1 - ab;
          inv_v[k * D + d] = 1 / v;
          centre[k * D + d] = sab * data_.means[k][d];
          log_norm[k] -= 0.5 * std::log(v);
        }
      }
    }
    const float* xj = x.data<float>() + j * D;
    for (std::size_t k = 0; k < K; ++k) {  // log responsibilities, up to a constant
      double l = log_norm[k];
      for (std::int64_t d = 0; d < D; ++d) {
        const double r = xj[d] - centre[k * D + d];
        l -= 0.5 * r * r * inv_v[k * D + d];
      }
      logr[k] = l;
    }
    const double top = *std::max_element(logr.begin(), logr.end());
    double total = 0;
    for (double& l : logr) total += (l = K == 1 ? 1.0 : std::exp(l - top));
    std::fill(score.begin(), score.end(), 0.0);
    for (std::size_t k = 0; k < K; ++k)
      for (std::int64_t d = 0; d < D; ++d)
        score[d] += logr[k] / total * (centre[k * D + d] - xj[d]) * inv_v[k * D + d];
    for (std::int64_t d = 0; d < D; ++d)
      eps.data<float>()[j * D + d] = float(-std::sqrt(1 - ab) * score[d]);
  }
}

}  // namespace carnot
