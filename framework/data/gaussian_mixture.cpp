#include <algorithm>
#include "framework/data/gaussian_mixture.h"

#include <cmath>

#include "framework/core/error.h"
#include "framework/core/random.h"

namespace carnot {

GaussianMixture GaussianMixture::from_spec(const DataSpec& spec) {
  if (spec.kind == "gaussian") return {{1.0}, {spec.mean}, {spec.std}};
  CARNOT_CHECK(spec.kind == "gaussian_mixture", "data.kind ", spec.kind, " is not Gaussian");
  return {spec.weights, spec.means, spec.stds};
}

std::vector<double> GaussianMixture::mean() const {
  std::vector<double> m(std::size_t(dim()), 0.0);
  for (std::size_t k = 0; k < components(); ++k)
    for (std::size_t d = 0; d < m.size(); ++d) m[d] += weights[k] * means[k][d];
  return m;
}

std::vector<double> GaussianMixture::stddev() const {
  const std::vector<double> mu = mean();
  std::vector<double> var(mu.size(), 0.0);
  for (std::size_t k = 0; k < components(); ++k)
    for (std::size_t d = 0; d < mu.size(); ++d)
      var[d] += weights[k] * (stds[k][d] * stds[k][d] + (means[k][d] - mu[d]) * (means[k][d] - mu[d]));
  for (double& v : var) v = std::sqrt(v);
  return var;
}

void GaussianMixtureData::fill(std::uint64_t seed, std::uint32_t step, std::uint32_t first,
                               std::int64_t n, RngStream stream, float* out) const {
  const std::int64_t D = dim();
  std::vector<double> z(static_cast<std::size_t>(D));
  for (std::int64_t j = 0; j < n; ++j) {
    const std::uint32_t i = first + std::uint32_t(j);
    const double u = uniform_open01(philox_draw(seed, step, i, stream, 0xffffffffu).v[0]);
    std::size_t k = 0;
    for (double c = m_.weights[0]; u > c && k + 1 < m_.components(); c += m_.weights[++k]) {
    }
    philox_normals(seed, step, i, stream, D, z.data());
    for (std::int64_t d = 0; d < D; ++d) {
      const double x = m_.means[k][d] + m_.stds[k][d] * z[d];
      out[j * D + d] = float(eight_bit_ ? -1 + 2 * std::clamp(std::round((x + 1) * 127.5), 0.0, 255.0) / 255 : x);
    }
  }
}

void GaussianMixture::responsibilities(const float* x, double a, double c, double* r) const {
  const std::size_t K = components();
  double top = -HUGE_VAL;
  for (std::size_t k = 0; k < K; ++k) {  // log responsibilities, up to a constant
    double l = std::log(weights[k]);
    for (std::int64_t d = 0; d < dim(); ++d) {
      const double v = a * a * stds[k][d] * stds[k][d] + c * c, e = x[d] - a * means[k][d];
      l -= 0.5 * (std::log(v) + e * e / v);
    }
    r[k] = l;
    top = std::max(top, l);
  }
  double total = 0;
  for (std::size_t k = 0; k < K; ++k) total += (r[k] = std::exp(r[k] - top));
  for (std::size_t k = 0; k < K; ++k) r[k] /= total;
}

}  // namespace carnot
