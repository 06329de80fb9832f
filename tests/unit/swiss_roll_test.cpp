// The Swiss roll's stored moments against quadrature, and the standardised data's moments.
#include <gtest/gtest.h>

#include <cmath>

#include "framework/data/swiss_roll.h"
#include "tests/unit/test_support.h"

namespace carnot {
namespace {

// Composite Simpson's rule for E[f(t)], t ~ U(1.5π, 4.5π).
double roll_expectation(double (*f)(double)) {
  const double a = 1.5 * M_PI, b = 4.5 * M_PI;
  const int n = 200000;
  const double h = (b - a) / n;
  double s = f(a) + f(b);
  for (int i = 1; i < n; ++i) s += (i % 2 ? 4 : 2) * f(a + i * h);
  return s * h / 3 / (b - a);
}

TEST(SwissRoll, StoredMomentsMatchQuadrature) {
  const double mx = roll_expectation([](double t) { return t * std::cos(t); });
  const double mz = roll_expectation([](double t) { return t * std::sin(t); });
  const double xx = roll_expectation([](double t) { return t * t * std::cos(t) * std::cos(t); });
  const double zz = roll_expectation([](double t) { return t * t * std::sin(t) * std::sin(t); });
  EXPECT_NEAR(SwissRollMoments::kMeanX, mx, 1e-9);
  EXPECT_NEAR(SwissRollMoments::kMeanZ, mz, 1e-9);
  EXPECT_NEAR(SwissRollMoments::kVarX, xx - mx * mx, 1e-8);
  EXPECT_NEAR(SwissRollMoments::kVarZ, zz - mz * mz, 1e-8);
}

// Zero mean and unit variance per dimension, within 5 standard errors estimated from the sample.
TEST(SwissRoll, StandardisedDataHasZeroMeanUnitVariance) {
  const std::uint64_t seed = test::fresh_seed("SwissRoll.Standardised");
  for (double noise : {0.0, 0.5, 2.0}) {
    const SwissRoll roll(noise);
    const std::int64_t n = 200000;
    std::vector<float> x(2 * n);
    roll.fill(seed, 0, 0, n, RngStream::kData, x.data());
    for (int d = 0; d < 2; ++d) {
      double m1 = 0, m2 = 0, m4 = 0;
      for (std::int64_t i = 0; i < n; ++i) {
        const double v = x[2 * i + d];
        m1 += v, m2 += v * v, m4 += v * v * v * v;
      }
      m1 /= n, m2 /= n, m4 /= n;
      EXPECT_LT(std::fabs(m1), 5 / std::sqrt(double(n))) << "noise " << noise << " dim " << d;
      EXPECT_LT(std::fabs(m2 - 1), 5 * std::sqrt((m4 - 1) / n)) << "noise " << noise << " dim " << d;
    }
  }
}

TEST(SwissRoll, PointsDependOnGlobalIndexOnly) {
  const SwissRoll roll(0.5);
  std::vector<float> whole(2 * 10), parts(2 * 10);
  roll.fill(42, 7, 100, 10, RngStream::kData, whole.data());
  roll.fill(42, 7, 100, 3, RngStream::kData, parts.data());
  roll.fill(42, 7, 103, 7, RngStream::kData, parts.data() + 6);
  EXPECT_EQ(whole, parts);
}

}  // namespace
}  // namespace carnot
