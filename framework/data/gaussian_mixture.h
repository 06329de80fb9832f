// Gaussian data with closed forms: a diagonal Gaussian (one component) or a mixture of diagonal
// Gaussians. Used as data whose score is known exactly, to test samplers and likelihoods.
#pragma once
#include <vector>

#include "framework/data/dataset.h"

namespace carnot {

struct GaussianMixture {
  std::vector<double> weights;                   // K, summing to 1
  std::vector<std::vector<double>> means, stds;  // K × D
  std::int64_t dim() const { return std::int64_t(means.at(0).size()); }
  std::size_t components() const { return weights.size(); }
  static GaussianMixture from_spec(const DataSpec& spec);  // gaussian or gaussian_mixture
  // The mixture's overall mean and standard deviation per dimension.
  std::vector<double> mean() const;
  std::vector<double> stddev() const;
  // The responsibilities r[K] of the components for a point x[D] of the mixture passed through
  // x ↦ a x + c n (n standard normal): component k is then N(a μ_k, a² s_k² + c²) per dimension.
  // Every noising path of the exact models has this form.
  void responsibilities(const float* x, double a, double c, double* r) const;
};

class GaussianMixtureData final : public Dataset {
 public:
  explicit GaussianMixtureData(GaussianMixture m, bool eight_bit = false) : m_(std::move(m)), eight_bit_(eight_bit) {}
  std::int64_t dim() const override { return m_.dim(); }
  // Point i: its component from the last Philox block's first word, its noise from blocks 0, 1, …
  void fill(std::uint64_t seed, std::uint32_t step, std::uint32_t first, std::int64_t n,
            RngStream stream, float* out) const override;
  double bin_half_width() const override { return eight_bit_ ? 1.0 / 255 : 0.0; }
  const GaussianMixture& mixture() const { return m_; }

 private:
  GaussianMixture m_;
  bool eight_bit_;  // clip to [−1, 1], round to the 256 levels
};

}  // namespace carnot
