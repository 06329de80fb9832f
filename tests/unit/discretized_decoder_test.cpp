// DDPM's discretised decoder: against numerical integration, normalised over the 256 bins, and the
// bound on 8-bit data with the exact model approaching the data's true discrete NLL as T grows.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <vector>

#include "framework/core/random.h"
#include "framework/diffusion/discretized_decoder.h"
#include "framework/diffusion/exact_eps.h"
#include "framework/diffusion/likelihood.h"
#include "tests/unit/test_support.h"

namespace carnot {
namespace {

// ∫_a^b N(x; μ, σ²) dx by Simpson's rule on 20,000 panels (a, b finite).
double simpson(double a, double b, double mu, double sigma) {
  const int n = 20000;
  const double h = (b - a) / n;
  auto f = [&](double x) { return std::exp(-0.5 * (x - mu) * (x - mu) / (sigma * sigma)) / (sigma * std::sqrt(2 * M_PI)); };
  double s = f(a) + f(b);
  for (int i = 1; i < n; ++i) s += (i % 2 ? 4 : 2) * f(a + i * h);
  return s * h / 3;
}

TEST(DiscretizedDecoder, MatchesNumericalIntegration) {
  const double h = kEightBitHalfWidth;
  for (double sigma : {0.002, 0.01, 0.3})
    for (int level : {0, 1, 77, 128, 254, 255})
      for (double mu : {-0.9, -0.02, 0.0, 0.5, 1.0}) {
        const double x = -1 + 2.0 * level / 255;
        // The open end bins integrate to ±(μ ± 12σ), far past any mass.
        const double a = level == 0 ? std::min(x - h, mu - 12 * sigma) : x - h;
        const double b = level == 255 ? std::max(x + h, mu + 12 * sigma) : x + h;
        const double p = simpson(a, b, mu, sigma);
        if (p < 1e-250) continue;  // beyond what Simpson resolves
        const double nll = discretized_gaussian_nll(x, mu, sigma);
        EXPECT_NEAR(nll, -std::log(p), 1e-6 * std::max(1.0, std::fabs(std::log(p))))
            << "level " << level << " mu " << mu << " sigma " << sigma;
      }
}

TEST(DiscretizedDecoder, BinsSumToOne) {
  for (double sigma : {0.001, 0.05, 2.0})
    for (double mu : {-1.3, -0.5, 0.003, 0.99}) {
      double total = 0;
      for (int level = 0; level < 256; ++level)
        total += std::exp(-discretized_gaussian_nll(-1 + 2.0 * level / 255, mu, sigma));
      EXPECT_NEAR(total, 1.0, 1e-9) << mu << " " << sigma;
    }
}

// 8-bit data: N(0, 0.3²) rounded to the 256 levels of [−1, 1]. The bound with the exact ε of the
// continuous Gaussian and the discretised decoder is a bound on the discrete NLL, whose exact
// value per point is −ln P(bin) under N(0, 0.3²) (bins open at the ends): the bound must not fall
// below it (5 SE) and its gap must shrink from T = 100 to T = 1000.
TEST(DiscretizedDecoder, BoundApproachesDiscreteNll) {
  const std::uint64_t seed = test::fresh_seed("DiscretizedDecoder.Bound");
  const std::int64_t n = 4000, D = 2;
  const double s = 0.3;
  std::vector<float> x0(n * D);
  std::vector<double> nll(n, 0.0);
  std::vector<double> z(D);
  for (std::int64_t j = 0; j < n; ++j) {
    philox_normals(seed, 0, std::uint32_t(j), RngStream::kEvalData, D, z.data());
    for (std::int64_t d = 0; d < D; ++d) {
      const double level = std::clamp(std::round((s * z[d] + 1) * 127.5), 0.0, 255.0);
      x0[j * D + d] = float(-1 + 2 * level / 255);
      nll[j] += discretized_gaussian_nll(-1 + 2 * level / 255, 0.0, s);
    }
  }
  const GaussianMixture g{{1.0}, {{0.0, 0.0}}, {{s, s}}};
  double previous = 1e300, previous_se = 0;
  for (int T : {100, 1000}) {
    const NoiseSchedule sched = NoiseSchedule::cosine(T);
    const ExactEps exact(g, sched);
    const BoundEstimate b = variational_bound([&](const Tensor& x, const float* t, const Tensor& e) { exact(x, t, e); },
                                              sched, seed, n, D, x0.data(), 4096, 0, kEightBitHalfWidth);
    double gsum = 0, g2 = 0;
    for (std::int64_t j = 0; j < n; ++j) {
      const double d = (b.nats[j] - nll[j]) / (D * std::log(2.0));
      gsum += d, g2 += d * d;
    }
    const double gap = gsum / n, se = std::sqrt((g2 / n - gap * gap) / n);
    std::printf("T = %d: bound − discrete NLL = %.4f ± %.4f bits per dim\n", T, gap, se);
    EXPECT_GT(gap, -5 * se);
    EXPECT_LT(gap, previous - 5 * std::hypot(se, previous_se));
    previous = gap, previous_se = se;
  }
}

}  // namespace
}  // namespace carnot
