// Flow matching: the training times' distributions, z_t and the velocity target, the exact
// velocity against the single-Gaussian closed form, and the Euler sampler's bias in closed form.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <vector>

#include "framework/diffusion/flow_matching.h"
#include "tests/unit/test_support.h"

namespace carnot {
namespace {

struct Stats {
  double mean, var, se_mean;
};
template <class F> Stats stats_of(std::int64_t n, F f) {
  double s = 0, s2 = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    const double x = f(i);
    s += x, s2 += x * x;
  }
  const double m = s / n, v = s2 / n - m * m;
  return {m, v, std::sqrt(v / n)};
}

// uniform: mean ½ and variance 1/12; logit-normal: logit t has mean m and sd s; SD3's shift of a
// uniform time has mean k/(k − 1) (1 − ln k/(k − 1)). Each within 5 standard errors of n draws.
TEST(FlowTimes, MatchTheirDistributions) {
  const std::uint64_t seed = test::fresh_seed("FlowTimes.Distributions");
  const std::int64_t n = 100000;
  FlowTimes uniform;
  const Stats u = stats_of(n, [&](std::int64_t i) { return draw_flow_time(uniform, seed, 0, std::uint32_t(i)); });
  EXPECT_NEAR(u.mean, 0.5, 5 * u.se_mean);
  // The variance's standard error for a uniform: sqrt((μ4 − σ⁴)/n) with μ4 = 1/80.
  EXPECT_NEAR(u.var, 1.0 / 12, 5 * std::sqrt((1.0 / 80 - 1.0 / 144) / n));

  FlowTimes logit_normal;
  logit_normal.logit_normal = true, logit_normal.mean = 0.5, logit_normal.std = 1.5;
  const Stats l = stats_of(n, [&](std::int64_t i) {
    const double t = draw_flow_time(logit_normal, seed, 1, std::uint32_t(i));
    return std::log(t / (1 - t));
  });
  EXPECT_NEAR(l.mean, 0.5, 5 * l.se_mean);
  EXPECT_NEAR(std::sqrt(l.var), 1.5, 5 * 1.5 / std::sqrt(2.0 * n));

  FlowTimes shifted;
  shifted.shift = 3;
  const Stats s = stats_of(n, [&](std::int64_t i) { return draw_flow_time(shifted, seed, 2, std::uint32_t(i)); });
  const double k = 3, expect = k / (k - 1) * (1 - std::log(k) / (k - 1));
  std::printf("uniform mean %.4f var %.5f; logit-normal logit mean %.4f sd %.4f; shift 3 mean %.4f (exact %.4f)\n",
              u.mean, u.var, l.mean, std::sqrt(l.var), s.mean, expect);
  EXPECT_NEAR(s.mean, expect, 5 * s.se_mean);
  EXPECT_DOUBLE_EQ(shift_time(0.0, 3), 0.0);
  EXPECT_DOUBLE_EQ(shift_time(1.0, 3), 1.0);
}

// z_t = (1 − t) x0 + t ε and v = ε − x0 for every element, with ε standard normal (5 SE).
TEST(FlowInputs, InterpolateDataAndNoise) {
  const std::uint64_t seed = test::fresh_seed("FlowInputs.Interpolate");
  const std::int64_t n = 20000, dim = 2;
  std::vector<float> x0(n * dim), t(n), v(n * dim), z(n * dim);
  for (std::int64_t k = 0; k < n * dim; ++k) x0[k] = float(0.25 * double(k % 7) - 0.5);
  flow_inputs(FlowTimes{}, seed, 4, 100, n, dim, x0.data(), t.data(), v.data(), z.data());
  for (std::int64_t j = 0; j < n; ++j) {
    const double tt = t[j] / kFlowTimeScale;
    ASSERT_TRUE(tt > 0 && tt < 1) << j;
    for (std::int64_t d = 0; d < dim; ++d) {
      const std::int64_t k = j * dim + d;
      const double eps = double(v[k]) + x0[k];
      EXPECT_NEAR(z[k], (1 - tt) * x0[k] + tt * eps, 1e-5);
    }
  }
  const Stats e = stats_of(n * dim, [&](std::int64_t k) { return double(v[k]) + x0[k]; });
  EXPECT_NEAR(e.mean, 0, 5 * e.se_mean);
  EXPECT_NEAR(e.var, 1, 5 * std::sqrt(2.0 / double(n * dim)));
}

// For one Gaussian N(μ, s²) the exact velocity is affine: with m(t) = (1 − t) μ and
// V(t) = (1 − t)² s² + t², v(z) = −μ + V'(t) / (2 V(t)) (z − m(t)).
TEST(ExactVelocity, MatchesTheSingleGaussianClosedForm) {
  const GaussianMixture g{{1.0}, {{1.5, -0.5}}, {{0.5, 2.0}}};
  const ExactVelocity velocity(g);
  const std::int64_t n = 64;
  std::vector<float> z(n * 2), t(n), v(n * 2);
  std::vector<double> expect(n * 2);
  for (std::int64_t j = 0; j < n; ++j) {
    const double tt = (double(j) + 0.5) / n;
    t[j] = float(kFlowTimeScale * tt);
    const double tf = double(t[j]) / kFlowTimeScale;  // the time the model sees, after float rounding
    for (int d = 0; d < 2; ++d) {
      z[j * 2 + d] = float(std::sin(3.0 * j + d) * 2);
      const double mu = g.means[0][d], s = g.stds[0][d];
      const double V = (1 - tf) * (1 - tf) * s * s + tf * tf, dV = -2 * (1 - tf) * s * s + 2 * tf;
      expect[j * 2 + d] = -mu + dV / (2 * V) * (z[j * 2 + d] - (1 - tf) * mu);
    }
  }
  velocity(Tensor(z.data(), DType::F32, Shape{n, 2}), t.data(), Tensor(v.data(), DType::F32, Shape{n, 2}));
  EXPECT_LT(test::rel_error(v, expect, v.size()), 1e-6);
}

// The step counts of the flow cases in exact_samplers_test.cpp: for a Gaussian the exact velocity
// is affine, so each Euler step scales the deviation from the (exactly followed) mean by
// 1 + Δt V'/(2V), and the final sd is s times a product computed here. At K = 4000 the bias is
// under 0.25 standard errors of the sd at n = 20,000 for every s in those tests (0.3 to 2), with
// and without shift 3.
TEST(FlowEuler, DiscretisationBiasIsWellUnderTheStatisticalError) {
  const double n = 20000;
  for (double shift : {1.0, 3.0})
    for (double s : {0.3, 0.5, 0.8, 1.0, 2.0}) {
      const int K = 4000;
      double sd = 1;  // at t = 1, z = ε
      for (int i = 0; i < K; ++i) {
        const double t = shift_time(1 - double(i) / K, shift), t_next = shift_time(1 - double(i + 1) / K, shift);
        const double V = (1 - t) * (1 - t) * s * s + t * t, dV = -2 * (1 - t) * s * s + 2 * t;
        sd *= 1 + (t_next - t) * dV / (2 * V);
      }
      const double se = s / std::sqrt(2 * n), z = (sd - s) / se;
      std::printf("shift %.0f, s = %.1f: Euler K = %d gives sd %.6f, bias %+.3f SE\n", shift, s, K, sd, z);
      EXPECT_LT(std::fabs(z), 0.25) << "shift " << shift << " s " << s;
    }
}

}  // namespace
}  // namespace carnot
