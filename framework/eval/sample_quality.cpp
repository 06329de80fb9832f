#include "framework/eval/sample_quality.h"

#include <cmath>
#include <vector>

#include "framework/eval/sliced_wasserstein.h"

namespace carnot {

SampleQuality sample_quality(const Dataset& data, const float* samples, std::int64_t n,
                             std::uint64_t seed, int pairs, int projections) {
  const std::int64_t dim = data.dim();
  const std::vector<double> dirs = fixed_directions(dim, projections);
  std::vector<float> a(std::size_t(n * dim)), b(std::size_t(n * dim));
  SampleQuality q;
  q.pairs = pairs;
  data.fill(seed, 0, 0, n, RngStream::kEvalData, a.data());
  q.sw1 = sliced_wasserstein1(samples, a.data(), n, dim, dirs);
  double sum = 0, sum_sq = 0;
  for (int p = 0; p < pairs; ++p) {
    data.fill(seed, std::uint32_t(2 * p + 1), 0, n, RngStream::kEvalData, a.data());
    data.fill(seed, std::uint32_t(2 * p + 2), 0, n, RngStream::kEvalData, b.data());
    const double w = sliced_wasserstein1(a.data(), b.data(), n, dim, dirs);
    sum += w;
    sum_sq += w * w;
  }
  q.baseline_mean = sum / pairs;
  const double var = pairs > 1 ? (sum_sq - sum * sum / pairs) / (pairs - 1) : 0.0;
  q.baseline_stderr = std::sqrt(std::max(0.0, var) / pairs);
  return q;
}

}  // namespace carnot
