#include "framework/diagnostics/noise_scale.h"

#include "framework/core/error.h"

namespace carnot {

NoiseScale estimate_noise_scale(double small_sq, double large_sq, const std::vector<std::int64_t>& group_sizes) {
  double big = 0, h = 0;
  std::int64_t groups = 0;
  for (std::int64_t b : group_sizes) {
    CARNOT_CHECK(b >= 0, "negative group size ", b);
    if (b == 0) continue;
    big += double(b);
    h += 1.0 / double(b);
    ++groups;
  }
  CARNOT_CHECK(groups >= 2, "the gradient noise scale needs two or more non-empty groups, got ", groups);
  h /= double(groups);
  const double gap = h - 1.0 / big;  // > 0 with two or more groups
  return NoiseScale{(large_sq * h - small_sq / big) / gap, (small_sq - large_sq) / gap};
}

void NoiseScaleTracker::add(const NoiseScale& e) {
  g2_ = decay_ * g2_ + (1 - decay_) * e.g2;
  trace_ = decay_ * trace_ + (1 - decay_) * e.trace_sigma;
  weight_ = decay_ * weight_ + (1 - decay_);
  ++count_;
}

double NoiseScaleTracker::b_simple() const {
  if (count_ == 0 || g2_ == 0) return 0;
  return (trace_ / weight_) / (g2_ / weight_);
}

}  // namespace carnot
