// Representation alignment (eval/alignment.h): CKA against the feature-space formula in float64,
// its invariances, and mutual kNN against its closed forms.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "framework/eval/alignment.h"
#include "tests/unit/test_support.h"

namespace carnot {
namespace {

std::vector<float> randn(std::mt19937_64& rng, std::int64_t n) { return test::randn<float>(rng, std::size_t(n)); }

// CKA from the features: rows L2-normalised, columns centred, ‖YᵀX‖²_F / (‖XᵀX‖_F ‖YᵀY‖_F).
double cka_from_features(const std::vector<float>& xf, const std::vector<float>& yf, int n, int dx, int dy) {
  auto prepare = [n](const std::vector<float>& f, int d) {
    std::vector<double> m(f.begin(), f.end());
    for (int i = 0; i < n; ++i) {
      double s = 0;
      for (int c = 0; c < d; ++c) s += m[i * d + c] * m[i * d + c];
      for (int c = 0; c < d; ++c) m[i * d + c] /= std::sqrt(s);
    }
    for (int c = 0; c < d; ++c) {
      double mean = 0;
      for (int i = 0; i < n; ++i) mean += m[i * d + c] / n;
      for (int i = 0; i < n; ++i) m[i * d + c] -= mean;
    }
    return m;
  };
  const std::vector<double> x = prepare(xf, dx), y = prepare(yf, dy);
  auto cross = [n](const std::vector<double>& a, int da, const std::vector<double>& b, int db) {
    double f = 0;
    for (int p = 0; p < da; ++p)
      for (int q = 0; q < db; ++q) {
        double s = 0;
        for (int i = 0; i < n; ++i) s += a[i * da + p] * b[i * db + q];
        f += s * s;
      }
    return f;
  };
  return cross(y, dy, x, dx) / std::sqrt(cross(x, dx, x, dx) * cross(y, dy, y, dy));
}

TEST(Alignment, CkaMatchesTheFeatureSpaceFormula) {
  std::mt19937_64 rng(test::fresh_seed("Alignment.Cka"));
  const int n = 60, dx = 7, dy = 5;
  std::vector<float> x = randn(rng, n * dx), y = randn(rng, n * dy);
  for (int i = 0; i < n; ++i)  // y shares a direction with x, so the CKA is far from 0 and 1
    for (int c = 0; c < 2; ++c) y[i * dy + c] += 2 * x[i * dx + c];
  const double got = linear_cka(gram_of_rows(x.data(), n, dx, true), gram_of_rows(y.data(), n, dy, true));
  const double want = cka_from_features(x, y, n, dx, dy);
  std::printf("CKA %.12f, feature-space formula %.12f\n", got, want);
  EXPECT_NEAR(got, want, 1e-12);
  EXPECT_GT(want, 0.1);
  EXPECT_LT(want, 0.95);
}

// A rotation and a scale of the features change neither measure: both are exactly 1.
TEST(Alignment, InvariantToRotationAndScale) {
  std::mt19937_64 rng(test::fresh_seed("Alignment.Invariance"));
  const int n = 80, d = 6;
  const std::vector<float> x = randn(rng, n * d);
  // A random orthogonal Q by Gram-Schmidt in float64.
  std::normal_distribution<double> normal;
  std::vector<double> q(d * d);
  for (double& v : q) v = normal(rng);
  for (int a = 0; a < d; ++a) {
    for (int b = 0; b < a; ++b) {
      double dot = 0;
      for (int c = 0; c < d; ++c) dot += q[a * d + c] * q[b * d + c];
      for (int c = 0; c < d; ++c) q[a * d + c] -= dot * q[b * d + c];
    }
    double s = 0;
    for (int c = 0; c < d; ++c) s += q[a * d + c] * q[a * d + c];
    for (int c = 0; c < d; ++c) q[a * d + c] /= std::sqrt(s);
  }
  std::vector<float> y(x.size());
  for (int i = 0; i < n; ++i)
    for (int c = 0; c < d; ++c) {
      double s = 0;
      for (int e = 0; e < d; ++e) s += x[i * d + e] * q[e * d + c];
      y[i * d + c] = float(3.5 * s);
    }
  const Gram a = gram_of_rows(x.data(), n, d, true), b = gram_of_rows(y.data(), n, d, true);
  EXPECT_NEAR(linear_cka(a, b), 1.0, 1e-6);  // float features: rotated in float
  EXPECT_DOUBLE_EQ(mutual_knn(a, a, 10), 1.0);
  EXPECT_NEAR(mutual_knn(a, b, 10), 1.0, 1.0 / (10.0 * n) + 1e-12);  // a float tie may swap one neighbour
}

// Independent features share neighbours by chance only: |kNN_A ∩ kNN_B| is hypergeometric, mean
// k²/(n − 1); the mean over n inputs within 5 standard errors of k/(n − 1), as is the null's.
TEST(Alignment, MutualKnnOfIndependentFeaturesIsChance) {
  std::mt19937_64 rng(test::fresh_seed("Alignment.KnnChance"));
  const int n = 400, d = 8, k = 10;
  const std::vector<float> x = randn(rng, n * d), y = randn(rng, n * d);
  const Gram a = gram_of_rows(x.data(), n, d, true), b = gram_of_rows(y.data(), n, d, true);
  const double N = n - 1, p = k / N;
  const double var_overlap = k * p * (1 - p) * (N - k) / (N - 1);
  const double se = std::sqrt(var_overlap) / k / std::sqrt(double(n));
  const Alignment r = align(a, b, k, 5, rng());
  std::printf("independent features: mknn %.4f, null %.4f ± %.4f, chance %.4f (SE %.4f); CKA %.4f, null %.4f\n",
              r.mknn, r.mknn_null, r.mknn_null_sd, p, se, r.cka, r.cka_null);
  EXPECT_NEAR(r.mknn, p, 5 * se);
  EXPECT_NEAR(r.mknn_null, p, 5 * se);
  // Identical features: far above their own null.
  const Alignment same = align(a, a, k, 5, rng());
  EXPECT_DOUBLE_EQ(same.mknn, 1.0);
  EXPECT_NEAR(same.cka, 1.0, 1e-12);
  EXPECT_NEAR(same.mknn_null, p, 5 * se);
}

}  // namespace
}  // namespace carnot
