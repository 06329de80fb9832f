// The schedule, q_sample and the DDPM sampler against closed forms for Gaussian data.
#include <gtest/gtest.h>

#include <cmath>

#include "framework/diffusion/ddim_sampler.h"
#include "framework/diffusion/ddpm_sampler.h"
#include "framework/diffusion/eps_objective.h"
#include "framework/diffusion/schedule.h"
#include "tests/unit/test_support.h"

namespace carnot {
namespace {

TEST(Schedule, LinearMatchesDdpm) {
  const NoiseSchedule s = NoiseSchedule::linear(1000);
  EXPECT_DOUBLE_EQ(s.betas.front(), 1e-4);
  EXPECT_NEAR(s.betas.back(), 0.02, 1e-15);
  double prod = 1;
  for (int t = 0; t < 1000; ++t) prod *= 1 - s.betas[t];
  EXPECT_NEAR(s.alphas_cumprod.back(), prod, 1e-15);
  EXPECT_LT(s.alphas_cumprod.back(), 1e-4);  // DDPM's x_T is close to pure noise
  const NoiseSchedule short_s = NoiseSchedule::linear(100);
  EXPECT_NEAR(short_s.betas.back(), 0.2, 1e-15);  // scaled by 1000/T
}

TEST(EpsObjective, BuildsXtFromX0AndEps) {
  const std::uint64_t seed = test::fresh_seed("EpsObjective.BuildsXt");
  for (const NoiseSchedule& s : {NoiseSchedule::linear(1000), NoiseSchedule::cosine(1000),
                                 NoiseSchedule::sohl2015(1000, 1e-3), NoiseSchedule::log_snr(1000, 10, -5)}) {
  const std::int64_t n = 5000, dim = 2;
  std::vector<float> x0(n * dim, 0.75f), t(n), eps(n * dim), xt(n * dim);
  eps_objective_inputs(s, seed, 3, 0, n, dim, x0.data(), t.data(), eps.data(), xt.data());
  std::vector<int> seen(1000);
  for (std::int64_t j = 0; j < n; ++j) {
    const int ti = int(t[j]);
    ASSERT_TRUE(ti >= 0 && ti < 1000 && float(ti) == t[j]);
    ++seen[ti];
    for (int d = 0; d < dim; ++d) {
      const double expect = std::sqrt(s.alphas_cumprod[ti]) * 0.75 +
                            std::sqrt(1 - s.alphas_cumprod[ti]) * eps[j * dim + d];
      EXPECT_NEAR(xt[j * dim + d], expect, 1e-6 * (1 + std::fabs(expect)));
    }
  }
  // t is uniform on {0..999}: the mean within 5 standard errors.
  double mean = 0;
  for (std::int64_t j = 0; j < n; ++j) mean += t[j];
  mean /= n;
  EXPECT_LT(std::fabs(mean - 499.5), 5 * std::sqrt((1000.0 * 1000 - 1) / 12 / n));
  }
}

// Exact ε̂ for data N(mu, s²) per dimension: E[ε | x_t] = sqrt(1−ᾱ)(x_t − sqrt(ᾱ) mu) / (ᾱ s² + 1 − ᾱ).
struct GaussianData {
  double mu[2] = {1.5, -0.5};
  double s[2] = {0.5, 2.0};
};

void exact_eps(const GaussianData& g, const NoiseSchedule& sch, const Tensor& x, const float* t,
               const Tensor& eps) {
  for (std::int64_t j = 0; j < x.dim(0); ++j)
    for (int d = 0; d < 2; ++d) {
      const double ab = sch.alphas_cumprod[int(t[j])];
      const double v = ab * g.s[d] * g.s[d] + 1 - ab;
      eps.data<float>()[j * 2 + d] = float(std::sqrt(1 - ab) *
                                           (x.data<float>()[j * 2 + d] - std::sqrt(ab) * g.mu[d]) / v);
    }
}

// With the exact ε̂ every sampler step is affine in x, so the law of the output is Gaussian with
// a mean and variance that a float64 recursion gives exactly; the samples must match it within
// 5 standard errors.
TEST(DdpmSampler, GaussianDataMatchesExactRecursion) {
  const std::uint64_t seed = test::fresh_seed("DdpmSampler.Gaussian");
  const NoiseSchedule sch = NoiseSchedule::linear(100);
  const GaussianData g;
  const std::int64_t n = 20000;
  std::vector<float> out(n * 2);
  ddpm_sample([&](const Tensor& x, const float* t, const Tensor& e) { exact_eps(g, sch, x, t, e); },
              sch, seed, 0, n, 2, 4096, out.data());
  for (int d = 0; d < 2; ++d) {
    double m = 0, v = 1;  // x_T ~ N(0, 1)
    for (int t = sch.steps() - 1; t >= 0; --t) {
      const double beta = sch.betas[t], ab = sch.alphas_cumprod[t];
      const double ab_prev = t > 0 ? sch.alphas_cumprod[t - 1] : 1.0;
      const double a = std::sqrt(1 - ab) / (ab * g.s[d] * g.s[d] + 1 - ab), b = -a * std::sqrt(ab) * g.mu[d];
      const double c1 = 1 / std::sqrt(1 - beta), c2 = beta / std::sqrt(1 - ab);
      const double sigma2 = t > 0 ? beta * (1 - ab_prev) / (1 - ab) : 0.0;
      m = c1 * (1 - c2 * a) * m - c1 * c2 * b;
      v = c1 * c1 * (1 - c2 * a) * (1 - c2 * a) * v + sigma2;
    }
    double sm = 0, sv = 0;
    for (std::int64_t j = 0; j < n; ++j) sm += out[j * 2 + d];
    sm /= n;
    for (std::int64_t j = 0; j < n; ++j) sv += (out[j * 2 + d] - sm) * (out[j * 2 + d] - sm);
    sv /= n - 1;
    EXPECT_LT(std::fabs(sm - m), 5 * std::sqrt(v / n)) << "dim " << d;
    EXPECT_LT(std::fabs(sv - v), 5 * v * std::sqrt(2.0 / (n - 1))) << "dim " << d;
    // And the recursion itself lands near the data's law (DDPM with the exact score).
    std::printf("dim %d: exact-recursion mean %.4f var %.4f; data mean %.4f var %.4f\n", d, m, v,
                g.mu[d], g.s[d] * g.s[d]);
  }
}

TEST(DdpmSampler, SamplesDoNotDependOnSplitOrChunk) {
  const NoiseSchedule sch = NoiseSchedule::linear(30);
  const GaussianData g;
  auto eps = [&](const Tensor& x, const float* t, const Tensor& e) { exact_eps(g, sch, x, t, e); };
  std::vector<float> whole(2 * 50), split(2 * 50);
  ddpm_sample(eps, sch, 11, 0, 50, 2, 64, whole.data());
  ddpm_sample(eps, sch, 11, 0, 20, 2, 7, split.data());
  ddpm_sample(eps, sch, 11, 20, 30, 2, 30, split.data() + 40);
  EXPECT_EQ(whole, split);
}

}  // namespace
}  // namespace carnot

