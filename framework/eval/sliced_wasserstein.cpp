#include "framework/eval/sliced_wasserstein.h"

#include <algorithm>
#include <cmath>

#include "framework/core/random.h"

namespace carnot {

std::vector<double> fixed_directions(std::int64_t dim, int projections) {
  constexpr std::uint64_t kDirectionsKey = 0x5111CED0ull;
  std::vector<double> dirs(std::size_t(dim * projections));
  for (int p = 0; p < projections; ++p) {
    double* d = dirs.data() + std::int64_t(p) * dim;
    philox_normals(kDirectionsKey, 0, std::uint32_t(p), RngStream::kEvalData, dim, d);
    double norm = 0;
    for (std::int64_t k = 0; k < dim; ++k) norm += d[k] * d[k];
    for (std::int64_t k = 0; k < dim; ++k) d[k] /= std::sqrt(norm);
  }
  return dirs;
}

double sliced_wasserstein1(const float* a, const float* b, std::int64_t n, std::int64_t dim,
                           const std::vector<double>& directions) {
  const std::int64_t projections = std::int64_t(directions.size()) / dim;
  std::vector<double> pa(static_cast<std::size_t>(n)), pb(static_cast<std::size_t>(n));
  double total = 0;
  for (std::int64_t p = 0; p < projections; ++p) {
    const double* d = directions.data() + p * dim;
    for (std::int64_t i = 0; i < n; ++i) {
      double sa = 0, sb = 0;
      for (std::int64_t k = 0; k < dim; ++k) sa += d[k] * a[i * dim + k], sb += d[k] * b[i * dim + k];
      pa[std::size_t(i)] = sa, pb[std::size_t(i)] = sb;
    }
    std::sort(pa.begin(), pa.end());
    std::sort(pb.begin(), pb.end());
    double w = 0;
    for (std::int64_t i = 0; i < n; ++i) w += std::fabs(pa[std::size_t(i)] - pb[std::size_t(i)]);
    total += w / double(n);
  }
  return total / double(projections);
}

}  // namespace carnot
