// The gradient noise scale's estimators are unbiased: per-sample gradients drawn as G + z with z ~
// N(0, Σ) of known Σ, split into groups as ranks split a batch (equal and uneven), give estimates
// whose average over many draws is |G|² and tr Σ within five standard errors of that average.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "framework/core/error.h"
#include "framework/diagnostics/noise_scale.h"
#include "tests/unit/test_support.h"

namespace carnot {
namespace {

void check_unbiased(const std::vector<std::int64_t>& groups, const char* what) {
  std::mt19937_64 rng(test::fresh_seed(what));
  std::normal_distribution<double> normal;
  const int d = 40, trials = 4000;
  std::vector<double> G(d), sd(d);
  double g2 = 0, trace = 0;
  for (int k = 0; k < d; ++k) {
    G[k] = 0.3 * normal(rng);
    sd[k] = 0.5 + 0.05 * k;  // Σ = diag(sd²)
    g2 += G[k] * G[k];
    trace += sd[k] * sd[k];
  }
  std::int64_t B = 0;
  for (std::int64_t b : groups) B += b;
  double sum_g2 = 0, sq_g2 = 0, sum_tr = 0, sq_tr = 0;
  std::vector<double> all(d), mine(d);
  for (int trial = 0; trial < trials; ++trial) {
    std::fill(all.begin(), all.end(), 0.0);
    double small = 0;
    for (std::int64_t b : groups) {
      std::fill(mine.begin(), mine.end(), 0.0);
      for (std::int64_t i = 0; i < b; ++i)
        for (int k = 0; k < d; ++k) {
          const double g = G[k] + sd[k] * normal(rng);
          mine[k] += g;
          all[k] += g;
        }
      double n2 = 0;
      for (int k = 0; k < d; ++k) n2 += (mine[k] / double(b)) * (mine[k] / double(b));
      small += n2 / double(groups.size());
    }
    double large = 0;
    for (int k = 0; k < d; ++k) large += (all[k] / double(B)) * (all[k] / double(B));
    const NoiseScale e = estimate_noise_scale(small, large, groups);
    sum_g2 += e.g2, sq_g2 += e.g2 * e.g2, sum_tr += e.trace_sigma, sq_tr += e.trace_sigma * e.trace_sigma;
  }
  const double m_g2 = sum_g2 / trials, m_tr = sum_tr / trials;
  const double se_g2 = std::sqrt((sq_g2 / trials - m_g2 * m_g2) / trials);
  const double se_tr = std::sqrt((sq_tr / trials - m_tr * m_tr) / trials);
  std::printf("%s: |G|² %.4f, estimated %.4f ± %.4f; tr Σ %.3f, estimated %.3f ± %.3f\n", what, g2, m_g2, se_g2, trace,
              m_tr, se_tr);
  EXPECT_LT(std::fabs(m_g2 - g2), 5 * se_g2) << what;
  EXPECT_LT(std::fabs(m_tr - trace), 5 * se_tr) << what;
}

TEST(NoiseScale, UnbiasedWithEqualGroups) { check_unbiased({8, 8, 8, 8}, "NoiseScale.EqualGroups"); }
TEST(NoiseScale, UnbiasedWithUnevenGroups) { check_unbiased({5, 9, 7, 3}, "NoiseScale.UnevenGroups"); }

TEST(NoiseScale, PaperFormAndRefusals) {
  // Equal groups: (B L − b S)/(B − b) and (S − L)/(1/b − 1/B).
  const NoiseScale e = estimate_noise_scale(2.0, 1.5, {4, 4, 4});
  EXPECT_NEAR(e.g2, (12 * 1.5 - 4 * 2.0) / (12 - 4), 1e-12);
  EXPECT_NEAR(e.trace_sigma, (2.0 - 1.5) / (1.0 / 4 - 1.0 / 12), 1e-12);
  EXPECT_THROW(estimate_noise_scale(1, 1, {16}), Error);
  EXPECT_THROW(estimate_noise_scale(1, 1, {16, 0}), Error);
  NoiseScaleTracker t(0.9);
  EXPECT_FALSE(t.ready());
  t.add({2.0, 10.0});
  EXPECT_NEAR(t.b_simple(), 5.0, 1e-12);  // bias-corrected: the first estimate's own ratio
  t.add({1.0, 20.0});
  EXPECT_NEAR(t.b_simple(), (0.9 * 0.1 * 10 + 0.1 * 20) / (0.9 * 0.1 * 2 + 0.1 * 1), 1e-12);
}

}  // namespace
}  // namespace carnot