namespace carnot {
namespace {

// Improved DDPM's cosine schedule: ᾱ_t = f(t+1)/f(0) exactly where no β was clipped.
TEST(Schedule, CosineMatchesClosedForm) {
  const int T = 1000;
  const NoiseSchedule s = NoiseSchedule::cosine(T);
  auto f = [&](double t) {
    const double c = std::cos((t / T + 0.008) / 1.008 * M_PI / 2);
    return c * c;
  };
  for (int t : {0, 10, 500, 900}) EXPECT_NEAR(s.alphas_cumprod[t], f(t + 1) / f(0), 1e-12) << t;
  for (double b : s.betas) EXPECT_TRUE(b > 0 && b <= 0.999);
  EXPECT_DOUBLE_EQ(s.betas.back(), 0.999);  // the last step is clipped
}

// The 2015 paper's released schedule at T = 40: β_t = m_t + b_t(1 − m_t − 1e-5) with
// b = 1/linspace(40, 2, 40), m = 1e-6 (+ step1_beta at t = 1), so the last β is ≈ 1/2.
TEST(Schedule, Sohl2015MatchesReleasedCode) {
  const NoiseSchedule s = NoiseSchedule::sohl2015(40, 1e-3);
  const double m1 = 1e-6 + 1e-3;
  EXPECT_NEAR(s.betas[0], m1 + (1.0 / 40) * (1 - m1 - 1e-5), 1e-15);
  EXPECT_NEAR(s.betas[39], 1e-6 + 0.5 * (1 - 1e-6 - 1e-5), 1e-15);
  const double b20 = 1.0 / (40 - 38.0 * 20 / 39);  // linspace(40, 2, 40)[20]
  EXPECT_NEAR(s.betas[20], 1e-6 + b20 * (1 - 1e-6 - 1e-5), 1e-15);
  double prod = 1;
  for (double b : s.betas) prod *= 1 - b;
  EXPECT_NEAR(s.alphas_cumprod.back(), prod, 1e-15);
}

// VDM's fixed schedule: log SNR = ln(ᾱ / (1 − ᾱ)) linear from max to min, and β consistent with ᾱ.
TEST(Schedule, LogSnrIsLinearInLogSnr) {
  const NoiseSchedule s = NoiseSchedule::log_snr(40, 10.4, -4.6);
  auto lambda = [&](int t) { return std::log(s.alphas_cumprod[t] / (1 - s.alphas_cumprod[t])); };
  EXPECT_NEAR(lambda(0), 10.4, 1e-9);
  EXPECT_NEAR(lambda(39), -4.6, 1e-12);
  for (int t = 1; t < 40; ++t) EXPECT_NEAR(lambda(t) - lambda(t - 1), -15.0 / 39, 1e-9) << t;
  double prod = 1;
  for (double b : s.betas) {
    EXPECT_TRUE(b > 0 && b < 1);
    prod *= 1 - b;
  }
  EXPECT_NEAR(s.alphas_cumprod.back(), prod, 1e-15);
}

}  // namespace
// Clipping x̂0 (images): where it never bites (data N(0, 0.05²), whose x̂0 stays far inside ±1)
// DDPM's posterior-mean form and DDIM equal their unclipped selves to float rounding; where it
// does (data of std 1, clip 0.5) every sample ends inside ±clip, since the last step returns x̂0.
TEST(Samplers, ClippedX0) {
  const std::uint64_t seed = test::fresh_seed("Samplers.ClippedX0");
  const NoiseSchedule sch = NoiseSchedule::linear(100);
  GaussianData narrow;
  narrow.mu[0] = narrow.mu[1] = 0, narrow.s[0] = narrow.s[1] = 0.05;
  GaussianData wide;
  wide.mu[0] = wide.mu[1] = 0, wide.s[0] = wide.s[1] = 1;
  const std::int64_t n = 2000;
  std::vector<float> plain(n * 2), clipped(n * 2);
  auto eps_of = [&](const GaussianData& g) {
    return [&sch, g](const Tensor& x, const float* t, const Tensor& e) { exact_eps(g, sch, x, t, e); };
  };
  ddpm_sample(eps_of(narrow), sch, seed, 0, n, 2, 512, plain.data());
  ddpm_sample(eps_of(narrow), sch, seed, 0, n, 2, 512, clipped.data(), 1.0);
  EXPECT_LT(test::rel_error(clipped, plain, plain.size()), 1e-5);
  ddim_sample(eps_of(narrow), sch, 20, 0.0, seed, 0, n, 2, 512, plain.data());
  ddim_sample(eps_of(narrow), sch, 20, 0.0, seed, 0, n, 2, 512, clipped.data(), 1.0);
  EXPECT_EQ(clipped, plain);  // the same arithmetic while nothing is clipped
  for (int which = 0; which < 2; ++which) {
    if (which == 0) ddpm_sample(eps_of(wide), sch, seed, 0, n, 2, 512, clipped.data(), 0.5);
    else ddim_sample(eps_of(wide), sch, 20, 1.0, seed, 0, n, 2, 512, clipped.data(), 0.5);
    float most = 0;
    for (float v : clipped) most = std::max(most, std::fabs(v));
    EXPECT_LE(most, 0.5f) << (which == 0 ? "ddpm" : "ddim");
    EXPECT_GT(most, 0.49f) << "clipping should bite on data of std 1";
  }
}

}  // namespace carnot
