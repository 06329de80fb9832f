// The gradient noise scale (McCandlish et al. 2018, "An Empirical Model of Large-Batch Training",
// appendix A): unbiased estimates of |G|² (the true gradient's squared norm) and tr Σ (the trace of
// one sample's gradient covariance) from squared norms of mean gradients at two batch sizes. The
// data-parallel step has both for free: each rank's mean gradient over its b_r samples before the
// all-reduce (or each micro-batch's, on one rank) and the all-reduced mean over all B.
//
// With S the average over groups r of |G_{b_r}|² and L = |G_B|²:
//   E[S] = |G|² + tr Σ · h,  h = mean_r 1/b_r;   E[L] = |G|² + tr Σ / B,
// so tr Σ = (S − L)/(h − 1/B) and |G|² = (L h − S/B)/(h − 1/B) (for equal b_r = b:
// (B L − b S)/(B − b), the paper's form). B_simple = tr Σ / |G|², smoothed as EMA(tr Σ)/EMA(|G|²).
#pragma once
#include <cstdint>
#include <vector>

namespace carnot {

struct NoiseScale {
  double g2 = 0;           // unbiased |G|²
  double trace_sigma = 0;  // unbiased tr Σ
};

// small_sq: S, the mean over groups of their mean gradient's squared norm; large_sq: L; group_sizes:
// b_r of every group (their sum is B). Throws unless there are ≥ 2 non-empty groups.
NoiseScale estimate_noise_scale(double small_sq, double large_sq, const std::vector<std::int64_t>& group_sizes);

// B_simple from exponential moving averages of both estimates (each alone is noisy and may be
// negative; their ratio is taken after smoothing, as the paper does).
class NoiseScaleTracker {
 public:
  explicit NoiseScaleTracker(double decay) : decay_(decay) {}
  void add(const NoiseScale& e);
  bool ready() const { return count_ > 0; }
  // EMA(tr Σ)/EMA(|G|²) with bias-corrected averages (0 until the first add).
  double b_simple() const;

 private:
  double decay_;
  double g2_ = 0, trace_ = 0, weight_ = 0;
  std::int64_t count_ = 0;
};

}  // namespace carnot
