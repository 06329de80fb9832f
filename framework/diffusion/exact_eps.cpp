#include "framework/diffusion/exact_eps.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace carnot {

void ExactEps::operator()(const Tensor& x, const float* t, const Tensor& eps) const {
  const std::int64_t n = x.dim(0), D = data_.dim();
  std::vector<double> r(data_.components());
  for (std::int64_t j = 0; j < n; ++j) {
    const double ab = schedule_.alphas_cumprod[std::size_t(t[j])], sab = std::sqrt(ab);
    const float* xj = x.data<float>() + j * D;
    data_.responsibilities(xj, sab, std::sqrt(1 - ab), r.data());
    for (std::int64_t d = 0; d < D; ++d) {
      double score = 0;
      for (std::size_t k = 0; k < r.size(); ++k) {
        const double s = data_.stds[k][d], v = ab * s * s + 1 - ab;
        score += r[k] * (sab * data_.means[k][d] - xj[d]) / v;
      }
      eps.data<float>()[j * D + d] = float(-std::sqrt(1 - ab) * score);
    }
  }
}

}  // namespace carnot
