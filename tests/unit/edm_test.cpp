// EDM: the preconditioning's identities, the training noise levels, the ρ-spaced sampling levels,
// the exact denoiser against the single-Gaussian closed form, and the samplers' bias in closed form.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <vector>

#include "framework/diffusion/edm.h"
#include "tests/unit/test_support.h"

namespace carnot {
namespace {

// D = c_skip x + c_out F_target recovers y exactly, and EDM's weight λ(σ) = (σ² + σ_d²)/(σ σ_d)²
// times c_out² is 1: the unit-weight regression of F_target is EDM's weighted loss.
TEST(EdmScaling, TargetRecoversDataAndWeightIsOne) {
  for (double sd : {0.5, 1.0})
    for (double sigma : {0.002, 0.1, 1.0, 80.0}) {
      const EdmScaling c = edm_scaling(sigma, sd);
      const double y = 0.7, x = y + sigma * (-1.3), target = (y - c.c_skip * x) / c.c_out;
      EXPECT_NEAR(c.c_skip * x + c.c_out * target, y, 1e-12);
      const double lambda = (sigma * sigma + sd * sd) / (sigma * sd * sigma * sd);
      EXPECT_NEAR(lambda * c.c_out * c.c_out, 1.0, 1e-12);
      EXPECT_NEAR(c.c_in, 1 / std::sqrt(sigma * sigma + sd * sd), 1e-15);
      EXPECT_NEAR(c.c_noise, 0.25 * std::log(sigma), 1e-15);
    }
}

// ln σ ~ N(P_mean, P_std²) within 5 SE, and each row's inputs rebuild its clean point.
TEST(EdmInputs, NoiseLevelsAndTargets) {
  const std::uint64_t seed = test::fresh_seed("EdmInputs");
  EdmConfig config;
  config.sigma_data = 0.8;
  const std::int64_t n = 50000, dim = 2;
  std::vector<float> y(n * dim), in(n * dim), t(n), target(n * dim);
  for (std::int64_t k = 0; k < n * dim; ++k) y[k] = float(std::cos(0.37 * double(k)));
  edm_inputs(config, seed, 3, 0, n, dim, y.data(), in.data(), t.data(), target.data());
  double s = 0, s2 = 0, worst = 0;
  for (std::int64_t j = 0; j < n; ++j) {
    const double ln_sigma = t[j] / 250.0, sigma = std::exp(ln_sigma);
    s += ln_sigma, s2 += ln_sigma * ln_sigma;
    const EdmScaling c = edm_scaling(sigma, config.sigma_data);
    for (std::int64_t d = 0; d < dim; ++d) {
      const double x = in[j * dim + d] / c.c_in;
      worst = std::max(worst, std::fabs(c.c_skip * x + c.c_out * target[j * dim + d] - y[j * dim + d]) /
                                  (1 + std::fabs(x)));
    }
  }
  const double mean = s / n, sd = std::sqrt(s2 / n - mean * mean);
  std::printf("ln σ: mean %.4f sd %.4f (want -1.2, 1.2); worst rebuild error %.2e\n", mean, sd, worst);
  EXPECT_NEAR(mean, -1.2, 5 * sd / std::sqrt(double(n)));
  EXPECT_NEAR(sd, 1.2, 5 * 1.2 / std::sqrt(2.0 * n));
  EXPECT_LT(worst, 1e-5);
}

TEST(EdmSigmas, RhoSpacingFromMaxToMinThenZero) {
  EdmConfig config;
  const std::vector<double> s = edm_sigmas(config, 18);
  ASSERT_EQ(s.size(), 19u);
  EXPECT_NEAR(s[0], 80, 1e-12);
  EXPECT_NEAR(s[17], 0.002, 1e-15);
  EXPECT_EQ(s[18], 0.0);
  for (int i = 1; i < 19; ++i) EXPECT_LT(s[i], s[i - 1]);
  const double a = std::pow(80.0, 1 / 7.0), b = std::pow(0.002, 1 / 7.0);
  EXPECT_NEAR(s[9], std::pow(a + 9.0 / 17 * (b - a), 7), 1e-12);
}

// One Gaussian: E[y | x] = μ + s² / (s² + σ²) (x − μ).
TEST(ExactDenoiser, MatchesTheSingleGaussianClosedForm) {
  const GaussianMixture g{{1.0}, {{1.5, -0.5}}, {{0.5, 2.0}}};
  const ExactDenoiser denoiser(g);
  std::vector<float> x(2 * 16), d(2 * 16);
  for (int k = 0; k < 32; ++k) x[k] = float(3 * std::sin(1.7 * k));
  for (double sigma : {0.01, 1.0, 50.0}) {
    denoiser(Tensor(x.data(), DType::F32, Shape{16, 2}), sigma, Tensor(d.data(), DType::F32, Shape{16, 2}));
    std::vector<double> expect(32);
    for (int k = 0; k < 32; ++k) {
      const double mu = g.means[0][k % 2], s2 = g.stds[0][k % 2] * g.stds[0][k % 2];
      expect[k] = mu + s2 / (s2 + sigma * sigma) * (x[k] - mu);
    }
    EXPECT_LT(test::rel_error(d, expect, 32), 1e-6) << sigma;
  }
}

// The step counts of the EDM cases in exact_samplers_test.cpp. With the exact denoiser of a
// Gaussian the ODE is linear in u = x − μ: du/dσ = u σ / (s² + σ²), so Euler and Heun multiply u
// by a known factor G over the run. Starting from x = σ_max n (mean 0, not μ) the final mean is
// off by −μ G and the sd is σ_max G; both are computed here for the means and sds of those tests
// and must stay under 0.3 standard errors at n = 20,000.
TEST(EdmSamplers, DiscretisationBiasIsWellUnderTheStatisticalError) {
  const double n = 20000;
  EdmConfig config;
  config.sigma_max = 1000;
  struct Run {
    EdmMethod method;
    int steps;
  };
  for (const Run run : {Run{EdmMethod::kHeun, 200}, Run{EdmMethod::kEuler, 4000}}) {
    const std::vector<double> sig = edm_sigmas(config, run.steps);
    double worst = 0;
    for (const auto& [s, mu] : std::vector<std::pair<double, double>>{
             {0.5, 1.5}, {2.0, -0.5}, {1.0, 0.0}, {0.5, -2.0}, {0.3, 2.0}, {0.8, 1.0}}) {
      auto a = [s = s](double sigma) { return sigma / (s * s + sigma * sigma); };
      double G = 1;
      for (int i = 0; i < run.steps; ++i) {
        const double x = sig[i], xn = sig[i + 1], h = xn - x;
        G *= run.method == EdmMethod::kEuler || xn == 0 ? 1 + h * a(x) : 1 + h / 2 * (a(x) + a(xn) * (1 + h * a(x)));
      }
      const double z_sd = (config.sigma_max * G - s) / (s / std::sqrt(2 * n));
      const double z_mean = mu * G / (s / std::sqrt(n));
      worst = std::max({worst, std::fabs(z_sd), std::fabs(z_mean)});
    }
    std::printf("%s N = %d: worst bias %.3f SE\n", run.method == EdmMethod::kHeun ? "heun" : "euler", run.steps, worst);
    EXPECT_LT(worst, 0.3);
  }
}

}  // namespace
}  // namespace carnot
